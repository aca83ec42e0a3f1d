package tasktest_test

import (
	"testing"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

func TestSetVersionIsSeenAndInherited(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Parent", func(ctx *task.OrchestrationContext) (any, error) {
		var a, b string
		if err := ctx.CallSubOrchestrator("Child", nil).Await(&a); err != nil {
			return nil, err
		}
		if err := ctx.CallSubOrchestrator("Child", nil, task.WithVersion("9")).Await(&b); err != nil {
			return nil, err
		}
		return []string{ctx.Version(), a, b}, nil
	}))
	must(t, reg.AddOrchestrator("Child", func(ctx *task.OrchestrationContext) (any, error) { return ctx.Version(), nil }))
	env := tasktest.NewEnv(reg)
	env.SetVersion("1.0")
	res := env.Run("Parent", nil)
	if got := res.RawOutput(); res.Err != nil || got != `["1.0","1.0","9"]` {
		t.Fatalf("output %s, err %v", got, res.Err)
	}
}

func TestIsPatchedRecordedAndReplayed(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Step", func(*task.ActivityContext) (any, error) { return "ok", nil }))
	must(t, reg.AddOrchestrator("Flow", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("Step", nil).Await(nil); err != nil {
			return nil, err
		}
		if ctx.IsPatched("second-step") {
			if err := ctx.CallActivity("Step", nil).Await(nil); err != nil {
				return nil, err
			}
		}
		return "done", nil
	}))
	res := tasktest.NewEnv(reg).Run("Flow", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	found := false
	for _, e := range res.History {
		found = found || e.Data == "Patched: second-step"
	}
	if !found {
		t.Fatalf("no patch marker in %+v", res.History)
	}
	if err := tasktest.Replay(reg, res.History); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
