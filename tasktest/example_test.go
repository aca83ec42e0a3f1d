package tasktest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// helloRegistry is what an app registers: an orchestrator that greets two
// cities with an activity that, in production, calls a remote service.
func helloRegistry() *task.Registry {
	reg := task.NewRegistry()
	_ = reg.AddActivity("SayHello", func(ctx *task.ActivityContext) (any, error) {
		return nil, errors.New("the greeting service is not reachable from tests")
	})
	_ = reg.AddOrchestrator("HelloCities", func(ctx *task.OrchestrationContext) (any, error) {
		var out []string
		for _, city := range []string{"Tokyo", "Lima"} {
			var s string
			if err := ctx.CallActivity("SayHello", city).Await(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	})
	return reg
}

// Test an orchestrator with a mocked activity.
func Example() {
	env := tasktest.NewEnv(helloRegistry())
	env.OnActivity("SayHello", func(ctx *task.ActivityContext) (any, error) {
		var city string
		if err := ctx.GetInput(&city); err != nil {
			return nil, err
		}
		return "Hello " + city + "!", nil
	})
	res := env.Run("HelloCities", nil)

	var out []string
	if err := res.Output(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, out)
	for _, a := range res.Activities() {
		fmt.Println(a.Name, a.Input, "attempt", a.Attempt)
	}
	// Output:
	// Completed [Hello Tokyo! Hello Lima!]
	// SayHello "Tokyo" attempt 1
	// SayHello "Lima" attempt 1
}

// Raise an event at a virtual time: the orchestration waits two days for
// an approval, with a three-day timeout, and the test takes no time.
func ExampleEnv_RaiseEventAfter() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Approval", func(ctx *task.OrchestrationContext) (any, error) {
		var approved bool
		err := ctx.WaitForExternalEvent("Approved", task.WithTimeout(72*time.Hour)).Await(&approved)
		if errors.Is(err, task.ErrTimedOut) {
			return "escalated", nil
		}
		if err != nil {
			return nil, err
		}
		return fmt.Sprint("approved: ", approved), nil
	})

	env := tasktest.NewEnv(reg)
	env.RaiseEventAfter(48*time.Hour, "Approved", true)
	res := env.Run("Approval", nil)
	var out string
	_ = res.Output(&out)
	fmt.Println(out, "after", res.Elapsed)

	// Nobody approves: the timeout fires, again at once.
	res = tasktest.NewEnv(reg).Run("Approval", nil)
	_ = res.Output(&out)
	fmt.Println(out, "after", res.Elapsed)
	// Output:
	// approved: true after 48h0m0s
	// escalated after 72h0m0s
}

// A run that waits for something nobody sends ends as Running, and its
// error says what it waits for.
func ExampleEnv_Run_blocked() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("WaitForever", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.WaitForExternalEvent("Go").Await(nil)
	})
	env := tasktest.NewEnv(reg)
	env.RaiseEvent("Gooo", nil)
	res := env.Run("WaitForever", nil)
	fmt.Println(res.Status, errors.Is(res.Err, tasktest.ErrBlocked))
	fmt.Println(res.Err)
	// Output:
	// Running true
	// tasktest: orchestration is blocked: instance "tasktest-instance" (WaitForever, Running) waits for external event "Go" (events it received in this execution: "Gooo")
}

// Replay a recorded history against changed code. A history fetched with
// `durable get-history --id ID --json --raw` is read with ParseHistory;
// here one is recorded with the kit.
func ExampleReplay() {
	env := tasktest.NewEnv(helloRegistry())
	env.OnActivity("SayHello", func(*task.ActivityContext) (any, error) { return "hi", nil })
	recorded, _ := json.Marshal(env.Run("HelloCities", nil).History)

	history, err := tasktest.ParseHistory(recorded)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("unchanged:", tasktest.Replay(helloRegistry(), history))

	// The new version greets Lima first: in-flight instances would break.
	changed := task.NewRegistry()
	_ = changed.AddActivity("SayHello", func(*task.ActivityContext) (any, error) { return "hi", nil })
	_ = changed.AddActivity("SayHola", func(*task.ActivityContext) (any, error) { return "hola", nil })
	_ = changed.AddOrchestrator("HelloCities", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("SayHola", "Lima").Await(nil); err != nil {
			return nil, err
		}
		return nil, ctx.CallActivity("SayHello", "Tokyo").Await(nil)
	})
	err = tasktest.Replay(changed, history)
	var nd *task.NonDeterminismError
	fmt.Println("changed:", errors.As(err, &nd))
	fmt.Println(err)
	// Output:
	// unchanged: <nil>
	// changed: true
	// non-deterministic orchestration: history records TaskScheduled #0 ("SayHello") but the orchestrator code now issues TaskScheduled #0 ("SayHola")
}

