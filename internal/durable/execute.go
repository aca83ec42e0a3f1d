package durable

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// Episode is the input of one orchestration run.
type Episode struct {
	// InstanceID is the orchestration instance.
	InstanceID string
	// Past is the current execution's committed history, oldest first.
	Past []history.Event
	// New are events delivered since the last checkpoint (messages), not yet
	// in history. Duplicates and stale results among them are dropped.
	New []history.Event
	// Now stamps this episode's OrchestratorStarted event.
	Now time.Time
	// Versions, when set, is the worker's version policy: an execution
	// whose version it does not run fails (FailureFail) or is left alone
	// (FailureReject: Result.Rejected, nothing appended).
	Versions *VersionPolicy
}

// OutboundKind says where an outbound message goes.
type OutboundKind int

const (
	// ToActivity is a TaskScheduled message for an activity worker.
	ToActivity OutboundKind = iota
	// ToOrchestration is a message for an orchestration's control queue:
	// a timer, a sub-orchestration start, an event, a completion.
	ToOrchestration
)

// Outbound is a message an episode sends.
type Outbound struct {
	Kind    OutboundKind
	Message history.TaskMessage
	// VisibleAt delays delivery (timers); zero means at once.
	VisibleAt time.Time
}

// Result is the outcome of one episode.
type Result struct {
	// Appended are the events to append to the current execution's history.
	Appended []history.Event
	// Outbound are the messages to send.
	Outbound []Outbound
	// Status is the runtime status after the episode.
	Status history.RuntimeStatus
	// Output is the output when Status is terminal: the result (JSON), the
	// failure's text form ("ErrorType: ErrorMessage", as the Durable Task
	// Framework stores it; Failure has the details), or the termination
	// reason (JSON).
	Output string
	// Failure is set when Status is Failed.
	Failure *history.FailureDetails
	// CustomStatus is the custom status JSON ("" when never set).
	CustomStatus string
	// ContinueAsNew, when set, asks the caller to start a new execution.
	ContinueAsNew *ContinueAsNew
	// Name, Version, ExecutionID and Parent describe the execution.
	Name, Version, ExecutionID string
	Parent                     *history.ParentInstance
	// Tags are the execution's start's tags.
	Tags map[string]string
	// Dropped counts new events dropped as duplicates or stale.
	Dropped int
	// SuspendReason is the reason of the last suspend or resume applied,
	// which the Durable Task Framework shows as a suspended (or resumed)
	// instance's output.
	SuspendReason string
	// AwaitedEvents are the names of the external events the code waits
	// for at the end of the episode, sorted. History does not record a
	// wait, so this is the only place that knows it; the test kit uses it
	// to say which event a blocked orchestration needs.
	AwaitedEvents []string
	// Retries are the event IDs of the scheduling events in Appended
	// (TaskScheduled, SubOrchestrationInstanceCreated) that a retry policy
	// issued after a failed attempt. History does not mark a retry, so
	// this is the only place that knows it; the worker counts them once
	// they are checkpointed.
	Retries []int
	// Rejected is set when the episode's version policy does not run the
	// execution and rejects it: nothing ran and nothing is to be recorded;
	// the caller leaves the events for a worker that runs that version.
	Rejected *VersionMismatchError
}

// ContinueAsNew describes the next execution after a continue-as-new.
type ContinueAsNew struct {
	Input string
	// Version is the next execution's version: the current one unless
	// the code named another (WithNewVersion).
	Version string
	// CarryOver are the events received and not consumed, oldest first;
	// they keep their message IDs.
	CarryOver []history.Event
	// Applied are the message IDs of events this and earlier executions
	// consumed, oldest first, at most MaxAppliedMessageIDs: the next
	// execution drops a redelivery of any of them. The caller may remove
	// the IDs of messages it knows can never come back (see the worker).
	Applied []string
	// Inherited is how many of the first Applied IDs this execution
	// inherited from the one before it, and StartedAt when this execution
	// started: those IDs were consumed before then.
	Inherited int
	StartedAt time.Time
	// At is the clock of the episode that continued as new: the next
	// execution's start time. A redo of that episode, whose history records
	// the continue-as-new, has the same clock (see NextExecutionID).
	At time.Time
}

