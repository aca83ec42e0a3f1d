package worker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// The decisions behind the exactly-once rules of issue 16, as plain
// functions: what a dropped snapshot hands over, what a continue-as-new
// writes and what it sends back, which message IDs it carries, when a
// start is a parent's copy, when a child's row comes first, and when a row
// is behind its history.

func TestSalvageHandsOverResultsOfDurableTasks(t *testing.T) {
	started := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Chain"}
	snap := &snapshot{events: []history.Event{
		{Type: history.OrchestratorStarted},
		started,
		{Type: history.TaskScheduled, EventID: 0},
		{Type: history.OrchestratorCompleted},
		// Kept in memory only: the result of task 0, then task 1 scheduled
		// and its result.
		{Type: history.OrchestratorStarted},
		{Type: history.TaskCompleted, TaskScheduledID: 0, Result: "a", IsPlayed: true},
		{Type: history.TaskScheduled, EventID: 1},
		{Type: history.OrchestratorCompleted},
		{Type: history.OrchestratorStarted},
		{Type: history.TaskFailed, TaskScheduledID: 1},
	}, durable: 4}
	got := salvage(snap, nil)
	if len(got) != 1 || got[0].Type != history.TaskCompleted || got[0].TaskScheduledID != 0 || got[0].IsPlayed {
		t.Fatalf("salvage = %+v, want the unplayed result of task 0 only (task 1's is redone by replay)", got)
	}
	// Nothing kept in memory: nothing to hand over.
	snap.durable = len(snap.events)
	if got := salvage(snap, nil); got != nil {
		t.Fatalf("salvage of a checkpointed snapshot = %+v", got)
	}
	if got := salvage(nil, nil); got != nil {
		t.Fatalf("salvage(nil) = %+v", got)
	}
	// A start taken in memory whose first steps were kept in memory: the
	// start itself is handed over.
	local := &snapshot{events: []history.Event{{Type: history.OrchestratorStarted}, started, {Type: history.TaskScheduled}}}
	if got := salvage(local, nil); len(got) != 1 || got[0].Type != history.ExecutionStarted {
		t.Fatalf("salvage of an uncheckpointed start = %+v", got)
	}
	// A start and a result that came through the queue, whose messages
	// are still held: the messages come again, their events are not sent.
	queued := started
	queued.MessageID = "start-message"
	result := history.Event{Type: history.TaskCompleted, TaskScheduledID: 0, Result: "a", MessageID: "result-message"}
	events := []history.Event{{Type: history.OrchestratorStarted}, queued, {Type: history.TaskScheduled, EventID: 0},
		{Type: history.OrchestratorCompleted}, {Type: history.OrchestratorStarted}, result}
	startHeld := []delivery{{ev: queued, msg: &azstore.Message{}}}
	if got := salvage(&snapshot{events: events}, startHeld); len(got) != 0 {
		t.Fatalf("salvage of a start whose message is held = %+v, want nothing", got)
	}
	if got := salvage(&snapshot{events: events}, nil); len(got) != 1 || got[0].MessageID != "start-message" {
		t.Fatalf("salvage of a start whose message is gone = %+v, want the start", got)
	}
	resultHeld := []delivery{{ev: result, msg: &azstore.Message{}}}
	if got := salvage(&snapshot{events: events, durable: 4}, resultHeld); len(got) != 0 {
		t.Fatalf("salvage of a result whose message is held = %+v, want nothing", got)
	}
	if got := salvage(&snapshot{events: events, durable: 4}, nil); len(got) != 1 || got[0].MessageID != "result-message" {
		t.Fatalf("salvage of a result whose message is gone = %+v, want the result", got)
	}
}

