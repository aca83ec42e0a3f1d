package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// settle turns the state left by the run into the episode's result.
func (x *execution) settle(res *Result) {
	res.CustomStatus = x.customStatus
	res.SuspendReason = x.suspendReason
	now := x.now
	self := history.OrchestrationInstance{InstanceID: x.instanceID, ExecutionID: x.executionID}

	if x.ended {
		if x.continueAsNew == nil && x.nondet == nil {
			x.nondet = &NonDeterminismError{Message: "history records a continue-as-new but the orchestrator code no longer calls ContinueAsNew"}
		}
		if x.nondet == nil {
			// The previous attempt recorded the continue-as-new but did not
			// get to start the next execution: redo only that part, with the
			// events that arrived since going to the next execution.
			res.Appended = nil
			res.Status = history.StatusContinuedAsNew
			res.ContinueAsNew = x.nextExecution(append(x.carryOver(), x.late...))
			return
		}
	}

	switch {
	case x.nondet != nil:
		x.finishFailed(FailureFromError(x.nondet, ""), res)
		return
	case x.terminated != nil:
		reason := x.terminated.Input
		res.Status, res.Output = history.StatusTerminated, reason
		res.Appended = append(res.Appended, history.Event{Type: history.ExecutionCompleted, EventID: -1, Timestamp: now,
			OrchestrationStatus: history.StatusTerminated, Result: reason})
		res.Appended = append(res.Appended, history.Event{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: now})
		x.notifyParent(res, &history.FailureDetails{ErrorType: "Terminated", ErrorMessage: "instance was terminated: " + reason})
		x.releaseAtEnd(res)
		if x.terminated.Recursive {
			x.terminateChildren(res, x.terminated)
		}
		return
	}

	res.Appended = append(res.Appended, x.patchMarkers()...)
	for _, a := range x.actionOrder[x.recorded:] {
		if a.inHistory {
			continue
		}
		ev := history.Event{Type: a.kind, EventID: a.id, Timestamp: now, Name: a.name, Input: a.input}
		switch a.kind {
		case history.TaskScheduled:
			res.Outbound = append(res.Outbound, Outbound{Kind: ToActivity,
				Message: history.TaskMessage{OrchestrationInstance: self, Event: ev}})
		case history.TimerCreated:
			ev.FireAt = a.fireAt
			res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration, VisibleAt: a.fireAt,
				Message: history.TaskMessage{OrchestrationInstance: self, Event: history.Event{
					Type: history.TimerFired, EventID: -1, Timestamp: now, TimerID: a.id, FireAt: a.fireAt}}})
		case history.SubOrchestrationInstanceCreated:
			ev.InstanceID, ev.Version = a.instanceID, a.version
			child := history.OrchestrationInstance{InstanceID: a.instanceID, ExecutionID: a.executionID}
			start := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: now, Name: a.name, Version: a.version,
				Input: a.input, OrchestrationInstance: &child,
				ParentInstance: &history.ParentInstance{Name: x.name, Version: x.version, TaskScheduleID: a.id,
					OrchestrationInstance: self}}
			if a.fireAndForget {
				start.Tags = map[string]string{history.TagFireAndForget: ""}
				if a.notify != "" {
					start.Tags[history.TagNotifyEntity] = a.notify
				}
			}
			res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
				Message: history.TaskMessage{OrchestrationInstance: child, Event: start}})
		case history.EventSent:
			ev.InstanceID = a.instanceID
			msg := history.Event{Type: history.EventRaised, EventID: -1, Timestamp: now, Name: a.name, Input: a.input}
			if a.terminate {
				msg = history.Event{Type: history.ExecutionTerminated, EventID: -1, Timestamp: now, Input: a.input}
			}
			res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration, VisibleAt: a.fireAt,
				Message: history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: a.instanceID}, Event: msg}})
		}
		// Each action sends one message. Its ID derives from the execution
		// and the action, so that the same message sent again after a crash
		// (the episode is replayed and sends what it sent before) carries
		// the same ID, and the receiving instance drops the second copy.
		out := &res.Outbound[len(res.Outbound)-1].Message.Event
		out.MessageID = x.messageID(a.kind.String(), a.id)
		if a.messageID != "" {
			out.MessageID = a.messageID
		}
		res.Appended = append(res.Appended, ev)
		if a.retry {
			res.Retries = append(res.Retries, a.id)
		}
	}

	switch {
	case !x.finished:
		res.Status = history.StatusRunning
		if x.suspended {
			res.Status = history.StatusSuspended
		}
	case x.continueAsNew != nil && x.err == nil:
		res.Status = history.StatusContinuedAsNew
		res.ContinueAsNew = x.nextExecution(x.carryOver())
		res.Appended = append(res.Appended, history.Event{Type: history.ContinueAsNew, EventID: -1, Timestamp: now,
			OrchestrationStatus: history.StatusContinuedAsNew, Result: *x.continueAsNew})
	case x.err != nil:
		var pe *panicError
		fd := FailureFromError(x.err, "")
		if errors.As(x.err, &pe) {
			fd = pe.details
		}
		x.finishFailed(fd, res)
		return
	default:
		res.Status, res.Output = history.StatusCompleted, x.output
		res.Appended = append(res.Appended, history.Event{Type: history.ExecutionCompleted, EventID: -1, Timestamp: now,
			OrchestrationStatus: history.StatusCompleted, Result: x.output})
		x.notifyParent(res, nil)
	}
	if x.finished {
		x.releaseAtEnd(res)
	}
	res.Appended = append(res.Appended, history.Event{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: now})
}

