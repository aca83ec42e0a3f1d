package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// Column names of the History table, as the .NET provider writes them.
const (
	colExecutionID           = "ExecutionId"
	colEventID               = "EventId"
	colIsPlayed              = "IsPlayed"
	colEventTimestamp        = "_Timestamp" // "Timestamp" is the service's own
	colEventType             = "EventType"
	colOrchestrationInstance = "OrchestrationInstance"
	colParentInstance        = "ParentInstance"
	colName                  = "Name"
	colVersion               = "Version"
	colInput                 = "Input"
	colTags                  = "Tags"
	colScheduledStartTime    = "ScheduledStartTime"
	colGeneration            = "Generation"
	colOrchestrationStatus   = "OrchestrationStatus"
	colResult                = "Result"
	colFailureDetails        = "FailureDetails"
	colTaskScheduledID       = "TaskScheduledId"
	colReason                = "Reason"
	colDetails               = "Details"
	colInstanceID            = "InstanceId"
	colFireAt                = "FireAt"
	colTimerID               = "TimerId"
	colData                  = "Data"
	// colParentTraceContext holds history.TraceContext as JSON, and
	// colClientSpanID the parent's span of a sub-orchestration: the
	// Durable Task Framework's properties of those names.
	colParentTraceContext = "ParentTraceContext"
	colClientSpanID       = "ClientSpanId"
	// Columns of this project's, not the .NET provider's: the ID of the
	// message that delivered an event, and the IDs a continue-as-new
	// carries, which the engine de-duplicates redelivered messages with.
	colMessageID         = "MessageId"
	colAppliedMessageIDs = "AppliedMessageIds"
	// colRecursive marks a recursive ExecutionTerminated.
	colRecursive = "Recursive"
	// colEpisodeCustomStatus, on OrchestratorCompleted, is the custom
	// status at the end of the episode (history.Event.CustomStatus).
	colEpisodeCustomStatus = "CustomStatus"

	colIsCheckpointComplete         = "IsCheckpointComplete"
	colCheckpointCompletedTimestamp = "CheckpointCompletedTimestamp"
	// colCheckpointEventCount, on the sentinel, is how many events of its
	// execution are committed (a column of this project's). A checkpoint
	// too large for one batch is written in several, each atomic alone; the
	// count each batch sets is what makes the rows of the batches not yet
	// written, or left by a write that was cut short, invisible to readers.
	colCheckpointEventCount = "CheckpointEventCount"
)

// SentinelRowKey is the RowKey of the History row that marks the last
// completed checkpoint of an instance. Only history rows whose ExecutionId
// equals the sentinel's belong to the current execution.
const SentinelRowKey = "sentinel"

// EncodeHistoryRow encodes event number seq of an execution as a History
// table row: PartitionKey is the escaped instance ID, RowKey is RowKey(seq),
// and the columns are the base columns (ExecutionId, EventId, IsPlayed,
// _Timestamp, EventType by name) plus the columns of the event's type.
// Optional strings that are empty are left out. Values too large for a table
// property are moved to blobs (see MaxTableValueBytes), which needs blobs;
// blobs may be nil when no value can be that large.
//
// Date-times are stored in UTC with 100 ns precision, the Table service's.
// Fields that do not belong to the event's type are not stored.
func EncodeHistoryRow(ctx context.Context, blobs BlobStore, instanceID, executionID string, seq int, ev history.Event) (Entity, error) {
	if instanceID == "" {
		return nil, fmt.Errorf("encode history row %d: empty instance ID", seq)
	}
	if seq < 0 {
		return nil, fmt.Errorf("encode history row of instance %q: negative sequence number %d", instanceID, seq)
	}
	if executionID == "" {
		// Without it the row could never be matched to the sentinel.
		return nil, fmt.Errorf("encode history row %d of instance %q: empty execution ID", seq, instanceID)
	}
	rk := RowKey(seq)
	fail := func(err error) error {
		return fmt.Errorf("encode history row %s (%s) of instance %q: %w", rk, ev.Type, instanceID, err)
	}
	if !knownEventType(ev.Type) {
		return nil, fail(fmt.Errorf("unknown event type %d", int(ev.Type)))
	}
	pk := EscapePartitionKey(instanceID)
	e := Entity{
		propPartitionKey:  pk,
		propRowKey:        rk,
		colExecutionID:    executionID,
		colEventID:        ev.EventID,
		colIsPlayed:       ev.IsPlayed,
		colEventTimestamp: ev.Timestamp,
		colEventType:      ev.Type.String(),
	}
	if err := putEventColumns(e, &ev); err != nil {
		return nil, fail(err)
	}
	putString(e, colMessageID, ev.MessageID)
	if ev.CustomStatus != nil {
		// Kept even when empty: "" says the custom status was cleared.
		e[colEpisodeCustomStatus] = *ev.CustomStatus
	}
	if len(ev.AppliedMessageIDs) > 0 {
		if err := putJSON(e, colAppliedMessageIDs, ev.AppliedMessageIDs); err != nil {
			return nil, fail(err)
		}
	}
	if err := e.validate(); err != nil {
		return nil, fail(err)
	}
	_, err := offloadLargeValues(ctx, blobs, e,
		func(col string) string {
			return fmt.Sprintf("%s/history-%s-%s-%s-%s.json.gz", pk, rk, ev.Type, randomHex8(), col)
		},
		func(string) string { return "" })
	if err != nil {
		return nil, fail(err)
	}
	return e, nil
}