// NextExecutionID is the ID of the execution that follows executionID of
// instanceID by continue-as-new. It is derived, not random, so that a
// crash after the next execution's first episode sent its messages and
// before its checkpoint leads the redo to the same execution, whose
// messages carry the same IDs (they derive from the execution) and are
// dropped as copies.
func NextExecutionID(instanceID, executionID string) string {
	return history.ExecutionID(uuid.NewSHA1(guidNamespace, []byte(instanceID+"/"+executionID+"/next")))
}

// MaxAppliedMessageIDs bounds the message IDs a continue-as-new carries,
// as a safety net on the size of the ExecutionStarted row: the worker keeps
// far fewer (an ID only while its message may still come back), so the
// bound is reached only if that many messages stayed undeleted at once.
const MaxAppliedMessageIDs = 5000

// IsDone reports whether the execution ended (a continue-as-new counts).
func (r *Result) IsDone() bool { return r.Status.IsTerminal() || r.ContinueAsNew != nil }

// NewExecutionEvents builds the events that open the execution following a
// continue-as-new: the caller appends them to an empty history.
func NewExecutionEvents(prev *Result, instanceID, executionID string, now time.Time) []history.Event {
	evs := []history.Event{{
		Type: history.ExecutionStarted, EventID: -1, Timestamp: now,
		Name: prev.Name, Version: prev.ContinueAsNew.Version, Input: prev.ContinueAsNew.Input,
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: instanceID, ExecutionID: executionID},
		ParentInstance:        prev.Parent,
		Tags:                  prev.Tags,
		AppliedMessageIDs:     append([]string(nil), prev.ContinueAsNew.Applied...),
	}}
	return append(evs, prev.ContinueAsNew.CarryOver...)
}

// StoredPrecision is the precision of the times history keeps: the Table
// service stores a DateTime to the 100 ns tick of .NET.
const StoredPrecision = 100 * time.Nanosecond

// atStoredPrecision cuts the episode's clock and the timestamps of its new
// events to StoredPrecision, as history will hold them. Without that the
// first run of an episode saw times (CurrentUTCDateTime, and NewGuid,
// which derives from it) up to 99 ns later than every replay of it from
// storage, so code that derives anything from them (a bulk operation's
// message IDs, say) was not deterministic. Past events come from storage
// or from earlier episodes' results, both already cut.
func atStoredPrecision(ep Episode) Episode {
	ep.Now = ep.Now.Truncate(StoredPrecision)
	if len(ep.New) > 0 {
		evs := make([]history.Event, len(ep.New))
		for i, e := range ep.New {
			e.Timestamp = e.Timestamp.Truncate(StoredPrecision)
			evs[i] = e
		}
		ep.New = evs
	}
	return ep
}

// execution is the state of one Execute call. It is touched by the
// orchestrator goroutine while that runs and by Execute otherwise, never by
// both at once.
type execution struct {
	reg         *Registry
	instanceID  string
	executionID string
	name        string
	version     string
	input       string
	parent      *history.ParentInstance
	// tags are the execution's start's Tags, carried to the executions a
	// continue-as-new starts.
	tags   map[string]string
	logger *slog.Logger
	// workerVersion is the version of the worker running the episode (its
	// policy's), which an entity gives the orchestrations it starts.
	workerVersion string

	events []history.Event // past, then OrchestratorStarted, then accepted new events
	// pastLen counts the events of events that earlier episodes consumed:
	// the code replays while its cursor is within them.
	pastLen int
	// park, when set, keeps the orchestrator goroutine parked where history
	// runs out, for the next episode to resume (see Session); without it
	// the goroutine exits there.
	park         *parking
	panicDetails *history.FailureDetails
	// ended is set when past already records this execution's
	// continue-as-new: new events then belong to the next execution (late).
	ended  bool
	late   []history.Event
	cursor int // events consumed
	now    time.Time

	seq         int
	actions     map[int]*action
	actionOrder []*action
	// recorded counts the first actions of actionOrder that a Session knows
	// to be in history, which settle need not look at again.
	recorded    int
	waiters     map[string][]*task
	buffered    map[string][]history.Event
	bufferOrder []history.Event
	suspended   bool
	// suspendReason is the reason of the last suspend or resume.
	suspendReason string
	deferred      []history.Event
	customStatus  string
	guidCounter   int
	// patches are the patch decisions of this execution; newPatches
	// those decided true in this episode's new work, to be recorded.
	patches    map[string]bool
	newPatches []string

	// entitySorter orders what this execution sends to entities; locks
	// are the entities its critical section holds, taken by lock request
	// lockID.
	entitySorter entity.Sorter
	locks        []entity.ID
	lockID       string

	// unwinding is set while the goroutine unwinds at a wait (see unwind).
	unwinding bool
	// startedAt is the execution's ExecutionStarted time and prevNow the
	// clock of the episode before the current one: both are recorded in
	// history before the current episode, so a redo of an episode that was
	// not recorded sees them as the first attempt did (see labelTime).
	startedAt, prevNow time.Time

	continueAsNew *string
	// continueVersion is the version a continue-as-new names, if any.
	continueVersion *string
	finished        bool
	output          string
	err             error
	nondet          error
	terminated      *history.Event
}