func TestSplitCarryKeepsTheFirstBatchWhole(t *testing.T) {
	start := history.Event{Type: history.ExecutionStarted}
	events := []history.Event{start}
	for i := range 250 {
		events = append(events, history.Event{Type: history.EventRaised, Name: "Add", Input: "1", MessageID: fmt.Sprint("m", i)})
	}
	events[200].MessageID = "" // an event without an ID gets one that a redo repeats
	keep, spill := splitCarry("c1", "exec1", events)
	if len(keep) != 1+maxCarriedInFirstBatch || keep[0].Type != history.ExecutionStarted {
		t.Fatalf("kept %d events, want the start and %d carried", len(keep), maxCarriedInFirstBatch)
	}
	// With OrchestratorStarted and OrchestratorCompleted, the first
	// checkpoint's carried events are all in its first batch.
	if 2+len(keep) > 99 {
		t.Fatalf("first checkpoint of %d events does not fit one batch", 2+len(keep))
	}
	if len(keep)+len(spill) != len(events) || spill[0].MessageID != fmt.Sprint("m", maxCarriedInFirstBatch) {
		t.Fatalf("spilled %d starting %q", len(spill), spill[0].MessageID)
	}
	id := spill[200-1-maxCarriedInFirstBatch].MessageID
	if id == "" {
		t.Fatal("a spilled event without a message ID got none")
	}
	_, again := splitCarry("c1", "exec1", events)
	if again[200-1-maxCarriedInFirstBatch].MessageID != id {
		t.Fatal("the derived message ID differs between a run and its redo")
	}
	// Few carried events: nothing spilled.
	if keep, spill := splitCarry("c1", "exec1", events[:10]); len(keep) != 10 || spill != nil {
		t.Fatalf("small carry: kept %d, spilled %d", len(keep), len(spill))
	}
	// Large payloads: the byte budget splits earlier.
	big := []history.Event{start}
	for range 10 {
		big = append(big, history.Event{Type: history.EventRaised, Input: string(make([]byte, 300<<10))})
	}
	if keep, spill := splitCarry("c1", "exec1", big); len(keep) != 4 || len(spill) != 7 {
		t.Fatalf("large carry: kept %d, spilled %d; want 4 and 7", len(keep), len(spill))
	}
}

func TestAppliedIDsHaveNoFixedWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var applied []string
	for i := range 1000 {
		applied = append(applied, fmt.Sprint("u", i))
	}
	// A busy instance consumed a thousand events whose deletes this worker
	// did not see succeed: every one is carried.
	can := &durable.ContinueAsNew{Applied: applied, StartedAt: now.Add(-time.Minute)}
	if got := appliedToCarry(can, nil, now); len(got) != 1000 {
		t.Fatalf("carried %d of 1000 undeleted IDs", len(got))
	}
	// Inherited IDs of an execution that started over an hour ago were
	// consumed before then: their messages cannot come back any more.
	can = &durable.ContinueAsNew{Applied: applied, Inherited: 600, StartedAt: now.Add(-2 * time.Hour)}
	if got := appliedToCarry(can, nil, now); len(got) != 400 || got[0] != "u600" {
		t.Fatalf("carried %d IDs from %v, want the 400 this execution consumed", len(got), got[:1])
	}
	can.StartedAt = now.Add(-time.Minute)
	if got := appliedToCarry(can, nil, now); len(got) != 1000 {
		t.Fatalf("a young execution's inherited IDs dropped: %d carried", len(got))
	}
}

func TestSameParentStartIsACopy(t *testing.T) {
	parent := func(exec string, task int) *history.ParentInstance {
		return &history.ParentInstance{Name: "P", TaskScheduleID: task,
			OrchestrationInstance: history.OrchestrationInstance{InstanceID: "p", ExecutionID: exec}}
	}
	start := func(exec string, p *history.ParentInstance) history.Event {
		return history.Event{Type: history.ExecutionStarted, ParentInstance: p,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: exec}}
	}
	// The child continued as new since: its execution differs from the one
	// the parent named, yet the parent's task is the same.
	past := []history.Event{{Type: history.OrchestratorStarted}, start("c-exec2", parent("p-exec1", 3)),
		{Type: history.ExecutionCompleted, OrchestrationStatus: history.StatusCompleted}}
	again := start("c-exec1", parent("p-exec1", 3))
	if !sameParent(past, again) || !parentAsksAgain(past, []history.Event{{Type: history.EventRaised}, again}) {
		t.Fatal("the parent's start sent again is not recognised")
	}
	snap := &snapshot{executionID: "c-exec2", events: past}
	if got := restartEvents(snap, []history.Event{again}); got != nil {
		t.Fatalf("the parent's copy restarts the child: %+v", got)
	}
	for name, other := range map[string]history.Event{
		"another task":      start("c-exec9", parent("p-exec1", 4)),
		"another execution": start("c-exec9", parent("p-exec2", 3)),
		"a client restart":  start("c-exec9", nil),
	} {
		if sameParent(past, other) {
			t.Errorf("%s taken for the parent's copy", name)
		}
		if got := restartEvents(snap, []history.Event{other}); len(got) != 1 {
			t.Errorf("%s does not restart the finished child", name)
		}
	}
}

