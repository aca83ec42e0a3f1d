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
