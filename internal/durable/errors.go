package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// inputError is an input that does not decode into what the code asked
// for. The same input fails the same way every time, so its failure is
// non-retriable; its type is its cause's (a *json.UnmarshalTypeError, a
// *json.SyntaxError).
type inputError struct{ err error }

func (e *inputError) Error() string        { return e.err.Error() }
func (e *inputError) Unwrap() error        { return e.err }
func (e *inputError) ErrorType() string    { return "" }
func (e *inputError) IsNonRetriable() bool { return true }

// typedError lets an error choose the ErrorType recorded in failure details.
type typedError interface{ ErrorType() string }

// nonRetriableError marks a failure that retrying cannot fix: a retry
// policy gives up at once on a task whose failure says so.
type nonRetriableError interface{ IsNonRetriable() bool }

// propertiesError attaches properties to the failure details, as the
// Durable Task Framework's FailureDetails.Properties carry an exception's
// custom properties.
type propertiesError interface {
	FailureProperties() map[string]any
}

// maxChain bounds how deep a chain of wrapped errors is followed, so that
// a pathological Unwrap cannot make a failure unbounded.
const maxChain = 32

// sentinels name well-known error values, whose Go type alone
// (*errors.errorString) would say nothing.
var sentinels = []struct {
	err  error
	name string
}{
	{ErrTimedOut, "task.ErrTimedOut"},
	{context.Canceled, "context.Canceled"},
	{context.DeadlineExceeded, "context.DeadlineExceeded"},
	{io.EOF, "io.EOF"},
	{io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF"},
	{io.ErrShortWrite, "io.ErrShortWrite"},
	{io.ErrClosedPipe, "io.ErrClosedPipe"},
	{fs.ErrNotExist, "fs.ErrNotExist"},
	{fs.ErrExist, "fs.ErrExist"},
	{fs.ErrPermission, "fs.ErrPermission"},
	{fs.ErrInvalid, "fs.ErrInvalid"},
	{fs.ErrClosed, "fs.ErrClosed"},
}

// PlainErrorType is the ErrorType of an error that has no type of its own
// anywhere in its chain: text from errors.New or fmt.Errorf.
const PlainErrorType = "error"

// FailureFromError converts an error into failure details.
//
// A Go error chain is mostly fmt.Errorf wrappers around at most one error
// with a type of its own, and the wrappers' types (*fmt.wrapError,
// *errors.errorString) tell a reader nothing. So the ErrorType is that of
// the first error in the chain that means something: one naming its type
// with ErrorType() string, a well-known sentinel (by its name, such as
// "context.Canceled"), or any other type (as %T prints it); an error with
// none of these is of PlainErrorType. The message is the whole text, and
// the rest of the chain below that error follows as inner failures; a
// wrapped task failure's inner failure is the failure recorded remotely.
// The failure is non-retriable when any error in the chain says so
// (IsNonRetriable() bool), and its Properties are those of every error in
// it that has some (FailureProperties() map[string]any), an outer error's
// value winning over an inner one's for the same name.
func FailureFromError(err error, stack string) *history.FailureDetails {
	return failureAt(err, stack, 0)
}

func failureAt(err error, stack string, depth int) *history.FailureDetails {
	fd := &history.FailureDetails{ErrorType: PlainErrorType, ErrorMessage: err.Error(), StackTrace: stack}
	var props map[string]any
	walk(err, depth, func(e error) {
		if nr, ok := e.(nonRetriableError); ok && nr.IsNonRetriable() {
			fd.IsNonRetriable = true
		}
		if pe, ok := e.(propertiesError); ok {
			for k, v := range pe.FailureProperties() {
				if _, outer := props[k]; !outer {
					if props == nil {
						props = map[string]any{}
					}
					props[k] = v
				}
			}
		}
	})
	fd.Properties = jsonProperties(props)
	m, mdepth := meaningful(err, depth)
	if m == nil {
		return fd
	}
	fd.ErrorType = typeName(m)
	if tf, ok := m.(*TaskFailedError); ok {
		if tf.Details != nil {
			inner := *tf.Details
			fd.InnerFailure = &inner
		}
		return fd
	}
	// The error below the meaningful one is its cause; when wrappers stood
	// above it, the meaningful error itself is the first cause, with its
	// own, shorter message.
	next, ndepth := m, mdepth
	if m == err {
		next, ndepth = unwrapOne(m), depth+1
	}
	if next != nil && ndepth < maxChain {
		fd.InnerFailure = failureAt(next, "", ndepth)
	}
	return fd
}

// meaningful returns the first error in err's chain that has a type worth
// recording, and its depth; nil when every error in it is plain text. It
// looks through every error that errors.Join or several %w hold, in the
// order errors.As does.
func meaningful(err error, depth int) (error, int) {
	for ; err != nil && depth < maxChain; depth++ {
		if !transparent(err) {
			return err, depth
		}
		if u, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range u.Unwrap() {
				if e == nil {
					continue
				}
				if m, d := meaningful(e, depth+1); m != nil {
					return m, d
				}
			}
			return nil, depth
		}
		err = unwrapOne(err)
	}
	return nil, depth
}