// Mock a sub-orchestration: the mock is an orchestrator of its own, here
// one that only returns a value.
func ExampleEnv_OnSubOrchestrator() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Order", func(ctx *task.OrchestrationContext) (any, error) {
		var tracking string
		err := ctx.CallSubOrchestrator("Shipping", "A-1").Await(&tracking)
		return "shipped: " + tracking, err
	})
	env := tasktest.NewEnv(reg)
	env.OnSubOrchestrator("Shipping", func(ctx *task.OrchestrationContext) (any, error) {
		var id string
		err := ctx.GetInput(&id)
		return "TRACK-" + id, err
	})
	var out string
	if err := env.Run("Order", nil).Output(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out)
	// Output: shipped: TRACK-A-1
}

// Result.Actions lists everything the orchestration did, each with its
// ActionKind: here an activity that fails once and is retried after a
// back-off timer, a durable timer, an event sent and a sub-orchestration.
func ExampleActionKind() {
	failures := 1
	reg := task.NewRegistry()
	_ = reg.AddActivity("Reserve", func(ctx *task.ActivityContext) (any, error) {
		if failures > 0 {
			failures--
			return nil, errors.New("busy")
		}
		return "reserved", nil
	})
	_ = reg.AddOrchestrator("Notify", func(ctx *task.OrchestrationContext) (any, error) { return nil, nil })
	_ = reg.AddOrchestrator("Booking", func(ctx *task.OrchestrationContext) (any, error) {
		retry := task.WithRetry(task.RetryPolicy{MaxAttempts: 2, FirstRetryInterval: time.Minute})
		if err := ctx.CallActivity("Reserve", "room 7", retry).Await(nil); err != nil {
			return nil, err
		}
		if err := ctx.Sleep(time.Hour); err != nil {
			return nil, err
		}
		if err := ctx.SendEvent("front-desk", "Booked", "room 7"); err != nil {
			return nil, err
		}
		return nil, ctx.CallSubOrchestrator("Notify", nil, task.WithInstanceID("notify-1")).Await(nil)
	})
	res := tasktest.NewEnv(reg).Run("Booking", nil)
	for _, a := range res.Actions {
		switch a.Kind {
		case tasktest.KindActivity:
			fmt.Println(a.Kind, a.Name, "attempt", a.Attempt, "failed:", a.Failure != nil)
		case tasktest.KindTimer:
			fmt.Println(a.Kind, "fires after", a.FireAt.Sub(a.At))
		case tasktest.KindEventSent, tasktest.KindSubOrchestration:
			fmt.Println(a.Kind, a.Name, "to", a.Target)
		default:
			fmt.Println(a.Kind)
		}
	}
	fmt.Println(res.Status)
	// Output:
	// Activity Reserve attempt 1 failed: true
	// Timer fires after 1m0s
	// Activity Reserve attempt 2 failed: false
	// Timer fires after 1h0m0s
	// EventSent Booked to front-desk
	// SubOrchestration Notify to notify-1
	// Completed
}

// A failed orchestration's Result says why: the orchestrator's error, with
// the failed activity's details as its inner failure.
func ExampleResult_failure() {
	reg := task.NewRegistry()
	_ = reg.AddActivity("Charge", func(ctx *task.ActivityContext) (any, error) {
		return nil, errors.New("card declined")
	})
	_ = reg.AddOrchestrator("Checkout", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("Charge", nil).Await(nil); err != nil {
			return nil, fmt.Errorf("checkout: %w", err)
		}
		return "paid", nil
	})
	res := tasktest.NewEnv(reg).Run("Checkout", nil)
	fmt.Println(res.Status)
	fmt.Println(res.Failure.ErrorType+":", res.Failure.ErrorMessage)
	fmt.Println("inner:", res.Failure.InnerFailure)
	// Output:
	// Failed
	// TaskFailedError: checkout: activity "Charge" (task 0) failed: error: card declined
	// inner: error: card declined
}
