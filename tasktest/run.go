package tasktest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
)

// runner is the in-memory world of one Run: instances with their history
// and inbox, a virtual clock and the messages due later. It plays the
// worker's part around durable.Execute, one instance episode at a time.
type runner struct {
	env   *Env
	start time.Time
	now   time.Time
	insts map[string]*instance
	// order lists instances as they appeared, for reports that read the
	// same on every run.
	order []*instance
	// ready are the instances with an inbox to process, first come first
	// served, as a worker takes its control queue.
	ready []*instance
	// future holds timers and delayed events, by due time, then by the
	// order they were scheduled in.
	future   []delivery
	seq      int
	episodes int
	actions  []Action
	// subs maps "instance/taskID" to the index in actions of the
	// sub-orchestration whose outcome is still to come.
	subs map[string]int
	// failed maps a call's identity to its failed attempts not yet
	// retried, to number retries (see Action.Attempt).
	failed map[string][]int
}

type instance struct {
	id  string
	reg *task.Registry
	// past is the current execution's history; inbox the events delivered
	// since its last episode.
	past  []history.Event
	inbox []history.Event
	// queued says it is in runner.ready.
	queued      bool
	last        *durable.Result
	execution   int
	executionID string
}

func (in *instance) finished() bool { return in.last != nil && in.last.Status.IsTerminal() }

// delivery is a message that becomes visible at a virtual time.
type delivery struct {
	at  time.Time
	seq int
	to  string
	ev  history.Event
}

func newRun(e *Env) *runner {
	return &runner{env: e, start: e.start, now: e.start, insts: map[string]*instance{},
		subs: map[string]int{}, failed: map[string][]int{}}
}

func (r *runner) run(res *Result, input string) *Result {
	root := r.instance(res.InstanceID)
	// The client's start message: an ExecutionStarted under a fresh
	// execution ID, then whatever was raised right after it.
	r.deliver(root.id, history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: r.now,
		Name: res.Name, Version: r.env.version, Input: input, MessageID: r.messageID(root.id),
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: root.id, ExecutionID: executionID(root.id, 1)}})
	for _, ev := range r.env.events {
		at := r.start.Add(ev.after)
		msg := history.Event{Type: history.EventRaised, EventID: -1, Timestamp: at, Name: ev.name, Input: ev.data,
			MessageID: r.messageID(root.id)}
		if ev.after == 0 {
			r.deliver(root.id, msg)
		} else {
			r.later(at, root.id, msg)
		}
	}

	for !root.finished() {
		if len(r.ready) == 0 {
			if !r.advance() {
				res.Err = fmt.Errorf("%w: %s", ErrBlocked, r.describeBlocked())
				break
			}
			continue
		}
		if r.episodes >= MaxEpisodes {
			res.Err = fmt.Errorf("%w: the run reached %d episodes (virtual time %s) without %q finishing",
				ErrTooManyEpisodes, MaxEpisodes, r.now.Sub(r.start), res.Name)
			break
		}
		inst := r.ready[0]
		r.ready = r.ready[1:]
		r.episode(inst)
	}

	res.Actions = r.actions
	res.History = append([]HistoryEvent(nil), root.past...)
	res.Executions = root.execution
	res.Elapsed = r.now.Sub(r.start)
	res.Episodes = r.episodes
	if last := root.last; last != nil {
		res.Status, res.Failure, res.output, res.customStatus = last.Status, publicFailure(last.Failure), last.Output, last.CustomStatus
	}
	return res
}

// instance returns the instance with the given ID, adding it when new.
func (r *runner) instance(id string) *instance {
	inst := r.insts[id]
	if inst == nil {
		inst = &instance{id: id}
		r.insts[id] = inst
		r.order = append(r.order, inst)
	}
	return inst
}

// deliver puts an event in an instance's inbox for its next episode.
func (r *runner) deliver(to string, ev history.Event) {
	inst := r.instance(to)
	inst.inbox = append(inst.inbox, ev)
	if !inst.queued && (len(inst.past) > 0 || hasStart(inst.inbox) || entity.IsEntity(to)) {
		inst.queued = true
		r.ready = append(r.ready, inst)
	}
}

