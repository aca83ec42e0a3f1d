package task

import (
	"context"
	"log/slog"

	"github.com/durable-go/durable/internal/durable"
)

// ActivityContext is what an activity receives: its input, its
// orchestration's instance ID, its task ID, a logger and a context.Context
// that ends when the app shuts down.
type ActivityContext struct{ c *durable.ActivityContext }

// Context is cancelled when the app stops (after its shutdown grace);
// long activities should honour it. Another app instance then runs the
// activity again.
func (c *ActivityContext) Context() context.Context { return c.c.Context() }

// Name is the activity's registered name.
func (c *ActivityContext) Name() string { return c.c.Name() }

// InstanceID is the ID of the orchestration instance that scheduled the
// activity.
func (c *ActivityContext) InstanceID() string { return c.c.InstanceID() }

// TaskID is the ID of the TaskScheduled event in the orchestration's
// history: the same for every run of one scheduling (a redelivery), a new
// one for each retry. With InstanceID it makes an idempotency key.
func (c *ActivityContext) TaskID() int { return c.c.TaskID() }

// GetInput decodes the activity's JSON input into v. An activity called
// with no input leaves v as it is; a *json.RawMessage receives the JSON
// text as is.
func (c *ActivityContext) GetInput(v any) error { return c.c.GetInput(v) }

// RawInput is the input as JSON text ("" when there is none).
func (c *ActivityContext) RawInput() string { return c.c.RawInput() }

// Logger logs with the activity's name, instance ID and task ID attached.
func (c *ActivityContext) Logger() *slog.Logger { return c.c.Logger() }