func knownEventType(t history.EventType) bool {
	return t >= history.ExecutionStarted && t <= history.ExecutionResumed
}

// putEventColumns adds the columns specific to ev's type. Integer columns
// whose zero value is meaningful (TaskScheduledId and TimerId refer to event
// IDs, which start at 0) are always written.
func putEventColumns(e Entity, ev *history.Event) error {
	switch ev.Type {
	case history.ExecutionStarted:
		if ev.OrchestrationInstance != nil {
			if err := putJSON(e, colOrchestrationInstance, ev.OrchestrationInstance); err != nil {
				return err
			}
		}
		if ev.ParentInstance != nil {
			if err := putJSON(e, colParentInstance, ev.ParentInstance); err != nil {
				return err
			}
		}
		putString(e, colName, ev.Name)
		putString(e, colVersion, ev.Version)
		putString(e, colInput, ev.Input)
		if len(ev.Tags) > 0 {
			if err := putJSON(e, colTags, ev.Tags); err != nil {
				return err
			}
		}
		if ev.ScheduledStartTime != nil {
			e[colScheduledStartTime] = *ev.ScheduledStartTime
		}
		e[colGeneration] = ev.Generation
		if err := putTraceContext(e, ev.ParentTraceContext); err != nil {
			return err
		}
	case history.ExecutionCompleted, history.ExecutionFailed, history.ContinueAsNew:
		putString(e, colOrchestrationStatus, string(ev.OrchestrationStatus))
		putString(e, colResult, ev.Result)
		putString(e, colFailureDetails, ev.FailureDetails.JSON())
	case history.ExecutionTerminated:
		putString(e, colInput, ev.Input)
		if ev.Recursive {
			e[colRecursive] = true
		}
	case history.TaskScheduled:
		putString(e, colName, ev.Name)
		putString(e, colVersion, ev.Version)
		putString(e, colInput, ev.Input)
		if err := putTraceContext(e, ev.ParentTraceContext); err != nil {
			return err
		}
	case history.TaskCompleted, history.SubOrchestrationInstanceCompleted:
		e[colTaskScheduledID] = ev.TaskScheduledID
		putString(e, colResult, ev.Result)
	case history.TaskFailed, history.SubOrchestrationInstanceFailed:
		e[colTaskScheduledID] = ev.TaskScheduledID
		putString(e, colReason, ev.Reason)
		putString(e, colDetails, ev.Details)
		putString(e, colFailureDetails, ev.FailureDetails.JSON())
	case history.SubOrchestrationInstanceCreated:
		putString(e, colName, ev.Name)
		putString(e, colVersion, ev.Version)
		putString(e, colInstanceID, ev.InstanceID)
		putString(e, colInput, ev.Input)
		putString(e, colClientSpanID, ev.ClientSpanID)
	case history.TimerCreated:
		e[colFireAt] = ev.FireAt
	case history.TimerFired:
		e[colTimerID] = ev.TimerID
		e[colFireAt] = ev.FireAt
	case history.EventSent:
		putString(e, colInstanceID, ev.InstanceID)
		putString(e, colName, ev.Name)
		putString(e, colInput, ev.Input)
		if err := putTraceContext(e, ev.ParentTraceContext); err != nil {
			return err
		}
	case history.EventRaised:
		putString(e, colName, ev.Name)
		putString(e, colInput, ev.Input)
	case history.GenericEvent:
		putString(e, colData, ev.Data)
	case history.ExecutionSuspended, history.ExecutionResumed:
		putString(e, colReason, ev.Reason)
	case history.OrchestratorStarted, history.OrchestratorCompleted, history.HistoryState:
		// Base columns only.
	}
	return nil
}

// putTraceContext writes a trace context's column, nothing when it is nil.
func putTraceContext(e Entity, tc *history.TraceContext) error {
	if tc == nil || tc.TraceParent == "" {
		return nil
	}
	return putJSON(e, colParentTraceContext, tc)
}

func putString(e Entity, col, v string) {
	if v != "" {
		e[col] = v
	}
}

