package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// entityBatch is what an entity's executions run: each takes every
// message of its episode as one batch (entity.Process) and continues as new
// with the entity's scheduler state as input and its status as custom
// status, as the Durable Task Framework runs entities. So an entity's
// messages get the engine's guarantees: a copy of a message already
// applied is dropped by its ID (within an execution and, carried, across
// them), and a crash redoes the batch from the state before it. What a
// batch sends waits in the state it commits and is sent by the next
// execution, under IDs fixed by the batch's own execution: a redone batch
// (whose messages may come otherwise batched) has sent nothing yet, and a
// resend is dropped as a copy.
func entityBatch(id entity.ID, fn entity.Func) OrchestratorFunc {
	return func(ctx *OrchestrationContext) (any, error) {
		x := ctx.x
		st, err := entity.DecodeState(x.input)
		if err != nil {
			return nil, err
		}
		// What the previous batch decided to send leaves now that the
		// batch is durable (see entity.SchedulerState.Outbox).
		for _, m := range st.Outbox {
			switch {
			case m.Orchestration != "":
				x.startOrchestrationAs(m.ID, m.To, m.Orchestration, m.Version, m.Input, m.OnEnd)
				continue
			case m.Terminate:
				x.terminateAs(m.ID, m.To, m.Input)
				continue
			}
			var data any
			if m.Input != "" {
				data = json.RawMessage(m.Input)
			}
			if err := x.sendEventAs(m.ID, m.To, m.Name, data, m.At); err != nil {
				return nil, err
			}
		}
		st.Outbox = nil
		// Until messages come, the execution shows the status its input
		// holds: readers (and the instance row) see the entity as it is.
		if err := ctx.SetCustomStatus(json.RawMessage(st.Status().Encode())); err != nil {
			return nil, err
		}
		received := x.receiveAll()
		events := make([]entity.Event, len(received))
		for i, e := range received {
			events[i] = entity.Event{Name: e.Name, Input: e.Input}
		}
		step := entity.Process(id, st, events, fn, x.now, func() string { return ctx.NewGUID().String() }, 0)
		if step.Unreadable > 0 {
			x.logger.Warn("entity messages dropped: they could not be read", "count", step.Unreadable)
		}
		for i, m := range step.Messages {
			st.Outbox = append(st.Outbox, entity.OutboxMessage{ID: x.messageID("entity", i), To: m.To, ToExecution: m.ToExecution,
				Name: m.Name, Input: m.Input, At: m.At, Orchestration: m.Orchestration, Version: m.Version, OnEnd: m.OnEnd,
				Terminate: m.Terminate})
			if m.Orchestration != "" && m.Version == "" {
				// The version of the worker that ran the batch, as a
				// client's start gets the app's default version.
				st.Outbox[len(st.Outbox)-1].Version = x.workerVersion
			}
		}
		// The status stays the one of this execution's input, as its row's
		// Input is: the next execution shows the new state and its status
		// together, so a reader never sees the one without the other.
		return nil, ctx.ContinueAsNew(json.RawMessage(st.Encode()))
	}
}

// EntityOperationFailedError is the error of a called entity operation
// that failed.
type EntityOperationFailedError struct {
	Entity    entity.ID
	Operation string
	Details   *history.FailureDetails
}

func (e *EntityOperationFailedError) Error() string {
	return fmt.Sprintf("operation %q of entity %s failed: %s", e.Operation, e.Entity, e.Details.ErrorMessage)
}

// ErrCriticalSection is the error of what an orchestration may not do while
// it holds entity locks (or may do only then).
var ErrCriticalSection = errors.New("not allowed in this critical section")

// SignalEntity sends operation op with input to entity id, one way: the
// orchestration does not wait, and the operations of one orchestration
// reach an entity in the order it sent them. Inside a critical section the
// locked entities can only be called, not signalled.
func (c *OrchestrationContext) SignalEntity(id entity.ID, op string, input any) error {
	x := c.x
	id, err := validEntity(id)
	if err != nil {
		return fmt.Errorf("signal %s: %w", op, err)
	}
	if x.holdsLock(id) {
		return fmt.Errorf("signal %s: %w: a locked entity can only be called", id, ErrCriticalSection)
	}
	r, err := x.entityRequest(c, id, op, input, true)
	if err != nil {
		return err
	}
	return x.sendEntityRequest(id.String(), r)
}

// CallEntity runs operation op with input on entity id and returns a task
// that completes with the operation's result, or with an
// *EntityOperationFailedError. Inside a critical section only locked
// entities can be called.
func (c *OrchestrationContext) CallEntity(id entity.ID, op string, input any) Task {
	x := c.x
	id, err := validEntity(id)
	if err != nil {
		return x.failedTask(fmt.Errorf("call %s: %w", op, err))
	}
	if len(x.locks) > 0 && !x.holdsLock(id) {
		return x.failedTask(fmt.Errorf("call %s: %w: %s is not locked by it", op, ErrCriticalSection, id))
	}
	r, err := x.entityRequest(c, id, op, input, false)
	if err == nil {
		err = x.sendEntityRequest(id.String(), r)
	}
	if err != nil {
		return x.failedTask(err)
	}
	answer := x.waitForEvent(r.ID, 0).(*task)
	out := &task{x: x}
	answer.then(func() {
		var resp entity.Response
		if err := json.Unmarshal([]byte(answer.result), &resp); err != nil {
			out.complete("", fmt.Errorf("call %s of %s: read the response: %w", op, id, err))
			return
		}
		if resp.Failed() {
			fd := resp.FailureDetails
			if fd == nil {
				fd = &history.FailureDetails{ErrorType: "EntityOperationFailed", ErrorMessage: resp.ErrorMessage}
			}
			out.complete("", &EntityOperationFailedError{Entity: id, Operation: op, Details: fd})
			return
		}
		result := ""
		if resp.Result != nil {
			result = *resp.Result
		}
		out.complete(result, nil)
	})
	return out
}

