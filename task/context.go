package task

import (
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/durable"
)

// OrchestrationContext is an orchestrator's only window on the world: its
// input and identity, a replay-safe clock, logger and GUIDs, and the calls
// that start durable tasks. Every method is replay-safe: on replay it
// returns what the first run saw.
//
// An orchestrator must use it from its own goroutine only, and must not
// keep it after returning.
type OrchestrationContext struct {
	c *durable.OrchestrationContext
	// errs are the public forms of the task failures seen so far.
	errs map[*durable.TaskFailedError]*TaskFailedError
}

// InstanceID is the orchestration instance's ID.
func (c *OrchestrationContext) InstanceID() string { return c.c.InstanceID() }

// Name is the orchestrator's registered name.
func (c *OrchestrationContext) Name() string { return c.c.Name() }

// ExecutionID identifies the current execution; it changes on ContinueAsNew.
func (c *OrchestrationContext) ExecutionID() string { return c.c.ExecutionID() }

// CurrentUTCDateTime is the time at which the current episode started,
// recorded in history, so that replays see the same clock. Use it instead
// of time.Now.
func (c *OrchestrationContext) CurrentUTCDateTime() time.Time { return c.c.CurrentUTCDateTime() }

// IsReplaying reports whether the code is re-running steps that history
// already records.
func (c *OrchestrationContext) IsReplaying() bool { return c.c.IsReplaying() }

// GetInput decodes the orchestration's JSON input into v. An orchestration
// started without input leaves v as it is; a *json.RawMessage receives the
// JSON text as is.
func (c *OrchestrationContext) GetInput(v any) error { return c.c.GetInput(v) }

// RawInput is the input as JSON text ("" when there is none).
func (c *OrchestrationContext) RawInput() string { return c.c.RawInput() }

// NewGUID returns a GUID that is the same on every replay: a name-based
// UUID over the instance, the episode time and a per-execution counter.
// Use it instead of uuid.New.
func (c *OrchestrationContext) NewGUID() uuid.UUID { return c.c.NewGUID() }

// Logger logs only when not replaying, so that each line appears once.
func (c *OrchestrationContext) Logger() *slog.Logger { return c.c.Logger() }

// SetCustomStatus publishes v, encoded as JSON, as the instance's custom
// status, which status queries return while it runs and after it ends.
// The last value set in an episode is the one recorded. It fails only when
// v cannot be encoded.
func (c *OrchestrationContext) SetCustomStatus(v any) error { return c.c.SetCustomStatus(v) }

// CallActivity schedules the activity registered as name with a
// JSON-encodable input (nil for none; a json.RawMessage is taken as JSON).
// Awaiting the task decodes the activity's result, or returns a
// *TaskFailedError when it failed (after the retries of WithRetry, if
// given). An activity the app does not register fails with ErrorType
// "ActivityNotFound".
func (c *OrchestrationContext) CallActivity(name string, input any, opts ...CallOption) Task {
	return c.wrapTask(c.c.CallActivity(name, input, engineCallOptions(opts)...))
}

// CallSubOrchestrator starts the orchestrator registered as name as an
// instance of its own, a child of this one, and completes with its
// output; a child that fails makes Await return a *TaskFailedError.
// WithInstanceID chooses the child's instance ID (by default
// "{ExecutionID}:{task ID}", as in the Durable Task Framework); WithRetry
// starts it again after a failure.
func (c *OrchestrationContext) CallSubOrchestrator(name string, input any, opts ...CallOption) Task {
	return c.wrapTask(c.c.CallSubOrchestrator(name, input, engineCallOptions(opts)...))
}

// CreateTimer returns a durable timer: a task that completes at fireAt
// (taken as UTC) of orchestration time, surviving restarts. Any length is
// allowed; the storage layer chains timers beyond a queue's 7-day limit.
// Compute fireAt from CurrentUTCDateTime, never from time.Now.
func (c *OrchestrationContext) CreateTimer(fireAt time.Time) Task {
	return c.wrapTask(c.c.CreateTimer(fireAt))
}

// Sleep waits for a durable timer d after CurrentUTCDateTime.
func (c *OrchestrationContext) Sleep(d time.Duration) error { return c.c.Sleep(d) }

// WaitForExternalEvent waits for an event raised on this instance (by a
// client, the HTTP API or another orchestration's SendEvent) with the
// given name, compared case-insensitively. An event that arrived before
// the wait is handed over at once; each event satisfies one wait, in the
// order they arrived. Awaiting the task decodes the event's data. With
// WithTimeout, Await returns an error wrapping ErrTimedOut when the time
// runs out first.
func (c *OrchestrationContext) WaitForExternalEvent(name string, opts ...EventOption) Task {
	return c.wrapTask(c.c.WaitForExternalEvent(name, engineEventOptions(opts)...))
}

// SendEvent raises an event called eventName with data (JSON-encodable)
// on another instance, without waiting for it to be received. It fails
// only when data cannot be encoded.
func (c *OrchestrationContext) SendEvent(instanceID, eventName string, data any) error {
	return c.c.SendEvent(instanceID, eventName, data)
}

// WhenAll returns a task that completes when every one of tasks has
// (fan-in); its error is the first failure in argument order. Await each
// task afterwards for its own result. The tasks must come from this
// context.
func (c *OrchestrationContext) WhenAll(tasks ...Task) Task {
	return c.wrapTask(c.c.WhenAll(engineTasks(tasks)...))
}

// WhenAny returns a task that completes when the first of tasks does.
// Awaiting it into an *int yields the index of that task, which keeps its
// own outcome for its Await. A common use is racing an event against a
// timer. The tasks must come from this context.
func (c *OrchestrationContext) WhenAny(tasks ...Task) Task {
	return c.wrapTask(c.c.WhenAny(engineTasks(tasks)...))
}

// ContinueAsNew restarts the orchestration with a new input, and a fresh
// history, once the orchestrator function returns without an error (its
// return value is then ignored). Events received but not yet consumed are carried over to
// the new execution. Eternal orchestrations use it to keep their history
// short. The new execution keeps the version unless WithNewVersion says
// otherwise. It fails only when input cannot be encoded.
func (c *OrchestrationContext) ContinueAsNew(input any, opts ...ContinueAsNewOption) error {
	var o continueAsNewOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return c.c.ContinueAsNew(input, o.engine...)
}

// Version is the orchestration's version: the one its start named, else
// the app's defaultVersion when it was started, else its parent's for a
// sub-orchestration; "" when none. Code can branch on it (compare with
// CompareVersions) to keep old instances on their old path.
func (c *OrchestrationContext) Version() string { return c.c.Version() }

// IsPatched reports whether the code may take the path of the patch name,
// a change made to the orchestrator while instances are in flight:
//
//	if ctx.IsPatched("fraud-check") {
//		// new step
//	}
//
// It is true when the instance reaches the call in new work (a first
// execution, or a step its history does not record yet), and for an
// instance whose history recorded the patch; it is false for an instance
// that replays past this point, having run it before the patch existed.
// A true decision is recorded in history (a GenericEvent "Patched: name"),
// and the first decision of an execution holds for every later call with
// that name, so replays take the same path. Remove the check, keeping the
// new path, once no instance that started before it is in flight.
func (c *OrchestrationContext) IsPatched(name string) bool { return c.c.IsPatched(name) }
