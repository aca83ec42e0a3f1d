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
	if err := unmarshalJSON(c.input, v); err != nil {
		return fmt.Errorf("activity %q: decode input: %w", c.name, err)
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
