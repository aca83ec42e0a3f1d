// Package tasktest unit-tests orchestrators in plain `go test`, without
// storage, queues or processes.
//
// An Env runs an orchestration with the same replay engine the function
// app uses, episode by episode as the worker drives it: each episode
// replays the instance's history, takes the new events, appends what the
// engine records and sends what it sends; a continue-as-new opens the next
// execution with the events the engine carries over. What the kit adds is
// an in-memory world around it:
//
//   - activities run at once and one at a time, in the order they were
//     scheduled; OnActivity replaces one with a mock, the others run the
//     registered code;
//   - sub-orchestrations run in the same Env as instances of their own,
//     with the registered code or a mock from OnSubOrchestrator;
//   - time is virtual: it stands still while anything can make progress
//     and jumps to the next due timer (durable timers, retry back-offs,
//     WaitForExternalEvent timeouts) or event raised with RaiseEventAfter
//     when nothing else is left, so a week-long timer takes no real time.
//
// A run that cannot make progress any more (it waits for an event nobody
// raises) ends as Running with Result.Err saying so and naming what each
// unfinished instance waits for (the event's name, the activity or
// sub-orchestration and its task ID, the timer's fire time); a run never
// hangs and stops after MaxEpisodes episodes.
//
// Replay checks a code change against a recorded history, such as one
// printed by `durable get-history --id ID --json --raw`.
package tasktest

import (
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
)

// HistoryEvent is one event of an orchestration's history, the engine's
// own event type; its JSON is what `durable get-history --json --raw`
// prints and what ParseHistory reads.
type HistoryEvent = history.Event

// Status is an orchestration's runtime status, a string such as
// "Completed": the same type as client.RuntimeStatus, so the constants
// below compare with either.
type Status = history.RuntimeStatus

// A run follows continue-as-new to the next execution, so a Result is
// Completed or Failed when the orchestration finished and Running when it
// blocked or was cut short; the other statuses show only in particular
// cases, as each says.

// StatusPending is a run that could not start: Result.Err says why (an
// input that cannot be encoded, a mistake in the Env's configuration).
const StatusPending Status = "Pending"

// StatusRunning is a run that stopped before the orchestration finished:
// it is blocked (ErrBlocked) or reached MaxEpisodes (ErrTooManyEpisodes).
const StatusRunning Status = "Running"

// StatusCompleted is an orchestration that returned without an error;
// Result.Output decodes what it returned.
const StatusCompleted Status = "Completed"

// StatusContinuedAsNew shows only when MaxEpisodes stops a run between two
// executions of a continue-as-new.
const StatusContinuedAsNew Status = "ContinuedAsNew"

// StatusFailed is an orchestration that returned an error or panicked;
// Result.Failure describes the failure.
const StatusFailed Status = "Failed"

// StatusTerminated is an orchestration terminated (the kit itself never
// terminates one).
const StatusTerminated Status = "Terminated"

// StatusSuspended is an orchestration suspended (the kit itself never
// suspends one).
const StatusSuspended Status = "Suspended"

// MaxEpisodes caps the episodes of one run, over all its instances, so that
// an orchestration that never ends (an eternal loop of timers or
// continue-as-new) fails the test instead of hanging it.
const MaxEpisodes = 10000

// DefaultInstanceID is the instance ID Run gives the orchestration.
const DefaultInstanceID = "tasktest-instance"

// defaultStart is the virtual clock's default start: a fixed date, so that
// CurrentUTCDateTime and NewGUID give the same values on every run.
func defaultStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// Env is a test environment for orchestrations: a registry plus mocks and
// scheduled events. Configure it, then call Run as often as needed; every
// run starts from scratch with the same configuration. An Env is not safe
// for concurrent use; use one per test.
type Env struct {
	reg *task.Registry
	// activities are the mocks, as the engine runs them.
	activities map[string]durable.ActivityFunc
	// subs holds each mocked sub-orchestrator in a registry of its own:
	// the engine looks an orchestrator up by name in the registry it is
	// given, and the user's registry cannot be copied or overlaid.
	subs   map[string]*task.Registry
	events []raised
	start  time.Time
	// version is the version the orchestration starts with.
	version string
	// err is the first configuration error, reported by every Run, so
	// that the configuration methods need no error results.
	err error
}

