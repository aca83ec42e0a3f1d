package tasktest

import (
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/task"
)

// ErrBlocked is wrapped by Result.Err when the orchestration can make no
// more progress: it awaits something that never comes, typically an
// external event that nobody raises. The error says what each unfinished
// instance still waits for: the names of the events its code awaits, and
// the activities, sub-orchestrations and timers without an outcome.
var ErrBlocked = errors.New("tasktest: orchestration is blocked")

// ErrTooManyEpisodes is wrapped by Result.Err when a run reaches
// MaxEpisodes, which usually means an orchestration that never ends.
var ErrTooManyEpisodes = errors.New("tasktest: too many episodes")

// Result is the outcome of a run: the orchestration's status, output and
// failure, and everything it did.
type Result struct {
	// InstanceID and Name identify the orchestration that was run.
	InstanceID, Name string
	// Status is its runtime status when the run ended: Completed or
	// Failed when it finished, Running when it blocked or the run was cut
	// short (Err says which).
	Status Status
	// Failure describes why it failed, when Status is Failed. An
	// activity's or sub-orchestration's failure that the orchestrator
	// returned is its InnerFailure.
	Failure *task.FailureDetails
	// Err is nil when the orchestration finished, whether it completed or
	// failed. Otherwise it says why the run stopped: ErrBlocked or
	// ErrTooManyEpisodes (wrapped, with details), or a mistake in the test
	// such as an input that cannot be encoded.
	Err error
	// Actions is everything the orchestration and its sub-orchestrations
	// did, in the order they did it.
	Actions []Action
	// History is the orchestration's final execution's history, as the
	// worker would have stored it. Replay accepts it.
	History []HistoryEvent
	// Executions is the number of executions: 1 plus one per
	// continue-as-new.
	Executions int
	// Elapsed is the virtual time the run took: the timers it waited for
	// and the delays of the events it needed.
	Elapsed time.Duration
	// Episodes is the number of episodes the run took, over all instances.
	Episodes int

	output, customStatus string
}

// Output decodes the orchestration's output (JSON) into v. It fails when
// the orchestration did not complete, with an error that says why: the
// failure, or what it waits for.
func (r *Result) Output(v any) error {
	if r.Status != StatusCompleted {
		return r.notCompleted()
	}
	if err := durable.DecodePayload(r.output, v); err != nil {
		return fmt.Errorf("tasktest: decode the output of %q: %w", r.Name, err)
	}
	return nil
}

// RawOutput is the output as JSON text ("" when there is none). For a
// failed orchestration it is the failure's text form, as the instance
// row shows it.
func (r *Result) RawOutput() string { return r.output }

// CustomStatus decodes the last custom status the orchestration set into
// v. It leaves v as is when no status was set in the final execution.
func (r *Result) CustomStatus(v any) error {
	if err := durable.DecodePayload(r.customStatus, v); err != nil {
		return fmt.Errorf("tasktest: decode the custom status of %q: %w", r.Name, err)
	}
	return nil
}

// Activities returns the activity calls among Actions, retries included,
// in the order they ran.
func (r *Result) Activities() []Action {
	var out []Action
	for _, a := range r.Actions {
		if a.Kind == KindActivity {
			out = append(out, a)
		}
	}
	return out
}

func (r *Result) notCompleted() error {
	switch {
	case r.Err != nil:
		return fmt.Errorf("orchestration %q (instance %q) is %s: %w", r.Name, r.InstanceID, r.Status, r.Err)
	case r.Failure != nil:
		return fmt.Errorf("orchestration %q (instance %q) failed: %s", r.Name, r.InstanceID, r.Failure)
	}
	return fmt.Errorf("orchestration %q (instance %q) is %s", r.Name, r.InstanceID, r.Status)
}

// ActionKind says what an Action was: KindActivity, KindTimer,
// KindSubOrchestration, KindEventSent or KindContinueAsNew.
type ActionKind int

// KindActivity is an activity call (one attempt; a retry is an action of
// its own, with the next Attempt).
const KindActivity ActionKind = 1

// KindTimer is a durable timer: CreateTimer or Sleep, a retry's back-off,
// or a WaitForExternalEvent timeout. Its FireAt says when it fires.
const KindTimer ActionKind = 2

// KindSubOrchestration is a sub-orchestration start (one attempt); Target
// is the instance it runs as.
const KindSubOrchestration ActionKind = 3

// KindEventSent is an event sent with SendEvent; Target is the instance it
// was sent to.
const KindEventSent ActionKind = 4

// KindContinueAsNew is a continue-as-new; Input is the next execution's
// input.
const KindContinueAsNew ActionKind = 5

// String names the kind.
func (k ActionKind) String() string {
	switch k {
	case KindActivity:
		return "Activity"
	case KindTimer:
		return "Timer"
	case KindSubOrchestration:
		return "SubOrchestration"
	case KindEventSent:
		return "EventSent"
	case KindContinueAsNew:
		return "ContinueAsNew"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one thing an orchestration did. Fields that do not belong to
// the kind are zero.
type Action struct {
	Kind ActionKind
	// InstanceID is the instance that did it: the orchestration run, or
	// one of its sub-orchestrations.
	InstanceID string
	// Execution is the instance's execution, 1 for the first and one more
	// after each continue-as-new.
	Execution int
	// TaskID is the scheduling event's ID in the execution's history
	// (the ActivityContext's TaskID); -1 for a continue-as-new.
	TaskID int
	// Name is the activity's, sub-orchestrator's or event's name.
	Name string
	// Input is the JSON input of an activity or sub-orchestration, the
	// data of a sent event, or the next execution's input.
	Input string
	// Target is the instance a sub-orchestration runs as, or the one an
	// event was sent to.
	Target string
	// At is the virtual time of the episode that took the action.
	At time.Time
	// FireAt is when a timer fires.
	FireAt time.Time
	// Attempt is 1 for a first call of an activity or sub-orchestration,
	// and n+1 for a call that follows a failed attempt n with the same name
	// and input by the same instance: a retry, whether a RetryPolicy or the
	// orchestrator's own code made it. History does not link retries, so
	// this is how the kit recognises them.
	Attempt int
	// Output is the JSON result of an activity or sub-orchestration that
	// completed; Failure describes one that failed.
	Output  string
	Failure *task.FailureDetails
}
