// Package task is the programming model of Durable Functions for Go:
// orchestrators and activities, the registry that names them, the tasks an
// orchestrator awaits, retry policies and the errors it sees.
//
// An orchestrator is a deterministic Go function replayed from its
// history: everything that varies between runs (time, GUIDs, I/O) comes
// from its OrchestrationContext, and every durable step (an activity, a
// sub-orchestration, a timer, an external event) is a Task it awaits. An
// activity is ordinary Go code that may do I/O; it runs at least once per
// scheduling, so it must tolerate running twice.
//
// Register both in a Registry and hand it to funcapp.Run, which serves the
// function app; test orchestrators with package tasktest.
package task

import (
	"time"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// OrchestratorFunc is an orchestrator. It must be deterministic; its
// return value is encoded as JSON and becomes the instance's output, and a
// non-nil error fails the instance with that error's details.
type OrchestratorFunc = durable.OrchestratorFunc

// ActivityFunc is an activity. Its result is encoded as JSON; an error
// reaches the orchestrator as a *TaskFailedError. An error may name its
// type in the failure details by implementing ErrorType() string.
type ActivityFunc = durable.ActivityFunc

// Registry maps orchestrator and activity names to code. Fill it before
// the app starts; it is read concurrently afterwards.
type Registry = durable.Registry

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return durable.NewRegistry() }

// OrchestrationContext is what an orchestrator receives: its input and
// identity, a replay-safe clock, logger and GUIDs, and the calls that
// start durable tasks (CallActivity, CallSubOrchestrator, CreateTimer,
// Sleep, WaitForExternalEvent, SendEvent, WhenAll, WhenAny,
// ContinueAsNew, SetCustomStatus), and its version (Version) and patches
// (IsPatched) for changes deployed while instances are in flight.
type OrchestrationContext = durable.OrchestrationContext

// ActivityContext is what an activity receives: its input, its
// orchestration's instance ID, its task ID and a context.Context that ends
// when the app shuts down.
type ActivityContext = durable.ActivityContext

// Task is a durable operation an orchestrator started. Await blocks until
// history holds its outcome and decodes its JSON result.
type Task = durable.Task

// RetryPolicy retries a failed activity or sub-orchestration with durable
// timers in between: MaxAttempts in all, waiting FirstRetryInterval, then
// multiplied by BackoffCoefficient each time up to MaxRetryInterval, within
// RetryTimeout overall; Handle, when set, decides which failures to retry.
type RetryPolicy = durable.RetryPolicy

// CallOption adjusts CallActivity and CallSubOrchestrator.
type CallOption = durable.CallOption

// EventOption adjusts WaitForExternalEvent.
type EventOption = durable.EventOption

// WithRetry retries the call according to p.
func WithRetry(p RetryPolicy) CallOption { return durable.WithRetry(p) }

// WithInstanceID sets a sub-orchestration's instance ID. Without it the ID
// is "{parent's execution ID}:{task ID}", as in the Durable Task Framework.
func WithInstanceID(id string) CallOption { return durable.WithInstanceID(id) }

// WithVersion sets a sub-orchestration's version; without it the child
// runs at its parent's version (OrchestrationContext.Version).
func WithVersion(v string) CallOption { return durable.WithVersion(v) }

// ContinueAsNewOption adjusts ContinueAsNew.
type ContinueAsNewOption = durable.ContinueAsNewOption

// WithNewVersion gives the execution a continue-as-new starts another
// version; without it the version is kept.
func WithNewVersion(v string) ContinueAsNewOption { return durable.WithNewVersion(v) }

// WithTimeout gives up waiting for an external event after d of
// orchestration time: the task's Await returns ErrTimedOut, and the event,
// if it comes later, is kept for the next wait.
func WithTimeout(d time.Duration) EventOption { return durable.WithTimeout(d) }

// TaskFailedError is how an orchestrator sees a failed activity or
// sub-orchestration: its name, task ID and the remote failure details.
type TaskFailedError = durable.TaskFailedError

// FailureDetails describe an error raised by an activity, a
// sub-orchestration or orchestrator code: its type name, message, stack
// and inner failure, in the Durable Task Framework's shape.
type FailureDetails = history.FailureDetails

// NonDeterminismError is the failure of an orchestration whose code, on
// replay, no longer issues the actions its history records.
type NonDeterminismError = durable.NonDeterminismError

// ErrTimedOut is returned by the Await of a WaitForExternalEvent task whose
// WithTimeout ran out.
var ErrTimedOut = durable.ErrTimedOut

// CompareVersions orders two orchestration versions as Durable Functions
// does: negative when a is older than b, zero when equal, positive when
// newer. An unset version ("") equals another unset one and is older than
// any other; two numeric versions ("1", "1.2", "1.2.3.4") compare
// numerically, a missing component sorting first ("1.2" < "1.2.0", as in
// .NET); anything else compares as case-insensitive text.
func CompareVersions(a, b string) int { return durable.CompareVersions(a, b) }
