// Command scaleapp is the handler the scale suite (internal/soak, `make scale`) runs: the
// repository's samples plus Chain, a test-only orchestrator that measures what one step of
// a long orchestration costs, and Slow, whose activity a killed worker holds in its process. It is a main package of its own so that the example app
// (the repository's root handler) and the samples stay as users see them.
package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/durable-go/durable/funcapp"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
)

func main() {
	funcapp.Main(funcapp.Options{Register: func(reg *task.Registry, app *funcapp.App) error {
		if err := samples.Register(reg, app.Setting); err != nil {
			return err
		}
		if err := reg.AddOrchestrator("Slow", Slow); err != nil {
			return err
		}
		if err := reg.AddActivity("Sleep", Sleep); err != nil {
			return err
		}
		return reg.AddOrchestrator("Chain", Chain)
	}})
}

// Slow runs one activity that sleeps its input in seconds: work a worker holds in its
// process for that long, which a takeover after its crash must run again.
func Slow(ctx *task.OrchestrationContext) (any, error) {
	var secs float64
	if err := ctx.GetInput(&secs); err != nil {
		return nil, fmt.Errorf("Slow wants a number of seconds: %w", err)
	}
	return secs, ctx.CallActivity("Sleep", secs).Await(nil)
}

// Sleep sleeps its input in seconds.
func Sleep(ctx *task.ActivityContext) (any, error) {
	var secs float64
	if err := ctx.GetInput(&secs); err != nil {
		return nil, fmt.Errorf("Sleep wants a number of seconds: %w", err)
	}
	time.Sleep(time.Duration(secs * float64(time.Second)))
	return secs, nil
}

// Chain calls the trivial activity SayHello N times in sequence (N its integer input) and
// returns N: every step is one episode, so the cost of the n-th step shows how the engine's
// per-episode work grows with the history.
func Chain(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := json.Unmarshal([]byte(ctx.RawInput()), &n); err != nil || n < 0 || n > 100000 {
		return nil, fmt.Errorf("Chain wants an integer input in 0..100000, not %q", ctx.RawInput())
	}
	for i := range n {
		if err := ctx.CallActivity("SayHello", i).Await(nil); err != nil {
			return nil, err
		}
	}
	return n, nil
}
