package worker

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

func TestOrderBatchPutsMessagesInSendOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// The queue's insertion times have whole seconds only: the five were
	// inserted within one, and the senders' own stamps order them.
	msg := func(name string, ms int) delivery {
		return delivery{ev: history.Event{Name: name, Timestamp: t0.Add(time.Duration(ms) * time.Millisecond)},
			msg: &azstore.Message{ID: name, Inserted: t0}}
	}
	// Stop was sent last but dequeued first: the Adds were held by a worker
	// that crashed, and came back behind it.
	batch := []delivery{msg("stop", 5), {ev: history.Event{Name: "result"}}, msg("add1", 1), msg("add3", 3), msg("add2", 2)}
	orderBatch(batch)
	var got []string
	for _, d := range batch {
		got = append(got, d.ev.Name)
	}
	if want := "result add1 add2 add3 stop"; strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
	// Without a stamp, the insertion time orders them.
	late := delivery{ev: history.Event{Name: "unstamped"}, msg: &azstore.Message{ID: "u", Inserted: t0.Add(time.Hour)}}
	early := delivery{ev: history.Event{Name: "stamped"}, msg: &azstore.Message{ID: "s", Inserted: t0.Add(2 * time.Hour)}}
	early.ev.Timestamp = t0.Add(30 * time.Minute)
	b := []delivery{late, early}
	orderBatch(b)
	if b[0].ev.Name != "stamped" {
		t.Fatalf("order %s, %s", b[0].ev.Name, b[1].ev.Name)
	}
}

func TestDeletedMessagesAreNotCarried(t *testing.T) {
	deleted := map[string]bool{"a": true, "c": true}
	if got := withoutDeleted([]string{"a", "b", "c", "d"}, deleted); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("carried %v, want all: the deleted ones are recent", got)
	}
	// Of the deleted ones, only the KeptDeletedIDs most recent stay.
	var applied []string
	many := map[string]bool{}
	for i := range KeptDeletedIDs + 3 {
		id := fmt.Sprint("m", i)
		applied, many[id] = append(applied, id, fmt.Sprint("u", i)), true
	}
	got := withoutDeleted(applied, many)
	if len(got) != len(applied)-3 || got[0] != "u0" || got[3] != "m3" || got[len(got)-1] != fmt.Sprint("u", KeptDeletedIDs+2) {
		t.Fatalf("carried %d IDs starting %v, want every undeleted one and the last %d deleted", len(got), got[:4], KeptDeletedIDs)
	}
	next := []history.Event{{Type: history.ExecutionStarted}, {Type: history.EventRaised, MessageID: "c"}, {Type: history.EventRaised, MessageID: "e"}}
	if kept := keepDeleted(deleted, next); len(kept) != 1 || !kept["c"] {
		t.Fatalf("kept %v, want only c (an event the next execution inherits)", kept)
	}
}

func TestTakeoverWaitsForTheDeadOwnersMessages(t *testing.T) {
	exp := time.Date(2026, 12, 1, 0, 0, 30, 0, time.UTC)
	if at := takeoverNotBefore(&azstore.Lease{CurrentOwner: "dead", ExpiresAt: exp}, 6*time.Second); !at.Equal(exp.Add(7 * time.Second)) {
		t.Fatalf("first dequeue at %v, want expiry + hold + 1 s", at)
	}
	if at := takeoverNotBefore(&azstore.Lease{CurrentOwner: "", ExpiresAt: exp}, 6*time.Second); !at.IsZero() {
		t.Fatalf("a released lease waits until %v", at)
	}
}

func TestStartLost(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	row := &layout.InstanceRow{InstanceID: "i", ExecutionID: "e2", RuntimeStatus: history.StatusPending, CreatedTime: t0}
	started := func(at time.Time) []history.Event {
		return []history.Event{{Type: history.OrchestratorStarted}, {Type: history.ExecutionStarted, Timestamp: at}}
	}
	for _, c := range []struct {
		name string
		hs   azstore.HistorySnapshot
		want bool
	}{
		{"no history", azstore.HistorySnapshot{}, true},
		{"history of a replaced execution", azstore.HistorySnapshot{ExecutionID: "e1", Events: started(t0.Add(-time.Hour))}, true},
		{"started, row lags", azstore.HistorySnapshot{ExecutionID: "e2", Events: started(t0)}, false},
		// A crash kept the row at the first execution; history continued as new since.
		{"continued past the row", azstore.HistorySnapshot{ExecutionID: "e3", Events: started(t0.Add(time.Minute))}, false},
	} {
		if got := startLost(row, &c.hs); got != c.want {
			t.Errorf("%s: lost %v, want %v", c.name, got, c.want)
		}
	}
}

