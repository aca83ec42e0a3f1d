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
	// ErrorType names the error: for a chain of wrapped Go errors, the
	// first error in it with a type of its own (its ErrorType() string if
	// it has one, the name of a well-known sentinel such as
	// "context.Canceled" or "task.ErrTimedOut", else its Go type as %T
	// prints it); "error" for plain text from errors.New or fmt.Errorf;
	// "panic" for a panic that is not an error.
	ErrorType string `json:"ErrorType"`
	// ErrorMessage is the error's whole text.
	ErrorMessage string `json:"ErrorMessage"`
	// StackTrace is the stack of a panic.
	StackTrace string `json:"StackTrace,omitempty"`
	// InnerFailure is the cause: the error that ErrorType was taken from
	// (with its own, shorter message) when wrappers stood above it, else
	// the error it wraps; for a wrapped *TaskFailedError, the failure that
	// task recorded.
	InnerFailure *FailureDetails `json:"InnerFailure,omitempty"`
	// IsNonRetriable says that retrying cannot help: a retry policy
	// returns such a task failure at once. See NonRetriable and Error.
	IsNonRetriable bool `json:"IsNonRetriable,omitempty"`
	// Properties are named values the error attached (Error.Properties),
	// as JSON values: a number reads back as a float64.
	Properties map[string]any `json:"Properties,omitempty"`
}

// String is the text form the Durable Task Framework stores as a Failed
// instance's output: "ErrorType: ErrorMessage".
func (f *FailureDetails) String() string { return engineFailure(f).String() }

func publicFailure(f *history.FailureDetails) *FailureDetails {
	if f == nil {
		return nil
	}
	return &FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: publicFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable, Properties: f.Properties}
}

func engineFailure(f *FailureDetails) *history.FailureDetails {
	if f == nil {
		return nil
	}
	return &history.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: engineFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable, Properties: f.Properties}
}

// Error is an error that chooses its own failure details: the type name
// recorded, whether retrying can help, and properties for whoever reads
// the failure. Return one (or wrap one) from an activity or orchestrator.
// With NonRetriable set, a retry policy stops at the first failure instead
// of running the call again to the same end: for bad input, a refusal, a
// missing record.
type Error struct {
	// Type is the ErrorType recorded; empty leaves it to Cause (or
	// "error" without one).
	Type string
	// Message is the error's text; with a Cause, ": " and the cause's text
	// follow it. Empty means the cause's text alone (or Type's).
	Message string
	// Cause is the error this one wraps, if any: errors.Is and errors.As
	// see through to it, and its failure is recorded as the inner failure.
	Cause error
	// NonRetriable marks the failure IsNonRetriable.
	NonRetriable bool
	// Properties are recorded in the failure details. Values are recorded
	// as JSON values; one that JSON cannot encode is recorded as its text.
	Properties map[string]any
}

// Error is Message, then the cause's text: "Message: cause".
func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Cause != nil:
		return e.Message + ": " + e.Cause.Error()
	case e.Message != "":
		return e.Message
	case e.Cause != nil:
		return e.Cause.Error()
	case e.Type != "":
		return e.Type
	}
	return "error"
}

// Unwrap returns Cause.
func (e *Error) Unwrap() error { return e.Cause }

// ErrorType is Type; empty leaves the type to the cause.
func (e *Error) ErrorType() string { return e.Type }

// IsNonRetriable reports NonRetriable: any error in a failure's chain that
// has this method and answers true makes the failure non-retriable.
func (e *Error) IsNonRetriable() bool { return e.NonRetriable }

// FailureProperties returns Properties: the failure details carry those of
// every error in the chain that has this method, an outer error's value
// winning for the same name.
func (e *Error) FailureProperties() map[string]any { return e.Properties }

// NonRetriable marks err as not worth retrying and returns it wrapped:
// its text, type and chain are unchanged, errors.Is and errors.As see
// through it, and a retry policy returns the task's failure at once. It
// returns nil for a nil err.
func NonRetriable(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Cause: err, NonRetriable: true}
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