// finishFailed ends the execution as Failed; actions issued in the same
// episode are discarded because the code that issued them is not trusted.
func (x *execution) finishFailed(fd *history.FailureDetails, res *Result) {
	res.Outbound, res.Retries = nil, nil
	kept := res.Appended[:0]
	for _, e := range res.Appended {
		switch e.Type {
		case history.TaskScheduled, history.TimerCreated, history.SubOrchestrationInstanceCreated, history.EventSent:
			continue
		}
		kept = append(kept, e)
	}
	res.Appended = kept
	res.Status, res.Failure, res.Output = history.StatusFailed, fd, fd.String()
	x.releaseAtEnd(res)
	res.Appended = append(res.Appended,
		history.Event{Type: history.ExecutionCompleted, EventID: -1, Timestamp: x.now,
			OrchestrationStatus: history.StatusFailed, Result: fd.ErrorMessage, FailureDetails: fd},
		history.Event{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: x.now})
	x.notifyParent(res, fd)
}

func (x *execution) notifyParent(res *Result, fd *history.FailureDetails) {
	if op := x.tags[history.TagNotifyEntity]; op != "" && x.parent != nil && history.IsFireAndForget(x.tags) &&
		entity.IsEntity(x.parent.OrchestrationInstance.InstanceID) {
		res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
			Message: entityNotice(x.instanceID, x.executionID, x.parent.OrchestrationInstance.InstanceID, op, res, fd, x.now)})
		return
	}
	if x.parent == nil || history.IsFireAndForget(x.tags) {
		return
	}
	res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
		Message: parentNotice(x.instanceID, x.executionID, x.parent, res.Output, fd, x.now)})
}

// entityNotice is the signal that tells the entity that started an
// orchestration, which asked for it, how the orchestration ended: operation
// op with an entity.OrchestrationEnded, one way, under an ID derived from
// the execution, so that a copy sent again is dropped.
func entityNotice(instanceID, executionID, target, op string, res *Result, fd *history.FailureDetails, now time.Time) history.TaskMessage {
	ended := entity.OrchestrationEnded{InstanceID: instanceID, ExecutionID: executionID, Status: res.Status, Failure: fd}
	if fd == nil {
		ended.Output = json.RawMessage(res.Output)
		if !json.Valid(ended.Output) {
			ended.Output = nil
		}
	}
	in, _ := json.Marshal(ended)
	id := messageID(instanceID, executionID, "entity-notice", 0)
	r, _ := json.Marshal(entity.Request{Operation: op, IsSignal: true, Input: string(in), ID: id})
	return history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: target},
		Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: now, Name: entity.EventOperation,
			Input: string(r), MessageID: id}}
}

// parentNotice is the message that tells a sub-orchestration's parent how
// it ended: its output, or fd when it failed (or was terminated).
func parentNotice(instanceID, executionID string, parent *history.ParentInstance, output string, fd *history.FailureDetails, now time.Time) history.TaskMessage {
	ev := history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, Timestamp: now,
		TaskScheduledID: parent.TaskScheduleID, Result: output}
	if fd != nil {
		ev = history.Event{Type: history.SubOrchestrationInstanceFailed, EventID: -1, Timestamp: now,
			TaskScheduledID: parent.TaskScheduleID, Reason: fd.ErrorMessage, Details: fd.StackTrace, FailureDetails: fd}
	}
	ev.MessageID = messageID(instanceID, executionID, "parent", parent.TaskScheduleID)
	return history.TaskMessage{OrchestrationInstance: parent.OrchestrationInstance, Event: ev}
}