type action struct {
	id          int
	kind        history.EventType
	name        string
	input       string
	instanceID  string
	executionID string
	version     string
	fireAt      time.Time
	task        *task
	inHistory   bool
	completed   bool
	// retry marks a scheduling a retry policy issued after a failed
	// attempt (see Result.Retries).
	retry bool
	// messageID, when set, is the ID of the message the action sends,
	// instead of one derived from the execution and the action.
	messageID string
	// fireAndForget marks a sub-orchestration started for no one to wait
	// for (an entity's start of an orchestration); notify is then the
	// operation it signals its starter when it ends ("" for none).
	fireAndForget bool
	notify        string
	// terminate makes an EventSent the termination of its target, with
	// the input as reason.
	terminate bool
}

// Execute runs one episode of an orchestration. It never panics because of
// user code: panics, errors and non-determinism become a Failed result.
func Execute(reg *Registry, ep Episode, logger *slog.Logger) *Result {
	res, _ := execute(reg, ep, logger, nil)
	return res
}

// execute is Execute; with park set, the orchestrator goroutine stays
// parked where history runs out, and the execution is returned for a
// Session to resume (nil when the goroutine ended).
func execute(reg *Registry, ep Episode, logger *slog.Logger, park *parking) (*Result, *execution) {
	if logger == nil {
		logger = slog.Default()
	}
	ep = atStoredPrecision(ep)
	x := &execution{reg: reg, instanceID: ep.InstanceID, actions: map[int]*action{},
		waiters: map[string][]*task{}, buffered: map[string][]history.Event{}, pastLen: len(ep.Past), now: ep.Now,
		workerVersion: ep.Versions.version()}
	x.logger = slog.New(replaySafeHandler{inner: logger.Handler(), x: x}).With("instanceId", ep.InstanceID)

	accepted, dropped := x.filterNew(ep.Past, ep.New)
	res := &Result{Dropped: dropped}
	if x.ended = EndedByContinueAsNew(ep.Past); x.ended {
		// A crash came between recording the continue-as-new and starting
		// the next execution: replay to rebuild the carry-over, and hand
		// the new events to the next execution.
		x.events, x.late = ep.Past, accepted
	} else {
		x.events = append(append(append(make([]history.Event, 0, len(ep.Past)+len(accepted)+1), ep.Past...),
			history.Event{Type: history.OrchestratorStarted, EventID: -1, Timestamp: ep.Now}), accepted...)
	}
	res.Appended = played(x.events[len(ep.Past):])

	var start *history.Event
	for i := range x.events {
		if x.events[i].Type == history.ExecutionStarted {
			start = &x.events[i]
			break
		}
	}
	if start == nil {
		// Nothing to run yet: events for an instance that has not started are
		// recorded so they are delivered once it does.
		res.Status = history.StatusPending
		res.Appended = nil
		return res, nil
	}
	x.name, x.version, x.input, x.parent, x.tags = start.Name, start.Version, start.Input, start.ParentInstance, start.Tags
	if start.OrchestrationInstance != nil {
		x.executionID = start.OrchestrationInstance.ExecutionID
	}
	res.Name, res.Version, res.ExecutionID, res.Parent, res.Tags = x.name, x.version, x.executionID, x.parent, x.tags

	// A history that records its continue-as-new is finished here whatever
	// the policy: what is left is to start the next execution.
	// Entities have no version: any worker runs them.
	if err := ep.Versions.Check(x.name, x.version); err != nil && !x.ended && !entity.IsEntity(ep.InstanceID) {
		mismatch := err.(*VersionMismatchError)
		if ep.Versions.Failure != FailureFail {
			return &Result{Rejected: mismatch, Status: history.StatusPending, Name: x.name, Version: x.version,
				ExecutionID: x.executionID, Parent: x.parent}, nil
		}
		x.finishFailed(&history.FailureDetails{ErrorType: mismatch.ErrorType(), ErrorMessage: mismatch.Error()}, res)
		return res, nil
	}
	fn, ok := reg.Orchestrator(x.name)
	if id, isEntity := entity.Parse(ep.InstanceID); isEntity {
		// An entity's executions run its batches, whatever their name.
		efn, _ := reg.Entity(id.Name)
		fn, ok = entityBatch(id, efn), true
	}
	if !ok {
		x.finishFailed(&history.FailureDetails{ErrorType: "OrchestratorNotFound",
			ErrorMessage: fmt.Sprintf("orchestrator %q is not registered in this app", x.name)}, res)
		return res, nil
	}
	if x.ended {
		park = nil // the execution is over: nothing to resume
	}
	x.park = park
	outcome := x.run(fn)
	x.finish(res)
	if outcome != outcomeParked {
		return res, nil
	}
	return res, x
}

