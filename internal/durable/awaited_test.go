package durable

import (
	"reflect"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// Result.AwaitedEvents names the events the code is parked on, as the code
// spelt them, and forgets waiters once the code has returned.
func TestAwaitedEvents(t *testing.T) {
	reg := NewRegistry()
	if err := reg.AddOrchestrator("Wait", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.WhenAny(ctx.WaitForExternalEvent("Rejected"), ctx.WaitForExternalEvent("Approved")).Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: now, Name: "Wait",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e"}}
	res := Execute(reg, Episode{InstanceID: "i", New: []history.Event{start}, Now: now}, nil)
	if want := []string{"Approved", "Rejected"}; !reflect.DeepEqual(res.AwaitedEvents, want) {
		t.Fatalf("awaited %v, want %v", res.AwaitedEvents, want)
	}
	raised := history.Event{Type: history.EventRaised, EventID: -1, Timestamp: now, Name: "approved"}
	res = Execute(reg, Episode{InstanceID: "i", Past: res.Appended, New: []history.Event{raised}, Now: now}, nil)
	if res.Status != history.StatusCompleted || res.AwaitedEvents != nil {
		t.Fatalf("status %s, awaited %v after the code returned", res.Status, res.AwaitedEvents)
	}
}
