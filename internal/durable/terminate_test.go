package durable

import (
	"sort"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// treeRegistry has a "Fan" orchestrator that starts three children
// (Child-0..2) and waits for all of them, and a "Child" that waits for an
// event named "go".
func treeRegistry(t *testing.T) *Registry {
	t.Helper()
	reg := NewRegistry()
	if err := reg.AddOrchestrator("Fan", func(ctx *OrchestrationContext) (any, error) {
		var tasks []Task
		for _, id := range []string{"Child-0", "Child-1", "Child-2"} {
			tasks = append(tasks, ctx.CallSubOrchestrator("Child", nil, WithInstanceID(id)))
		}
		return nil, ctx.WhenAll(tasks...).Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddOrchestrator("Child", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.WaitForExternalEvent("go").Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func terminateEvent(recursive bool, msgID string) history.Event {
	return history.Event{Type: history.ExecutionTerminated, EventID: -1, Input: `"stop"`, Recursive: recursive, MessageID: msgID}
}

// terminates returns the child instance IDs the result sends a terminate
// to, sorted, and their message IDs by child.
func terminates(t *testing.T, res *Result) ([]string, map[string]string) {
	t.Helper()
	var ids []string
	msgIDs := map[string]string{}
	for _, o := range res.Outbound {
		ev := o.Message.Event
		if ev.Type != history.ExecutionTerminated {
			continue
		}
		if o.Kind != ToOrchestration || !ev.Recursive || ev.Input != `"stop"` || ev.MessageID == "" {
			t.Errorf("terminate message %+v: want a recursive one to an orchestration, with the reason and an ID", o)
		}
		id := o.Message.OrchestrationInstance.InstanceID
		ids = append(ids, id)
		msgIDs[id] = ev.MessageID
	}
	sort.Strings(ids)
	return ids, msgIDs
}

// startedFan runs Fan's first episode and completes Child-1, so that
// Child-0 and Child-2 are the unfinished children.
func startedFan(t *testing.T) *driver {
	t.Helper()
	d := newDriver(t, treeRegistry(t), "Fan", nil)
	d.episode()
	if len(d.sent) != 3 {
		t.Fatalf("first episode sent %d messages, want 3 starts", len(d.sent))
	}
	d.sent = nil
	d.inbox = append(d.inbox, history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, TaskScheduledID: 1,
		Result: "null", MessageID: "child-1-done"})
	if res := d.episode(); res.Status != history.StatusRunning {
		t.Fatalf("status %s after one child finished, want Running", res.Status)
	}
	return d
}

func TestRecursiveTerminateTerminatesUnfinishedChildren(t *testing.T) {
	d := startedFan(t)
	past := append([]history.Event(nil), d.past...)
	d.inbox = append(d.inbox, terminateEvent(true, "term"))
	res := d.episode()
	if res.Status != history.StatusTerminated {
		t.Fatalf("status %s, want Terminated", res.Status)
	}
	ids, first := terminates(t, res)
	if len(ids) != 2 || ids[0] != "Child-0" || ids[1] != "Child-2" {
		t.Fatalf("terminates sent to %v, want [Child-0 Child-2]: exactly the unfinished children", ids)
	}
	if first["Child-0"] == first["Child-2"] {
		t.Fatalf("both children's terminates have ID %s", first["Child-0"])
	}

	// A crash before the checkpoint: the same episode runs again from the
	// same history with the terminate redelivered. It must send the same
	// messages with the same IDs, so the children drop the copies.
	again := Execute(d.reg, Episode{InstanceID: d.id, Past: past, New: []history.Event{terminateEvent(true, "term")}, Now: d.now}, nil)
	_, second := terminates(t, again)
	for id, m := range first {
		if second[id] != m {
			t.Errorf("replayed terminate to %s has ID %s, first had %s", id, second[id], m)
		}
	}

	// Once recorded, a redelivered terminate is a duplicate. (The worker
	// does not even replay a finished instance: it drops its messages.)
	dup := Execute(d.reg, Episode{InstanceID: d.id, Past: d.past, New: []history.Event{terminateEvent(true, "term")}, Now: d.now}, nil)
	if dup.Dropped != 1 {
		t.Fatalf("duplicate terminate of a terminated instance: dropped %d, want 1", dup.Dropped)
	}
}

func TestNonRecursiveTerminateLeavesChildren(t *testing.T) {
	d := startedFan(t)
	d.inbox = append(d.inbox, terminateEvent(false, "term"))
	res := d.episode()
	if res.Status != history.StatusTerminated {
		t.Fatalf("status %s, want Terminated", res.Status)
	}
	if ids, _ := terminates(t, res); len(ids) != 0 {
		t.Fatalf("non-recursive terminate sent terminates to %v", ids)
	}
}

func TestRecursiveTerminateSkipsChildFinishedInSameBatch(t *testing.T) {
	d := startedFan(t)
	// Child-2's result arrives after the terminate, in the same batch: the
	// replay stops at the terminate, but Child-2 has finished all the same.
	d.inbox = append(d.inbox, terminateEvent(true, "term"),
		history.Event{Type: history.SubOrchestrationInstanceFailed, EventID: -1, TaskScheduledID: 2, Reason: "x", MessageID: "child-2-failed"})
	ids, _ := terminates(t, d.episode())
	if len(ids) != 1 || ids[0] != "Child-0" {
		t.Fatalf("terminates sent to %v, want [Child-0]", ids)
	}
}

func TestRecursiveTerminateOfSuspendedInstance(t *testing.T) {
	d := startedFan(t)
	d.inbox = append(d.inbox, history.Event{Type: history.ExecutionSuspended, EventID: -1, Reason: "pause", MessageID: "s"})
	if res := d.episode(); res.Status != history.StatusSuspended {
		t.Fatalf("status %s, want Suspended", res.Status)
	}
	// Child-0's result is deferred while suspended; it has finished anyway.
	d.inbox = append(d.inbox, history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, TaskScheduledID: 0,
		Result: "null", MessageID: "child-0-done"})
	d.episode()
	d.inbox = append(d.inbox, terminateEvent(true, "term"))
	res := d.episode()
	if res.Status != history.StatusTerminated {
		t.Fatalf("status %s, want Terminated", res.Status)
	}
	if ids, _ := terminates(t, res); len(ids) != 1 || ids[0] != "Child-2" {
		t.Fatalf("terminates sent to %v, want [Child-2]", ids)
	}
}

func TestRecursiveTerminateOfPendingInstance(t *testing.T) {
	// The start and the terminate arrive together: the code runs up to the
	// terminate and issues its children, which this episode does not start.
	// They still get a terminate, since a crashed earlier attempt of the
	// episode (without the terminate) may have started them.
	d := newDriver(t, treeRegistry(t), "Fan", nil)
	d.inbox = append(d.inbox, terminateEvent(true, "term"))
	res := d.episode()
	if res.Status != history.StatusTerminated {
		t.Fatalf("status %s, want Terminated", res.Status)
	}
	for _, o := range res.Outbound {
		if o.Message.Event.Type == history.ExecutionStarted {
			t.Fatalf("a terminated episode started child %s", o.Message.OrchestrationInstance.InstanceID)
		}
	}
	if ids, _ := terminates(t, res); len(ids) != 3 {
		t.Fatalf("terminates sent to %v, want all three children", ids)
	}
}

func TestChildTerminatedRecursivelyPassesItOn(t *testing.T) {
	// A child that has children of its own gets a recursive terminate, as
	// its parent sends it, and sends the same on.
	reg := treeRegistry(t)
	if err := reg.AddOrchestrator("Mid", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.CallSubOrchestrator("Child", nil, WithInstanceID("Leaf")).Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, reg, "Mid", nil)
	d.episode()
	d.inbox = append(d.inbox, terminateEvent(true, "from-parent"))
	ids, _ := terminates(t, d.episode())
	if len(ids) != 1 || ids[0] != "Leaf" {
		t.Fatalf("terminates sent to %v, want [Leaf]", ids)
	}
}