// played copies the events an episode takes in, marked played, as its
// result appends them to history.
func played(events []history.Event) []history.Event {
	out := append([]history.Event(nil), events...)
	for i := range out {
		out[i].IsPlayed = true
	}
	return out
}

// finish settles the episode's result and stamps what history records of
// it besides the events: the custom status on OrchestratorCompleted.
func (x *execution) finish(res *Result) {
	x.settle(res)
	for i := range res.Appended {
		if res.Appended[i].Type == history.OrchestratorCompleted {
			cs := res.CustomStatus
			res.Appended[i].CustomStatus = &cs
		}
	}
	res.AwaitedEvents = x.awaitedEvents()
}

// EndedByContinueAsNew reports whether an execution's history records its
// continue-as-new, so that what is left to do is to start the next one.
// The event is followed by OrchestratorCompleted, so it is looked for from
// the end rather than taken as the last event.
func EndedByContinueAsNew(events []history.Event) bool {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Type {
		case history.ContinueAsNew:
			return true
		case history.OrchestratorCompleted:
			continue
		}
		return false
	}
	return false
}

// filterNew drops duplicate and stale messages: a message whose ID history
// (or the continue-as-new that opened it) already holds, results for tasks
// that history does not hold as pending, repeated timers, repeated starts.
func (x *execution) filterNew(past, incoming []history.Event) (accepted []history.Event, dropped int) {
	d := newDedup()
	d.add(past)
	return d.filter(incoming)
}

// dedup is what filterNew knows of history: built from the whole history
// for a replay, kept up to date episode by episode by a Session, so that a
// parked orchestration's episode does not read the history again.
type dedup struct {
	scheduled, resolved, timers, fired map[int]bool
	seen                               map[string]bool
	started                            bool
	execution                          string
}

func newDedup() *dedup {
	return &dedup{scheduled: map[int]bool{}, resolved: map[int]bool{}, timers: map[int]bool{}, fired: map[int]bool{},
		seen: map[string]bool{}}
}

