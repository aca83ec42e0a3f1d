// Package apijson renders instances in the JSON shapes of the Durable
// Functions HTTP API, for the HTTP management API and the CLI's --json.
//
// The shapes follow the Durable Functions extension (HttpApiHandler and
// DurableClient): a status body has its fields in a fixed order, times at
// second precision, and raw JSON values for input, custom status and output;
// historyEvents name their event types, leave out the OrchestratorStarted and
// OrchestratorCompleted bookkeeping rows and fold each TaskScheduled (or
// SubOrchestrationInstanceCreated) row into the row that completed it.
package apijson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// StatusOptions choose optional parts of a status body.
type StatusOptions struct {
	// ShowHistory adds historyEvents.
	ShowHistory bool
	// ShowHistoryOutput keeps Result in historyEvents.
	ShowHistoryOutput bool
}

// StatusTimeLayout is the layout of createdTime and lastUpdatedTime: UTC at
// second precision, as .NET's "s" format followed by "Z" prints it.
const StatusTimeLayout = "2006-01-02T15:04:05Z"

// EventTimeLayout is the layout of the times inside historyEvents: UTC with
// up to seven fractional digits (trailing zeros dropped), as Json.NET prints
// a UTC DateTime. Table storage keeps 100 ns ticks, so nothing is lost.
const EventTimeLayout = "2006-01-02T15:04:05.9999999Z"

// FormatStatusTime renders t as createdTime and lastUpdatedTime are rendered.
func FormatStatusTime(t time.Time) string { return t.UTC().Format(StatusTimeLayout) }

// FormatEventTime renders t as the times inside historyEvents are rendered.
func FormatEventTime(t time.Time) string { return t.UTC().Format(EventTimeLayout) }

