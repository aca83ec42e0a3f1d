package entity

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// Event names of entity messages, all carried as EventRaised events.
const (
	// EventOperation carries a Request: an operation (called or signalled)
	// or a lock request.
	EventOperation = "op"
	// EventRelease carries a Release: a lock's end.
	EventRelease = "release"
	// EventContinue resumes an entity whose batch was cut short.
	EventContinue = "continue"
)

// ScheduledEventName is the event name of a signal delivered at a time:
// "op@" and the time in .NET's round-trip format; the queue message is
// hidden until then.
func ScheduledEventName(at time.Time) string {
	return EventOperation + "@" + formatTime(at)
}

// ScheduledAt reads the time of a scheduled signal's event name.
func ScheduledAt(eventName string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(eventName, EventOperation+"@")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, rest)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// IsRequest reports whether an event name carries a Request.
func IsRequest(eventName string) bool { return strings.HasPrefix(eventName, EventOperation) }

// Request is an operation sent to an entity, or a lock request: the
// RequestMessage of the Durable Task Framework, with its JSON names.
type Request struct {
	// Operation is the operation's name ("" for a lock request).
	Operation string `json:"op"`
	// IsSignal marks a one-way operation: no response is sent.
	IsSignal bool `json:"signal,omitempty"`
	// Input is the operation's input as JSON text ("" for none).
	Input string `json:"input,omitempty"`
	// ID identifies the request; a response's event name is this ID.
	ID string `json:"id"`
	// Parent is the instance that sent it; "" for a client's signal.
	Parent string `json:"parent,omitempty"`
	// ParentExecution is the sending orchestration's execution ("" from
	// an entity, whose ordering state outlives its executions).
	ParentExecution string `json:"parentExecution,omitempty"`
	// Due is the time a scheduled signal was asked for.
	Due *Time `json:"due,omitempty"`
	// Timestamp and Predecessor order the requests of one sender to one
	// entity (see Sorter).
	Timestamp   Time `json:"Timestamp"`
	Predecessor Time `json:"Predecessor"`
	// LockSet is a lock request's entities, sorted and without repeats;
	// Position is the one being locked now.
	LockSet  []ID `json:"lockset,omitempty"`
	Position int  `json:"pos,omitempty"`
	// IsLockRequest is written for readers of the core format; it follows
	// LockSet.
	IsLockRequest bool `json:"IsLockRequest"`
	CreateTrace   bool `json:"createTrace"`
}

// lockRequest reports whether r asks for locks.
func (r *Request) lockRequest() bool { return r.LockSet != nil }

// Response answers a called operation or grants a lock: the
// ResponseMessage of the Durable Task Framework. Its event name is the
// request's ID.
type Response struct {
	// Result is the operation's result as JSON text; nil for none.
	Result *string `json:"result"`
	// ErrorMessage is set when the operation failed.
	ErrorMessage   string                  `json:"exceptionType,omitempty"`
	FailureDetails *history.FailureDetails `json:"failureDetails,omitempty"`
}

// LockGranted is the result of the response that grants a lock.
const LockGranted = "Lock Acquisition Completed"

// Failed reports whether the response carries a failure.
func (r *Response) Failed() bool { return r.ErrorMessage != "" || r.FailureDetails != nil }

// Release ends the lock that the orchestration Parent took with lock
// request ID.
type Release struct {
	Parent string `json:"parent"`
	ID     string `json:"id"`
}

// Time is a time as .NET's DateTime writes it in these messages: UTC,
// seven fractional digits; its zero value is .NET's DateTime.MinValue.
type Time struct{ time.Time }

const dotnetTime = "2006-01-02T15:04:05.0000000Z"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.UTC().Format(dotnetTime)
}

// MarshalJSON writes t as .NET does.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(formatTime(t.Time)) }

// MarshalText writes t as a map key.
func (t Time) MarshalText() ([]byte, error) { return []byte(formatTime(t.Time)), nil }

// UnmarshalJSON reads a .NET DateTime, with or without a zone (one
// without is UTC, as these messages write them).
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("entity message time: %w", err)
	}
	return t.UnmarshalText([]byte(s))
}

// UnmarshalText reads a .NET DateTime map key.
func (t *Time) UnmarshalText(b []byte) error {
	s := string(b)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05.9999999-07:00"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			if t.Time.Equal(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Time = time.Time{}
			}
			return nil
		}
	}
	return fmt.Errorf("entity message time %q is not a date and time", s)
}

// tick is .NET's DateTime resolution: times are cut to it, so that a time
// written and read back compares equal.
const tick = 100 * time.Nanosecond

func at(t time.Time) Time { return Time{t.UTC().Truncate(tick)} }

// OrchestrationEnded is the input of the operation an orchestration an
// entity started signals that entity with when it ends, if the entity asked
// for it (StartOptions.OnEnd): an addition of this project's.
type OrchestrationEnded struct {
	InstanceID  string                  `json:"instanceId"`
	ExecutionID string                  `json:"executionId"`
	Status      history.RuntimeStatus   `json:"status"`
	Output      json.RawMessage         `json:"output,omitempty"`
	Failure     *history.FailureDetails `json:"failure,omitempty"`
}