// add takes in events recorded in history.
func (d *dedup) add(events []history.Event) {
	for _, e := range events {
		if e.MessageID != "" {
			d.seen[e.MessageID] = true
		}
		switch e.Type {
		case history.ExecutionStarted:
			d.started = true
			if e.OrchestrationInstance != nil {
				d.execution = e.OrchestrationInstance.ExecutionID
			}
			for _, id := range e.AppliedMessageIDs {
				d.seen[id] = true
			}
		case history.TaskScheduled, history.SubOrchestrationInstanceCreated:
			d.scheduled[e.EventID] = true
		case history.TimerCreated:
			d.timers[e.EventID] = true
		case history.TimerFired:
			d.fired[e.TimerID] = true
		default:
			if e.IsTaskResult() {
				d.resolved[e.TaskScheduledID] = true
			}
		}
	}
}

// filter splits incoming events into those to apply and the count of
// those dropped, and takes in the accepted ones as add would.
func (d *dedup) filter(incoming []history.Event) (accepted []history.Event, dropped int) {
	for _, e := range incoming {
		if e.MessageID != "" {
			if d.seen[e.MessageID] {
				dropped++
				continue
			}
			d.seen[e.MessageID] = true
		}
		ok := true
		// A result or timer addressed to another execution (one this
		// instance continued from) resolves nothing here, even when a task
		// of the same ID exists.
		stale := e.TargetExecutionID != "" && d.execution != "" && e.TargetExecutionID != d.execution
		switch {
		case e.Type == history.ExecutionStarted:
			ok = !d.started
			if ok && e.OrchestrationInstance != nil {
				d.execution = e.OrchestrationInstance.ExecutionID
			}
			d.started = true
		case stale && (e.IsTaskResult() || e.Type == history.TimerFired):
			ok = false
		case e.IsTaskResult():
			ok = d.scheduled[e.TaskScheduledID] && !d.resolved[e.TaskScheduledID]
			d.resolved[e.TaskScheduledID] = true
		case e.Type == history.TimerFired:
			ok = d.timers[e.TimerID] && !d.fired[e.TimerID]
			d.fired[e.TimerID] = true
		}
		if ok {
			accepted = append(accepted, e)
		} else {
			dropped++
		}
	}
	return accepted, dropped
}

// runOutcome is how the orchestrator goroutine ended: blocked means it was
// parked on a task whose outcome history does not hold yet.
type runOutcome int

const (
	outcomeReturned runOutcome = iota
	outcomeBlocked
	outcomePanicked
	// outcomeParked: blocked, with the goroutine parked for a Session.
	outcomeParked
)

// run starts the orchestrator goroutine and returns how the episode's part
// of it ended.
func (x *execution) run(fn OrchestratorFunc) runOutcome {
	// Consume events up to and including ExecutionStarted so the clock and
	// the replay flag are right before user code runs.
	for x.cursor < len(x.events) {
		e := x.events[x.cursor]
		x.cursor++
		if e.Type == history.OrchestratorStarted {
			x.now = e.Timestamp
		}
		if e.Type == history.ExecutionStarted {
			x.startedAt = e.Timestamp
			break
		}
	}
	done := make(chan runOutcome, 1)
	if x.park != nil {
		x.park.done = done
	}
	go func() {
		outcome := outcomeBlocked
		defer func() {
			if p := recover(); p != nil {
				x.panicDetails = failureFromPanic(p)
				outcome = outcomePanicked
			}
			done <- outcome
		}()
		out, err := fn(&OrchestrationContext{x: x})
		x.finished = true
		x.err = err
		if err == nil && x.continueAsNew == nil {
			s, merr := marshalJSON(out)
			if merr != nil {
				x.err = fmt.Errorf("encode orchestrator output: %w", merr)
			}
			x.output = s
		}
		outcome = outcomeReturned
	}()
	return x.settleOutcome(<-done)
}

// settleOutcome takes in how the goroutine's part of the episode ended.
func (x *execution) settleOutcome(o runOutcome) runOutcome {
	switch o {
	case outcomePanicked:
		if x.nondet == nil && x.terminated == nil {
			x.finished, x.err = true, &panicError{details: x.panicDetails}
		}
	case outcomeReturned:
		// Consume what is left so that actions recorded in history but no
		// longer issued by the code are caught as non-determinism.
		for x.nondet == nil && x.terminated == nil && x.step() {
		}
	}
	return o
}

type panicError struct{ details *history.FailureDetails }

func (e *panicError) Error() string { return e.details.ErrorMessage }