// later schedules a delivery at a virtual time.
func (r *runner) later(at time.Time, to string, ev history.Event) {
	r.seq++
	d := delivery{at: at, seq: r.seq, to: to, ev: ev}
	i := sort.Search(len(r.future), func(i int) bool {
		f := r.future[i]
		return f.at.After(at) || (f.at.Equal(at) && f.seq > d.seq)
	})
	r.future = append(r.future, delivery{})
	copy(r.future[i+1:], r.future[i:])
	r.future[i] = d
}

// advance moves the clock to the next due delivery and delivers every
// message due by then. It reports false when nothing is left to come.
func (r *runner) advance() bool {
	if len(r.future) == 0 {
		return false
	}
	if at := r.future[0].at; at.After(r.now) {
		r.now = at
	}
	for len(r.future) > 0 && !r.future[0].at.After(r.now) {
		d := r.future[0]
		r.future = r.future[1:]
		r.deliver(d.to, d.ev)
	}
	return true
}

// episode processes an instance's inbox as the worker does: one Execute
// over history and the new events, then the outbound messages; after a
// continue-as-new, at once the next execution's first episode.
func (r *runner) episode(inst *instance) {
	batch := inst.inbox
	inst.inbox, inst.queued = nil, false
	if inst.finished() {
		// A finished instance drops what it receives, unless it is started
		// again (a sub-orchestration ID reused after it ended).
		batch = restartEvents(batch, inst.executionID)
		if len(batch) == 0 {
			return
		}
		inst.past, inst.last, inst.execution = nil, nil, 0
	}
	if len(inst.past) == 0 {
		if !hasStart(batch) && entity.IsEntity(inst.id) {
			// An entity starts with its first message, as the worker starts
			// it: an execution named by its instance ID, without input.
			batch = append([]history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: r.now, Name: inst.id,
				OrchestrationInstance: &history.OrchestrationInstance{InstanceID: inst.id, ExecutionID: executionID(inst.id, 1)}}}, batch...)
		}
		// The engine skips what precedes ExecutionStarted in a first
		// episode; events that came before the start go after it.
		batch = startFirst(batch)
		if inst.reg == nil {
			inst.reg = r.registryFor(batch[0])
		}
		inst.execution = 1
		if oi := batch[0].OrchestrationInstance; oi != nil {
			inst.executionID = oi.ExecutionID
		}
	}
	for {
		r.episodes++
		res := durable.Execute(taskbridge.Engine(inst.reg), durable.Episode{InstanceID: inst.id, Past: inst.past, New: batch, Now: r.now}, nil)
		if len(batch) > 0 && res.Dropped == len(batch) {
			// Only duplicates or stale results: the worker records nothing.
			return
		}
		inst.past = append(inst.past, res.Appended...)
		inst.last = res
		r.send(inst, res)
		if res.ContinueAsNew == nil {
			return
		}
		r.actions = append(r.actions, Action{Kind: KindContinueAsNew, InstanceID: inst.id, Execution: inst.execution,
			TaskID: -1, Name: res.Name, Input: res.ContinueAsNew.Input, At: r.now})
		inst.execution++
		inst.executionID = executionID(inst.id, inst.execution)
		batch = durable.NewExecutionEvents(res, inst.id, inst.executionID, r.now)
		inst.past = nil
		if r.episodes >= MaxEpisodes {
			// Keep the next execution's start so the report is accurate;
			// the run loop stops before running it.
			inst.inbox = append(batch, inst.inbox...)
			if !inst.queued {
				inst.queued = true
				r.ready = append(r.ready, inst)
			}
			return
		}
	}
}

// registryFor chooses the code an instance runs: a sub-orchestration's
// mock when there is one, the Env's registry otherwise. The orchestration
// under test always runs its registered code.
func (r *runner) registryFor(start history.Event) *task.Registry {
	if start.ParentInstance != nil {
		if reg, ok := r.env.subs[start.Name]; ok {
			return reg
		}
	}
	return r.env.reg
}