// raised is an event RaiseEvent or RaiseEventAfter scheduled.
type raised struct {
	after time.Duration
	name  string
	data  string
}

// NewEnv returns an environment that runs the orchestrators and activities
// registered in reg. The registry is only read.
func NewEnv(reg *task.Registry) *Env {
	return &Env{reg: reg, activities: map[string]durable.ActivityFunc{}, subs: map[string]*task.Registry{},
		start: defaultStart()}
}

// OnActivity makes the activity called name run fn instead of the
// registered code (or at all, when none is registered). fn sees the same
// ActivityContext the worker gives: input, instance ID and task ID.
func (e *Env) OnActivity(name string, fn task.ActivityFunc) {
	if fn == nil {
		e.fail(fmt.Errorf("tasktest: OnActivity(%q): the mock is nil", name))
		return
	}
	// A registry of its own turns the mock into the engine's form; the
	// name it is registered under there does not matter (the activity
	// sees the name it was called by).
	reg := task.NewRegistry()
	if err := reg.AddActivity("mock", fn); err != nil {
		e.fail(fmt.Errorf("tasktest: OnActivity(%q): %w", name, err))
		return
	}
	e.activities[name], _ = taskbridge.Engine(reg).Activity("mock")
}

// OnSubOrchestrator makes sub-orchestrations called name run fn instead of
// the registered orchestrator. fn is an orchestrator like any other: it
// runs in this Env as an instance of its own, so a mock that only returns
// a value is as valid as one that calls activities.
func (e *Env) OnSubOrchestrator(name string, fn task.OrchestratorFunc) {
	reg := task.NewRegistry()
	if err := reg.AddOrchestrator(name, fn); err != nil {
		e.fail(fmt.Errorf("tasktest: OnSubOrchestrator: %w", err))
		return
	}
	e.subs[name] = reg
}

// RaiseEvent raises an event on the orchestration at the start of the run,
// as a client would right after starting it: the orchestration finds it
// whether it waits for it at once or later. data is encoded as the
// client encodes event data (nil is no data; a json.RawMessage or []byte is
// taken as JSON, which must be valid).
func (e *Env) RaiseEvent(name string, data any) { e.RaiseEventAfter(0, name, data) }

// RaiseEventAfter raises an event on the orchestration d of virtual time
// after the run starts. Events and timers are delivered in virtual-time
// order; at the same instant, raised events come before timers.
func (e *Env) RaiseEventAfter(d time.Duration, name string, data any) {
	s, err := client.EncodeInput(data)
	if err != nil {
		e.fail(fmt.Errorf("tasktest: raise event %q: encode data: %w", name, err))
		return
	}
	if d < 0 {
		d = 0
	}
	e.events = append(e.events, raised{after: d, name: name, data: s})
}

// SetStartTime sets the virtual clock's start (by default 2026-01-01
// 00:00:00 UTC): the time the orchestration starts and from which timers
// and RaiseEventAfter count.
func (e *Env) SetStartTime(t time.Time) { e.start = t.UTC() }

// SetVersion sets the version the orchestration starts with, as
// StartOptions.Version or the app's defaultVersion would (by default none):
// what OrchestrationContext.Version returns, and what sub-orchestrations
// inherit.
func (e *Env) SetVersion(v string) { e.version = v }

// Run runs the orchestrator registered as name with the given input
// (encoded as the client encodes inputs) under DefaultInstanceID until it finishes, blocks or
// reaches MaxEpisodes.
func (e *Env) Run(name string, input any) *Result { return e.RunWithID(DefaultInstanceID, name, input) }

// RunWithID is Run with a chosen instance ID, for orchestrators whose
// behaviour depends on it.
func (e *Env) RunWithID(instanceID, name string, input any) *Result {
	res := &Result{InstanceID: instanceID, Name: name, Status: StatusPending}
	if e.err != nil {
		res.Err = e.err
		return res
	}
	in, err := client.EncodeInput(input)
	if err != nil {
		res.Err = fmt.Errorf("tasktest: run %q: encode input: %w", name, err)
		return res
	}
	if instanceID == "" {
		res.Err = fmt.Errorf("tasktest: run %q: the instance ID is empty", name)
		return res
	}
	return newRun(e).run(res, in)
}

func (e *Env) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}
