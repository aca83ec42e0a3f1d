// Command scaleapp is the handler that the scale suite (internal/soak, `make scale`) and the
// version scenarios run: the repository's samples plus three test-only orchestrators. Chain
// measures what one step of a long orchestration costs; Slow's activity is work a killed
// worker holds in its process; Steps tells which build ran it. It is a main package of its
// own so that the example app (the repository's root handler) and the samples stay as users
// see them.
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
		if err := reg.AddOrchestrator("Chain", Chain); err != nil {
			return err
		}
		build, _ := app.Setting(BuildSetting)
		if err := reg.AddActivity("Note", Note); err != nil {
			return err
		}
		return reg.AddOrchestrator("Steps", Steps(build))
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

// BuildSetting is the app setting that names the build a handler process runs: the version
// scenarios start one binary as several builds of one app, which differ in host.json's
// version settings and in this name.
const BuildSetting = "APP_BUILD"

// StepsOutput is what Steps returns: which build's code ran its first episode, the episode
// that the Go event woke, and its last one, each as "build@version".
type StepsOutput struct {
	First  string `json:"first"`
	Second string `json:"second"`
	Last   string `json:"last"`
}

// Steps, for the version scenarios, records which build runs it: its first episode and
// the one that the "Go" event wakes each call Note with "build@version" of the process
// that runs them, and a Note's result comes back from history on every later replay, so
// the output (and the TaskScheduled rows' inputs) say where each of those episodes ran;
// its last episode adds its own. Replay matches actions by name, not input, so any build
// replays what another recorded, as it replays an older build's history after a deploy.
func Steps(build string) func(ctx *task.OrchestrationContext) (any, error) {
	return func(ctx *task.OrchestrationContext) (any, error) {
		here := build + "@" + ctx.Version()
		var out StepsOutput
		if err := ctx.CallActivity("Note", here).Await(&out.First); err != nil {
			return nil, err
		}
		if err := ctx.WaitForExternalEvent("Go").Await(nil); err != nil {
			return nil, err
		}
		if err := ctx.CallActivity("Note", here).Await(&out.Second); err != nil {
			return nil, err
		}
		out.Last = here
		return out, nil
	}
}

// Note returns its input: the orchestrator's record of where a step ran.
func Note(ctx *task.ActivityContext) (any, error) {
	var s string
	err := ctx.GetInput(&s)
	return s, err
}