// replaying reports whether the last consumed event is part of the past.
func (x *execution) replaying() bool { return x.cursor <= x.pastLen }

// waitFor feeds history events until t is done. When history runs out the
// orchestrator goroutine is parked for good: Goexit unwinds it without
// giving user code a chance to swallow the stop, unlike a panic.
func (x *execution) waitFor(t *task) {
	x.waitUntil(func() bool { return t.done })
}

// waitUntil feeds history events until done holds, parking the goroutine
// as waitFor does when history runs out first.
func (x *execution) waitUntil(done func() bool) {
	for !done() {
		if x.nondet != nil || x.terminated != nil {
			x.unwind()
		}
		if x.step() {
			continue
		}
		if x.park == nil {
			x.unwind()
		}
		// Parked for a Session: the next episode appends its events and
		// resumes right here; a closed session unwinds the goroutine.
		x.park.done <- outcomeParked
		if _, ok := <-x.park.resume; !ok {
			x.unwind()
		}
	}
}

// unwind ends the orchestrator goroutine where it waits. Its deferred
// calls run then, but what they issue (a deferred release of entity locks,
// say) is not recorded: the code did not get there, and a replay that does
// get past the wait must not find it in history already.
func (x *execution) unwind() {
	x.unwinding = true
	runtime.Goexit()
}

// step applies the next history event. It returns false when none is left.
func (x *execution) step() bool {
	if x.cursor >= len(x.events) {
		return false
	}
	e := x.events[x.cursor]
	x.cursor++
	x.apply(e)
	return true
}

func (x *execution) apply(e history.Event) {
	if x.suspended && e.Type != history.ExecutionResumed && e.Type != history.ExecutionTerminated &&
		e.Type != history.OrchestratorStarted && e.Type != history.OrchestratorCompleted {
		x.deferred = append(x.deferred, e)
		return
	}
	switch e.Type {
	case history.OrchestratorStarted:
		x.prevNow, x.now = x.now, e.Timestamp
	case history.ExecutionSuspended:
		x.suspended = true
		x.suspendReason = e.Reason
	case history.ExecutionResumed:
		x.suspended = false
		x.suspendReason = e.Reason
		pending := x.deferred
		x.deferred = nil
		for _, d := range pending {
			x.apply(d)
		}
	case history.ExecutionTerminated:
		ev := e
		x.terminated = &ev
	case history.TaskScheduled, history.SubOrchestrationInstanceCreated, history.TimerCreated, history.EventSent:
		x.matchAction(e)
	case history.TaskCompleted, history.SubOrchestrationInstanceCompleted:
		if a := x.actions[e.TaskScheduledID]; a != nil && !a.completed {
			a.completed = true
			a.task.complete(e.Result, nil)
		}
	case history.TaskFailed, history.SubOrchestrationInstanceFailed:
		if a := x.actions[e.TaskScheduledID]; a != nil && !a.completed {
			a.completed = true
			kind := "activity"
			if a.kind == history.SubOrchestrationInstanceCreated {
				kind = "sub-orchestration"
			}
			fd := e.FailureDetails
			if fd == nil {
				fd = &history.FailureDetails{ErrorType: "Error", ErrorMessage: e.Reason, StackTrace: e.Details}
			}
			a.task.complete("", &TaskFailedError{Kind: kind, Name: a.name, TaskID: a.id, Details: fd})
		}
	case history.TimerFired:
		if a := x.actions[e.TimerID]; a != nil && a.kind == history.TimerCreated && !a.completed {
			a.completed = true
			a.task.complete("", nil)
		}
	case history.EventRaised:
		key := eventKey(e.Name)
		// Once the code has returned, waiters left behind (say, the loser of
		// a WhenAny) must not swallow events meant for the next execution.
		if ws := x.waiters[key]; len(ws) > 0 && !x.finished {
			x.waiters[key] = ws[1:]
			ws[0].complete(e.Input, nil)
			return
		}
		x.buffered[key] = append(x.buffered[key], e)
		x.bufferOrder = append(x.bufferOrder, e)
	}
}