// LockEntities locks entities for a critical section and waits until it
// holds them all; release ends the section. While it holds them, other
// senders' operations on them wait, the orchestration may call only them,
// signal none of them, and start no sub-orchestration or other critical
// section. Locks still held when the execution ends (completes, fails, is
// terminated or continues as new) are released then.
func (c *OrchestrationContext) LockEntities(entities ...entity.ID) (release func(), err error) {
	x := c.x
	if len(x.locks) > 0 {
		return nil, fmt.Errorf("lock entities: %w: critical sections do not nest", ErrCriticalSection)
	}
	set := make([]entity.ID, len(entities))
	for i, e := range entities {
		if set[i], err = validEntity(e); err != nil {
			return nil, fmt.Errorf("lock entities: %w", err)
		}
	}
	id := x.entityRequestID()
	target, r, err := entity.LockRequest(id, x.instanceID, x.executionID, set)
	if err != nil {
		return nil, fmt.Errorf("lock entities: %w", err)
	}
	x.entitySorter.Label(&r, target, x.labelTime())
	if err := x.sendEntityRequest(target, r); err != nil {
		return nil, err
	}
	if err := x.waitForEvent(id, 0).Await(nil); err != nil {
		return nil, fmt.Errorf("lock entities: %w", err)
	}
	x.locks, x.lockID = r.LockSet, id
	return func() {
		if x.lockID != id || x.unwinding {
			return // released already, or the code did not get here
		}
		for _, e := range x.locks {
			_ = x.sendEvent(e.String(), entity.EventRelease, x.releaseMessage())
		}
		x.locks, x.lockID = nil, ""
	}, nil
}

// validEntity checks an entity ID and returns it with its name
// lower-cased, as it is stored.
func validEntity(id entity.ID) (entity.ID, error) {
	n, err := entity.NewID(id.Name, id.Key)
	if err != nil {
		return entity.ID{}, fmt.Errorf("%w: %v", ErrBadEntityID, err)
	}
	return n, nil
}

// ErrBadEntityID is the error of an operation on an entity whose name or
// key cannot be an entity's.
var ErrBadEntityID = errors.New("bad entity ID")

// holdsLock reports whether the orchestration's critical section holds id.
func (x *execution) holdsLock(id entity.ID) bool {
	return slices.Contains(x.locks, id)
}

// entityRequest builds an operation request from this execution, labelled
// for the entity's ordering of what this execution sends it.
func (x *execution) entityRequest(c *OrchestrationContext, id entity.ID, op string, input any, signal bool) (entity.Request, error) {
	in, err := marshalJSON(input)
	if err != nil {
		return entity.Request{}, fmt.Errorf("operation %s of %s: encode input: %w", op, id, err)
	}
	r := entity.Request{Operation: op, IsSignal: signal, Input: in, ID: x.entityRequestID(), Parent: x.instanceID,
		ParentExecution: x.executionID}
	x.entitySorter.Label(&r, id.String(), x.labelTime())
	return r, nil
}

// entityRequestID is the ID of the entity request the next action sends:
// derived from the execution and that action, as its message ID is. An
// episode that sent a request and then was lost (a crash before its
// checkpoint) is redone later, at another time; the copy it sends carries
// the same message ID and is dropped by the entity, so the response names
// the first attempt's request ID, which the redo must wait for.
func (x *execution) entityRequestID() string {
	return x.messageID("entity-request", x.seq)
}

// labelTime is the clock entity requests are labelled with (see
// entity.Sorter): the previous episode's, or the execution's start in its
// first episode, plus the ticks the sorter adds. Like entityRequestID it
// must be what the first attempt of an episode used: the entity keeps the
// first copy's timestamp, and a later request whose predecessor it never
// saw would wait for the reorder window.
func (x *execution) labelTime() time.Time {
	if !x.prevNow.IsZero() {
		return x.prevNow
	}
	return x.startedAt
}

func (x *execution) sendEntityRequest(target string, r entity.Request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("send an entity request: %w", err)
	}
	return x.sendEvent(target, entity.EventOperation, json.RawMessage(b))
}

func (x *execution) releaseMessage() json.RawMessage {
	b, _ := json.Marshal(entity.Release{Parent: x.instanceID, ID: x.lockID})
	return b
}

// releaseAtEnd sends, beside the result of an execution that ended, the
// releases of the locks it still held: the actions of a failed execution
// are discarded, but its locks must not outlive it.
func (x *execution) releaseAtEnd(res *Result) {
	for i, e := range x.locks {
		res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
			Message: history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: e.String()},
				Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: x.now, Name: entity.EventRelease,
					Input: string(x.releaseMessage()), MessageID: x.messageID("release/"+x.lockID, i)}}})
	}
	x.locks, x.lockID = nil, ""
}
