package durable

import (
	"fmt"
	"time"
)

// Task is the handle of a durable operation started by an orchestrator: an
// activity, a sub-orchestration, a timer, an external event or a
// combination of those. Awaiting it suspends the orchestrator until history
// holds its outcome.
type Task interface {
	// Await blocks until the task is done, then decodes its JSON result
	// into v (which may be nil) or returns its error.
	Await(v any) error
	// IsDone reports whether the outcome is already known.
	IsDone() bool
}

type task struct {
	x *execution
	// event is the name an external-event task waits for, as the code
	// spelt it, so that Result.AwaitedEvents can name it.
	event  string
	done   bool
	result string
	err    error
	onDone []func()
}

func (t *task) IsDone() bool { return t.done }

func (t *task) Await(v any) error {
	t.x.waitFor(t)
	if t.err != nil {
		return t.err
	}
	if err := DecodePayload(t.result, v); err != nil {
		return fmt.Errorf("decode task result: %w", err)
	}
	return nil
}

// complete settles the task once; later outcomes (duplicates) are ignored.
func (t *task) complete(result string, err error) {
	if t.done {
		return
	}
	t.done, t.result, t.err = true, result, err
	callbacks := t.onDone
	t.onDone = nil
	for _, cb := range callbacks {
		cb()
	}
}

func (t *task) then(cb func()) {
	if t.done {
		cb()
		return
	}
	t.onDone = append(t.onDone, cb)
}

func asTask(x *execution, t Task) *task {
	tt, ok := t.(*task)
	if !ok || tt.x != x {
		panic("durable: task does not belong to this orchestration")
	}
	return tt
}

// RetryPolicy retries a failed activity or sub-orchestration with durable
// timers between attempts, so the waiting survives restarts.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included.
	MaxAttempts int
	// FirstRetryInterval is the delay before the second attempt.
	FirstRetryInterval time.Duration
	// BackoffCoefficient multiplies the delay after each retry; 0 means 1.
	BackoffCoefficient float64
	// MaxRetryInterval caps the delay; 0 means no cap.
	MaxRetryInterval time.Duration
	// RetryTimeout stops retrying once this much orchestration time has
	// passed since the first attempt; 0 means no limit.
	RetryTimeout time.Duration
	// Handle, when set, decides whether a failure is worth retrying. A
	// failure marked IsNonRetriable is never retried and never reaches it.
	Handle func(*TaskFailedError) bool
}

func (p *RetryPolicy) validate() error {
	if p.MaxAttempts < 1 {
		return fmt.Errorf("retry policy: MaxAttempts must be at least 1, got %d", p.MaxAttempts)
	}
	if p.FirstRetryInterval <= 0 {
		return fmt.Errorf("retry policy: FirstRetryInterval must be positive, got %s", p.FirstRetryInterval)
	}
	if p.BackoffCoefficient < 0 {
		return fmt.Errorf("retry policy: BackoffCoefficient must not be negative, got %g", p.BackoffCoefficient)
	}
	return nil
}

// delay is the wait after the given failed attempt (1-based).
func (p *RetryPolicy) delay(attempt int) time.Duration {
	coef := p.BackoffCoefficient
	if coef == 0 {
		coef = 1
	}
	d := float64(p.FirstRetryInterval)
	for i := 1; i < attempt; i++ {
		d *= coef
		if p.MaxRetryInterval > 0 && d > float64(p.MaxRetryInterval) {
			break
		}
	}
	if p.MaxRetryInterval > 0 && d > float64(p.MaxRetryInterval) {
		return p.MaxRetryInterval
	}
	return time.Duration(d)
}

// CallOption adjusts an activity or sub-orchestration call.
type CallOption func(*callOptions)

type callOptions struct {
	retry      *RetryPolicy
	instanceID string
	version    *string
}

// WithRetry retries the call according to p.
func WithRetry(p RetryPolicy) CallOption {
	return func(o *callOptions) { o.retry = &p }
}

// WithInstanceID sets a sub-orchestration's instance ID. Without it the ID
// is derived deterministically from the parent's ID and the task ID.
func WithInstanceID(id string) CallOption {
	return func(o *callOptions) { o.instanceID = id }
}

// WithVersion sets a sub-orchestration's version. Without it the child
// runs at its parent's version, as in Durable Functions.
func WithVersion(v string) CallOption {
	return func(o *callOptions) { o.version = &v }
}

// ContinueAsNewOption adjusts ContinueAsNew.
type ContinueAsNewOption func(*continueOptions)

type continueOptions struct{ version *string }

// WithNewVersion gives the next execution of a continue-as-new another
// version; without it the version is kept.
func WithNewVersion(v string) ContinueAsNewOption {
	return func(o *continueOptions) { o.version = &v }
}

// EventOption adjusts WaitForExternalEvent.
type EventOption func(*eventOptions)

type eventOptions struct{ timeout time.Duration }

// WithTimeout gives up waiting after d of orchestration time; awaiting the
// task then returns ErrTimedOut, and the event, if it comes later, is kept
// for the next wait.
func WithTimeout(d time.Duration) EventOption {
	return func(o *eventOptions) { o.timeout = d }
}