// matchAction pairs a scheduling event from history with the action the
// code issued under the same ID; any mismatch is non-determinism.
func (x *execution) matchAction(e history.Event) {
	a := x.actions[e.EventID]
	switch {
	case a == nil:
		x.nondet = &NonDeterminismError{Message: fmt.Sprintf(
			"history records %s #%d (%q) but the orchestrator code did not issue it", e.Type, e.EventID, e.Name)}
	case a.kind != e.Type || (e.Type != history.TimerCreated && a.name != e.Name):
		x.nondet = &NonDeterminismError{Message: fmt.Sprintf(
			"history records %s #%d (%q) but the orchestrator code now issues %s #%d (%q)",
			e.Type, e.EventID, e.Name, a.kind, a.id, a.name)}
	default:
		a.inHistory = true
	}
}

func (x *execution) newAction(kind history.EventType, name, input string) *action {
	a := &action{id: x.seq, kind: kind, name: name, input: input, task: &task{x: x}}
	if x.unwinding {
		return a // issued by deferred code while unwinding: not recorded
	}
	x.seq++
	x.actions[a.id] = a
	x.actionOrder = append(x.actionOrder, a)
	return a
}

func (x *execution) failedTask(err error) *task {
	t := &task{x: x}
	t.complete("", err)
	return t
}

func (x *execution) call(kind history.EventType, name string, input any, opts []CallOption) Task {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	in, err := marshalJSON(input)
	if err != nil {
		return x.failedTask(fmt.Errorf("call %q: encode input: %w", name, err))
	}
	if o.instanceID != "" && kind != history.SubOrchestrationInstanceCreated {
		return x.failedTask(fmt.Errorf("call %q: WithInstanceID applies to sub-orchestrations only", name))
	}
	if o.version != nil && kind != history.SubOrchestrationInstanceCreated {
		return x.failedTask(fmt.Errorf("call %q: WithVersion applies to sub-orchestrations only", name))
	}
	if kind == history.SubOrchestrationInstanceCreated && len(x.locks) > 0 {
		return x.failedTask(fmt.Errorf("call %q: %w: no sub-orchestration while entities are locked", name, ErrCriticalSection))
	}
	// A sub-orchestration runs at its parent's version unless the call
	// names one.
	version := x.version
	if o.version != nil {
		version = *o.version
	}
	if kind != history.SubOrchestrationInstanceCreated {
		version = ""
	}
	if o.retry == nil {
		return x.schedule(kind, name, in, o.instanceID, version)
	}
	if err := o.retry.validate(); err != nil {
		return x.failedTask(fmt.Errorf("call %q: %w", name, err))
	}
	// Retries are ordinary orchestration steps: a new scheduling per
	// attempt with a durable timer in between, so they replay exactly.
	outer := &task{x: x}
	policy := o.retry
	first := x.now
	attempt := 0
	var try func()
	try = func() {
		attempt++
		inner := x.schedule(kind, name, in, o.instanceID, version)
		if attempt > 1 {
			x.actionOrder[len(x.actionOrder)-1].retry = true // the action schedule just issued
		}
		inner.then(func() {
			var tf *TaskFailedError
			// A failure marked non-retriable would fail the same way again,
			// so no policy retries it, whatever Handle would say.
			if inner.err == nil || attempt >= policy.MaxAttempts || !errors.As(inner.err, &tf) ||
				(tf.Details != nil && tf.Details.IsNonRetriable) || (policy.Handle != nil && !policy.Handle(tf)) {
				outer.complete(inner.result, inner.err)
				return
			}
			fire := x.now.Add(policy.delay(attempt))
			if policy.RetryTimeout > 0 && fire.Sub(first) > policy.RetryTimeout {
				outer.complete(inner.result, inner.err)
				return
			}
			x.createTimer(fire).then(try)
		})
	}
	try()
	return outer
}

func (x *execution) schedule(kind history.EventType, name, input, instanceID, version string) *task {
	a := x.newAction(kind, name, input)
	if kind == history.SubOrchestrationInstanceCreated {
		a.version = version
		if instanceID == "" {
			// The Durable Task Framework's default, which tools such as
			// Durable Functions Monitor use to find a child's parent.
			instanceID = fmt.Sprintf("%s:%d", x.executionID, a.id)
		}
		a.instanceID = instanceID
		a.executionID = uuid.NewSHA1(guidNamespace, []byte(fmt.Sprintf("%s/%s/%d", x.executionID, instanceID, a.id))).String()
	}
	return a.task
}

