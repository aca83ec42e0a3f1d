package durable

import (
	"fmt"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// chainRegistry has Chain, which calls Step n times in sequence.
func chainRegistry() *Registry {
	reg := NewRegistry()
	_ = reg.AddActivity("Step", func(ctx *ActivityContext) (any, error) { return 1, nil })
	_ = reg.AddOrchestrator("Chain", func(ctx *OrchestrationContext) (any, error) {
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, err
		}
		sum := 0
		for range n {
			var v int
			if err := ctx.CallActivity("Step", nil).Await(&v); err != nil {
				return nil, err
			}
			sum += v
		}
		return sum, nil
	})
	return reg
}

// runChain runs a Chain of n steps episode by episode, one activity result
// per episode as a worker sees them, parked (sticky) or replayed.
func runChain(tb testing.TB, reg *Registry, n int, sticky bool) {
	runChainNamed(tb, reg, "Chain", n, sticky)
}

func runChainNamed(tb testing.TB, reg *Registry, name string, n int, sticky bool) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	in := fmt.Sprint(n)
	newEvents := []history.Event{{Type: history.ExecutionStarted, EventID: -1, Name: name, Input: in, Timestamp: now,
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: "e"}}}
	var past []history.Event
	var sess *Session
	defer func() { sess.Close() }()
	for i := 0; ; i++ {
		ep := Episode{InstanceID: "c", Past: past, New: newEvents, Now: now.Add(time.Duration(i) * time.Millisecond)}
		var res *Result
		switch {
		case !sticky:
			res = Execute(reg, ep, nil)
		case sess.Live():
			res = sess.Next(ep)
		default:
			res, sess = Begin(reg, ep, nil)
		}
		past = append(past, res.Appended...)
		if res.Status.IsTerminal() {
			if res.Output != in {
				tb.Fatalf("output %s, want %s", res.Output, in)
			}
			return
		}
		ev := res.Outbound[0].Message.Event
		newEvents = []history.Event{{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: ev.EventID, Result: "1",
			Timestamp: ep.Now}}
	}
}

// BenchmarkChainStep reports the engine's CPU per step of a chain of
// activities: replayed, each episode re-runs every step before it
// (quadratic in the chain's length); parked, it runs only its own.
//
//	go test -run '^$' -bench ChainStep -benchtime 3x ./internal/durable/
func BenchmarkChainStep(b *testing.B) {
	reg := chainRegistry()
	for _, n := range []int{100, 1000, 5000} {
		for _, mode := range []struct {
			name   string
			sticky bool
		}{{"replay", false}, {"parked", true}} {
			if n == 5000 && !mode.sticky && testing.Short() {
				continue
			}
			b.Run(fmt.Sprintf("n=%d/%s", n, mode.name), func(b *testing.B) {
				for b.Loop() {
					runChain(b, reg, n, mode.sticky)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/step")
			})
		}
	}
}

// A parked chain runs its code once however many steps it has; replayed,
// the code runs again from the start at every step. That is what makes
// replay quadratic and a parked chain linear (BenchmarkChainStep measures
// the time).
func TestParkedChainRunsItsCodeOnce(t *testing.T) {
	const n = 2000
	for _, c := range []struct {
		sticky bool
		runs   int
	}{{true, 1}, {false, n + 1}} {
		reg := chainRegistry()
		runs := 0
		_ = reg.AddOrchestrator("Counted", func(ctx *OrchestrationContext) (any, error) {
			runs++
			fn, _ := reg.Orchestrator("Chain")
			return fn(ctx)
		})
		runChainNamed(t, reg, "Counted", n, c.sticky)
		if runs != c.runs {
			t.Errorf("sticky %v: the code ran %d times for %d steps, want %d", c.sticky, runs, n, c.runs)
		}
	}
}
