package task_test

import (
	"errors"
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

// An activity reads its input with GetInput and may use its identity, for
// example as an idempotency key.
func ExampleActivityContext_GetInput() {
	type order struct {
		ID    string
		Total float64
	}
	reg := task.NewRegistry()
	_ = reg.AddActivity("Charge", func(ctx *task.ActivityContext) (any, error) {
		var o order
		if err := ctx.GetInput(&o); err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%s/%d", ctx.InstanceID(), ctx.TaskID())
		return fmt.Sprintf("charged %.2f for %s (key %s)", o.Total, o.ID, key), nil
	})
	_ = reg.AddOrchestrator("Checkout", func(ctx *task.OrchestrationContext) (any, error) {
		var receipt string
		err := ctx.CallActivity("Charge", order{ID: "A-1", Total: 9.5}).Await(&receipt)
		return receipt, err
	})
	var out string
	_ = tasktest.NewEnv(reg).RunWithID("order-1", "Checkout", nil).Output(&out)
	fmt.Println(out)
	// Output: charged 9.50 for A-1 (key order-1/0)
}

// A failed activity reaches the orchestrator as a *TaskFailedError with
// the failure's details; here the orchestrator compensates.
func ExampleTaskFailedError() {
	reg := task.NewRegistry()
	_ = reg.AddActivity("Ship", func(ctx *task.ActivityContext) (any, error) {
		return nil, errors.New("carrier unavailable")
	})
	_ = reg.AddActivity("Refund", func(ctx *task.ActivityContext) (any, error) { return "refunded", nil })
	_ = reg.AddOrchestrator("Fulfil", func(ctx *task.OrchestrationContext) (any, error) {
		err := ctx.CallActivity("Ship", nil).Await(nil)
		var failed *task.TaskFailedError
		if errors.As(err, &failed) {
			var s string
			if err := ctx.CallActivity("Refund", nil).Await(&s); err != nil {
				return nil, err
			}
			return fmt.Sprintf("%s after %s %q (task %d) failed: %s", s, failed.Kind, failed.Name, failed.TaskID,
				failed.Details.ErrorMessage), nil
		}
		return "shipped", err
	})
	var out string
	_ = tasktest.NewEnv(reg).Run("Fulfil", nil).Output(&out)
	fmt.Println(out)
	// Output: refunded after activity "Ship" (task 0) failed: carrier unavailable
}

// A retry policy calls a flaky activity again after durable timers; Handle
// chooses which failures are worth retrying.
func ExampleWithRetry() {
	calls := 0
	reg := task.NewRegistry()
	_ = reg.AddActivity("Flaky", func(ctx *task.ActivityContext) (any, error) {
		calls++
		if calls < 3 {
			return nil, errors.New("try again")
		}
		return "ok", nil
	})
	_ = reg.AddOrchestrator("Retrying", func(ctx *task.OrchestrationContext) (any, error) {
		var s string
		err := ctx.CallActivity("Flaky", nil, task.WithRetry(task.RetryPolicy{
			MaxAttempts:        5,
			FirstRetryInterval: 10 * time.Second,
			BackoffCoefficient: 2,
			Handle: func(err *task.TaskFailedError) bool {
				return err.Details.ErrorMessage == "try again"
			},
		})).Await(&s)
		return s, err
	})
	res := tasktest.NewEnv(reg).Run("Retrying", nil)
	var out string
	_ = res.Output(&out)
	fmt.Println(out, "after", len(res.Activities()), "attempts and", res.Elapsed, "of back-off")
	// Output: ok after 3 attempts and 30s of back-off
}

// A sub-orchestration is an orchestrator run as an instance of its own;
// WithInstanceID names it.
func ExampleOrchestrationContext_CallSubOrchestrator() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Pack", func(ctx *task.OrchestrationContext) (any, error) {
		var item string
		if err := ctx.GetInput(&item); err != nil {
			return nil, err
		}
		return "packed " + item + " as " + ctx.InstanceID(), nil
	})
	_ = reg.AddOrchestrator("Order", func(ctx *task.OrchestrationContext) (any, error) {
		var s string
		err := ctx.CallSubOrchestrator("Pack", "book", task.WithInstanceID(ctx.InstanceID()+"-pack")).Await(&s)
		return s, err
	})
	var out string
	_ = tasktest.NewEnv(reg).RunWithID("order-7", "Order", nil).Output(&out)
	fmt.Println(out)
	// Output: packed book as order-7-pack
}

