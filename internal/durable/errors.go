package durable

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/durable-go/durable/internal/history"
)

// TaskFailedError is what awaiting a failed activity or sub-orchestration
// returns. It carries the failure details recorded in history, so an
// orchestrator can inspect what went wrong remotely.
type TaskFailedError struct {
	// Kind is "activity" or "sub-orchestration".
	Kind string
	// Name is the activity's or sub-orchestrator's name.
	Name string
	// TaskID is the scheduling event's ID in history.
	TaskID int
	// Details are the failure details recorded by the task.
	Details *history.FailureDetails
}

func (e *TaskFailedError) Error() string {
	msg := "unknown error"
	if e.Details != nil {
		msg = e.Details.ErrorMessage
		if e.Details.ErrorType != "" {
			msg = e.Details.ErrorType + ": " + msg
		}
	}
	return fmt.Sprintf("%s %q (task %d) failed: %s", e.Kind, e.Name, e.TaskID, msg)
}

// ErrorType names the error for failure details.
func (e *TaskFailedError) ErrorType() string { return "TaskFailedError" }

// NonDeterminismError reports that orchestrator code took a different path
// on replay than the one its history records.
type NonDeterminismError struct{ Message string }

func (e *NonDeterminismError) Error() string { return "non-deterministic orchestration: " + e.Message }

// ErrorType names the error for failure details.
func (e *NonDeterminismError) ErrorType() string { return "NonDeterministicOrchestrationError" }

// ErrTimedOut is returned by awaiting an external event whose timeout
// elapsed first.
var ErrTimedOut = errors.New("timed out")

// typedError lets an error choose the ErrorType recorded in failure details;
// by default the Go type name is used.
type typedError interface{ ErrorType() string }

// FailureFromError converts an error into failure details. Wrapped task
// failures keep their remote details as the inner failure.
func FailureFromError(err error, stack string) *history.FailureDetails {
	fd := &history.FailureDetails{ErrorType: fmt.Sprintf("%T", err), ErrorMessage: err.Error(), StackTrace: stack}
	var te typedError
	if errors.As(err, &te) {
		fd.ErrorType = te.ErrorType()
	}
	var tf *TaskFailedError
	if errors.As(err, &tf) && tf.Details != nil {
		inner := *tf.Details
		fd.InnerFailure = &inner
	}
	return fd
}

// failureFromPanic converts a recovered panic, keeping the stack where it
// happened: that is the only place it can be captured.
func failureFromPanic(p any) *history.FailureDetails {
	if err, ok := p.(error); ok {
		return FailureFromError(err, string(debug.Stack()))
	}
	return &history.FailureDetails{ErrorType: "panic", ErrorMessage: fmt.Sprint(p), StackTrace: string(debug.Stack())}
}
