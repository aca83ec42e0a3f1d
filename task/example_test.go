package task_test

import (
	"fmt"
	"time"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// Function chaining: an orchestrator calls an activity for each city, with
// retries, and returns the greetings.
func Example() {
	reg := task.NewRegistry()
	_ = reg.AddActivity("SayHello", func(ctx *task.ActivityContext) (any, error) {
		var name string
		if err := ctx.GetInput(&name); err != nil {
			return nil, err
		}
		return "Hello " + name + "!", nil
	})
	_ = reg.AddOrchestrator("HelloCities", func(ctx *task.OrchestrationContext) (any, error) {
		var out []string
		for _, city := range []string{"Tokyo", "Seattle"} {
			var s string
			err := ctx.CallActivity("SayHello", city, task.WithRetry(task.RetryPolicy{
				MaxAttempts: 3, FirstRetryInterval: time.Second, BackoffCoefficient: 2})).Await(&s)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	})

	var out []string
	_ = tasktest.NewEnv(reg).Run("HelloCities", nil).Output(&out)
	fmt.Println(out)
	// Output: [Hello Tokyo! Hello Seattle!]
}

// Fan-out/fan-in: start the activities, then await them together.
func ExampleOrchestrationContext_WhenAll() {
	reg := task.NewRegistry()
	_ = reg.AddActivity("Square", func(ctx *task.ActivityContext) (any, error) {
		var n int
		err := ctx.GetInput(&n)
		return n * n, err
	})
	_ = reg.AddOrchestrator("SumOfSquares", func(ctx *task.OrchestrationContext) (any, error) {
		tasks := make([]task.Task, 4)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Square", i+1)
		}
		if err := ctx.WhenAll(tasks...).Await(nil); err != nil {
			return nil, err
		}
		sum := 0
		for _, t := range tasks {
			var n int
			_ = t.Await(&n)
			sum += n
		}
		return sum, nil
	})
	var sum int
	_ = tasktest.NewEnv(reg).Run("SumOfSquares", nil).Output(&sum)
	fmt.Println(sum)
	// Output: 30
}

// Human interaction: wait for an approval, or give up after a day of
// orchestration time (durable timers; the test kit's clock is virtual).
func ExampleOrchestrationContext_WaitForExternalEvent() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Approval", func(ctx *task.OrchestrationContext) (any, error) {
		var approved bool
		err := ctx.WaitForExternalEvent("Approved", task.WithTimeout(24*time.Hour)).Await(&approved)
		if err != nil {
			return "escalated", nil // task.ErrTimedOut
		}
		return fmt.Sprint("approved: ", approved), nil
	})
	env := tasktest.NewEnv(reg)
	env.RaiseEventAfter(2*time.Hour, "Approved", true)
	var out string
	_ = env.Run("Approval", nil).Output(&out)
	fmt.Println(out)

	var timedOut string
	_ = tasktest.NewEnv(reg).Run("Approval", nil).Output(&timedOut)
	fmt.Println(timedOut)
	// Output:
	// approved: true
	// escalated
}