// ParentNoticeAgain rebuilds, from the history of a finished
// sub-orchestration execution, the message that told its parent how it
// ended, with the same message ID. A parent that crashed before recording
// the child's start may have dropped that message (a result for a task its
// history did not hold yet); its replay then sends the child's start again,
// and the finished child answers it with this copy instead of ignoring it.
// ok is false when the execution has no parent or has not finished.
func ParentNoticeAgain(instanceID string, events []history.Event) (tm history.TaskMessage, ok bool) {
	var start, end *history.Event
	for i := range events {
		switch e := &events[i]; {
		case e.Type == history.ExecutionStarted && start == nil:
			start = e
		case e.Type == history.ExecutionCompleted && e.OrchestrationStatus.IsTerminal():
			end = e
		}
	}
	if start == nil || end == nil || start.ParentInstance == nil || start.OrchestrationInstance == nil || history.IsFireAndForget(start.Tags) {
		return tm, false
	}
	var fd *history.FailureDetails
	output := end.Result
	switch end.OrchestrationStatus {
	case history.StatusCompleted:
	case history.StatusTerminated:
		fd = &history.FailureDetails{ErrorType: "Terminated", ErrorMessage: "instance was terminated: " + end.Result}
	default:
		fd = end.FailureDetails
		if fd == nil {
			fd = &history.FailureDetails{ErrorType: string(end.OrchestrationStatus), ErrorMessage: end.Result}
		}
		output = fd.String()
	}
	return parentNotice(instanceID, start.OrchestrationInstance.ExecutionID, start.ParentInstance, output, fd, end.Timestamp), true
}

// terminateChildren sends a recursive terminate, with the reason of the
// parent's, to every sub-orchestration of this execution that may still
// run: those history records as created without recording their result,
// and those the code issued in this very episode before the terminate. The
// latter were not started by this episode (its actions are discarded), but
// an earlier attempt of the same episode that crashed after sending its
// messages and before its checkpoint may have started them; a terminate
// for an instance that never comes to exist is dropped by the worker.
//
// Like every outbound message, they are sent before the checkpoint that
// records the parent's termination: a crash in between redelivers the
// parent's terminate, the replay sends the same messages again, and as
// each one's ID derives from this execution and the child's task ID, a
// child drops the copy. A child that has finished ignores the terminate.
func (x *execution) terminateChildren(res *Result, term *history.Event) {
	// Results are looked up in all events, not taken from the actions: the
	// replay stops at the terminate, and a suspended execution defers
	// results, yet a child whose result is in is finished either way.
	finished := map[int]bool{}
	for _, e := range x.events {
		if e.Type == history.SubOrchestrationInstanceCompleted || e.Type == history.SubOrchestrationInstanceFailed {
			finished[e.TaskScheduledID] = true
		}
	}
	for _, a := range x.actionOrder {
		if a.kind != history.SubOrchestrationInstanceCreated || a.completed || finished[a.id] || a.instanceID == "" {
			continue
		}
		ev := history.Event{Type: history.ExecutionTerminated, EventID: -1, Timestamp: x.now,
			Input: term.Input, Recursive: true}
		ev.MessageID = x.messageID("terminate", a.id)
		// No execution ID: the terminate is meant for the child whatever
		// execution it has reached by continuing as new.
		res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
			Message: history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: a.instanceID}, Event: ev}})
	}
}

// messageID is a GUID that names one outbound message of this execution.
func (x *execution) messageID(kind string, id int) string {
	return messageID(x.instanceID, x.executionID, kind, id)
}

func messageID(instanceID, executionID, kind string, id int) string {
	return uuid.NewSHA1(guidNamespace, []byte(fmt.Sprintf("%s/%s/%s/%d", instanceID, executionID, kind, id))).String()
}

// nextExecution describes the execution a continue-as-new starts: its
// input, the events it inherits, and the IDs of the messages consumed so
// far, which it must keep recognising as duplicates.
func (x *execution) nextExecution(carry []history.Event) *ContinueAsNew {
	carried := map[string]bool{}
	for _, e := range carry {
		if e.MessageID != "" {
			carried[e.MessageID] = true
		}
	}
	var applied []string
	add := func(id string) {
		if id != "" && !carried[id] {
			carried[id] = true // once each
			applied = append(applied, id)
		}
	}
	inherited := 0
	var started time.Time
	for _, e := range x.events {
		if e.Type == history.ExecutionStarted {
			for _, id := range e.AppliedMessageIDs {
				add(id)
			}
			inherited, started = len(applied), e.Timestamp
		}
		add(e.MessageID)
	}
	if cut := len(applied) - MaxAppliedMessageIDs; cut > 0 {
		applied = applied[cut:]
		inherited = max(inherited-cut, 0)
	}
	version := x.version
	if x.continueVersion != nil {
		version = *x.continueVersion
	}
	return &ContinueAsNew{Input: *x.continueAsNew, Version: version, CarryOver: carry, Applied: applied, Inherited: inherited, StartedAt: started,
		At: x.now}
}

// carryOver lists events received but never consumed, oldest first.
func (x *execution) carryOver() []history.Event {
	out := make([]history.Event, 0, len(x.bufferOrder)+len(x.deferred))
	for _, e := range x.bufferOrder {
		e.IsPlayed = false
		out = append(out, e)
	}
	return append(out, x.deferred...)
}