// A durable timer: the orchestration sleeps until a time computed from
// its replay-safe clock, which survives restarts.
func ExampleOrchestrationContext_CreateTimer() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Reminder", func(ctx *task.OrchestrationContext) (any, error) {
		due := ctx.CurrentUTCDateTime().Add(36 * time.Hour)
		if err := ctx.CreateTimer(due).Await(nil); err != nil {
			return nil, err
		}
		return "reminded at " + ctx.CurrentUTCDateTime().Format(time.RFC3339), nil
	})
	var out string
	_ = tasktest.NewEnv(reg).Run("Reminder", nil).Output(&out) // starts 2026-01-01, virtual time
	fmt.Println(out)
	// Output: reminded at 2026-01-02T12:00:00Z
}

// Race an event against a timer with WhenAny.
func ExampleOrchestrationContext_WhenAny() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("FirstResponse", func(ctx *task.OrchestrationContext) (any, error) {
		reply := ctx.WaitForExternalEvent("Reply")
		deadline := ctx.CreateTimer(ctx.CurrentUTCDateTime().Add(time.Hour))
		var first int
		if err := ctx.WhenAny(reply, deadline).Await(&first); err != nil {
			return nil, err
		}
		if first == 1 {
			return "no reply within the hour", nil
		}
		var text string
		err := reply.Await(&text)
		return "reply: " + text, err
	})
	env := tasktest.NewEnv(reg)
	env.RaiseEventAfter(10*time.Minute, "Reply", "yes")
	var out string
	_ = env.Run("FirstResponse", nil).Output(&out)
	fmt.Println(out)
	_ = tasktest.NewEnv(reg).Run("FirstResponse", nil).Output(&out)
	fmt.Println(out)
	// Output:
	// reply: yes
	// no reply within the hour
}

// An eternal orchestration keeps its history short with ContinueAsNew,
// and reports progress with SetCustomStatus.
func ExampleOrchestrationContext_ContinueAsNew() {
	reg := task.NewRegistry()
	_ = reg.AddOrchestrator("Countdown", func(ctx *task.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, err
		}
		if err := ctx.SetCustomStatus(map[string]int{"left": n}); err != nil {
			return nil, err
		}
		if n == 0 {
			return "lift-off", nil
		}
		if err := ctx.Sleep(time.Minute); err != nil {
			return nil, err
		}
		return nil, ctx.ContinueAsNew(n - 1)
	})
	res := tasktest.NewEnv(reg).Run("Countdown", 3)
	var out string
	_ = res.Output(&out)
	var status map[string]int
	_ = res.CustomStatus(&status)
	fmt.Println(out, "after", res.Executions, "executions; status", status)
	// Output: lift-off after 4 executions; status map[left:0]
}

// An activity marks a failure that retrying cannot fix with NonRetriable:
// the retry policy returns it at once instead of running the activity
// again, and the failure details say why.
func ExampleNonRetriable() {
	calls := 0
	reg := task.NewRegistry()
	_ = reg.AddActivity("Reserve", func(ctx *task.ActivityContext) (any, error) {
		calls++
		var sku string
		if err := ctx.GetInput(&sku); err != nil {
			return nil, err
		}
		if sku == "" {
			return nil, task.NonRetriable(errors.New("reserve: no SKU given"))
		}
		return "reserved " + sku, nil
	})
	_ = reg.AddOrchestrator("Order", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("Reserve", "", task.WithRetry(task.RetryPolicy{
			MaxAttempts: 5, FirstRetryInterval: time.Minute})).Await(nil)
	})
	res := tasktest.NewEnv(reg).Run("Order", nil)
	inner := res.Failure.InnerFailure
	fmt.Println(res.Status, "after", calls, "attempt")
	fmt.Println(inner, "| non-retriable:", inner.IsNonRetriable)
	// Output:
	// Failed after 1 attempt
	// error: reserve: no SKU given | non-retriable: true
}

