package durable

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/durable-go/durable/internal/history"
)

// ActivityContext is what an activity receives: its input, identity and a
// context that is cancelled when the worker shuts down.
type ActivityContext struct {
	ctx        context.Context
	name       string
	instanceID string
	taskID     int
	input      string
	logger     *slog.Logger
}

// NewActivityContext builds the context the worker hands to an activity.
func NewActivityContext(ctx context.Context, name, instanceID string, taskID int, input string, logger *slog.Logger) *ActivityContext {
	if logger == nil {
		logger = slog.Default()
	}
	return &ActivityContext{ctx: ctx, name: name, instanceID: instanceID, taskID: taskID, input: input,
		logger: logger.With("activity", name, "instanceId", instanceID, "taskId", taskID)}
}

// Context is cancelled when the worker stops; long activities should honour it.
func (c *ActivityContext) Context() context.Context { return c.ctx }

// Name is the activity's registered name.
func (c *ActivityContext) Name() string { return c.name }

// InstanceID is the orchestration instance that scheduled the activity.
func (c *ActivityContext) InstanceID() string { return c.instanceID }

// TaskID is the TaskScheduled event's ID in the orchestration's history.
func (c *ActivityContext) TaskID() int { return c.taskID }

// GetInput decodes the activity's JSON input into v.
func (c *ActivityContext) GetInput(v any) error {
	if err := DecodePayload(c.input, v); err != nil {
		return &inputError{fmt.Errorf("activity %q: decode input: %w", c.name, err)}
	}
	return nil
}

// RawInput is the input as JSON text.
func (c *ActivityContext) RawInput() string { return c.input }

// Logger logs with the activity's identity attached.
func (c *ActivityContext) Logger() *slog.Logger { return c.logger }

// RunActivity runs fn, turning errors and panics into failure details. The
// result is JSON text.
func RunActivity(fn ActivityFunc, ctx *ActivityContext) (result string, failure *history.FailureDetails) {
	defer func() {
		if p := recover(); p != nil {
			result, failure = "", failureFromPanic(p)
		}
	}()
	out, err := fn(ctx)
	if err != nil {
		return "", FailureFromError(err, "")
	}
	s, err := marshalJSON(out)
	if err != nil {
		return "", FailureFromError(fmt.Errorf("activity %q: encode result: %w", ctx.name, err), "")
	}
	return s, nil
}

// ActivityResult runs the activity that a TaskScheduled event asks for and
// returns the event that reports its outcome to the orchestration:
// TaskCompleted with its result, or TaskFailed with the failure details (an
// ActivityNotFound failure when fn is nil, the name being unregistered).
// The worker and the test kit both use it, so that an activity behaves the
// same in tests as in production. Timestamp is left to the caller.
func ActivityResult(ctx context.Context, fn ActivityFunc, scheduled history.Event, instanceID string, logger *slog.Logger) history.Event {
	if fn == nil {
		fd := &history.FailureDetails{ErrorType: "ActivityNotFound",
			ErrorMessage: fmt.Sprintf("activity %q is not registered in this app", scheduled.Name)}
		return history.Event{Type: history.TaskFailed, EventID: -1, TaskScheduledID: scheduled.EventID, Reason: fd.ErrorMessage, FailureDetails: fd}
	}
	out, fd := RunActivity(fn, NewActivityContext(ctx, scheduled.Name, instanceID, scheduled.EventID, scheduled.Input, logger))
	if fd != nil {
		return history.Event{Type: history.TaskFailed, EventID: -1, TaskScheduledID: scheduled.EventID,
			Reason: fd.ErrorMessage, Details: fd.StackTrace, FailureDetails: fd}
	}
	return history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: scheduled.EventID, Result: out}
}