func (x *execution) createTimer(fireAt time.Time) *task {
	a := x.newAction(history.TimerCreated, "", "")
	a.fireAt = fireAt
	return a.task
}

func (x *execution) waitForEvent(name string, timeout time.Duration) Task {
	key := eventKey(name)
	t := &task{x: x, event: name}
	if evs := x.buffered[key]; len(evs) > 0 {
		x.buffered[key] = evs[1:]
		x.unbuffer(evs[0])
		t.complete(evs[0].Input, nil)
		return t
	}
	x.waiters[key] = append(x.waiters[key], t)
	if timeout > 0 {
		x.createTimer(x.now.Add(timeout)).then(func() {
			if t.done {
				return
			}
			ws := x.waiters[key]
			for i, w := range ws {
				if w == t {
					x.waiters[key] = append(ws[:i:i], ws[i+1:]...)
					break
				}
			}
			t.complete("", fmt.Errorf("wait for event %q: %w", name, ErrTimedOut))
		})
	}
	return t
}

// unbuffer removes a consumed event from the carry-over order.
func (x *execution) unbuffer(e history.Event) {
	for i := range x.bufferOrder {
		if x.bufferOrder[i].EventID == e.EventID && x.bufferOrder[i].Timestamp.Equal(e.Timestamp) &&
			x.bufferOrder[i].Name == e.Name && x.bufferOrder[i].Input == e.Input {
			x.bufferOrder = append(x.bufferOrder[:i:i], x.bufferOrder[i+1:]...)
			return
		}
	}
}

func (x *execution) sendEvent(instanceID, eventName string, data any) error {
	return x.sendEventAs("", instanceID, eventName, data, time.Time{})
}

// sendEventAs raises an event on another instance, delivered at at (at
// once when zero), in a message whose ID the caller chose ("" for the
// usual one, derived from the execution and the action).
func (x *execution) sendEventAs(messageID, instanceID, eventName string, data any, at time.Time) error {
	in, err := marshalJSON(data)
	if err != nil {
		return fmt.Errorf("send event %q: encode data: %w", eventName, err)
	}
	a := x.newAction(history.EventSent, eventName, in)
	a.instanceID, a.fireAt, a.messageID = instanceID, at, messageID
	// Sending is fire-and-forget: nothing ever completes the task.
	return nil
}

// startOrchestrationAs starts orchestration name as instance instanceID
// with input (JSON text), fire and forget, in a message with the given ID:
// an entity's start of an orchestration, sent by the execution after the
// batch that decided it. The new execution's ID derives from the message
// ID, so that a copy sent again names the same execution and is dropped.
func (x *execution) startOrchestrationAs(messageID, instanceID, name, version, input, notify string) {
	a := x.newAction(history.SubOrchestrationInstanceCreated, name, input)
	a.instanceID, a.messageID, a.fireAndForget, a.version, a.notify = instanceID, messageID, true, version, notify
	a.executionID = uuid.NewSHA1(guidNamespace, []byte("start/"+messageID)).String()
}

// terminateAs terminates instance instanceID with reason (JSON text), in a
// message with the given ID: an entity's termination of an orchestration
// it started, sent by the execution after the batch that decided it.
func (x *execution) terminateAs(messageID, instanceID, reason string) {
	a := x.newAction(history.EventSent, "$terminate", reason)
	a.instanceID, a.messageID, a.terminate = instanceID, messageID, true
}

// receiveAll waits until the execution holds an event that no waiter
// took, then takes in every event left in history and hands over all such
// events, in the order they came, as consumed: an entity's batch is every
// message of its episode.
func (x *execution) receiveAll() []history.Event {
	x.waitUntil(func() bool { return len(x.bufferOrder) > 0 })
	for x.nondet == nil && x.terminated == nil && x.step() {
	}
	got := x.bufferOrder
	x.bufferOrder = nil
	clear(x.buffered)
	return got
}
