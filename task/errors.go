package task

import (
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// TaskFailedError is how an orchestrator sees a failed activity or
// sub-orchestration: awaiting its task returns one, carrying the failure
// details that history records, so the orchestrator can inspect what went
// wrong remotely. Returned (or wrapped) by the orchestrator, it fails the
// instance with the task's failure as the inner failure.
type TaskFailedError struct {
	// Kind is "activity" or "sub-orchestration".
	Kind string
	// Name is the activity's or sub-orchestrator's name.
	Name string
	// TaskID is the scheduling event's ID in history.
	TaskID int
	// Details are the failure details the task recorded.
	Details *FailureDetails
}

func newTaskFailedError(e *durable.TaskFailedError) *TaskFailedError {
	return &TaskFailedError{Kind: e.Kind, Name: e.Name, TaskID: e.TaskID, Details: publicFailure(e.Details)}
}

// Error reads `activity "Name" (task 3) failed: ErrorType: message`.
func (e *TaskFailedError) Error() string { return e.engine().Error() }

// ErrorType names the error in failure details: "TaskFailedError".
func (e *TaskFailedError) ErrorType() string { return e.engine().ErrorType() }

// Unwrap returns the engine's form of the error, through which the engine
// records the task's failure details as the inner failure of an
// orchestration that fails with this error. Inspect e's own fields instead.
func (e *TaskFailedError) Unwrap() error { return e.engine() }

func (e *TaskFailedError) engine() *durable.TaskFailedError {
	return &durable.TaskFailedError{Kind: e.Kind, Name: e.Name, TaskID: e.TaskID, Details: engineFailure(e.Details)}
}

// FailureDetails describe an error raised by an activity, a
// sub-orchestration or orchestrator code, in the Durable Task Framework's
// shape: what the instance status's output shows for a failed instance.
type FailureDetails struct {
	// ErrorType is the error's type name: the Go type, or what the error's
	// ErrorType() string method says ("panic" for a panic).
	ErrorType string `json:"ErrorType"`
	// ErrorMessage is the error's text.
	ErrorMessage string `json:"ErrorMessage"`
	// StackTrace is the stack of a panic.
	StackTrace string `json:"StackTrace,omitempty"`
	// InnerFailure is the failure of the task that caused this one, when
	// the error wrapped a *TaskFailedError.
	InnerFailure *FailureDetails `json:"InnerFailure,omitempty"`
	// IsNonRetriable is set by other Durable Task SDKs for failures not
	// worth retrying.
	IsNonRetriable bool `json:"IsNonRetriable,omitempty"`
}

// String is the text form the Durable Task Framework stores as a Failed
// instance's output: "ErrorType: ErrorMessage".
func (f *FailureDetails) String() string { return engineFailure(f).String() }

func publicFailure(f *history.FailureDetails) *FailureDetails {
	if f == nil {
		return nil
	}
	return &FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: publicFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable}
}

func engineFailure(f *FailureDetails) *history.FailureDetails {
	if f == nil {
		return nil
	}
	return &history.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: engineFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable}
}

// NonDeterminismError is the failure of an orchestration whose code, on
// replay, no longer issues the actions its history records (its
// ErrorType is "NonDeterministicOrchestrationError"). tasktest.Replay
// returns one for a code change that would break running instances.
type NonDeterminismError struct {
	// Message says where the code departs from the history.
	Message string
}

// Error reads "non-deterministic orchestration: " and the message.
func (e *NonDeterminismError) Error() string {
	return (&durable.NonDeterminismError{Message: e.Message}).Error()
}

// ErrorType names the error in failure details:
// "NonDeterministicOrchestrationError".
func (e *NonDeterminismError) ErrorType() string {
	return (&durable.NonDeterminismError{Message: e.Message}).ErrorType()
}

// ErrTimedOut is wrapped by the error that the Await of a
// WaitForExternalEvent task returns when its WithTimeout ran out first;
// test for it with errors.Is.
var ErrTimedOut error

func init() {
	// The engine's own value, which its timeouts wrap.
	ErrTimedOut = durable.ErrTimedOut
}