// send handles an episode's outbound messages: activities run now, timers
// wait in the future queue, messages to instances go to their inboxes.
func (r *runner) send(inst *instance, res *durable.Result) {
	sent := 0
	for _, o := range res.Outbound {
		// As the worker does: a delivered message names the execution it
		// was sent to, so a result for an execution that continued as new
		// is dropped.
		ev := o.Message.Received()
		to := o.Message.OrchestrationInstance.InstanceID
		switch {
		case o.Kind == durable.ToActivity:
			r.runActivity(inst, ev)
		case ev.Type == history.TimerFired:
			r.actions = append(r.actions, Action{Kind: KindTimer, InstanceID: inst.id, Execution: inst.execution,
				TaskID: ev.TimerID, At: r.now, FireAt: ev.FireAt})
			r.later(o.VisibleAt, to, ev)
		case ev.Type == history.ExecutionStarted:
			a := Action{Kind: KindSubOrchestration, InstanceID: inst.id, Execution: inst.execution, Name: ev.Name,
				Input: ev.Input, Target: to, At: r.now}
			if ev.ParentInstance != nil {
				a.TaskID = ev.ParentInstance.TaskScheduleID
			}
			a.Attempt = r.attempt(inst.id, "sub", a.Name, a.Input)
			r.subs[inst.id+"/"+strconv.Itoa(a.TaskID)] = len(r.actions)
			r.actions = append(r.actions, a)
			r.deliver(to, ev)
		case ev.Type == history.EventRaised:
			r.actions = append(r.actions, Action{Kind: KindEventSent, InstanceID: inst.id, Execution: inst.execution,
				TaskID: sentID(res, sent), Name: ev.Name, Input: ev.Input, Target: to, At: r.now})
			sent++
			if o.VisibleAt.After(r.now) {
				r.later(o.VisibleAt, to, ev) // a scheduled entity signal
			} else {
				r.deliver(to, ev)
			}
		case ev.Type == history.SubOrchestrationInstanceCompleted || ev.Type == history.SubOrchestrationInstanceFailed:
			r.subOutcome(to, ev)
			r.deliver(to, ev)
		default:
			r.deliver(to, ev)
		}
	}
}

// sentID is the task ID of the n-th event sent in an episode: the engine
// appends one EventSent per sent message, in the same order.
func sentID(res *durable.Result, n int) int {
	for _, e := range res.Appended {
		if e.Type == history.EventSent {
			if n == 0 {
				return e.EventID
			}
			n--
		}
	}
	return -1
}

// runActivity runs an activity the way the worker's activity runner does
// and delivers its result to the instance.
func (r *runner) runActivity(inst *instance, ev history.Event) {
	a := Action{Kind: KindActivity, InstanceID: inst.id, Execution: inst.execution, TaskID: ev.EventID,
		Name: ev.Name, Input: ev.Input, At: r.now}
	a.Attempt = r.attempt(inst.id, "activity", a.Name, a.Input)
	fn, ok := r.env.activities[ev.Name]
	if !ok {
		fn, _ = taskbridge.Engine(r.env.reg).Activity(ev.Name)
	}
	result := durable.ActivityResult(context.Background(), fn, ev, inst.id, nil)
	result.Timestamp = r.now
	result.TargetExecutionID = ev.TargetExecutionID
	a.Output, a.Failure = result.Result, publicFailure(result.FailureDetails)
	if a.Failure != nil {
		r.failedAttempt(inst.id, "activity", a.Name, a.Input, a.Attempt)
	}
	r.actions = append(r.actions, a)
	r.deliver(inst.id, result)
}

// subOutcome records a sub-orchestration's outcome in its action.
func (r *runner) subOutcome(parent string, ev history.Event) {
	key := parent + "/" + strconv.Itoa(ev.TaskScheduledID)
	i, ok := r.subs[key]
	if !ok {
		return
	}
	delete(r.subs, key)
	a := &r.actions[i]
	if ev.Type == history.SubOrchestrationInstanceFailed {
		a.Failure = publicFailure(ev.FailureDetails)
		r.failedAttempt(parent, "sub", a.Name, a.Input, a.Attempt)
		return
	}
	a.Output = ev.Result
}

func attemptKey(inst, kind, name, input string) string {
	return strings.Join([]string{inst, kind, name, input}, "\x00")
}

// attempt numbers a new call: a retry of the oldest failed attempt of the
// same call not retried yet, or a first attempt.
func (r *runner) attempt(inst, kind, name, input string) int {
	k := attemptKey(inst, kind, name, input)
	if f := r.failed[k]; len(f) > 0 {
		r.failed[k] = f[1:]
		return f[0] + 1
	}
	return 1
}

func (r *runner) failedAttempt(inst, kind, name, input string, n int) {
	k := attemptKey(inst, kind, name, input)
	r.failed[k] = append(r.failed[k], n)
}

