package task_test

import (
	"errors"
	"testing"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// Every Await that sees one failure returns the same error value: the
// failed task's own and a WhenAll's over it.
func TestOneFailureOneError(t *testing.T) {
	reg := task.NewRegistry()
	_ = reg.AddActivity("Fail", func(*task.ActivityContext) (any, error) { return nil, errors.New("no") })
	_ = reg.AddActivity("Ok", func(*task.ActivityContext) (any, error) { return 1, nil })
	_ = reg.AddOrchestrator("O", func(ctx *task.OrchestrationContext) (any, error) {
		bad, good := ctx.CallActivity("Fail", nil), ctx.CallActivity("Ok", nil)
		all := ctx.WhenAll(good, bad).Await(nil)
		own := bad.Await(nil)
		var tf *task.TaskFailedError
		if all != own || !errors.As(own, &tf) || tf.Name != "Fail" || good.Await(nil) != nil {
			return nil, errors.New("WhenAll and the task itself return different errors for one failure")
		}
		return "same", nil
	})
	var out string
	if err := tasktest.NewEnv(reg).Run("O", nil).Output(&out); err != nil {
		t.Fatal(err)
	}
}

// Registry's lookups return functions that run the registered code, and
// its refusals are the engine's.
func TestRegistry(t *testing.T) {
	reg := task.NewRegistry()
	if err := reg.AddOrchestrator("O", nil); err == nil {
		t.Error("a nil orchestrator was accepted")
	}
	if err := reg.AddActivity("", func(*task.ActivityContext) (any, error) { return nil, nil }); err == nil {
		t.Error("an empty activity name was accepted")
	}
	_ = reg.AddActivity("A", func(*task.ActivityContext) (any, error) { return "a", nil })
	if err := reg.AddActivity("A", func(*task.ActivityContext) (any, error) { return nil, nil }); err == nil {
		t.Error("a second activity A was accepted")
	}
	_ = reg.AddOrchestrator("O", func(ctx *task.OrchestrationContext) (any, error) {
		var s string
		err := ctx.CallActivity("A", nil).Await(&s)
		return s + "!", err
	})
	if _, ok := reg.Orchestrator("missing"); ok {
		t.Error("Orchestrator found a missing name")
	}
	if _, ok := reg.Activity("A"); !ok {
		t.Error("Activity did not find A")
	}
	// A registry holding the looked-up function runs the same code.
	fn, ok := reg.Orchestrator("O")
	if !ok {
		t.Fatal("Orchestrator did not find O")
	}
	act, _ := reg.Activity("A")
	copied := task.NewRegistry()
	_ = copied.AddOrchestrator("O", fn)
	_ = copied.AddActivity("A", act)
	var out string
	if err := tasktest.NewEnv(copied).Run("O", nil).Output(&out); err != nil || out != "a!" {
		t.Fatalf("%q, %v", out, err)
	}
}
