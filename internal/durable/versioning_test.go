package durable

import (
	"testing"

	"github.com/durable-go/durable/internal/history"
)

func TestVersionIsSeenInheritedAndKept(t *testing.T) {
	reg := NewRegistry()
	var seen []string
	_ = reg.AddOrchestrator("Parent", func(ctx *OrchestrationContext) (any, error) {
		seen = append(seen, ctx.Version())
		var n int
		_ = ctx.GetInput(&n)
		ctx.CallSubOrchestrator("Child", nil)                                          // inherits
		ctx.CallSubOrchestrator("Child", nil, WithVersion("3.0"), WithInstanceID("c")) // names one
		if err := ctx.CallActivity("A", nil, WithVersion("1")).Await(nil); err == nil {
			t.Error("WithVersion on an activity was accepted")
		}
		switch n {
		case 0:
			return nil, ctx.ContinueAsNew(1) // keeps the version
		case 1:
			return nil, ctx.ContinueAsNew(2, WithNewVersion("2.0"))
		}
		return nil, nil
	})
	d := newDriver(t, reg, "Parent", 0)
	d.inbox[0].Version = "1.0"
	for i := 0; i < 3; i++ {
		res := d.episode()
		var kids []history.Event
		for _, o := range d.sent {
			kids = append(kids, o.Message.Event)
		}
		d.sent = nil
		want := []string{"1.0", "1.0", "2.0"}[i]
		if res.Version != want {
			t.Fatalf("execution %d: version %q, want %q", i, res.Version, want)
		}
		if len(kids) != 2 || kids[0].Version != want || kids[1].Version != "3.0" ||
			kids[0].ParentInstance.Version != want {
			t.Fatalf("execution %d: child starts %+v", i, kids)
		}
		for _, e := range res.Appended {
			if e.Type == history.SubOrchestrationInstanceCreated && e.Version != kids[e.EventID].Version {
				t.Fatalf("execution %d: created event %+v", i, e)
			}
		}
	}
	if got := seen[len(seen)-1]; got != "2.0" || seen[0] != "1.0" {
		t.Fatalf("ctx.Version() saw %v", seen)
	}
	// The next execution's ExecutionStarted records the version.
	found := false
	for _, e := range d.past {
		if e.Type == history.ExecutionStarted {
			found = e.Version == "2.0"
		}
	}
	if !found {
		t.Fatalf("last execution's ExecutionStarted lacks the version: %+v", d.past)
	}
}
