package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// chain renders a failure and its inner failures one per line, so that a
// table of cases states the whole expected shape.
func chain(fd *history.FailureDetails) string {
	var lines []string
	for ; fd != nil; fd = fd.InnerFailure {
		lines = append(lines, fd.ErrorType+": "+fd.ErrorMessage)
	}
	return strings.Join(lines, "\n")
}

// markedError is how user code can mark a failure: the methods the engine
// looks for anywhere in the chain.
type markedError struct {
	err   error
	props map[string]any
}

func (e *markedError) Error() string                     { return e.err.Error() }
func (e *markedError) Unwrap() error                     { return e.err }
func (e *markedError) IsNonRetriable() bool              { return true }
func (e *markedError) FailureProperties() map[string]any { return e.props }

// propsError has properties and says it may be retried; a non-retriable
// cause still makes the whole failure non-retriable.
type propsError struct {
	err   error
	props map[string]any
}

func (e *propsError) Error() string                     { return "order: " + e.err.Error() }
func (e *propsError) Unwrap() error                     { return e.err }
func (e *propsError) IsNonRetriable() bool              { return false }
func (e *propsError) FailureProperties() map[string]any { return e.props }

func TestFailureRecordsTheMeaningfulTypeAndTheChain(t *testing.T) {
	var numErr error
	var n int
	if err := json.Unmarshal([]byte(`"x"`), &n); err != nil {
		numErr = err
	}
	_, pathErr := os.Open("/nonexistent/durable-failure-test")
	tf := &TaskFailedError{Kind: "activity", Name: "Charge", TaskID: 2,
		Details: &history.FailureDetails{ErrorType: "CardDeclined", ErrorMessage: "no funds"}}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"plain text", errors.New("boom"), "error: boom"},
		{"wrapped plain text", fmt.Errorf("save: %w", errors.New("boom")), "error: save: boom"},
		{"wrapped typed error", fmt.Errorf("FanOutFanIn wants an integer input: %w", numErr),
			"*json.UnmarshalTypeError: FanOutFanIn wants an integer input: " + numErr.Error() +
				"\n*json.UnmarshalTypeError: " + numErr.Error()},
		{"typed error", numErr, "*json.UnmarshalTypeError: " + numErr.Error()},
		{"sentinel", fmt.Errorf("read: %w", fmt.Errorf("header: %w", context.Canceled)),
			"context.Canceled: read: header: context canceled\ncontext.Canceled: context canceled"},
		{"fs sentinel", fmt.Errorf("load: %w", fs.ErrNotExist),
			"fs.ErrNotExist: load: file does not exist\nfs.ErrNotExist: file does not exist"},
		{"engine sentinel", fmt.Errorf("approval: %w", ErrTimedOut),
			"task.ErrTimedOut: approval: timed out\ntask.ErrTimedOut: timed out"},
		{"typed error with a typed cause", fmt.Errorf("config: %w", pathErr),
			"*fs.PathError: config: " + pathErr.Error() + "\n*fs.PathError: " + pathErr.Error() +
				"\nsyscall.Errno: no such file or directory"},
		{"named type", fmt.Errorf("save: %w", dbError{}),
			"DatabaseError: save: database is unreachable\nDatabaseError: database is unreachable"},
		{"joined errors: the first cause", errors.Join(errors.New("a"), dbError{}, numErr),
			"DatabaseError: a\ndatabase is unreachable\n" + numErr.Error() + "\nDatabaseError: database is unreachable"},
		{"task failure: the remote failure is the inner one", fmt.Errorf("checkout: %w", tf),
			"TaskFailedError: checkout: " + tf.Error() + "\nCardDeclined: no funds"},
		{"a marker without a type of its own is its cause", &markedError{err: fmt.Errorf("x: %w", context.DeadlineExceeded)},
			"context.DeadlineExceeded: x: context deadline exceeded\ncontext.DeadlineExceeded: context deadline exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := chain(FailureFromError(c.err, "")); got != c.want {
				t.Errorf("failure:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestFailureCarriesNonRetriableAndProperties(t *testing.T) {
	err := fmt.Errorf("order 7: %w", &markedError{err: errors.New("out of stock"),
		props: map[string]any{"sku": "A-1", "left": 0, "ch": make(chan int)}})
	fd := FailureFromError(err, "")
	if !fd.IsNonRetriable {
		t.Errorf("not marked non-retriable: %+v", fd)
	}
	// Properties are JSON values, as a replay reads them back from history;
	// a value JSON cannot hold becomes its text rather than losing the
	// whole failure.
	if fd.Properties["sku"] != "A-1" || fd.Properties["left"] != float64(0) {
		t.Errorf("properties %#v", fd.Properties)
	}
	if s, ok := fd.Properties["ch"].(string); !ok || !strings.HasPrefix(s, "0x") {
		t.Errorf("unencodable property %#v, want its text", fd.Properties["ch"])
	}
	if !strings.Contains(fd.JSON(), `"IsNonRetriable":true`) || !strings.Contains(fd.JSON(), `"Properties":{`) {
		t.Errorf("JSON %s", fd.JSON())
	}
	// Every error in the chain contributes; the outer one's value wins.
	nested := &propsError{props: map[string]any{"sku": "B-2"},
		err: fmt.Errorf("retrying: %w", &markedError{err: errors.New("gone"), props: map[string]any{"sku": "A-1", "n": 1}})}
	if fd := FailureFromError(nested, ""); !fd.IsNonRetriable || fd.Properties["sku"] != "B-2" || fd.Properties["n"] != float64(1) {
		t.Errorf("nested failure %s", fd.JSON())
	}
	if plain := FailureFromError(errors.New("x"), ""); plain.IsNonRetriable || plain.Properties != nil {
		t.Errorf("plain error %+v", plain)
	}
}

func TestRetryPolicyStopsOnNonRetriableFailure(t *testing.T) {
	reg := NewRegistry()
	attempts := 0
	_ = reg.AddActivity("Reserve", func(ctx *ActivityContext) (any, error) {
		attempts++
		return nil, &markedError{err: errors.New("out of stock"), props: map[string]any{"sku": "A-1"}}
	})
	_ = reg.AddOrchestrator("Order", func(ctx *OrchestrationContext) (any, error) {
		handled := 0
		err := ctx.CallActivity("Reserve", nil, WithRetry(RetryPolicy{MaxAttempts: 5, FirstRetryInterval: time.Second,
			Handle: func(*TaskFailedError) bool { handled++; return true }})).Await(nil)
		if handled != 0 {
			return nil, fmt.Errorf("Handle asked %d times about a non-retriable failure", handled)
		}
		return nil, err
	})
	d := newDriver(t, reg, "Order", nil)
	res := d.run()
	if res.Status != history.StatusFailed || attempts != 1 {
		t.Fatalf("status %s after %d attempts, failure %+v", res.Status, attempts, res.Failure)
	}
	for _, e := range d.past {
		if e.Type == history.TimerCreated {
			t.Fatalf("a retry timer was created for a non-retriable failure")
		}
	}
	// The instance failed with the orchestrator's own error, which is not
	// itself marked: its parent may still retry it. The activity's failure
	// stays marked as the inner failure.
	inner := res.Failure.InnerFailure
	if res.Failure.ErrorType != "TaskFailedError" || res.Failure.IsNonRetriable || inner == nil ||
		!inner.IsNonRetriable || inner.Properties["sku"] != "A-1" {
		t.Fatalf("failure %s", res.Failure.JSON())
	}
}

func TestRetryPolicyStopsOnNonRetriableSubOrchestration(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Child", func(ctx *OrchestrationContext) (any, error) {
		return nil, &markedError{err: errors.New("bad input")}
	})
	_ = reg.AddOrchestrator("Parent", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.CallSubOrchestrator("Child", nil,
			WithRetry(RetryPolicy{MaxAttempts: 3, FirstRetryInterval: time.Second})).Await(nil)
	})
	child := newDriver(t, reg, "Child", nil).run()
	if child.Status != history.StatusFailed || !child.Failure.IsNonRetriable {
		t.Fatalf("child %s failure %s", child.Status, child.Failure.JSON())
	}
	// The child's failure reaches the parent as the worker delivers it.
	d := newDriver(t, reg, "Parent", nil)
	d.episode()
	var created []history.Event
	for _, e := range d.past {
		if e.Type == history.SubOrchestrationInstanceCreated {
			created = append(created, e)
		}
	}
	if len(created) != 1 {
		t.Fatalf("%d children created", len(created))
	}
	d.inbox = append(d.inbox, history.Event{Type: history.SubOrchestrationInstanceFailed, EventID: -1,
		TaskScheduledID: created[0].EventID, Reason: child.Failure.ErrorMessage, FailureDetails: child.Failure})
	res := d.run()
	for _, e := range d.past {
		if e.Type == history.SubOrchestrationInstanceCreated && e.EventID != created[0].EventID {
			t.Fatalf("the child was retried after a non-retriable failure")
		}
	}
	if res.Status != history.StatusFailed || res.Failure.InnerFailure == nil || !res.Failure.InnerFailure.IsNonRetriable {
		t.Fatalf("status %s, failure %s", res.Status, res.Failure.JSON())
	}
}

