package tasktest

import (
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// The kit's own runs never block with a timer or an activity pending (it
// fires every timer and runs every activity), but a blocked description
// is built from history, so it must name those too: a history recorded
// elsewhere, or a sub-orchestration's parent, can hold them.
func TestWaitingForNamesEveryPendingTask(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past := []history.Event{
		{Type: history.ExecutionStarted, EventID: -1, Name: "Order"},
		{Type: history.TaskScheduled, EventID: 0, Name: "Charge"},
		{Type: history.TimerCreated, EventID: 1, FireAt: at.Add(2 * time.Minute)},
		{Type: history.TaskScheduled, EventID: 2, Name: "Ship"},
		{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: 2},
		{Type: history.SubOrchestrationInstanceCreated, EventID: 3, Name: "Pack", InstanceID: "pack-1"},
		{Type: history.EventRaised, EventID: -1, Name: "Paid"},
	}
	got := waitingFor(past, []string{"Cancel"})
	want := `waits for activity "Charge" (task 0), timer (task 1) firing at 2026-01-01T00:02:00Z, ` +
		`sub-orchestration "Pack" (instance "pack-1", task 3), external event "Cancel" (events it received in this execution: "Paid")`
	if got != want {
		t.Fatalf("got\n %s\nwant\n %s", got, want)
	}

	suspended := append(past, history.Event{Type: history.ExecutionSuspended, EventID: -1})
	if got := waitingFor(suspended, nil); got != "is suspended" {
		t.Fatalf("suspended: %s", got)
	}
	resumed := append(suspended, history.Event{Type: history.ExecutionResumed, EventID: -1})
	if got := waitingFor(resumed, nil); got == "is suspended" {
		t.Fatalf("resumed instance described as suspended")
	}
}

// The kit's status constants are the engine's values, under names that
// go doc shows one by one.
func TestStatusesAreTheEngines(t *testing.T) {
	pairs := map[Status]history.RuntimeStatus{
		StatusPending: history.StatusPending, StatusRunning: history.StatusRunning,
		StatusCompleted: history.StatusCompleted, StatusContinuedAsNew: history.StatusContinuedAsNew,
		StatusFailed: history.StatusFailed, StatusTerminated: history.StatusTerminated,
		StatusSuspended: history.StatusSuspended,
	}
	if len(pairs) != 7 {
		t.Fatalf("two constants share a value")
	}
	for got, want := range pairs {
		if got != want {
			t.Errorf("%q, engine's %q", got, want)
		}
	}
}