// putJSON stores v as JSON text, the way the .NET provider stores complex
// properties in a table column.
func putJSON(e Entity, col string, v any) error {
	data, err := marshalJSON(v)
	if err != nil {
		return fmt.Errorf("property %s: %w", col, err)
	}
	e[col] = string(data)
	return nil
}

// DecodeHistoryRow is the inverse of EncodeHistoryRow: it returns the
// event's sequence number (from the RowKey), its execution ID and the event,
// loading offloaded values from blobs. It reads every known column that is
// present whatever the event type, so rows written by the .NET provider
// (which has a few more columns, ignored here) decode too.
func DecodeHistoryRow(ctx context.Context, blobs BlobStore, e Entity) (seq int, executionID string, ev history.Event, err error) {
	pk, rk := e.str(propPartitionKey), e.str(propRowKey)
	fail := func(err error) error {
		return fmt.Errorf("decode history row %q of partition %q: %w", rk, pk, err)
	}
	if rk == SentinelRowKey {
		return 0, "", ev, fail(errors.New("this is the sentinel row, not an event"))
	}
	seq, err = ParseRowKey(rk)
	if err != nil {
		return 0, "", ev, fail(err)
	}
	r, err := resolveBlobValues(ctx, blobs, e)
	if err != nil {
		return 0, "", ev, fail(err)
	}
	d := decoder{e: r}
	typeName := d.str(colEventType)
	executionID = d.str(colExecutionID)
	ev.EventID = d.int(colEventID)
	ev.IsPlayed = d.bool(colIsPlayed)
	ev.Timestamp = d.time(colEventTimestamp)
	ev.Name = d.str(colName)
	ev.Version = d.str(colVersion)
	ev.Input = d.str(colInput)
	ev.OrchestrationInstance = decodeJSONPtr[history.OrchestrationInstance](&d, colOrchestrationInstance)
	ev.ParentInstance = decodeJSONPtr[history.ParentInstance](&d, colParentInstance)
	ev.Tags = d.tags(colTags)
	ev.ScheduledStartTime = d.timePtr(colScheduledStartTime)
	ev.Generation = d.int(colGeneration)
	ev.OrchestrationStatus = d.status(colOrchestrationStatus)
	ev.Result = d.str(colResult)
	ev.TaskScheduledID = d.int(colTaskScheduledID)
	ev.Reason = d.str(colReason)
	ev.Details = d.str(colDetails)
	ev.FailureDetails = decodeJSONPtr[history.FailureDetails](&d, colFailureDetails)
	ev.InstanceID = d.str(colInstanceID)
	ev.FireAt = d.time(colFireAt)
	ev.TimerID = d.int(colTimerID)
	ev.Data = d.str(colData)
	ev.ParentTraceContext = decodeJSONPtr[history.TraceContext](&d, colParentTraceContext)
	ev.ClientSpanID = d.str(colClientSpanID)
	ev.Recursive = d.bool(colRecursive)
	ev.MessageID = d.str(colMessageID)
	if r.Has(colEpisodeCustomStatus) {
		cs := d.str(colEpisodeCustomStatus)
		ev.CustomStatus = &cs
	}
	if ids := decodeJSONPtr[[]string](&d, colAppliedMessageIDs); ids != nil {
		ev.AppliedMessageIDs = *ids
	}
	if d.err != nil {
		return 0, "", history.Event{}, fail(d.err)
	}
	if typeName == "" {
		return 0, "", history.Event{}, fail(errors.New("property EventType is missing"))
	}
	ev.Type, err = history.ParseEventType(typeName)
	if err != nil {
		return 0, "", history.Event{}, fail(fmt.Errorf("property EventType: %w", err))
	}
	return seq, executionID, ev, nil
}

// decoder reads typed columns and keeps the first error, so that decoding a
// row is a flat list of assignments rather than an error check per column.
type decoder struct {
	e   Entity
	err error
}

func (d *decoder) keep(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) str(col string) string {
	s, err := d.e.String(col)
	d.keep(err)
	return s
}

func (d *decoder) int(col string) int {
	n, err := d.e.Int(col)
	d.keep(err)
	return n
}

func (d *decoder) bool(col string) bool {
	b, err := d.e.Bool(col)
	d.keep(err)
	return b
}

func (d *decoder) time(col string) time.Time {
	t, err := d.e.Time(col)
	d.keep(err)
	return t
}

func (d *decoder) timePtr(col string) *time.Time {
	if !d.e.Has(col) {
		return nil
	}
	t := d.time(col)
	return &t
}

// optionalTime reads a date-time column that may be unset. Besides a
// missing column, the Table service's minimum date-time counts as unset:
// .NET writes that value (its DateTimeUtils.MinDateTime) for a DateTime that
// has no value yet, because DateTime.MinValue cannot be stored.
func (d *decoder) optionalTime(col string) *time.Time {
	t := d.timePtr(col)
	if t != nil && t.Equal(minTableTime) {
		return nil
	}
	return t
}

