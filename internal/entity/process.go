package entity

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// Event is an EventRaised an entity received, as its message brought it.
type Event struct {
	Name  string
	Input string
}

// Outbound is a message a batch sends: an EventRaised named Name with
// Input, to instance To (and its execution ToExecution, for a response),
// delivered at At (now when zero).
type Outbound struct {
	To          string
	ToExecution string
	Name        string
	Input       string
	At          time.Time
	// Orchestration, when set, makes the message the start of that
	// orchestration as instance To, with Input, at Version, fire and
	// forget; when it ends, it signals operation OnEnd (if set) back.
	Orchestration, Version, OnEnd string
	// Terminate makes the message the termination of instance To, with
	// Input as reason.
	Terminate bool
}

// Step is what one batch decided: the state the entity's next execution
// begins with, the messages to send, and what it did.
type Step struct {
	State    *SchedulerState
	Messages []Outbound
	// Ran counts the operations run, Failed those of them that failed;
	// Unreadable counts messages dropped because they could not be read.
	Ran, Failed, Unreadable int
}

// DefaultMaxBatch is how many operations one batch runs at most; the rest
// wait for the next batch, which a continue message brings.
const DefaultMaxBatch = 100

// earlyBy is how far ahead of its time a scheduled signal may arrive and
// still run now.
const earlyBy = 100 * time.Millisecond

// Process runs one batch of entity id, whose state is state, on the
// events its messages brought (copies of a message already applied
// dropped by the caller, by message ID): requests are put in their
// senders' order and queued, releases end locks, and then the requests
// whose turn it is run, one at a time and in order, through fn. A lock
// request ends the batch: the operations before it run, then the lock is
// taken and passed on to the next entity of its set, or granted. newID
// gives the IDs of the requests the batch sends; they must be the same
// when the same batch runs again, as must now.
func Process(id ID, state *SchedulerState, events []Event, fn Func, now time.Time, newID func() string, maxBatch int) *Step {
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	step := &Step{State: state}
	self := id.String()
	var holder []Request // the lock holder's requests go first
	for _, ev := range events {
		switch {
		case IsRequest(ev.Name):
			var r Request
			if err := json.Unmarshal([]byte(ev.Input), &r); err != nil || r.ID == "" {
				step.Unreadable++
				continue
			}
			due, scheduled := ScheduledAt(ev.Name)
			if r.Due != nil {
				due, scheduled = r.Due.Time, true
			}
			if scheduled {
				if due.Sub(now) > earlyBy {
					// Queue messages are hidden for at most a few days: a signal
					// further ahead comes early and waits again.
					step.Messages = append(step.Messages, Outbound{To: self, Name: ScheduledEventName(due), Input: ev.Input, At: due})
					continue
				}
				// Scheduled signals are not ordered among their sender's.
				state.Queue = append(state.Queue, r)
				continue
			}
			for _, in := range state.Sorter.Receive(r) {
				if state.LockedBy != "" && in.Parent == state.LockedBy {
					holder = append(holder, in)
				} else {
					state.Queue = append(state.Queue, in)
				}
			}
		case ev.Name == EventRelease:
			var rel Release
			if err := json.Unmarshal([]byte(ev.Input), &rel); err != nil {
				step.Unreadable++
				continue
			}
			if state.LockedBy != "" && state.LockedBy == rel.Parent {
				state.LockedBy = ""
			}
		default:
			state.Suspended = false
		}
	}
	if len(holder) > 0 {
		state.Queue = append(holder, state.Queue...)
	}
	if state.Suspended {
		return step
	}
	var ops []Request
	var lock *Request
	for len(state.Queue) > 0 && (state.LockedBy == "" || state.Queue[0].Parent == state.LockedBy) {
		if state.Queue[0].lockRequest() {
			r := state.Queue[0]
			state.Queue = state.Queue[1:]
			lock = &r
			break
		}
		if len(ops) == maxBatch {
			state.Suspended = true
			step.Messages = append(step.Messages, Outbound{To: self, Name: EventContinue})
			break
		}
		ops = append(ops, state.Queue[0])
		state.Queue = state.Queue[1:]
	}
	if len(state.Queue) == 0 {
		state.Queue = nil
	}
	for _, op := range ops {
		step.run(id, op, fn, now, newID)
	}
	if lock != nil {
		step.lock(*lock, now)
	}
	return step
}

