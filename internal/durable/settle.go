package durable

import (
	"errors"

	"github.com/durable-go/durable/internal/history"
)

// settle turns the state left by the run into the episode's result.
func (x *execution) settle(res *Result) {
	res.CustomStatus = x.customStatus
	now := x.now
	self := history.OrchestrationInstance{InstanceID: x.instanceID, ExecutionID: x.executionID}

	if n := len(x.past); n > 0 && x.past[n-1].Type == history.ContinueAsNew && x.continueAsNew != nil {
		// The previous attempt recorded the continue-as-new but did not get
		// to start the next execution: redo only that part.
		res.Appended = nil
		res.Status = history.StatusContinuedAsNew
		res.ContinueAsNew = &ContinueAsNew{Input: *x.continueAsNew, CarryOver: x.carryOver()}
		return
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
		return
	}

	for _, a := range x.actionOrder {
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
			ev.InstanceID = a.instanceID
			child := history.OrchestrationInstance{InstanceID: a.instanceID, ExecutionID: a.executionID}
			res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
				Message: history.TaskMessage{OrchestrationInstance: child, Event: history.Event{
					Type: history.ExecutionStarted, EventID: -1, Timestamp: now, Name: a.name, Input: a.input,
					OrchestrationInstance: &child,
					ParentInstance: &history.ParentInstance{Name: x.name, Version: x.version, TaskScheduleID: a.id,
						OrchestrationInstance: self}}}})
		case history.EventSent:
			ev.InstanceID = a.instanceID
			res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
				Message: history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: a.instanceID},
					Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: now, Name: a.name, Input: a.input}}})
		}
		res.Appended = append(res.Appended, ev)
	}

	switch {
	case !x.finished:
		res.Status = history.StatusRunning
		if x.suspended {
			res.Status = history.StatusSuspended
		}
	case x.continueAsNew != nil && x.err == nil:
		res.Status = history.StatusContinuedAsNew
		res.ContinueAsNew = &ContinueAsNew{Input: *x.continueAsNew, CarryOver: x.carryOver()}
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
	res.Appended = append(res.Appended, history.Event{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: now})
}

// finishFailed ends the execution as Failed; actions issued in the same
// episode are discarded because the code that issued them is not trusted.
func (x *execution) finishFailed(fd *history.FailureDetails, res *Result) {
	res.Outbound = nil
	kept := res.Appended[:0]
	for _, e := range res.Appended {
		switch e.Type {
		case history.TaskScheduled, history.TimerCreated, history.SubOrchestrationInstanceCreated, history.EventSent:
			continue
		}
		kept = append(kept, e)
	}
	res.Appended = kept
	res.Status, res.Failure, res.Output = history.StatusFailed, fd, fd.JSON()
	res.Appended = append(res.Appended,
		history.Event{Type: history.ExecutionCompleted, EventID: -1, Timestamp: x.now,
			OrchestrationStatus: history.StatusFailed, Result: fd.ErrorMessage, FailureDetails: fd},
		history.Event{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: x.now})
	x.notifyParent(res, fd)
}

func (x *execution) notifyParent(res *Result, fd *history.FailureDetails) {
	if x.parent == nil {
		return
	}
	ev := history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, Timestamp: x.now,
		TaskScheduledID: x.parent.TaskScheduleID, Result: res.Output}
	if fd != nil {
		ev = history.Event{Type: history.SubOrchestrationInstanceFailed, EventID: -1, Timestamp: x.now,
			TaskScheduledID: x.parent.TaskScheduleID, Reason: fd.ErrorMessage, Details: fd.StackTrace, FailureDetails: fd}
	}
	res.Outbound = append(res.Outbound, Outbound{Kind: ToOrchestration,
		Message: history.TaskMessage{OrchestrationInstance: x.parent.OrchestrationInstance, Event: ev}})
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