func TestChildRowComesBeforeItsFirstCheckpoint(t *testing.T) {
	parent := &history.ParentInstance{OrchestrationInstance: history.OrchestrationInstance{InstanceID: "p", ExecutionID: "pe"}}
	child := history.Event{Type: history.ExecutionStarted, ParentInstance: parent, MessageID: "from-the-parent",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: "ce"}}
	appended := []history.Event{{Type: history.OrchestratorStarted}, child}
	if got := firstOfSubOrchestration(&snapshot{executionID: "ce"}, appended); got == nil || got.MessageID != "from-the-parent" {
		t.Fatalf("a new child's first checkpoint: %+v, want its start", got)
	}
	for name, snap := range map[string]*snapshot{
		"a later checkpoint":    {executionID: "ce", durable: 3},
		"a continued execution": {executionID: "ce", continued: true},
		"a row already written": {executionID: "ce", rowExecution: "ce"},
	} {
		if got := firstOfSubOrchestration(snap, appended); got != nil {
			t.Errorf("%s writes the child's row first again", name)
		}
	}
	// A start sent from the row (recovery) or by a client has its row.
	fromRow := child
	fromRow.MessageID = layout.StartMessageID("c", "ce")
	if got := firstOfSubOrchestration(&snapshot{executionID: "ce"}, []history.Event{fromRow}); got != nil {
		t.Error("a start sent from the row writes the row again")
	}
	top := child
	top.ParentInstance = nil
	if got := firstOfSubOrchestration(&snapshot{executionID: "ce"}, []history.Event{top}); got != nil {
		t.Error("an orchestration without a parent writes its row first")
	}
}

func TestRowBehindItsHistory(t *testing.T) {
	custom := func(s string) *string { return &s }
	events := []history.Event{
		{Type: history.OrchestratorStarted}, {Type: history.ExecutionStarted},
		{Type: history.OrchestratorCompleted, CustomStatus: custom(`4`)},
		{Type: history.OrchestratorStarted}, {Type: history.EventRaised},
		{Type: history.OrchestratorCompleted, CustomStatus: custom(`5`)},
	}
	ok := &layout.InstanceRow{ExecutionID: "e2", RuntimeStatus: history.StatusRunning, CustomStatus: `5`}
	if rowBehind(ok, "e2", events) {
		t.Fatal("a row that shows its history is taken as behind")
	}
	cases := map[string]func(r *layout.InstanceRow){
		"an older execution":     func(r *layout.InstanceRow) { r.ExecutionID = "e1" },
		"still Pending":          func(r *layout.InstanceRow) { r.RuntimeStatus = history.StatusPending },
		"an older custom status": func(r *layout.InstanceRow) { r.CustomStatus = `4` },
		"shown suspended":        func(r *layout.InstanceRow) { r.RuntimeStatus = history.StatusSuspended },
	}
	for name, change := range cases {
		r := *ok
		change(&r)
		if !rowBehind(&r, "e2", events) {
			t.Errorf("a row at %s is not taken as behind", name)
		}
	}
	suspended := append(slices.Clone(events), history.Event{Type: history.ExecutionSuspended})
	if !rowBehind(ok, "e2", suspended) {
		t.Error("a Running row of a suspended history is not taken as behind")
	}
	// History written before the custom status column: not compared.
	old := []history.Event{{Type: history.ExecutionStarted}, {Type: history.OrchestratorCompleted}}
	if rowBehind(&layout.InstanceRow{ExecutionID: "e", RuntimeStatus: history.StatusRunning, CustomStatus: "x"}, "e", old) {
		t.Error("an old history without custom statuses makes the row behind")
	}
}

