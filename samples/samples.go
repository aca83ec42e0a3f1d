// Package samples holds the orchestrators and activities this repository's
// example app ships with. They follow the Durable Functions samples and the
// seed page, use only the public package task, and are unit-tested with
// tasktest; the engine's own tests and benchmarks rely on their names and
// outputs.
package samples

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/durable-go/durable/task"
)

// Lookup reads an app setting at the time of the call, so that a restarted
// handler with a changed setting behaves differently (the rewind story).
type Lookup func(name string) (string, bool)

// Register adds every sample to reg.
func Register(reg *task.Registry, settings Lookup) error {
	acts := map[string]task.ActivityFunc{
		"SayHello":       SayHello,
		"SaveToDatabase": saveToDatabase(settings),
		"AlwaysFails":    AlwaysFails,
	}
	orchs := map[string]task.OrchestratorFunc{
		"HelloWorld":           HelloWorld,
		"E1_HelloSequence":     citiesSequence("Tokyo", "Seattle", "London"),
		"HelloCities5":         citiesSequence("Tokyo", "Seattle", "London", "Cairo", "Lima"),
		"FanOutFanIn":          FanOutFanIn,
		"ApprovalWorkflow":     ApprovalWorkflow,
		"Counter":              Counter,
		"TimerDemo":            TimerDemo,
		"SubOrchestrationDemo": SubOrchestrationDemo,
		"ApprovalTree":         ApprovalTree,
		"RetryDemo":            RetryDemo,
		"Transfer":             Transfer,
		"Deposit":              Deposit,
	}
	var errs []error
	errs = append(errs, reg.AddEntity("Account", Account), reg.AddEntity("Starter", Starter))
	for name, fn := range acts {
		errs = append(errs, reg.AddActivity(name, fn))
	}
	for name, fn := range orchs {
		errs = append(errs, reg.AddOrchestrator(name, fn))
	}
	return errors.Join(errs...)
}

// SayHello greets its input: "x" gives "Hello x!".
func SayHello(ctx *task.ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		// Accept any JSON value, greeting its text.
		name = strings.Trim(ctx.RawInput(), `"`)
	}
	return "Hello " + name + "!", nil
}

