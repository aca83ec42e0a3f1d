// Package replaycheck replays recorded orchestration histories against an
// app's orchestrator code, to tell before a deploy whether the code still
// replays the instances in flight. It is pure: the histories come from the
// caller (the CLI reads them from the task hub, tasktest from files), and
// nothing is written.
package replaycheck

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// ErrNotStarted is returned by Replay for a history without an
// ExecutionStarted event: an instance whose start has not run yet, which
// any code can run.
var ErrNotStarted = fmt.Errorf("the history has no ExecutionStarted event")

// Replay replays one execution's history against the orchestrators in reg,
// exactly as the worker does when the instance runs next. It returns nil
// when the code issues the actions the history records, a
// *durable.NonDeterminismError that says where it first departs from them,
// or another error when the history cannot be replayed (no start, an
// orchestrator reg does not have, a failure on replay that the history
// does not record). For a history that records its completion, the code
// must also complete at the same point, without new actions; the output's
// value is not compared. A history that records a failure may end
// differently, since fixing the failure is a reason to change the code.
// fallbackID is the instance ID the replay uses when the history names
// none.
func Replay(reg *durable.Registry, events []history.Event, fallbackID string) error {
	var start *history.Event
	for i := range events {
		if events[i].Type == history.ExecutionStarted {
			start = &events[i]
			break
		}
	}
	if start == nil {
		return fmt.Errorf("replay: %w (%d events)", ErrNotStarted, len(events))
	}
	name := start.Name
	if _, ok := reg.Orchestrator(name); !ok {
		return fmt.Errorf("replay: orchestrator %q is not registered", name)
	}
	id := fallbackID
	if start.OrchestrationInstance != nil && start.OrchestrationInstance.InstanceID != "" {
		id = start.OrchestrationInstance.InstanceID
	}
	now := start.Timestamp
	for _, e := range events {
		if e.Timestamp.After(now) {
			now = e.Timestamp
		}
	}
	past := append([]history.Event(nil), events...)
	// The episode's own tail (after the recorded events) is not a replay,
	// so the code would log; a check should print nothing.
	logger := slog.New(slog.DiscardHandler)
	res := durable.Execute(reg, durable.Episode{InstanceID: id, Past: past, Now: now}, logger)

	if fd := res.Failure; fd != nil && fd.ErrorType == (&durable.NonDeterminismError{}).ErrorType() {
		// The engine reports it as failure details only; rebuild the error.
		return &durable.NonDeterminismError{Message: strings.TrimPrefix(fd.ErrorMessage, "non-deterministic orchestration: ")}
	}
	switch recordedEnd(events) {
	case history.StatusFailed, history.StatusTerminated:
		return nil
	case history.StatusCompleted:
		if res.Status != history.StatusCompleted {
			what := "is " + string(res.Status)
			if res.Failure != nil {
				what = "fails: " + res.Failure.String()
			}
			return &durable.NonDeterminismError{Message: fmt.Sprintf(
				"history records that %q completed, but on replay the code %s%s", name, what, newActions(res))}
		}
		if s := newActions(res); s != "" {
			return &durable.NonDeterminismError{Message: fmt.Sprintf(
				"history records that %q completed, but on replay the code%s before completing", name, s)}
		}
	}
	if res.Status == history.StatusFailed {
		return fmt.Errorf("replay: orchestrator %q fails on replay, which its history does not record: %s", name, res.Failure)
	}
	return nil
}

// recordedEnd is how the history says the execution ended: Completed,
// Failed, Terminated or ContinuedAsNew; "" while it runs.
func recordedEnd(events []history.Event) history.RuntimeStatus {
	for i := len(events) - 1; i >= 0; i-- {
		switch e := events[i]; e.Type {
		case history.ExecutionCompleted:
			return e.OrchestrationStatus
		case history.ExecutionTerminated:
			return history.StatusTerminated
		case history.ContinueAsNew:
			return history.StatusContinuedAsNew
		}
	}
	return ""
}

// newActions describes the actions a replay issued beyond the history.
func newActions(res *durable.Result) string {
	var out []string
	for _, e := range res.Appended {
		switch e.Type {
		case history.TaskScheduled, history.SubOrchestrationInstanceCreated, history.EventSent:
			out = append(out, fmt.Sprintf("%s #%d (%q)", e.Type, e.EventID, e.Name))
		case history.TimerCreated:
			out = append(out, fmt.Sprintf("%s #%d", e.Type, e.EventID))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " issues " + strings.Join(out, ", ")
}