func TestQuietInstancesLoseTheirInFlightRow(t *testing.T) {
	waiting := []history.Event{{Type: history.ExecutionStarted}, {Type: history.TimerCreated}}
	if !quiet(counted(&snapshot{events: waiting, durable: 2})) {
		t.Fatal("an instance waiting for a timer is not quiet")
	}
	for name, sn := range map[string]*snapshot{
		"an activity without its result": {events: []history.Event{{Type: history.ExecutionStarted}, {Type: history.TaskScheduled}}, durable: 2},
		"progress kept in memory":        {events: waiting, durable: 1},
		"a row write to retry":           {events: waiting, durable: 2, rowDirty: true},
		"between a continue-as-new's two writes": {events: []history.Event{{Type: history.ExecutionStarted},
			{Type: history.ContinueAsNew}, {Type: history.OrchestratorCompleted}}, durable: 3},
	} {
		if quiet(counted(sn)) {
			t.Errorf("an instance with %s is quiet", name)
		}
	}
}

// An instance that needs its in-flight row again cancels a pending
// deletion and waits for one under way, so no deletion lands after the
// new row.
func TestRejournalWinsOverADeletion(t *testing.T) {
	var u unjournal
	u.add("a")
	u.add("b")
	u.rejournal("a")
	ids := u.take()
	if !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("deleting %v, want only b", ids)
	}
	wrote := make(chan struct{})
	go func() {
		u.rejournal("b") // must wait for b's deletion to land
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("the row was written again while its deletion was under way")
	case <-time.After(50 * time.Millisecond):
	}
	u.done(ids)
	<-wrote
}

// A client's recent start that its first checkpoint finishes, or leaves
// waiting, goes without an in-flight row; anything that leaves an activity
// open, or that the look for lost starts would not read, writes one.
func TestFirstCheckpointOfARecentStartNeedsNoInFlightRow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	start := history.Event{Type: history.ExecutionStarted, Timestamp: now.Add(-time.Second),
		MessageID: layout.StartMessageID("i", "e"), OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e"}}
	done := []history.Event{{Type: history.OrchestratorStarted}, start, {Type: history.ExecutionCompleted}, {Type: history.OrchestratorCompleted}}
	if needsJournal(&snapshot{executionID: "e"}, done, now) {
		t.Fatal("a start that finishes in its first checkpoint writes an in-flight row")
	}
	// Five local activities run in memory, the last result bringing the end.
	ran := []history.Event{{Type: history.OrchestratorStarted}, start, {Type: history.TaskScheduled, EventID: 0},
		{Type: history.OrchestratorCompleted}, {Type: history.TaskCompleted, TaskScheduledID: 0}}
	if needsJournal(counted(&snapshot{executionID: "e", events: ran}), []history.Event{{Type: history.ExecutionCompleted}}, now) {
		t.Fatal("a start whose activities ran before its first checkpoint writes an in-flight row")
	}
	open := []history.Event{{Type: history.OrchestratorStarted}, start, {Type: history.TaskScheduled}}
	old := start
	old.Timestamp = now.Add(-journalFreeAge - time.Second)
	child := start
	child.MessageID = "from-the-parent"
	for name, c := range map[string]struct {
		snap *snapshot
		more []history.Event
	}{
		"an activity left open":    {&snapshot{executionID: "e"}, open},
		"a later checkpoint":       {&snapshot{executionID: "e", durable: 4}, done[2:]},
		"a continued execution":    {&snapshot{executionID: "e", continued: true}, done},
		"a start made long ago":    {&snapshot{executionID: "e"}, []history.Event{old}},
		"a start the parent sent":  {&snapshot{executionID: "e"}, []history.Event{child}},
		"no start in sight":        {&snapshot{executionID: "e"}, done[2:]},
		"loaded, a row maybe left": {&snapshot{executionID: "e", durable: 4, mayHaveRow: true}, done[2:]},
		// The Counter of TestEventsUnderKills: started with its events
		// beside it, it continued as new in its first checkpoint; a crash
		// after the row showed ContinuedAsNew, before the next execution
		// was written, lost it.
		"continued as new in it": {&snapshot{executionID: "e"}, []history.Event{{Type: history.OrchestratorStarted}, start,
			{Type: history.EventRaised}, {Type: history.ContinueAsNew}, {Type: history.OrchestratorCompleted}}},
	} {
		if !needsJournal(c.snap, c.more, now) {
			t.Errorf("%s goes without an in-flight row", name)
		}
	}
	if needsJournal(&snapshot{executionID: "e", durable: 4, journaled: true}, open, now) {
		t.Error("an instance that has its in-flight row writes it again")
	}
}
