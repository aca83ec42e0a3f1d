package durable

import (
	"fmt"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// counterRegistry has the sample Counter's shape: each Add adds and
// continues as new; Stop completes with the total.
func counterRegistry(t *testing.T) *Registry {
	t.Helper()
	reg := NewRegistry()
	if err := reg.AddOrchestrator("Counter", func(ctx *OrchestrationContext) (any, error) {
		var total int
		_ = ctx.GetInput(&total)
		add := ctx.WaitForExternalEvent("Add")
		stop := ctx.WaitForExternalEvent("Stop")
		var which int
		if err := ctx.WhenAny(add, stop).Await(&which); err != nil {
			return nil, err
		}
		if which == 1 {
			return total, nil
		}
		var n int
		if err := add.Await(&n); err != nil {
			return nil, err
		}
		return nil, ctx.ContinueAsNew(total + n)
	}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func raised(name, input, msgID string) history.Event {
	return history.Event{Type: history.EventRaised, EventID: -1, Name: name, Input: input, MessageID: msgID}
}

// finish runs the driver to the end and returns the Counter's total.
func finishCounter(t *testing.T, d *driver) string {
	t.Helper()
	res := d.run()
	if res.Status != history.StatusCompleted {
		t.Fatalf("status %s, failure %+v", res.Status, res.Failure)
	}
	return res.Output
}

func TestRedeliveredEventsAreDroppedAcrossContinueAsNew(t *testing.T) {
	d := newDriver(t, counterRegistry(t), "Counter", 0)
	var batch []history.Event
	for i := range 5 {
		batch = append(batch, raised("Add", "1", fmt.Sprintf("add-%d", i)))
	}
	d.inbox = append(d.inbox, batch...)
	// One batch of five Adds runs a chain of five executions; then every
	// message of the batch arrives again, as after a crash before the
	// batch's messages were deleted.
	for range 6 {
		d.episode()
	}
	if len(d.execIDs) != 6 {
		t.Fatalf("%d executions after five Adds, want 6", len(d.execIDs))
	}
	d.inbox = append(d.inbox, batch...)
	d.inbox = append(d.inbox, raised("Stop", "", "stop"))
	if out := finishCounter(t, d); out != "5" {
		t.Fatalf("total %s, want 5: a redelivered Add was applied again", out)
	}
}

func TestRedeliveryInsideOneBatchIsDropped(t *testing.T) {
	d := newDriver(t, counterRegistry(t), "Counter", 0)
	d.inbox = append(d.inbox, raised("Add", "1", "a"), raised("Add", "1", "a"), raised("Add", "1", "b"), raised("Stop", "", "s"))
	if out := finishCounter(t, d); out != "2" {
		t.Fatalf("total %s, want 2", out)
	}
}

func TestCarriedEventsKeepTheirMessageIDs(t *testing.T) {
	d := newDriver(t, counterRegistry(t), "Counter", 0)
	d.inbox = append(d.inbox, raised("Add", "1", "a"), raised("Add", "1", "b"))
	d.episode() // consumes a, carries b
	start := d.inbox[0]
	if start.Type != history.ExecutionStarted || len(start.AppliedMessageIDs) == 0 {
		t.Fatalf("next execution opens with %+v", start)
	}
	applied := map[string]bool{}
	for _, id := range start.AppliedMessageIDs {
		applied[id] = true
	}
	if !applied["a"] || applied["b"] {
		t.Fatalf("applied IDs %v: want a (consumed) and not b (carried)", start.AppliedMessageIDs)
	}
	if len(d.inbox) != 2 || d.inbox[1].MessageID != "b" {
		t.Fatalf("carried %+v", d.inbox[1:])
	}
}

func TestAppliedMessageIDsAreBounded(t *testing.T) {
	d := newDriver(t, counterRegistry(t), "Counter", 0)
	for i := range MaxAppliedMessageIDs + 50 {
		d.inbox = append(d.inbox, raised("Add", "1", fmt.Sprintf("m%d", i)))
		d.episode()
	}
	start := d.inbox[0]
	if n := len(start.AppliedMessageIDs); n != MaxAppliedMessageIDs {
		t.Fatalf("%d applied IDs carried, want the cap %d", n, MaxAppliedMessageIDs)
	}
	if last := start.AppliedMessageIDs[len(start.AppliedMessageIDs)-1]; last != fmt.Sprintf("m%d", MaxAppliedMessageIDs+49) {
		t.Fatalf("newest carried ID %s", last)
	}
}

func TestEventsKeepTheirOrderAcrossContinueAsNew(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Log", func(ctx *OrchestrationContext) (any, error) {
		var log string
		_ = ctx.GetInput(&log)
		var v string
		if err := ctx.WaitForExternalEvent("E").Await(&v); err != nil {
			return nil, err
		}
		if v == "end" {
			return log, nil
		}
		return nil, ctx.ContinueAsNew(log + v)
	})
	d := newDriver(t, reg, "Log", "")
	d.inbox = append(d.inbox, raised("E", `"a"`, "1"), raised("E", `"b"`, "2"))
	d.episode()
	d.inbox = append(d.inbox, raised("E", `"c"`, "3"), raised("E", `"b"`, "2"), raised("E", `"end"`, "4"))
	if res := d.run(); res.Output != `"abc"` {
		t.Fatalf("output %s, want \"abc\"", res.Output)
	}
}

// A crash after the checkpoint that records a continue-as-new and before
// the next execution's: the replay redoes only the continue-as-new, and
// events that arrived meanwhile go to the next execution.
func TestInterruptedContinueAsNewIsResumed(t *testing.T) {
	d := newDriver(t, counterRegistry(t), "Counter", 0)
	d.inbox = append(d.inbox, raised("Add", "1", "a"))
	res := Execute(d.reg, Episode{InstanceID: d.id, New: d.inbox, Now: d.now}, nil)
	if res.ContinueAsNew == nil {
		t.Fatalf("status %s", res.Status)
	}
	past := res.Appended
	if !EndedByContinueAsNew(past) || past[len(past)-1].Type != history.OrchestratorCompleted {
		t.Fatalf("history does not end with ContinueAsNew, OrchestratorCompleted: %v", past)
	}
	again := Execute(d.reg, Episode{InstanceID: d.id, Past: past, New: []history.Event{raised("Add", "1", "a"), raised("Add", "1", "b")}, Now: d.now}, nil)
	if again.ContinueAsNew == nil || len(again.Appended) != 0 || again.Status != history.StatusContinuedAsNew {
		t.Fatalf("redo: status %s, appended %d, continue %v", again.Status, len(again.Appended), again.ContinueAsNew)
	}
	if again.Dropped != 1 || len(again.ContinueAsNew.CarryOver) != 1 || again.ContinueAsNew.CarryOver[0].MessageID != "b" {
		t.Fatalf("redo dropped %d, carried %+v; want a dropped and b carried", again.Dropped, again.ContinueAsNew.CarryOver)
	}
	if again.ContinueAsNew.Input != "1" {
		t.Fatalf("next input %s", again.ContinueAsNew.Input)
	}
}

func TestOutboundMessageIDsAreStableAcrossReplays(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Sender", func(ctx *OrchestrationContext) (any, error) {
		if err := ctx.SendEvent("other", "Ping", 1); err != nil {
			return nil, err
		}
		return nil, ctx.CreateTimer(ctx.CurrentUTCDateTime().Add(1)).Await(nil)
	})
	d := newDriver(t, reg, "Sender", nil)
	first := Execute(reg, Episode{InstanceID: d.id, New: d.inbox, Now: d.now}, nil)
	second := Execute(reg, Episode{InstanceID: d.id, New: d.inbox, Now: d.now}, nil)
	if len(first.Outbound) != 2 {
		t.Fatalf("outbound %d", len(first.Outbound))
	}
	seen := map[string]bool{}
	for i := range first.Outbound {
		a, b := first.Outbound[i].Message.Event.MessageID, second.Outbound[i].Message.Event.MessageID
		if a == "" || a != b || seen[a] {
			t.Fatalf("message %d: IDs %q and %q", i, a, b)
		}
		seen[a] = true
	}
}