// status reads a runtime status written as its name or, as older .NET
// writers do for enums, as its OrchestrationStatus number.
func (d *decoder) status(col string) history.RuntimeStatus {
	switch v := d.e[col].(type) {
	case nil:
		return ""
	case string:
		if v == "" {
			return ""
		}
		st, err := history.ParseRuntimeStatus(v)
		if err != nil {
			d.keep(fmt.Errorf("property %s: %w", col, err))
		}
		return st
	default:
		n, err := d.e.Int(col)
		if err != nil {
			d.keep(err)
			return ""
		}
		st, err := statusFromNumber(n)
		if err != nil {
			d.keep(fmt.Errorf("property %s: %w", col, err))
		}
		return st
	}
}

// tags reads a JSON object of strings, dropping the "$type" entry .NET's
// type-annotating serializer adds to dictionaries.
func (d *decoder) tags(col string) map[string]string {
	s := d.str(col)
	if s == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		d.keep(fmt.Errorf("property %s: %w", col, err))
		return nil
	}
	delete(m, "$type")
	if len(m) == 0 {
		return nil
	}
	return m
}

// decodeJSONPtr reads a column holding JSON text into a new T, or nil when
// the column is missing, empty or JSON null.
func decodeJSONPtr[T any](d *decoder, col string) *T {
	s := d.str(col)
	if s == "" || s == "null" {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal([]byte(s), v); err != nil {
		d.keep(fmt.Errorf("property %s: %w", col, err))
		return nil
	}
	return v
}

// dtfStatuses maps the numbers of the Durable Task Framework's
// OrchestrationStatus enum to runtime statuses.
var dtfStatuses = [...]history.RuntimeStatus{
	history.StatusRunning, history.StatusCompleted, history.StatusContinuedAsNew, history.StatusFailed,
	history.StatusCanceled, history.StatusTerminated, history.StatusPending, history.StatusSuspended,
}

func statusFromNumber(n int) (history.RuntimeStatus, error) {
	if n < 0 || n >= len(dtfStatuses) {
		return "", fmt.Errorf("unknown orchestration status number %d", n)
	}
	return dtfStatuses[n], nil
}

// SentinelRow returns the History row that marks a checkpoint of
// executionID holding its first events events; complete is false on every
// batch of a multi-batch checkpoint but the last. The engine inserts it with
// the first batch of an instance's history and afterwards merges it, with
// the ETag read at load time, in every batch of new events: a conflict then
// means another worker has checkpointed the same instance.
//
// events < 0 leaves the count out, so that a merge keeps the one stored.
func SentinelRow(instanceID, executionID string, events int, complete bool, completedAt time.Time) Entity {
	e := Entity{
		propPartitionKey:                EscapePartitionKey(instanceID),
		propRowKey:                      SentinelRowKey,
		colExecutionID:                  executionID,
		colIsCheckpointComplete:         complete,
		colCheckpointCompletedTimestamp: completedAt.UTC(),
	}
	if events >= 0 {
		e[colCheckpointEventCount] = int32(events)
	}
	return e
}

// IsSentinel reports whether e is a History sentinel row.
func IsSentinel(e Entity) bool { return e.str(propRowKey) == SentinelRowKey }

// Sentinel is the content of a History sentinel row.
type Sentinel struct {
	ExecutionID                  string
	IsCheckpointComplete         bool
	CheckpointCompletedTimestamp time.Time
	// EventCount is how many events of the execution are committed; -1 when
	// the row has no such column (written by another tool or an older
	// version), when every row of the execution counts.
	EventCount int
	// ETag is the row's ETag, for the conditional merge of the next
	// checkpoint.
	ETag string
}

// DecodeSentinelRow reads a sentinel row returned by the Table service.
func DecodeSentinelRow(e Entity) (Sentinel, error) {
	if !IsSentinel(e) {
		return Sentinel{}, fmt.Errorf("decode sentinel row of partition %q: RowKey is %q, want %q",
			e.str(propPartitionKey), e.str(propRowKey), SentinelRowKey)
	}
	d := decoder{e: e}
	s := Sentinel{
		ExecutionID:                  d.str(colExecutionID),
		IsCheckpointComplete:         d.bool(colIsCheckpointComplete),
		CheckpointCompletedTimestamp: d.time(colCheckpointCompletedTimestamp),
		EventCount:                   -1,
		ETag:                         e.ETag(),
	}
	if e.Has(colCheckpointEventCount) {
		s.EventCount = d.int(colCheckpointEventCount)
	}
	if d.err != nil {
		return Sentinel{}, fmt.Errorf("decode sentinel row of partition %q: %w", e.str(propPartitionKey), d.err)
	}
	return s, nil
}
