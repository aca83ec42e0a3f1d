package task

import (
	"github.com/durable-go/durable/internal/durable"
)

// Task is the handle of a durable operation an orchestrator started: an
// activity, a sub-orchestration, a timer, an external event, or WhenAll or
// WhenAny of those. Awaiting it suspends the orchestrator until history
// holds its outcome; on replay, a task whose outcome history records
// completes at once.
type Task interface {
	// Await blocks until the task is done, then decodes its JSON result
	// into v (which may be nil) or returns its error: a *TaskFailedError
	// for a failed activity or sub-orchestration, an error wrapping
	// ErrTimedOut for an event wait that timed out.
	Await(v any) error
	// IsDone reports whether the outcome is already known, without
	// waiting.
	IsDone() bool
}

// handle is the Task the context returns: the engine's task, with its
// errors in this package's types.
type handle struct {
	t   durable.Task
	ctx *OrchestrationContext
}

func (c *OrchestrationContext) wrapTask(t durable.Task) Task { return &handle{t: t, ctx: c} }

func (h *handle) IsDone() bool { return h.t.IsDone() }

func (h *handle) Await(v any) error {
	err := h.t.Await(v)
	tf, ok := err.(*durable.TaskFailedError)
	if !ok {
		return err
	}
	return h.ctx.publicError(tf)
}

// publicError converts the engine's error once per orchestrator run, so
// that every Await that sees one failure (the task's own, a WhenAll's)
// returns the same error value, as the engine does.
func (c *OrchestrationContext) publicError(tf *durable.TaskFailedError) *TaskFailedError {
	if pub, ok := c.errs[tf]; ok {
		return pub
	}
	if c.errs == nil {
		c.errs = map[*durable.TaskFailedError]*TaskFailedError{}
	}
	pub := newTaskFailedError(tf)
	c.errs[tf] = pub
	return pub
}

// engineTasks unwraps tasks for WhenAll and WhenAny. A Task this package
// did not make is passed as it is, and the engine refuses it as a task of
// another orchestration.
func engineTasks(tasks []Task) []durable.Task {
	out := make([]durable.Task, len(tasks))
	for i, t := range tasks {
		switch h := t.(type) {
		case *handle:
			out[i] = h.t
		case *entityCall:
			out[i] = h.t
		default:
			out[i] = t
		}
	}
	return out
}