// describeBlocked says what each unfinished instance still waits for:
// its unresolved tasks as history shows them, and the external events its
// code awaits, which the engine reports since history does not record a
// wait.
func (r *runner) describeBlocked() string {
	var parts []string
	for _, inst := range r.order {
		if inst.finished() {
			continue
		}
		if inst.last == nil {
			if len(inst.inbox) > 0 {
				parts = append(parts, fmt.Sprintf("instance %q was never started but has %d events waiting for it", inst.id, len(inst.inbox)))
			}
			continue
		}
		parts = append(parts, fmt.Sprintf("instance %q (%s, %s) %s", inst.id, inst.last.Name, inst.last.Status,
			waitingFor(inst.past, inst.last.AwaitedEvents)))
	}
	return strings.Join(parts, "; ")
}

// waitingFor describes what an execution waits for: the activities,
// sub-orchestrations and timers it scheduled that have no outcome yet,
// each with its task ID (and a timer with its fire time), then the
// external events its code awaits; then the events it did receive, so
// that a misspelt or missing RaiseEvent shows at a glance.
func waitingFor(past []history.Event, awaited []string) string {
	created := map[int]history.Event{}
	var received []string
	suspended := false
	for _, e := range past {
		switch {
		case e.Type == history.SubOrchestrationInstanceCreated || e.Type == history.TaskScheduled || e.Type == history.TimerCreated:
			created[e.EventID] = e
		case e.IsTaskResult():
			delete(created, e.TaskScheduledID)
		case e.Type == history.TimerFired:
			delete(created, e.TimerID)
		case e.Type == history.EventRaised:
			received = append(received, strconv.Quote(e.Name))
		case e.Type == history.ExecutionSuspended:
			suspended = true
		case e.Type == history.ExecutionResumed:
			suspended = false
		}
	}
	if suspended {
		return "is suspended"
	}
	ids := make([]int, 0, len(created))
	for id := range created {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var open []string
	for _, id := range ids {
		e := created[id]
		switch e.Type {
		case history.SubOrchestrationInstanceCreated:
			open = append(open, fmt.Sprintf("sub-orchestration %q (instance %q, task %d)", e.Name, e.InstanceID, id))
		case history.TaskScheduled:
			open = append(open, fmt.Sprintf("activity %q (task %d)", e.Name, id))
		default:
			open = append(open, fmt.Sprintf("timer (task %d) firing at %s", id, e.FireAt.UTC().Format(time.RFC3339Nano)))
		}
	}
	for _, name := range awaited {
		open = append(open, fmt.Sprintf("external event %q", name))
	}
	got := "none"
	if len(received) > 0 {
		got = strings.Join(received, ", ")
	}
	if len(open) == 0 {
		// The code is parked on nothing the engine can name (a task of
		// another orchestration's context, say).
		return "waits for nothing it scheduled or awaits in this execution (events it received: " + got + ")"
	}
	return "waits for " + strings.Join(open, ", ") + " (events it received in this execution: " + got + ")"
}

func hasStart(events []history.Event) bool {
	for _, e := range events {
		if e.Type == history.ExecutionStarted {
			return true
		}
	}
	return false
}

// startFirst moves the first ExecutionStarted to the front.
func startFirst(events []history.Event) []history.Event {
	for i, e := range events {
		if e.Type == history.ExecutionStarted {
			out := append([]history.Event{e}, events[:i]...)
			return append(out, events[i+1:]...)
		}
	}
	return events
}

// restartEvents keeps, for a finished instance, only a start of a new
// execution and what follows it, as the worker does.
func restartEvents(events []history.Event, executionID string) []history.Event {
	for i, e := range events {
		if e.Type == history.ExecutionStarted && e.OrchestrationInstance != nil && e.OrchestrationInstance.ExecutionID != executionID {
			return events[i:]
		}
	}
	return nil
}

// executionID is the n-th execution's ID, in .NET's Guid "N" form as the
// client writes it, derived from the instance so runs repeat exactly.
func executionID(instanceID string, n int) string {
	u := uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("tasktest:execution:%s:%d", instanceID, n)))
	return strings.ReplaceAll(u.String(), "-", "")
}

// messageID names a message the kit sends as a client would, so the
// engine's de-duplication sees what it sees in production.
func (r *runner) messageID(to string) string {
	r.seq++
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("tasktest:message:%s:%d", to, r.seq))).String()
}

// publicFailure copies the engine's failure details into the public type.
func publicFailure(f *history.FailureDetails) *task.FailureDetails {
	if f == nil {
		return nil
	}
	return &task.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: publicFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable, Properties: f.Properties}
}
