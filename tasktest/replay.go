package tasktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
)

// ErrNotReplayable is wrapped by ParseHistory's error for a history in the
// Durable Functions HTTP API's shape (`durable get-history --json` without
// --raw, or a status body's historyEvents). That shape is for people: it
// leaves out the inputs of the orchestration, of activities and of events,
// the event IDs that pair results with their tasks and timers, and the
// episode boundaries that set the orchestration's clock, so replaying it
// would report differences that are not there and miss some that are.
var ErrNotReplayable = errors.New("tasktest: history is in the HTTP API's shape, which cannot be replayed")

// ParseHistory reads a history printed by `durable get-history --id ID
// --json --raw`: the JSON array of the engine's events, oldest first, which
// is also what encoding/json makes of a []HistoryEvent such as
// Result.History.
func ParseHistory(data []byte) ([]HistoryEvent, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		return nil, fmt.Errorf("parse history: %w: this looks like a status body; fetch the history with "+
			"`durable get-history --id ID --json --raw`", ErrNotReplayable)
	}
	var probe []map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("parse history: want a JSON array of history events: %w", err)
	}
	for i, ev := range probe {
		t := bytes.TrimSpace(ev["EventType"])
		if len(t) == 0 {
			return nil, fmt.Errorf("parse history: event %d has no EventType", i)
		}
		if t[0] == '"' {
			return nil, fmt.Errorf("parse history: %w: event types are names, as `durable get-history --json` "+
				"prints them; fetch the history with `durable get-history --id ID --json --raw`", ErrNotReplayable)
		}
	}
	var events []HistoryEvent
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("parse history: %w", err)
	}
	return events, nil
}

// Replay replays one execution's recorded history against the
// orchestrators in reg, exactly as the worker does when the instance runs
// next, to check that a code change is still deterministic. It returns nil
// when the code issues the actions the history records, or a
// *task.NonDeterminismError that says where it departs from them. For a
// history that records its orchestration's completion, the code must also
// complete at the same point, without new actions; the output's value is
// not compared. A history that records a failure may end differently, since
// fixing the failure is a reason to change the code.
//
// Any other error means the history could not be replayed: it is empty or
// has no start, names an orchestrator reg does not have, or the code fails
// on replay of a history that records neither a failure nor a completion.
func Replay(reg *task.Registry, events []HistoryEvent) error {
	var start *HistoryEvent
	for i := range events {
		if events[i].Type == history.ExecutionStarted {
			start = &events[i]
			break
		}
	}
	if start == nil {
		return fmt.Errorf("tasktest: replay: the history has no ExecutionStarted event (%d events)", len(events))
	}
	name := start.Name
	if _, ok := reg.Orchestrator(name); !ok {
		return fmt.Errorf("tasktest: replay: orchestrator %q is not registered", name)
	}
	id := DefaultInstanceID
	if start.OrchestrationInstance != nil && start.OrchestrationInstance.InstanceID != "" {
		id = start.OrchestrationInstance.InstanceID
	}
	now := start.Timestamp
	for _, e := range events {
		if e.Timestamp.After(now) {
			now = e.Timestamp
		}
	}
	past := append([]HistoryEvent(nil), events...)
	// The episode's own tail (after the recorded events) is not a replay,
	// so the code would log; a check should print nothing.
	logger := slog.New(slog.DiscardHandler)
	res := durable.Execute(taskbridge.Engine(reg), durable.Episode{InstanceID: id, Past: past, Now: now}, logger)

	if fd := res.Failure; fd != nil && fd.ErrorType == (&task.NonDeterminismError{}).ErrorType() {
		// The engine reports it as failure details only; rebuild the error.
		return &task.NonDeterminismError{Message: strings.TrimPrefix(fd.ErrorMessage, "non-deterministic orchestration: ")}
	}
	recorded := recordedEnd(events)
	switch recorded {
	case history.StatusFailed, history.StatusTerminated:
		return nil
	case history.StatusCompleted:
		if res.Status != history.StatusCompleted {
			what := "is " + string(res.Status)
			if res.Failure != nil {
				what = "fails: " + res.Failure.String()
			}
			return &task.NonDeterminismError{Message: fmt.Sprintf(
				"history records that %q completed, but on replay the code %s%s", name, what, newActions(res))}
		}
		if s := newActions(res); s != "" {
			return &task.NonDeterminismError{Message: fmt.Sprintf(
				"history records that %q completed, but on replay the code%s before completing", name, s)}
		}
	}
	if res.Status == history.StatusFailed {
		return fmt.Errorf("tasktest: replay: orchestrator %q fails on replay, which its history does not record: %s", name, res.Failure)
	}
	return nil
}

// recordedEnd is how the history says the execution ended: Completed,
// Failed, Terminated or ContinuedAsNew; "" while it runs.
func recordedEnd(events []HistoryEvent) history.RuntimeStatus {
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
