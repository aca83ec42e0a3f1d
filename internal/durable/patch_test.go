package durable

import (
	"slices"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// patchRegistry registers "Flow" as an old build (A then B) or a patched
// one (A, then C only when IsPatched("add-c"), then B), and records what
// IsPatched returned.
func patchRegistry(t *testing.T, patched bool, seen *[]bool) *Registry {
	reg := NewRegistry()
	for _, name := range []string{"A", "B", "C"} {
		if err := reg.AddActivity(name, func(*ActivityContext) (any, error) { return name, nil }); err != nil {
			t.Fatal(err)
		}
	}
	_ = reg.AddOrchestrator("Flow", func(ctx *OrchestrationContext) (any, error) {
		var out []string
		var s string
		if err := ctx.CallActivity("A", nil).Await(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
		if patched {
			p := ctx.IsPatched("add-c")
			*seen = append(*seen, p)
			if p != ctx.IsPatched("add-c") {
				t.Error("a second call decided otherwise")
			}
			if p {
				if err := ctx.CallActivity("C", nil).Await(&s); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
		}
		if err := ctx.CallActivity("B", nil).Await(&s); err != nil {
			return nil, err
		}
		return append(out, s), nil
	})
	return reg
}

func markers(events []history.Event) []string {
	var out []string
	for _, e := range events {
		if n, ok := PatchName(e); ok {
			out = append(out, n)
		}
	}
	return out
}

func TestIsPatchedOnNewInstances(t *testing.T) {
	var seen []bool
	d := newDriver(t, patchRegistry(t, true, &seen), "Flow", nil)
	res := d.run()
	if res.Status != history.StatusCompleted || res.Output != `["A","C","B"]` {
		t.Fatalf("status %s output %s", res.Status, res.Output)
	}
	// Decided true in new work, then true again on every replay, from
	// the marker recorded once.
	if len(seen) < 2 || slices.Contains(seen, false) {
		t.Fatalf("IsPatched returned %v", seen)
	}
	if got := markers(d.past); !slices.Equal(got, []string{"add-c"}) {
		t.Fatalf("markers in history: %v", got)
	}
}

func TestIsPatchedOnInstancesInFlight(t *testing.T) {
	// Passed the patch point before the patch: A done and B scheduled by
	// the old build; the patched build replays without C and finishes.
	var seen []bool
	d := newDriver(t, patchRegistry(t, false, nil), "Flow", nil)
	d.episode() // schedules A
	d.episode() // A done, schedules B
	d.reg = patchRegistry(t, true, &seen)
	res := d.run()
	if res.Status != history.StatusCompleted || res.Output != `["A","B"]` {
		t.Fatalf("passed the point: status %s output %s (%v)", res.Status, res.Output, res.Failure)
	}
	if slices.Contains(seen, true) || len(markers(d.past)) != 0 {
		t.Fatalf("passed the point: IsPatched returned %v, markers %v", seen, markers(d.past))
	}

	// Not there yet: A scheduled by the old build, its result comes to
	// the patched build, which takes the new path.
	seen = nil
	d = newDriver(t, patchRegistry(t, false, nil), "Flow", nil)
	d.episode()
	d.reg = patchRegistry(t, true, &seen)
	res = d.run()
	if res.Status != history.StatusCompleted || res.Output != `["A","C","B"]` {
		t.Fatalf("before the point: status %s output %s (%v)", res.Status, res.Output, res.Failure)
	}
	if slices.Contains(seen, false) || !slices.Equal(markers(d.past), []string{"add-c"}) {
		t.Fatalf("before the point: IsPatched returned %v, markers %v", seen, markers(d.past))
	}
}
