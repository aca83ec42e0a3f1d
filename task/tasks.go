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
	t durable.Task
	// from and to cache the conversion of the engine's error, so that
	// every Await of one task returns the same error value.
	from *durable.TaskFailedError
	to   *TaskFailedError
}

func wrapTask(t durable.Task) Task { return &handle{t: t} }

func (h *handle) IsDone() bool { return h.t.IsDone() }

func (h *handle) Await(v any) error {
	err := h.t.Await(v)
	tf, ok := err.(*durable.TaskFailedError)
	if !ok {
		return err
	}
	if h.from != tf {
		h.from, h.to = tf, newTaskFailedError(tf)
	}
	return h.to
}

// engineTasks unwraps tasks for WhenAll and WhenAny. A Task this package
// did not make is passed as it is, and the engine refuses it as a task of
// another orchestration.
func engineTasks(tasks []Task) []durable.Task {
	out := make([]durable.Task, len(tasks))
	for i, t := range tasks {
		if h, ok := t.(*handle); ok {
			out[i] = h.t
		} else {
			out[i] = t
		}
	}
	return out
}