// simulateBalance runs lease rounds of the given workers in turn, applying
// asks and releases the way balance does, and returns the final split.
func simulateBalance(partitions int, owners []string, joiners []string, rounds int) map[string]int {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	dur := 30 * time.Second
	leases := make([]*azstore.Lease, partitions)
	for i := range leases {
		leases[i] = &azstore.Lease{Partition: i, CurrentOwner: owners[i%len(owners)], LastRenewal: now, ExpiresAt: now.Add(dur)}
	}
	workers := append(slices.Clone(owners), joiners...)
	for r := 0; r < rounds; r++ {
		for _, me := range workers {
			v := leaseView(leases, me, now, dur)
			var mine []*azstore.Lease
			for _, l := range leases {
				if l.CurrentOwner == me {
					mine = append(mine, l)
				}
			}
			release, refuse := v.grants(mine, me)
			for _, l := range release {
				l.CurrentOwner = "" // released to the asker
			}
			for _, l := range refuse {
				l.NextOwner = ""
			}
			for _, l := range leases {
				if l.CurrentOwner == "" && (l.NextOwner == me || l.NextOwner == "") {
					l.CurrentOwner, l.NextOwner = me, ""
				}
			}
			v = leaseView(leases, me, now, dur)
			for _, l := range v.asks(leases, me) {
				l.NextOwner = me
				l.LastRenewal = now
			}
		}
	}
	split := map[string]int{}
	for _, l := range leases {
		split[l.CurrentOwner]++
	}
	return split
}

func TestLeasesSplitWithinOne(t *testing.T) {
	for _, c := range []struct {
		partitions      int
		owners, joiners []string
	}{
		{4, []string{"a", "b"}, []string{"c"}},       // 2/2/0 must not stay
		{4, []string{"a"}, []string{"b", "c"}},       // 1 → 3
		{16, []string{"a"}, []string{"b", "c", "d"}}, // 1 → 4
		{5, []string{"a", "a", "a", "b", "c"}, nil},  // 3/1/1
		{16, []string{"a", "b"}, []string{"c"}},
	} {
		split := simulateBalance(c.partitions, c.owners, c.joiners, 3)
		var counts []int
		for owner, n := range split {
			if owner == "" {
				t.Errorf("%d partitions, owners %v + %v: %d unowned", c.partitions, c.owners, c.joiners, n)
			}
			counts = append(counts, n)
		}
		sort.Ints(counts)
		live := len(slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(c.owners), c.joiners...)))))
		if len(counts) != live || counts[len(counts)-1]-counts[0] > 1 {
			t.Errorf("%d partitions, owners %v + %v: split %v, want every worker within one", c.partitions, c.owners, c.joiners, split)
		}
	}
}

func TestNoAskWhenAlreadyWithinOne(t *testing.T) {
	now := time.Now()
	var leases []*azstore.Lease
	for i, o := range []string{"a", "a", "b", "c"} {
		leases = append(leases, &azstore.Lease{Partition: i, CurrentOwner: o, ExpiresAt: now.Add(time.Minute)})
	}
	for _, me := range []string{"a", "b", "c"} {
		if asks := leaseView(leases, me, now, time.Minute).asks(leases, me); len(asks) != 0 {
			t.Errorf("%s asks for %d partitions of a 2/1/1 split", me, len(asks))
		}
	}
}