// HelloWorld calls SayHello with its input and returns the greeting.
func HelloWorld(ctx *task.OrchestrationContext) (any, error) {
	var out string
	err := ctx.CallActivity("SayHello", json.RawMessage(orNull(ctx.RawInput()))).Await(&out)
	return out, err
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// citiesSequence greets each city in turn: the function-chaining pattern.
func citiesSequence(cities ...string) task.OrchestratorFunc {
	return func(ctx *task.OrchestrationContext) (any, error) {
		out := make([]string, 0, len(cities))
		for _, c := range cities {
			var s string
			if err := ctx.CallActivity("SayHello", c).Await(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
}

// FanOutFanIn calls SayHello N times in parallel and returns the greetings
// in call order.
func FanOutFanIn(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, fmt.Errorf("FanOutFanIn wants an integer input: %w", err)
	}
	if n < 0 || n > 100000 {
		return nil, fmt.Errorf("FanOutFanIn: N=%d is out of range 0..100000", n)
	}
	tasks := make([]task.Task, n)
	for i := range tasks {
		tasks[i] = ctx.CallActivity("SayHello", fmt.Sprint(i))
	}
	if err := ctx.WhenAll(tasks...).Await(nil); err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, t := range tasks {
		if err := t.Await(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ApprovalWorkflow waits for the Approval event, saves it and returns
// {"approved": <event data>, "saved": true}. Saving fails while the
// DatabaseConnection setting is missing or invalid; fix the setting and
// rewind the instance to finish it without a second approval.
func ApprovalWorkflow(ctx *task.OrchestrationContext) (any, error) {
	var approval json.RawMessage
	if err := ctx.WaitForExternalEvent("Approval").Await(&approval); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity("SaveToDatabase", approval).Await(nil); err != nil {
		return nil, err
	}
	return map[string]any{"approved": json.RawMessage(orNull(string(approval))), "saved": true}, nil
}

// DatabaseError is SaveToDatabase's failure.
type DatabaseError struct{ Reason string }

// Error says what could not be saved, and why.
func (e *DatabaseError) Error() string { return "cannot save to the database: " + e.Reason }

// ErrorType names the error in failure details.
func (e *DatabaseError) ErrorType() string { return "DatabaseError" }

func saveToDatabase(settings Lookup) task.ActivityFunc {
	return func(ctx *task.ActivityContext) (any, error) {
		conn, _ := settings("DatabaseConnection")
		switch {
		case conn == "":
			return nil, &DatabaseError{Reason: "app setting DatabaseConnection is not set"}
		case strings.HasPrefix(conn, "invalid"):
			return nil, &DatabaseError{Reason: "app setting DatabaseConnection is invalid"}
		}
		return true, nil
	}
}

// ErrAlwaysFails is AlwaysFails' error.
var ErrAlwaysFails = errors.New("AlwaysFails failed, as it always does")

// AlwaysFails fails every time: RetryDemo's activity, to show what retries
// and a failure look like in history, the dashboard and traces.
func AlwaysFails(*task.ActivityContext) (any, error) { return nil, ErrAlwaysFails }

// RetryDemo calls AlwaysFails with a retry policy of 3 attempts, 200 ms
// apart and then 400 ms, and so fails with its error after the third.
func RetryDemo(ctx *task.OrchestrationContext) (any, error) {
	err := ctx.CallActivity("AlwaysFails", nil, task.WithRetry(task.RetryPolicy{
		MaxAttempts: 3, FirstRetryInterval: 200 * time.Millisecond, BackoffCoefficient: 2})).Await(nil)
	return nil, err
}

// Counter keeps a running total, shown as its custom status: each Add
// event (an integer) adds to it and continues as new; Stop completes the
// instance with the total.
func Counter(ctx *task.OrchestrationContext) (any, error) {
	var total int
	if err := ctx.GetInput(&total); err != nil {
		return nil, fmt.Errorf("Counter wants an integer input: %w", err)
	}
	if err := ctx.SetCustomStatus(total); err != nil {
		return nil, err
	}
	add := ctx.WaitForExternalEvent("Add")
	stop := ctx.WaitForExternalEvent("Stop")
	var which int
	if err := ctx.WhenAny(add, stop).Await(&which); err != nil {
		return nil, err
	}
	if which == 1 {
		return total, nil
	}
	var n int
	if err := add.Await(&n); err != nil {
		return nil, fmt.Errorf("Counter: Add wants an integer: %w", err)
	}
	return nil, ctx.ContinueAsNew(total + n)
}

// TimerDemo sleeps on a durable timer for its input in seconds, then
// returns "done".
func TimerDemo(ctx *task.OrchestrationContext) (any, error) {
	var secs float64
	if err := ctx.GetInput(&secs); err != nil {
		return nil, fmt.Errorf("TimerDemo wants a number of seconds: %w", err)
	}
	if err := ctx.Sleep(time.Duration(secs * float64(time.Second))); err != nil {
		return nil, err
	}
	return "done", nil
}

// SubOrchestrationDemo runs HelloCities5 as a sub-orchestration and
// returns its result.
func SubOrchestrationDemo(ctx *task.OrchestrationContext) (any, error) {
	var out []string
	err := ctx.CallSubOrchestrator("HelloCities5", nil).Await(&out)
	return out, err
}

// ApprovalTreeInput shapes an ApprovalTree: Depth levels of children below
// the root, Width children per node. The zero value is the default tree:
// depth 2, width 2, seven instances in all.
type ApprovalTreeInput struct {
	Depth int `json:"depth"`
	Width int `json:"width"`
}

// Bounds of ApprovalTree, so that a typo cannot start thousands of
// instances: 5 levels of 4 children are 1365 of them.
const (
	maxApprovalTreeDepth = 5
	maxApprovalTreeWidth = 4
)

// ApprovalTree is a tree of approvals, the shape recursive terminate and
// purge are for: each node starts its children (ApprovalTree one level
// shallower, with IDs "{its own ID}-{0..Width-1}"), waits for its own
// "Approval" event and then for its children, and returns how many nodes of
// its subtree were approved. Without input it is the default tree of
// ApprovalTreeInput; "null" and "{}" are the same.
func ApprovalTree(ctx *task.OrchestrationContext) (any, error) {
	in := ApprovalTreeInput{Depth: 2, Width: 2}
	if raw := ctx.RawInput(); raw != "" && raw != "null" && raw != "{}" {
		in = ApprovalTreeInput{}
		if err := ctx.GetInput(&in); err != nil {
			return nil, fmt.Errorf("ApprovalTree input: %w", err)
		}
	}
	if in.Depth < 0 || in.Depth > maxApprovalTreeDepth || in.Width < 0 || in.Width > maxApprovalTreeWidth {
		return nil, fmt.Errorf("ApprovalTree input: depth must be 0..%d and width 0..%d, not %d and %d",
			maxApprovalTreeDepth, maxApprovalTreeWidth, in.Depth, in.Width)
	}
	var children []task.Task
	if in.Depth > 0 {
		for i := range in.Width {
			children = append(children, ctx.CallSubOrchestrator("ApprovalTree",
				ApprovalTreeInput{Depth: in.Depth - 1, Width: in.Width},
				task.WithInstanceID(fmt.Sprintf("%s-%d", ctx.InstanceID(), i))))
		}
	}
	if err := ctx.WaitForExternalEvent("Approval").Await(nil); err != nil {
		return nil, err
	}
	approved := 1
	for _, c := range children {
		var n int
		if err := c.Await(&n); err != nil {
			return nil, err
		}
		approved += n
	}
	return approved, nil
}

// Account is an entity holding a balance, a JSON number: "deposit" and
// "withdraw" take an amount, "balance" returns it. A withdrawal of more
// than the balance fails and changes nothing.
func Account(ctx *task.EntityContext) (any, error) {
	var balance, amount int
	if err := ctx.GetState(&balance); err != nil {
		return nil, err
	}
	if err := ctx.GetInput(&amount); err != nil {
		return nil, err
	}
	switch ctx.Operation() {
	case "deposit":
		return nil, ctx.SetState(balance + amount)
	case "withdraw":
		if amount > balance {
			return nil, fmt.Errorf("cannot withdraw %d: the balance is %d", amount, balance)
		}
		return nil, ctx.SetState(balance - amount)
	case "balance":
		return balance, nil
	}
	return nil, task.ErrUnknownOperation
}

// TransferInput is Transfer's input: Amount moves from the account keyed
// From to the one keyed To.
type TransferInput struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int    `json:"amount"`
}

// Transfer moves an amount between two Accounts inside a critical
// section: both are locked, so no other operation sees the money in
// neither or in both. It returns whether it moved it (false when the
// first account holds less).
func Transfer(ctx *task.OrchestrationContext) (any, error) {
	var in TransferInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	from, to := task.EntityID{Name: "Account", Key: in.From}, task.EntityID{Name: "Account", Key: in.To}
	release, err := ctx.LockEntities(from, to)
	if err != nil {
		return nil, err
	}
	defer release()
	var balance int
	if err := ctx.CallEntity(from, "balance", nil).Await(&balance); err != nil {
		return nil, err
	}
	if balance < in.Amount {
		return false, nil
	}
	if err := ctx.CallEntity(from, "withdraw", in.Amount).Await(nil); err != nil {
		return nil, err
	}
	if err := ctx.CallEntity(to, "deposit", in.Amount).Await(nil); err != nil {
		return nil, err
	}
	return true, nil
}

// DepositInput is Deposit's input.
type DepositInput struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
}

// Deposit pays Amount into the Account keyed Account, by a signal.
func Deposit(ctx *task.OrchestrationContext) (any, error) {
	var in DepositInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	return nil, ctx.SignalEntity(task.EntityID{Name: "Account", Key: in.Account}, "deposit", in.Amount)
}

// StartRequest is the input of Starter's "start".
type StartRequest struct {
	// Orchestrator is the orchestration to start.
	Orchestrator string `json:"orchestrator"`
	// InstanceID is its instance ID; "" for a new one.
	InstanceID string `json:"instanceId,omitempty"`
	// Input is its input.
	Input json.RawMessage `json:"input,omitempty"`
}

// Starter is an entity that starts orchestrations for whoever signals or
// calls its "start" (a StartRequest), returns the instance ID, and counts
// the starts in its state, a JSON number ("count" returns it). Each start
// request it receives starts one orchestration, once, however often its
// message is delivered.
func Starter(ctx *task.EntityContext) (any, error) {
	var n int
	if err := ctx.GetState(&n); err != nil {
		return nil, err
	}
	switch ctx.Operation() {
	case "start":
		var r StartRequest
		if err := ctx.GetInput(&r); err != nil {
			return nil, err
		}
		var input any
		if len(r.Input) > 0 {
			input = r.Input
		}
		id, err := ctx.StartNewOrchestration(r.Orchestrator, input, r.InstanceID)
		if err != nil {
			return nil, err
		}
		return id, ctx.SetState(n + 1)
	case "count":
		return n, nil
	}
	return nil, task.ErrUnknownOperation
}
