// Package history holds the durable-task history event model shared by the
// replay engine, the Azure Storage backend and the management client.
//
// The model follows the Durable Task Framework's event types so that a task
// hub written by this project reads like one written by Durable Functions'
// Azure Storage provider. It is plain data: no I/O, no clocks.
package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// EventType is the numeric event type used in queue messages; its String form
// is the name stored in the History table's EventType column.
type EventType int

// Event types, numbered as in the Durable Task Framework.
const (
	ExecutionStarted                  EventType = 0
	ExecutionCompleted                EventType = 1
	ExecutionFailed                   EventType = 2
	ExecutionTerminated               EventType = 3
	TaskScheduled                     EventType = 4
	TaskCompleted                     EventType = 5
	TaskFailed                        EventType = 6
	SubOrchestrationInstanceCreated   EventType = 7
	SubOrchestrationInstanceCompleted EventType = 8
	SubOrchestrationInstanceFailed    EventType = 9
	TimerCreated                      EventType = 10
	TimerFired                        EventType = 11
	OrchestratorStarted               EventType = 12
	OrchestratorCompleted             EventType = 13
	EventSent                         EventType = 14
	EventRaised                       EventType = 15
	ContinueAsNew                     EventType = 16
	GenericEvent                      EventType = 17
	HistoryState                      EventType = 18
	ExecutionSuspended                EventType = 19
	ExecutionResumed                  EventType = 20
)

var eventTypeNames = [...]string{
	"ExecutionStarted", "ExecutionCompleted", "ExecutionFailed", "ExecutionTerminated",
	"TaskScheduled", "TaskCompleted", "TaskFailed", "SubOrchestrationInstanceCreated",
	"SubOrchestrationInstanceCompleted", "SubOrchestrationInstanceFailed", "TimerCreated",
	"TimerFired", "OrchestratorStarted", "OrchestratorCompleted", "EventSent", "EventRaised",
	"ContinueAsNew", "GenericEvent", "HistoryState", "ExecutionSuspended", "ExecutionResumed",
}

// String returns the event type's name as stored in the History table.
func (t EventType) String() string {
	if t >= 0 && int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// ParseEventType maps a History table EventType name back to its number.
func ParseEventType(name string) (EventType, error) {
	for i, n := range eventTypeNames {
		if n == name {
			return EventType(i), nil
		}
	}
	return 0, fmt.Errorf("unknown history event type %q", name)
}

// RuntimeStatus is an orchestration instance's status as stored in the
// Instances table's RuntimeStatus column.
type RuntimeStatus string

// Runtime statuses, spelled as Durable Functions spells them.
const (
	StatusPending        RuntimeStatus = "Pending"
	StatusRunning        RuntimeStatus = "Running"
	StatusCompleted      RuntimeStatus = "Completed"
	StatusContinuedAsNew RuntimeStatus = "ContinuedAsNew"
	StatusFailed         RuntimeStatus = "Failed"
	StatusCanceled       RuntimeStatus = "Canceled"
	StatusTerminated     RuntimeStatus = "Terminated"
	StatusSuspended      RuntimeStatus = "Suspended"
)

// allStatuses is an array, so no caller can change the list.
var allStatuses = [...]RuntimeStatus{StatusPending, StatusRunning, StatusCompleted, StatusContinuedAsNew,
	StatusFailed, StatusCanceled, StatusTerminated, StatusSuspended}

// AllStatuses lists every runtime status, in a new slice.
func AllStatuses() []RuntimeStatus { return append([]RuntimeStatus(nil), allStatuses[:]...) }

// IsKnown reports whether s is one of the runtime statuses.
func (s RuntimeStatus) IsKnown() bool {
	for _, st := range allStatuses {
		if st == s {
			return true
		}
	}
	return false
}

// IsTerminal reports whether an instance in this status will never run again
// unless it is rewound or restarted.
func (s RuntimeStatus) IsTerminal() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusCanceled, StatusTerminated:
		return true
	}
	return false
}