// run runs one operation and records its response and what it sent; a
// failed operation leaves the state and sends as they were.
func (step *Step) run(id ID, op Request, fn Func, now time.Time, newID func() string) {
	state := step.State
	ctx := &Context{id: id, req: op, state: state.State, now: now, newID: newID}
	result, err := call(fn, ctx)
	if errors.Is(err, ErrUnknownOperation) && op.Operation == "delete" {
		ctx.state, result, err = nil, nil, nil
	}
	step.Ran++
	var resp Response
	if err != nil {
		step.Failed++
		resp.ErrorMessage = err.Error()
		resp.FailureDetails = &history.FailureDetails{ErrorType: errorType(err), ErrorMessage: err.Error()}
		var p *panicError
		if errors.As(err, &p) {
			resp.FailureDetails.StackTrace = p.stack
		}
	} else {
		state.State = ctx.state
		if result != nil {
			out, merr := encodeInput(result)
			if merr != nil {
				step.Failed++
				resp.ErrorMessage = fmt.Sprintf("operation %q of %s: its result: %v", op.Operation, id, merr)
				resp.FailureDetails = &history.FailureDetails{ErrorType: "EntityResultNotSerializable", ErrorMessage: resp.ErrorMessage}
			} else {
				resp.Result = &out
			}
		}
		if !resp.Failed() {
			step.send(ctx.actions, now, newID)
		}
	}
	state.remember(RecentOperation{Operation: op.Operation, From: op.Parent, At: now, Signal: op.IsSignal, Error: resp.ErrorMessage})
	if op.IsSignal || op.Parent == "" {
		return
	}
	b, _ := json.Marshal(resp)
	step.Messages = append(step.Messages, Outbound{To: op.Parent, ToExecution: op.ParentExecution, Name: op.ID, Input: string(b)})
}

// send turns an operation's signals into messages, labelled by the
// entity's sorter (scheduled ones are not ordered).
func (step *Step) send(actions []action, now time.Time, newID func() string) {
	for _, s := range actions {
		switch {
		case s.orchestration != "":
			step.Messages = append(step.Messages, Outbound{To: s.instanceID, Orchestration: s.orchestration, Input: s.req.Input,
				Version: s.version, OnEnd: s.onEnd})
			continue
		case s.terminate:
			step.Messages = append(step.Messages, Outbound{To: s.instanceID, Terminate: true, Input: s.req.Input})
			continue
		}
		r := s.req
		r.ID = newID()
		target := s.target.String()
		name := EventOperation
		if s.at.IsZero() {
			step.State.Sorter.Label(&r, target, now)
		} else {
			due := at(s.at)
			r.Due = &due
			name = ScheduledEventName(s.at)
		}
		b, _ := json.Marshal(r)
		step.Messages = append(step.Messages, Outbound{To: target, Name: name, Input: string(b), At: s.at})
	}
}

// lock takes the entity's lock for a lock request's orchestration, and
// passes the request on to the next entity of its set or, at the last,
// tells the orchestration that it holds them all.
func (step *Step) lock(r Request, now time.Time) {
	step.State.LockedBy = r.Parent
	step.State.remember(RecentOperation{From: r.Parent, At: now})
	r.Position++
	if r.Position < len(r.LockSet) {
		b, _ := json.Marshal(r)
		step.Messages = append(step.Messages, Outbound{To: r.LockSet[r.Position].String(), Name: EventOperation, Input: string(b)})
		return
	}
	granted := LockGranted
	b, _ := json.Marshal(Response{Result: &granted})
	step.Messages = append(step.Messages, Outbound{To: r.Parent, ToExecution: r.ParentExecution, Name: r.ID, Input: string(b)})
}

// call runs fn, turning a panic into the operation's failure.
func call(fn Func, ctx *Context) (result any, err error) {
	if fn == nil {
		return nil, fmt.Errorf("no entity named %q is registered", ctx.id.Name)
	}
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{msg: fmt.Sprintf("operation %q of %s panicked: %v", ctx.req.Operation, ctx.id, p), stack: string(debug.Stack())}
		}
	}()
	return fn(ctx)
}

// panicError is an operation's panic, with where it happened.
type panicError struct{ msg, stack string }

func (e *panicError) Error() string { return e.msg }

// errorType names an operation's error for FailureDetails: its Go type.
func errorType(err error) string {
	var p *panicError
	switch {
	case errors.Is(err, ErrUnknownOperation):
		return "UnknownOperation"
	case errors.As(err, &p):
		return "Panic"
	}
	return fmt.Sprintf("%T", err)
}

// LockRequest builds the request that locks entities for an
// orchestration's critical section: the set sorted, without repeats, sent
// to its first entity.
func LockRequest(id, parent, parentExecution string, entities []ID) (target string, r Request, err error) {
	if len(entities) == 0 {
		return "", Request{}, errors.New("a critical section locks at least one entity")
	}
	set := slices.Clone(entities)
	slices.SortFunc(set, compare)
	set = slices.CompactFunc(set, func(a, b ID) bool { return compare(a, b) == 0 })
	r = Request{ID: id, Parent: parent, ParentExecution: parentExecution, LockSet: set, IsLockRequest: true}
	return set[0].String(), r, nil
}