// An input that does not decode fails the same way on every attempt, so
// a retry policy does not run the activity again; the failure is named
// after the JSON error.
func TestUndecodableInputIsNonRetriable(t *testing.T) {
	reg := NewRegistry()
	attempts := 0
	_ = reg.AddActivity("Square", func(ctx *ActivityContext) (any, error) {
		attempts++
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, fmt.Errorf("Square wants an integer: %w", err)
		}
		return n * n, nil
	})
	_ = reg.AddOrchestrator("O", func(ctx *OrchestrationContext) (any, error) {
		var s string
		if err := ctx.GetInput(&s); err != nil {
			return nil, fmt.Errorf("O wants a string: %w", err)
		}
		return nil, ctx.CallActivity("Square", s, WithRetry(RetryPolicy{MaxAttempts: 3, FirstRetryInterval: time.Second})).Await(nil)
	})
	res := newDriver(t, reg, "O", "seven").run()
	inner := res.Failure.InnerFailure
	if res.Status != history.StatusFailed || attempts != 1 || inner == nil || !inner.IsNonRetriable ||
		inner.ErrorType != "*json.UnmarshalTypeError" || !strings.HasPrefix(inner.ErrorMessage, `Square wants an integer: activity "Square": decode input: json:`) {
		t.Fatalf("status %s after %d attempts: %s", res.Status, attempts, res.Failure.JSON())
	}

	bad := newDriver(t, reg, "O", 7).run()
	if bad.Failure.ErrorType != "*json.UnmarshalTypeError" || !bad.Failure.IsNonRetriable ||
		bad.Failure.InnerFailure == nil || !strings.HasPrefix(bad.Failure.InnerFailure.ErrorMessage, "json: cannot unmarshal number") {
		t.Fatalf("orchestrator's own input: %s", bad.Failure.JSON())
	}
}
