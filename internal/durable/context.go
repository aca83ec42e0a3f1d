package durable

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/history"
)

// OrchestrationContext is an orchestrator's only window on the world. Every
// method is replay-safe: on replay it returns what the first run saw.
type OrchestrationContext struct{ x *execution }

// InstanceID is the orchestration instance's ID.
func (c *OrchestrationContext) InstanceID() string { return c.x.instanceID }

// Name is the orchestrator's registered name.
func (c *OrchestrationContext) Name() string { return c.x.name }

// Version is the orchestration's version: the one its start named, else
// the app's defaultVersion when it was started, else its parent's for a
// sub-orchestration; "" when none. Code can branch on it (compare with
// CompareVersions) to keep old instances on their old path.
func (c *OrchestrationContext) Version() string { return c.x.version }

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
func (c *OrchestrationContext) IsPatched(name string) bool { return c.x.isPatched(name) }

// ExecutionID identifies the current execution; it changes on ContinueAsNew.
func (c *OrchestrationContext) ExecutionID() string { return c.x.executionID }

// CurrentUTCDateTime is the time at which the current episode started,
// recorded in history, so replays see the same clock.
func (c *OrchestrationContext) CurrentUTCDateTime() time.Time { return c.x.now }

// IsReplaying reports whether the code is re-running steps that history
// already records.
func (c *OrchestrationContext) IsReplaying() bool { return c.x.replaying() }

// GetInput decodes the orchestration's JSON input into v.
func (c *OrchestrationContext) GetInput(v any) error {
	if err := DecodePayload(c.x.input, v); err != nil {
		return &inputError{fmt.Errorf("orchestration %q: decode input: %w", c.x.name, err)}
	}
	return nil
}

// RawInput is the input as JSON text ("" when there is none).
func (c *OrchestrationContext) RawInput() string { return c.x.input }

// NewGUID returns a GUID that is the same on every replay: a name-based
// UUID over the instance, the episode time and a per-execution counter.
func (c *OrchestrationContext) NewGUID() uuid.UUID {
	x := c.x
	x.guidCounter++
	name := fmt.Sprintf("%s_%s_%d", x.instanceID, x.now.UTC().Format(time.RFC3339Nano), x.guidCounter)
	return uuid.NewSHA1(guidNamespace, []byte(name))
}

// guidNamespace is a fixed namespace so that NewGUID values are stable
// across processes and versions.
var guidNamespace = uuid.MustParse("9e952958-5e33-4daf-827f-2fa12937b875")

// Logger logs only when not replaying, so each line appears once.
func (c *OrchestrationContext) Logger() *slog.Logger { return c.x.logger }

// SetCustomStatus publishes v (as JSON) as the instance's custom status.
func (c *OrchestrationContext) SetCustomStatus(v any) error {
	s, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("set custom status: %w", err)
	}
	if s == "" {
		s = "null"
	}
	c.x.customStatus = s
	return nil
}

// CallActivity schedules an activity with a JSON-encodable input.
func (c *OrchestrationContext) CallActivity(name string, input any, opts ...CallOption) Task {
	return c.x.call(history.TaskScheduled, name, input, opts)
}

// CallSubOrchestrator starts a sub-orchestration and completes with its output.
func (c *OrchestrationContext) CallSubOrchestrator(name string, input any, opts ...CallOption) Task {
	return c.x.call(history.SubOrchestrationInstanceCreated, name, input, opts)
}

// CreateTimer returns a task that completes at fireAt (UTC). Any length is
// allowed; the storage layer chains timers beyond a queue's 7-day limit.
func (c *OrchestrationContext) CreateTimer(fireAt time.Time) Task {
	return c.x.createTimer(fireAt.UTC())
}

// Sleep is shorthand for awaiting a timer d from the current time.
func (c *OrchestrationContext) Sleep(d time.Duration) error {
	return c.CreateTimer(c.x.now.Add(d)).Await(nil)
}

// WaitForExternalEvent waits for an event raised to this instance with the
// given name (case-insensitive). An event that arrived before the wait is
// handed over at once.
func (c *OrchestrationContext) WaitForExternalEvent(name string, opts ...EventOption) Task {
	var o eventOptions
	for _, opt := range opts {
		opt(&o)
	}
	return c.x.waitForEvent(name, o.timeout)
}

// SendEvent raises an event on another instance.
func (c *OrchestrationContext) SendEvent(instanceID, eventName string, data any) error {
	return c.x.sendEvent(instanceID, eventName, data)
}

// WhenAll completes when every task has; its error is the first failure in
// argument order. Await each task afterwards for its result.
func (c *OrchestrationContext) WhenAll(tasks ...Task) Task {
	x := c.x
	all := &task{x: x}
	left := len(tasks)
	children := make([]*task, len(tasks))
	for i, t := range tasks {
		children[i] = asTask(x, t)
	}
	finish := func() {
		for _, ch := range children {
			if ch.err != nil {
				all.complete("", ch.err)
				return
			}
		}
		all.complete("", nil)
	}
	if left == 0 {
		finish()
		return all
	}
	for _, ch := range children {
		ch.then(func() {
			left--
			if left == 0 {
				finish()
			}
		})
	}
	return all
}

// WhenAny completes when the first of the tasks does. Awaiting it into an
// *int yields the index of that task; the task itself keeps its outcome.
func (c *OrchestrationContext) WhenAny(tasks ...Task) Task {
	x := c.x
	anyTask := &task{x: x}
	if len(tasks) == 0 {
		anyTask.complete("", fmt.Errorf("WhenAny needs at least one task"))
		return anyTask
	}
	for i, t := range tasks {
		i := i
		asTask(x, t).then(func() { anyTask.complete(fmt.Sprint(i), nil) })
	}
	return anyTask
}

// ContinueAsNew restarts the orchestration with a new input once the
// orchestrator function returns, with a fresh history. Events received but
// not yet consumed are carried over to the new execution. The new
// execution keeps the version unless WithNewVersion names another.
func (c *OrchestrationContext) ContinueAsNew(input any, opts ...ContinueAsNewOption) error {
	s, err := marshalJSON(input)
	if err != nil {
		return fmt.Errorf("continue as new: encode input: %w", err)
	}
	var o continueOptions
	for _, opt := range opts {
		opt(&o)
	}
	c.x.continueAsNew, c.x.continueVersion = &s, o.version
	return nil
}

// replaySafeHandler drops records while the orchestration replays.
type replaySafeHandler struct {
	inner slog.Handler
	x     *execution
}

func (h replaySafeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.x.replaying() && h.inner.Enabled(ctx, l)
}
func (h replaySafeHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.x.replaying() {
		return nil
	}
	return h.inner.Handle(ctx, r)
}
func (h replaySafeHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return replaySafeHandler{inner: h.inner.WithAttrs(a), x: h.x}
}
func (h replaySafeHandler) WithGroup(n string) slog.Handler {
	return replaySafeHandler{inner: h.inner.WithGroup(n), x: h.x}
}

func eventKey(name string) string { return strings.ToLower(name) }

func rawOrNull(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}