// statusBody fixes the field order of a status body; encoding/json writes
// struct fields in declaration order.
type statusBody struct {
	Name            string          `json:"name"`
	InstanceID      string          `json:"instanceId"`
	RuntimeStatus   string          `json:"runtimeStatus"`
	Input           json.RawMessage `json:"input"`
	CustomStatus    json.RawMessage `json:"customStatus"`
	Output          json.RawMessage `json:"output"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
	// Version is left out for an instance without one, so that such a
	// body is the one Durable Functions answers.
	Version string `json:"version,omitempty"`
	// TraceID, an addition of ours, is the execution's trace when it was
	// traced and the status read its history (showHistory, or a Failed
	// instance); left out otherwise, so that the body stays the one
	// Durable Functions answers.
	TraceID       string          `json:"traceId,omitempty"`
	HistoryEvents json.RawMessage `json:"historyEvents,omitempty"`
}

// Status renders a status body: name, instanceId, runtimeStatus, input,
// customStatus, output, createdTime, lastUpdatedTime in that order, plus
// historyEvents when asked for. Absent values are JSON null; a stored value
// that is not valid JSON is rendered as a JSON string rather than failing,
// as Durable Functions does for terminate reasons.
func Status(st *client.Status, o StatusOptions) (json.RawMessage, error) {
	if st == nil {
		return nil, fmt.Errorf("render status: no status")
	}
	b := statusBody{
		Name:            st.Name,
		InstanceID:      st.InstanceID,
		RuntimeStatus:   string(st.RuntimeStatus),
		Input:           value(st.Input),
		CustomStatus:    value(st.CustomStatus),
		Output:          value(st.Output),
		CreatedTime:     FormatStatusTime(st.CreatedTime),
		LastUpdatedTime: FormatStatusTime(st.LastUpdatedTime),
		Version:         st.Version,
		TraceID:         st.TraceID,
	}
	if o.ShowHistory {
		h, err := HistoryEvents(st.History, o.ShowHistoryOutput)
		if err != nil {
			return nil, fmt.Errorf("render status of %q: %w", st.InstanceID, err)
		}
		b.HistoryEvents = h
	}
	out, err := marshal(b)
	if err != nil {
		return nil, fmt.Errorf("render status of %q: %w", st.InstanceID, err)
	}
	return out, nil
}

// Statuses renders a list of instances as the JSON array GET /instances
// answers: one status body per instance, without history. An empty list is
// rendered as [] rather than null.
func Statuses(list []*client.Status) (json.RawMessage, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, st := range list {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := Status(st, StatusOptions{})
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// historyEvent is one element of historyEvents. Only the fields that belong
// to an event type are set; the rest are left out by omitempty.
type historyEvent struct {
	EventType           string                  `json:"EventType"`
	Timestamp           string                  `json:"Timestamp"`
	FunctionName        string                  `json:"FunctionName,omitempty"`
	Name                string                  `json:"Name,omitempty"`
	InstanceID          string                  `json:"InstanceId,omitempty"`
	OrchestrationStatus string                  `json:"OrchestrationStatus,omitempty"`
	ScheduledTime       string                  `json:"ScheduledTime,omitempty"`
	ScheduledStartTime  string                  `json:"ScheduledStartTime,omitempty"`
	FireAt              string                  `json:"FireAt,omitempty"`
	Reason              string                  `json:"Reason,omitempty"`
	Details             string                  `json:"Details,omitempty"`
	FailureDetails      *history.FailureDetails `json:"FailureDetails,omitempty"`
	Data                string                  `json:"Data,omitempty"`
	// Result is a pointer so that a present-but-null result ("Result":
	// null) can be told apart from a hidden one (no key at all).
	Result *json.RawMessage `json:"Result,omitempty"`
}

// scheduled remembers a TaskScheduled or SubOrchestrationInstanceCreated
// row until the row that completes it folds it in.
type scheduled struct {
	index int // position in the output, to drop it when merged
	name  string
	time  time.Time
}

// HistoryEvents renders history as the API's historyEvents array. It applies
// Durable Functions' rules: EventType by name; EventId and IsPlayed dropped;
// OrchestratorStarted and OrchestratorCompleted rows left out; each
// TaskScheduled row merged into its TaskCompleted or TaskFailed row (and each
// SubOrchestrationInstanceCreated into its completion or failure), which
// gains FunctionName and ScheduledTime; inputs left out; Result only when
// showOutput is true. A scheduled row with no completion yet stays, under its
// own name.
func HistoryEvents(events []history.Event, showOutput bool) (json.RawMessage, error) {
	out := make([]*historyEvent, 0, len(events))
	// Keyed by EventId. A rewound history holds a failed task's EventId
	// twice (the GenericEvent rewrite and the re-scheduled row), so entries
	// are replaced as rows come and removed once merged.
	tasks := map[int]scheduled{}
	subs := map[int]scheduled{}
	for i := range events {
		ev := &events[i]
		he := &historyEvent{EventType: ev.Type.String(), Timestamp: FormatEventTime(ev.Timestamp)}
		switch ev.Type {
		case history.OrchestratorStarted, history.OrchestratorCompleted:
			continue
		case history.ExecutionStarted:
			he.FunctionName = ev.Name
			if ev.ScheduledStartTime != nil {
				he.ScheduledStartTime = FormatEventTime(*ev.ScheduledStartTime)
			}
		case history.ExecutionCompleted, history.ContinueAsNew:
			he.OrchestrationStatus = string(ev.OrchestrationStatus)
			he.FailureDetails = ev.FailureDetails
			if showOutput {
				he.Result = result(ev.Result)
			}
		case history.ExecutionTerminated:
			// The reason is the instance's output; it is not repeated here.
		case history.TaskScheduled:
			he.Name = ev.Name
			tasks[ev.EventID] = scheduled{index: len(out), name: ev.Name, time: ev.Timestamp}
		case history.SubOrchestrationInstanceCreated:
			he.Name = ev.Name
			he.InstanceID = ev.InstanceID
			subs[ev.EventID] = scheduled{index: len(out), name: ev.Name, time: ev.Timestamp}
		case history.TaskCompleted, history.TaskFailed:
			merge(he, tasks, ev.TaskScheduledID, out)
			failure(he, ev)
			if showOutput && ev.Type == history.TaskCompleted {
				he.Result = result(ev.Result)
			}
		case history.SubOrchestrationInstanceCompleted, history.SubOrchestrationInstanceFailed:
			merge(he, subs, ev.TaskScheduledID, out)
			failure(he, ev)
			if showOutput && ev.Type == history.SubOrchestrationInstanceCompleted {
				he.Result = result(ev.Result)
			}
		case history.TimerCreated, history.TimerFired:
			if !ev.FireAt.IsZero() {
				he.FireAt = FormatEventTime(ev.FireAt)
			}
		case history.EventRaised:
			he.Name = ev.Name
		case history.EventSent:
			he.Name = ev.Name
			he.InstanceID = ev.InstanceID
		case history.GenericEvent:
			he.Data = ev.Data
		case history.ExecutionSuspended, history.ExecutionResumed:
			he.Reason = ev.Reason
		default:
			// Unknown or internal types keep their name and time only.
		}
		out = append(out, he)
	}
	kept := out[:0]
	for _, he := range out {
		if he != nil {
			kept = append(kept, he)
		}
	}
	b, err := marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("render history: %w", err)
	}
	return b, nil
}

// merge folds the scheduled row with EventId id into he and blanks that
// row's slot in out, so it is left out of the result.
func merge(he *historyEvent, pending map[int]scheduled, id int, out []*historyEvent) {
	s, ok := pending[id]
	if !ok {
		return
	}
	delete(pending, id)
	he.FunctionName = s.name
	he.ScheduledTime = FormatEventTime(s.time)
	out[s.index] = nil
}

func failure(he *historyEvent, ev *history.Event) {
	he.Reason = ev.Reason
	he.Details = ev.Details
	he.FailureDetails = ev.FailureDetails
}

// result turns a stored result into the JSON value to show: the parsed JSON
// when it is valid, else the text as a JSON string, and null when empty.
func result(s string) *json.RawMessage {
	v := value(json.RawMessage(strings.TrimSpace(s)))
	return &v
}

// value returns raw as a JSON value: null when empty, a JSON string holding
// the text when it is not valid JSON.
func value(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	if !json.Valid(raw) {
		b, _ := json.Marshal(string(raw))
		return b
	}
	return raw
}

// marshal encodes an API body as history encodes payloads, without HTML
// escaping: these bodies are API payloads, not HTML, and escaping would
// rewrite users' payloads (a "<" would come back as \u003c).
func marshal(v any) (json.RawMessage, error) { return history.EncodeJSON(v) }

// entityItem is one element of a list of entities, as Durable Functions'
// HTTP API shapes it (DurableEntityStatus).
type entityItem struct {
	EntityID          entity.ID       `json:"entityId"`
	LastOperationTime string          `json:"lastOperationTime"`
	State             json.RawMessage `json:"state"`
}

// Entities renders a page of entities: their IDs, the times of their last
// operations, and their states (null when not read).
func Entities(list []client.EntityMetadata) (json.RawMessage, error) {
	items := make([]entityItem, 0, len(list))
	for _, e := range list {
		state := e.State
		if state == nil {
			state = json.RawMessage("null")
		}
		items = append(items, entityItem{EntityID: e.ID, LastOperationTime: e.LastOperationTime.UTC().Format(time.RFC3339Nano), State: state})
	}
	b, err := marshal(items)
	if err != nil {
		return nil, fmt.Errorf("render entities: %w", err)
	}
	return b, nil
}