// An Error chooses the failure's type name and attaches properties; its
// cause follows as the inner failure, and errors.Is still finds it.
func ExampleError() {
	errOutOfStock := errors.New("out of stock")
	reg := task.NewRegistry()
	_ = reg.AddActivity("Reserve", func(ctx *task.ActivityContext) (any, error) {
		return nil, &task.Error{Type: "OutOfStock", Message: "reserve A-1", Cause: errOutOfStock,
			NonRetriable: true, Properties: map[string]any{"sku": "A-1", "available": 0}}
	})
	_ = reg.AddOrchestrator("Order", func(ctx *task.OrchestrationContext) (any, error) {
		err := ctx.CallActivity("Reserve", nil).Await(nil)
		var failed *task.TaskFailedError
		if errors.As(err, &failed) && failed.Details.ErrorType == "OutOfStock" {
			return fmt.Sprintf("backordered %v", failed.Details.Properties["sku"]), nil
		}
		return nil, err
	})
	var out string
	_ = tasktest.NewEnv(reg).Run("Order", nil).Output(&out)
	fmt.Println(out)

	err := &task.Error{Type: "OutOfStock", Message: "reserve A-1", Cause: errOutOfStock}
	fmt.Println(err, errors.Is(err, errOutOfStock))
	// Output:
	// backordered A-1
	// reserve A-1: out of stock true
}

// A durable entity: a counter that orchestrations signal and call. Its
// operations run one at a time, each exactly once.
func ExampleRegistry_AddEntity() {
	reg := task.NewRegistry()
	_ = reg.AddEntity("Counter", func(ctx *task.EntityContext) (any, error) {
		var n int
		if err := ctx.GetState(&n); err != nil {
			return nil, err
		}
		switch ctx.Operation() {
		case "add":
			var d int
			if err := ctx.GetInput(&d); err != nil {
				return nil, err
			}
			return nil, ctx.SetState(n + d)
		case "get":
			return n, nil
		}
		return nil, task.ErrUnknownOperation
	})
	_ = reg.AddOrchestrator("Count", func(ctx *task.OrchestrationContext) (any, error) {
		counter := task.EntityID{Name: "Counter", Key: "visits"}
		for range 3 {
			if err := ctx.SignalEntity(counter, "add", 2); err != nil {
				return nil, err
			}
		}
		var n int
		err := ctx.CallEntity(counter, "get", nil).Await(&n)
		return n, err
	})

	var n int
	_ = tasktest.NewEnv(reg).Run("Count", nil).Output(&n)
	fmt.Println(counterID(), n)
	// Output: @counter@visits 6
}

func counterID() string { return task.EntityID{Name: "Counter", Key: "visits"}.String() }

// A critical section: both entities stay locked until release, so no
// other orchestration sees one changed and not the other.
func ExampleOrchestrationContext_LockEntities() {
	reg := task.NewRegistry()
	_ = reg.AddEntity("Slot", func(ctx *task.EntityContext) (any, error) {
		var v string
		_ = ctx.GetInput(&v)
		if ctx.Operation() == "set" {
			return nil, ctx.SetState(v)
		}
		var s string
		err := ctx.GetState(&s)
		return s, err
	})
	_ = reg.AddOrchestrator("Swap", func(ctx *task.OrchestrationContext) (any, error) {
		a, b := task.EntityID{Name: "Slot", Key: "a"}, task.EntityID{Name: "Slot", Key: "b"}
		release, err := ctx.LockEntities(a, b)
		if err != nil {
			return nil, err
		}
		defer release()
		if err := ctx.CallEntity(a, "set", "x").Await(nil); err != nil {
			return nil, err
		}
		if err := ctx.CallEntity(b, "set", "y").Await(nil); err != nil {
			return nil, err
		}
		// Signalling a locked entity is refused inside the section.
		err = ctx.SignalEntity(a, "set", "z")
		return errors.Is(err, task.ErrCriticalSection), nil
	})

	var refused bool
	_ = tasktest.NewEnv(reg).Run("Swap", nil).Output(&refused)
	fmt.Println(refused)
	// Output: true
}

