package task

import (
	"time"

	"github.com/durable-go/durable/internal/durable"
)

// RetryPolicy retries a failed activity or sub-orchestration (WithRetry)
// with durable timers between attempts, so the waiting survives restarts
// and replays exactly. The first attempt runs at once; after failed
// attempt n the next waits FirstRetryInterval × BackoffCoefficient^(n-1),
// capped at MaxRetryInterval.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included; it
	// must be at least 1.
	MaxAttempts int
	// FirstRetryInterval is the delay before the second attempt; it must
	// be positive.
	FirstRetryInterval time.Duration
	// BackoffCoefficient multiplies the delay after each retry; 0 means 1.
	BackoffCoefficient float64
	// MaxRetryInterval caps the delay; 0 means no cap.
	MaxRetryInterval time.Duration
	// RetryTimeout stops retrying once this much orchestration time has
	// passed since the first attempt; 0 means no limit.
	RetryTimeout time.Duration
	// Handle, when set, decides whether a failure is worth retrying; a
	// failure it refuses is returned at once. A failure marked
	// IsNonRetriable (NonRetriable, Error) is returned at once without
	// asking Handle.
	Handle func(*TaskFailedError) bool
}

// CallOption adjusts CallActivity and CallSubOrchestrator: WithRetry,
// WithInstanceID.
type CallOption func(*callOptions)

type callOptions struct{ engine []durable.CallOption }

// WithRetry retries the call according to p. A policy that is not valid
// (MaxAttempts below 1, FirstRetryInterval not positive, a negative
// BackoffCoefficient) makes the call's task fail with an error saying so.
func WithRetry(p RetryPolicy) CallOption {
	ep := durable.RetryPolicy{MaxAttempts: p.MaxAttempts, FirstRetryInterval: p.FirstRetryInterval,
		BackoffCoefficient: p.BackoffCoefficient, MaxRetryInterval: p.MaxRetryInterval, RetryTimeout: p.RetryTimeout}
	if handle := p.Handle; handle != nil {
		ep.Handle = func(tf *durable.TaskFailedError) bool { return handle(newTaskFailedError(tf)) }
	}
	return func(o *callOptions) { o.engine = append(o.engine, durable.WithRetry(ep)) }
}

// WithInstanceID sets a sub-orchestration's instance ID. Without it the ID
// is "{parent's execution ID}:{task ID}", as in the Durable Task Framework.
// It applies to CallSubOrchestrator only: with CallActivity the task fails.
func WithInstanceID(id string) CallOption {
	return func(o *callOptions) { o.engine = append(o.engine, durable.WithInstanceID(id)) }
}

// WithVersion sets a sub-orchestration's version; without it the child
// runs at its parent's version (OrchestrationContext.Version). It applies
// to CallSubOrchestrator only.
func WithVersion(v string) CallOption {
	return func(o *callOptions) { o.engine = append(o.engine, durable.WithVersion(v)) }
}

// ContinueAsNewOption adjusts ContinueAsNew: WithNewVersion.
type ContinueAsNewOption func(*continueAsNewOptions)

type continueAsNewOptions struct{ engine []durable.ContinueAsNewOption }

// WithNewVersion gives the execution a continue-as-new starts another
// version; without it the version is kept.
func WithNewVersion(v string) ContinueAsNewOption {
	return func(o *continueAsNewOptions) { o.engine = append(o.engine, durable.WithNewVersion(v)) }
}

// CompareVersions orders two orchestration versions as Durable Functions
// does: negative when a is older than b, zero when equal, positive when
// newer. An unset version ("") equals another unset one and is older than
// any other; two numeric versions ("1", "1.2", "1.2.3.4") compare
// numerically, a missing component sorting first ("1.2" < "1.2.0", as in
// .NET); anything else compares as case-insensitive text.
func CompareVersions(a, b string) int { return durable.CompareVersions(a, b) }

func engineCallOptions(opts []CallOption) []durable.CallOption {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o.engine
}

// EventOption adjusts WaitForExternalEvent: WithTimeout.
type EventOption func(*eventOptions)

type eventOptions struct{ engine []durable.EventOption }

// WithTimeout gives up waiting for an external event after d of
// orchestration time (a durable timer): the task's Await then returns an
// error wrapping ErrTimedOut, and the event, if it comes later, is kept
// for the next wait.
func WithTimeout(d time.Duration) EventOption {
	return func(o *eventOptions) { o.engine = append(o.engine, durable.WithTimeout(d)) }
}

func engineEventOptions(opts []EventOption) []durable.EventOption {
	var o eventOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o.engine
}