func TestMayDefer(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	scheduled := []history.Event{{Type: history.ExecutionStarted}, {Type: history.TaskScheduled, EventID: 0}}
	running := &durable.Result{Status: history.StatusRunning, Appended: []history.Event{{Type: history.TaskScheduled, EventID: 1}}}
	fresh := func() *snapshot {
		return counted(&snapshot{events: append([]history.Event(nil), scheduled...), durable: 2})
	}
	if !mayDefer(fresh(), running, 0, 0, false, now) {
		t.Fatal("a step of a local activity chain was not deferred")
	}
	// A start or an event through the queue: its message stays held.
	if !mayDefer(fresh(), running, maxHeldDeferred, 0, false, now) {
		t.Fatal("a step that consumed queue messages was not deferred")
	}
	long := func() *snapshot {
		return counted(&snapshot{events: append(append([]history.Event(nil), scheduled...), make([]history.Event, maxDeferHistory)...),
			durable: maxDeferHistory})
	}
	// A parked orchestration's step costs what it adds: its long history defers too.
	parked := long()
	parked.sess = parkedSession(t)
	defer parked.sess.Close()
	if !mayDefer(parked, running, 0, 0, false, now) {
		t.Fatal("a step of a long, parked chain was not deferred")
	}
	for _, c := range []struct {
		name string
		snap *snapshot
		res  *durable.Result
		held int
		sent int
		stop bool
	}{
		{"holds too many queue messages", fresh(), running, maxHeldDeferred + 1, 0, false},
		{"sent a message elsewhere", fresh(), running, 0, 1, false},
		{"stopping", fresh(), running, 0, 0, true},
		{"completed", fresh(), &durable.Result{Status: history.StatusCompleted}, 0, 0, false},
		{"continued as new", fresh(), &durable.Result{Status: history.StatusRunning, ContinueAsNew: &durable.ContinueAsNew{}}, 0, 0, false},
		{"suspended", fresh(), &durable.Result{Status: history.StatusSuspended}, 0, 0, false},
		{"waits for no activity", &snapshot{events: scheduled[:1], durable: 1}, &durable.Result{Status: history.StatusRunning}, 0, 0, false},
		{"deferred for maxDefer already", &snapshot{events: scheduled, durable: 1, deferredSince: now.Add(-maxDefer)}, running, 0, 0, false},
		{"long history, replayed", long(), running, 0, 0, false},
		{"too many events in memory", &snapshot{events: append(append([]history.Event(nil), scheduled...), make([]history.Event, maxUncommitted)...)}, running, 0, 0, false},
	} {
		if mayDefer(c.snap, c.res, c.held, c.sent, c.stop, now) {
			t.Errorf("%s: deferred", c.name)
		}
	}
}

// counted is a snapshot as record builds it: with its open activities
// counted.
func counted(sn *snapshot) *snapshot {
	if sn != nil {
		sn.open = openActivities(sn.events)
	}
	return sn
}

func TestAdmissionIsHeldWhileLocalActivitiesRun(t *testing.T) {
	waiting := counted(&snapshot{events: []history.Event{{Type: history.ExecutionStarted}, {Type: history.TaskScheduled}}})
	if !holdsAdmission(waiting) {
		t.Error("an instance waiting for an activity gave up its place")
	}
	for name, sn := range map[string]*snapshot{
		"no snapshot":        nil,
		"waits for an event": {events: []history.Event{{Type: history.ExecutionStarted}}},
		"finished": {events: []history.Event{{Type: history.ExecutionStarted}, {Type: history.TaskScheduled},
			{Type: history.ExecutionCompleted, OrchestrationStatus: history.StatusCompleted}}},
		"result in": {events: []history.Event{{Type: history.TaskScheduled}, {Type: history.TaskCompleted}}},
	} {
		if holdsAdmission(counted(sn)) {
			t.Errorf("%s: keeps its place", name)
		}
	}
}

// parkedSession is a live durable.Session: an orchestration parked while it
// waits for an activity.
func parkedSession(t *testing.T) *durable.Session {
	t.Helper()
	reg := durable.NewRegistry()
	if err := reg.AddOrchestrator("Waits", func(ctx *durable.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("A", nil).Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	inst := &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e"}
	_, sess := durable.Begin(reg, durable.Episode{InstanceID: "i", Now: time.Now(), New: []history.Event{
		{Type: history.ExecutionStarted, EventID: -1, Name: "Waits", OrchestrationInstance: inst}}}, nil)
	if !sess.Live() {
		t.Fatal("the orchestration did not park")
	}
	return sess
}

func TestHeldMessagesAreDeliveredOncePerOwnership(t *testing.T) {
	held := map[string]*heldMessage{}
	now := time.Now()
	first := &azstore.Message{ID: "m1"}
	if got := holdDequeued(held, 0, 1, []*azstore.Message{first}, now); len(got) != 1 {
		t.Fatalf("first dequeue delivered %d messages, want 1", len(got))
	}
	// Its visibility ran out while it was held (a deferred step, a slow
	// episode): the copy is not delivered again.
	again := &azstore.Message{ID: "m1", DequeueCount: 2}
	if got := holdDequeued(held, 0, 1, []*azstore.Message{again}, now); len(got) != 0 {
		t.Fatalf("a held message dequeued again was delivered twice: %d", len(got))
	}
	if first.DequeueCount != 2 {
		t.Fatalf("the held copy did not take the new dequeue: count %d", first.DequeueCount)
	}
	// The partition was lost and won back, and whatever held the message
	// went with the old ownership: the new one gets it.
	later := &azstore.Message{ID: "m1", DequeueCount: 3}
	if got := holdDequeued(held, 0, 2, []*azstore.Message{later}, now); len(got) != 1 || got[0] != later {
		t.Fatalf("a message held under an earlier ownership was not delivered: %v", got)
	}
	if held["m1"].epoch != 2 || held["m1"].msg != later {
		t.Fatal("the held record was not taken over by the new ownership")
	}
}