// An entity starts an orchestration; the orchestration tells the one that
// asked when it is done.
func ExampleEntityContext_StartNewOrchestration() {
	reg := task.NewRegistry()
	_ = reg.AddEntity("Launcher", func(ctx *task.EntityContext) (any, error) {
		var city string
		if err := ctx.GetInput(&city); err != nil {
			return nil, err
		}
		return ctx.StartNewOrchestration("Greet", city, "greet-"+city)
	})
	_ = reg.AddActivity("SayHello", func(ctx *task.ActivityContext) (any, error) {
		var city string
		err := ctx.GetInput(&city)
		return "Hello " + city + "!", err
	})
	_ = reg.AddOrchestrator("Greet", func(ctx *task.OrchestrationContext) (any, error) {
		var city, greeting string
		if err := ctx.GetInput(&city); err != nil {
			return nil, err
		}
		if err := ctx.CallActivity("SayHello", city).Await(&greeting); err != nil {
			return nil, err
		}
		return greeting, ctx.SendEvent("kickoff", "greeted", greeting)
	})
	_ = reg.AddOrchestrator("Kickoff", func(ctx *task.OrchestrationContext) (any, error) {
		var started, greeting string
		if err := ctx.CallEntity(task.EntityID{Name: "Launcher", Key: "l"}, "launch", "Tokyo").Await(&started); err != nil {
			return nil, err
		}
		if err := ctx.WaitForExternalEvent("greeted").Await(&greeting); err != nil {
			return nil, err
		}
		return started + ": " + greeting, nil
	})

	var out string
	_ = tasktest.NewEnv(reg).RunWithID("kickoff", "Kickoff", nil).Output(&out)
	fmt.Println(out)
	// Output: greet-Tokyo: Hello Tokyo!
}

// Wallet is an entity's state whose methods are its operations.
type Wallet struct {
	Balance int `json:"balance"`
}

// Deposit adds an amount.
func (w *Wallet) Deposit(amount int) { w.Balance += amount }

// Withdraw takes an amount out, if the wallet holds it.
func (w *Wallet) Withdraw(amount int) error {
	if amount > w.Balance {
		return fmt.Errorf("cannot withdraw %d: the balance is %d", amount, w.Balance)
	}
	w.Balance -= amount
	return nil
}

// Get returns the balance.
func (w *Wallet) Get() int { return w.Balance }

// An entity made of a struct's methods: "deposit" calls Deposit, and so on.
func ExampleEntityFuncOf() {
	reg := task.NewRegistry()
	_ = reg.AddEntity("Wallet", task.EntityFuncOf[Wallet]())
	_ = reg.AddOrchestrator("Spend", func(ctx *task.OrchestrationContext) (any, error) {
		w := task.EntityID{Name: "Wallet", Key: "w"}
		if err := ctx.CallEntity(w, "deposit", 10).Await(nil); err != nil {
			return nil, err
		}
		refused := ctx.CallEntity(w, "withdraw", 25).Await(nil)
		var balance int
		err := ctx.CallEntity(w, "get", nil).Await(&balance)
		return fmt.Sprintf("%d (%v)", balance, refused != nil), err
	})

	var out string
	_ = tasktest.NewEnv(reg).Run("Spend", nil).Output(&out)
	fmt.Println(out)
	// Output: 10 (true)
}