// ParseRuntimeStatus accepts a status name, case-insensitively.
func ParseRuntimeStatus(s string) (RuntimeStatus, error) {
	for _, st := range allStatuses {
		if equalFold(string(st), s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown runtime status %q (want one of Pending, Running, Completed, ContinuedAsNew, Failed, Canceled, Terminated, Suspended)", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ExecutionID writes u as execution IDs are written: .NET's Guid "N"
// form (32 hex digits, no hyphens), as the Durable Task Framework's client
// writes them.
func ExecutionID(u uuid.UUID) string { return strings.ReplaceAll(u.String(), "-", "") }

// OrchestrationInstance names one execution of an instance.
type OrchestrationInstance struct {
	InstanceID  string `json:"InstanceId"`
	ExecutionID string `json:"ExecutionId"`
}

// ParentInstance tells a sub-orchestration where to report its completion.
type ParentInstance struct {
	Name                  string                `json:"Name"`
	Version               string                `json:"Version,omitempty"`
	TaskScheduleID        int                   `json:"TaskScheduleId"`
	OrchestrationInstance OrchestrationInstance `json:"OrchestrationInstance"`
}

// FailureDetails describes an error raised by an activity, a
// sub-orchestration or orchestrator code. The JSON shape matches the Durable
// Task Framework's FailureDetails.
type FailureDetails struct {
	ErrorType      string          `json:"ErrorType"`
	ErrorMessage   string          `json:"ErrorMessage"`
	StackTrace     string          `json:"StackTrace,omitempty"`
	InnerFailure   *FailureDetails `json:"InnerFailure,omitempty"`
	IsNonRetriable bool            `json:"IsNonRetriable,omitempty"`
	// Properties are the error's own named values, as JSON values (the
	// Durable Task Framework's FailureDetails.Properties).
	Properties map[string]any `json:"Properties,omitempty"`
}

// TraceContext is a W3C trace context as history and queue messages carry
// it: the Durable Task Framework's DistributedTraceContext, whose JSON
// property names it keeps.
type TraceContext struct {
	// TraceParent is the W3C traceparent value
	// ("00-{trace-id}-{parent-id}-{flags}").
	TraceParent string `json:"TraceParent"`
	// TraceState is the W3C tracestate value, if any.
	TraceState string `json:"TraceState,omitempty"`
	// ID, SpanID and ActivityStartTime, on ExecutionStarted, describe the
	// orchestration's own span when the writer recorded them (the Durable
	// Task Framework does, to restore its span on replay). This project
	// derives that span's ID from the execution instead, so it only keeps
	// them.
	ID                string     `json:"Id,omitempty"`
	SpanID            string     `json:"SpanId,omitempty"`
	ActivityStartTime *time.Time `json:"ActivityStartTime,omitempty"`
}

// String is the text form the Durable Task Framework stores as a Failed
// instance's output: "ErrorType: ErrorMessage".
func (f *FailureDetails) String() string {
	if f == nil {
		return ""
	}
	return f.ErrorType + ": " + f.ErrorMessage
}

// EncodeJSON encodes v the way payloads and stored values are written:
// without HTML escaping (payloads often hold '<', '>' and '&', which
// escaping would only inflate and which .NET writes as they are) and
// without a trailing newline.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// JSON encodes the details; it cannot fail.
func (f *FailureDetails) JSON() string {
	if f == nil {
		return ""
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// TagFireAndForget, among an ExecutionStarted's Tags, marks an orchestration
// whose starter does not wait for it (an entity started it): its end is
// reported to no parent. The Durable Task Framework's tag of that name.
const TagFireAndForget = "FireAndForget"

// TagNotifyEntity, among the Tags of a fire-and-forget start by an entity,
// names the operation the orchestration signals that entity when it ends
// (with an OrchestrationEnded): a tag of this project's.
const TagNotifyEntity = "durable.notifyEntityOperation"

// IsFireAndForget reports whether tags mark a fire-and-forget start.
func IsFireAndForget(tags map[string]string) bool {
	_, ok := tags[TagFireAndForget]
	return ok
}

// Event is one history event. Only the fields that belong to the event's
// type are set; the rest stay at their zero values. Payload fields (Input,
// Result, Reason, Details, Data) hold JSON text as the user's code produced
// it, never re-encoded.
type Event struct {
	Type      EventType `json:"EventType"`
	EventID   int       `json:"EventId"`
	IsPlayed  bool      `json:"IsPlayed"`
	Timestamp time.Time `json:"Timestamp"`

	// ExecutionStarted, TaskScheduled, SubOrchestrationInstanceCreated, EventRaised, EventSent.
	Name    string `json:"Name,omitempty"`
	Version string `json:"Version,omitempty"`
	// Input is the input of ExecutionStarted, TaskScheduled,
	// SubOrchestrationInstanceCreated, EventRaised and EventSent, and the
	// reason of ExecutionTerminated.
	Input string `json:"Input,omitempty"`

	// ExecutionStarted.
	OrchestrationInstance *OrchestrationInstance `json:"OrchestrationInstance,omitempty"`
	ParentInstance        *ParentInstance        `json:"ParentInstance,omitempty"`
	Tags                  map[string]string      `json:"Tags,omitempty"`
	ScheduledStartTime    *time.Time             `json:"ScheduledStartTime,omitempty"`
	Generation            int                    `json:"Generation,omitempty"`

	// ExecutionCompleted and ContinueAsNew.
	OrchestrationStatus RuntimeStatus `json:"OrchestrationStatus,omitempty"`
	// Result of ExecutionCompleted, ContinueAsNew (the new input),
	// TaskCompleted and SubOrchestrationInstanceCompleted.
	Result string `json:"Result,omitempty"`

	// TaskCompleted, TaskFailed, SubOrchestrationInstance{Completed,Failed}.
	TaskScheduledID int `json:"TaskScheduledId,omitempty"`
	// TaskFailed, SubOrchestrationInstanceFailed, ExecutionSuspended/Resumed.
	Reason         string          `json:"Reason,omitempty"`
	Details        string          `json:"Details,omitempty"`
	FailureDetails *FailureDetails `json:"FailureDetails,omitempty"`

	// SubOrchestrationInstanceCreated and EventSent: the target instance.
	InstanceID string `json:"InstanceId,omitempty"`

	// TimerCreated and TimerFired.
	FireAt  time.Time `json:"FireAt,omitzero"`
	TimerID int       `json:"TimerId,omitempty"`

	// GenericEvent.
	Data string `json:"Data,omitempty"`

	// ParentTraceContext, on ExecutionStarted, TaskScheduled and EventSent,
	// is the W3C trace context of the span the event's work belongs under:
	// the starter's create_orchestration span (or the parent's client span
	// of a sub-orchestration), the orchestration's activity client span, the
	// orchestration's event span. The Durable Task Framework carries it in
	// the same property of those events, so a .NET reader sees the same
	// trace. Nil when tracing was off where the event was made.
	ParentTraceContext *TraceContext `json:"ParentTraceContext,omitempty"`
	// ClientSpanID, on SubOrchestrationInstanceCreated, is the span ID of
	// the parent's client span for the child, as the Durable Task
	// Framework's ClientSpanId.
	ClientSpanID string `json:"ClientSpanId,omitempty"`

	// Recursive, on ExecutionTerminated, asks the engine to terminate the
	// execution's unfinished sub-orchestrations too, each of them
	// recursively, so the whole tree ends. It is this project's field, not
	// the Durable Task Framework's (whose readers ignore unknown fields);
	// Microsoft's newer Durable Task SDKs offer the same option.
	Recursive bool `json:"Recursive,omitempty"`

	// CustomStatus, on OrchestratorCompleted, is the custom status (JSON,
	// "" when unset) the execution had at the end of that episode, so that
	// recovery can tell from history alone whether the instance row shows
	// it. It is this project's column; nil on events that predate it.
	CustomStatus *string `json:"-"`

	// MessageID identifies the queue message that delivered the event (the
	// envelope's ActivityId), for any event that arrived by message. The
	// engine drops a second event with the same ID, which is what makes a
	// redelivered message harmless. It is stored in history as an extra
	// column, never in the event's own JSON: in a queue message it is the
	// envelope's field.
	MessageID string `json:"-"`
	// TargetExecutionID is the execution a delivered message was addressed
	// to (its TaskMessage's ExecutionId), when the sender named one. An
	// activity result or a timer meant for an execution that has since
	// continued as new must not resolve the new execution's task of the
	// same ID. Not stored, not in the event's JSON.
	TargetExecutionID string `json:"-"`
	// AppliedMessageIDs, on an ExecutionStarted that opens a continue-as-new
	// execution, lists the message IDs applied by earlier executions whose
	// messages may still be redelivered, so that de-duplication survives
	// the history being overwritten. Stored as an extra column.
	AppliedMessageIDs []string `json:"-"`
}

// IsTaskResult reports whether the event resolves a scheduled activity or
// sub-orchestration.
func (e *Event) IsTaskResult() bool {
	switch e.Type {
	case TaskCompleted, TaskFailed, SubOrchestrationInstanceCompleted, SubOrchestrationInstanceFailed:
		return true
	}
	return false
}

// TaskMessage is an event addressed to one execution of an instance: the
// unit that travels through control and work-item queues.
type TaskMessage struct {
	Event                 Event                 `json:"Event"`
	SequenceNumber        int64                 `json:"SequenceNumber"`
	OrchestrationInstance OrchestrationInstance `json:"OrchestrationInstance"`
}

// Received is the message's event as its instance gets it: carrying, in
// TargetExecutionID, the execution the message was addressed to.
func (tm TaskMessage) Received() Event {
	ev := tm.Event
	ev.TargetExecutionID = tm.OrchestrationInstance.ExecutionID
	return ev
}

// MessageTo addresses a received event to instanceID again, to the
// execution it was meant for: the inverse of Received, for an event that
// must go (back) through a queue.
func MessageTo(instanceID string, ev Event) TaskMessage {
	return TaskMessage{OrchestrationInstance: OrchestrationInstance{InstanceID: instanceID, ExecutionID: ev.TargetExecutionID}, Event: ev}
}