// transparent reports whether err adds nothing to a failure's type: a
// fmt.Errorf, errors.New (but a sentinel) or errors.Join value, or a
// wrapper whose text and type name are its cause's (as the task package's
// public errors are the engine's, and as an error marked non-retriable
// without a type of its own is its cause).
func transparent(err error) bool {
	goType := fmt.Sprintf("%T", err)
	switch goType {
	case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	case "*errors.errorString":
		return typeName(err) == goType // not a sentinel
	}
	if te, ok := err.(typedError); ok && te.ErrorType() == "" {
		return true // it leaves its type to its cause
	}
	next := unwrapOne(err)
	if next == nil || next.Error() != err.Error() {
		return false
	}
	name := typeName(err)
	return name == goType || name == typeName(next)
}

// typeName is the ErrorType of one error, regardless of its chain.
func typeName(err error) string {
	if te, ok := err.(typedError); ok {
		if name := te.ErrorType(); name != "" {
			return name
		}
	}
	for _, s := range sentinels {
		if err == s.err {
			return s.name
		}
	}
	return fmt.Sprintf("%T", err)
}

// walk calls fn on err and on every error it wraps, depth first, as far as
// maxChain.
func walk(err error, depth int, fn func(error)) {
	if err == nil || depth >= maxChain {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), depth+1, fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, depth+1, fn)
		}
	}
}

// unwrapOne returns err's cause; of several (errors.Join), the first, as
// .NET's AggregateException offers its first as its InnerException.
func unwrapOne(err error) error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return u.Unwrap()
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if e != nil {
				return e
			}
		}
	}
	return nil
}

// jsonProperties keeps properties as JSON values, so that failure details
// read back from history equal the ones recorded and always encode: a
// value JSON cannot hold is recorded as its text.
func jsonProperties(props map[string]any) map[string]any {
	if len(props) == 0 {
		return nil
	}
	out := make(map[string]any, len(props))
	for k, v := range props {
		b, err := json.Marshal(v)
		var back any
		if err == nil {
			err = json.Unmarshal(b, &back)
		}
		if err != nil {
			back = fmt.Sprint(v)
		}
		out[k] = back
	}
	return out
}

// failureFromPanic converts a recovered panic, keeping the stack where it
// happened: that is the only place it can be captured.
func failureFromPanic(p any) *history.FailureDetails {
	if err, ok := p.(error); ok {
		return FailureFromError(err, string(debug.Stack()))
	}
	return &history.FailureDetails{ErrorType: "panic", ErrorMessage: fmt.Sprint(p), StackTrace: string(debug.Stack())}
}
