package durable

import (
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// stored is what history gives back of an event: its times cut to the
// Table service's 100 ns.
func stored(evs []history.Event) []history.Event {
	out := make([]history.Event, len(evs))
	for i, e := range evs {
		e.Timestamp = e.Timestamp.Truncate(100 * time.Nanosecond)
		out[i] = e
	}
	return out
}

// An orchestration that derives a value from CurrentUTCDateTime and NewGUID
// (as a bulk operation derives its message IDs) gets the same value on its
// first run, with a clock finer than storage keeps, as on a replay of the
// history read back from storage.
func TestTimesAreThoseHistoryKeeps(t *testing.T) {
	reg := NewRegistry()
	if err := reg.AddOrchestrator("Derive", func(ctx *OrchestrationContext) (any, error) {
		derived := ctx.CurrentUTCDateTime().Format(time.RFC3339Nano) + "/" + ctx.NewGUID().String()
		if err := ctx.CallActivity("Use", derived).Await(nil); err != nil {
			return nil, err
		}
		return derived, nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Derive", Timestamp: now.Add(-time.Millisecond),
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e"}}
	first := Execute(reg, Episode{InstanceID: "i", New: []history.Event{start}, Now: now}, nil)
	if len(first.Outbound) != 1 {
		t.Fatalf("first run: %+v", first)
	}
	input := first.Outbound[0].Message.Event.Input
	for _, e := range first.Appended {
		if e.Timestamp.Nanosecond()%100 != 0 {
			t.Errorf("%s stamped %v, finer than history keeps", e.Type, e.Timestamp)
		}
	}

	// A crash before the activity's result is recorded: another worker
	// replays the stored history and schedules the activity again.
	replay := Execute(reg, Episode{InstanceID: "i", Past: stored(first.Appended), Now: now.Add(time.Second)}, nil)
	if replay.Status == history.StatusFailed {
		t.Fatalf("replay failed: %s", replay.Output)
	}
	done := history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: first.Outbound[0].Message.Event.EventID, Result: "null"}
	last := Execute(reg, Episode{InstanceID: "i", Past: stored(first.Appended), New: []history.Event{done}, Now: now.Add(2 * time.Second)}, nil)
	if last.Status != history.StatusCompleted || last.Output != input {
		t.Fatalf("replayed value %s (%s), first run scheduled %s", last.Output, last.Status, input)
	}
}