// A result (or a timer) addressed to an execution that has continued as
// new must not resolve the next execution's task of the same ID.
func TestResultsForAnEarlierExecutionAreDropped(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddActivity("Echo", func(ctx *ActivityContext) (any, error) { return ctx.RawInput(), nil })
	_ = reg.AddOrchestrator("Gen", func(ctx *OrchestrationContext) (any, error) {
		var gen int
		_ = ctx.GetInput(&gen)
		if gen == 0 {
			ctx.CallActivity("Echo", "from old") // not awaited
			return nil, ctx.ContinueAsNew(1)
		}
		var s string
		err := ctx.CallActivity("Echo", "from new").Await(&s)
		return s, err
	})
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Gen", Input: "0",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e1"}}
	first := Execute(reg, Episode{InstanceID: "i", New: []history.Event{start}}, nil)
	if first.ContinueAsNew == nil {
		t.Fatalf("status %s", first.Status)
	}
	next := NewExecutionEvents(first, "i", "e2", start.Timestamp)
	second := Execute(reg, Episode{InstanceID: "i", New: next}, nil)
	past := second.Appended
	old := history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: 0, Result: `"from old"`, TargetExecutionID: "e1"}
	oldTimer := history.Event{Type: history.TimerFired, EventID: -1, TimerID: 0, TargetExecutionID: "e1"}
	res := Execute(reg, Episode{InstanceID: "i", Past: past, New: []history.Event{old, oldTimer}}, nil)
	if res.Dropped != 2 || res.Status != history.StatusRunning {
		t.Fatalf("dropped %d, status %s, output %s: the old execution's result was taken", res.Dropped, res.Status, res.Output)
	}
	cur := history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: 0, Result: `"from new"`, TargetExecutionID: "e2"}
	res = Execute(reg, Episode{InstanceID: "i", Past: past, New: []history.Event{cur}}, nil)
	if res.Status != history.StatusCompleted || res.Output != `"from new"` {
		t.Fatalf("status %s, output %s", res.Status, res.Output)
	}
}

func TestPayloadsAreNotHTMLEscaped(t *testing.T) {
	got, err := marshalJSON(map[string]string{"u": "https://x/y?a=1&b=<2>"})
	if err != nil || got != `{"u":"https://x/y?a=1&b=<2>"}` {
		t.Fatalf("encoded %s (%v)", got, err)
	}
}
