package layout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/history"
)

// Column names of the Instances table that the History table does not share.
const (
	colRuntimeStatus   = "RuntimeStatus"
	colCreatedTime     = "CreatedTime"
	colLastUpdatedTime = "LastUpdatedTime"
	colCompletedTime   = "CompletedTime"
	colOutput          = "Output"
	colCustomStatus    = "CustomStatus"
	colTaskHubName     = "TaskHubName"
)

// nullJSON is what the CustomStatus column holds when no custom status is
// set; Durable Functions tools expect the JSON literal rather than an empty
// or missing column.
const nullJSON = "null"

// InstanceRow is an orchestration instance's row in the Instances table.
type InstanceRow struct {
	InstanceID    string
	Name          string
	Version       string
	ExecutionID   string
	RuntimeStatus history.RuntimeStatus

	CreatedTime        time.Time
	LastUpdatedTime    time.Time
	CompletedTime      *time.Time // nil until the instance finishes
	ScheduledStartTime *time.Time // nil unless the start was delayed

	// Input, Output and CustomStatus are JSON text. Output holds the result,
	// the failure details when Failed, or the reason when Terminated.
	// CustomStatus is stored as the text "null" when empty, and decoding
	// turns "null" back into "".
	Input        string
	Output       string
	CustomStatus string

	// Generation counts how many times the instance ID has been reused.
	Generation  int
	Tags        map[string]string
	TaskHubName string
	// ParentInstance is the parent of a sub-orchestration, in this
	// project's column of that name (the parent's worker writes the row
	// before the child's first checkpoint): a start sent again from the row
	// must still report to the parent.
	ParentInstance *history.ParentInstance
	// ParentTraceContext is the trace context the client's start carried
	// (its create_orchestration span), in this project's column of that
	// name: a start sent again from the row stays in the caller's trace.
	ParentTraceContext *history.TraceContext

	// ETag is the row's ETag as read from the service (DecodeInstanceRow
	// sets it); it is not a column, but callers pass it to conditional
	// updates. EncodeInstanceRow ignores it.
	ETag string
}

// EncodeInstanceRow encodes the full Instances row of an instance, with
// PartitionKey the escaped instance ID and RowKey "". Optional values that
// are empty are left out, so the result is meant for inserts and for
// upserts or updates in Replace mode; use EncodeInstancePatch to change
// some columns in Merge mode. Values too large for a table property are
// moved to blobs and the column holds the blob's URL.
func EncodeInstanceRow(ctx context.Context, blobs BlobStore, row InstanceRow) (Entity, error) {
	fail := func(err error) error {
		return fmt.Errorf("encode instance row of %q: %w", row.InstanceID, err)
	}
	if row.InstanceID == "" {
		return nil, fail(errors.New("empty instance ID"))
	}
	if !row.RuntimeStatus.IsKnown() {
		return nil, fail(fmt.Errorf("property RuntimeStatus: unknown runtime status %q", row.RuntimeStatus))
	}
	e := Entity{
		propPartitionKey:   EscapePartitionKey(row.InstanceID),
		propRowKey:         "",
		colRuntimeStatus:   string(row.RuntimeStatus),
		colCreatedTime:     row.CreatedTime,
		colLastUpdatedTime: row.LastUpdatedTime,
		colCustomStatus:    customStatusColumn(row.CustomStatus),
		colGeneration:      row.Generation,
	}
	putString(e, colName, row.Name)
	putString(e, colVersion, row.Version)
	putString(e, colExecutionID, row.ExecutionID)
	putString(e, colInput, row.Input)
	putString(e, colOutput, row.Output)
	putString(e, colTaskHubName, row.TaskHubName)
	if row.CompletedTime != nil {
		e[colCompletedTime] = *row.CompletedTime
	}
	if row.ScheduledStartTime != nil {
		e[colScheduledStartTime] = *row.ScheduledStartTime
	}
	if len(row.Tags) > 0 {
		if err := putJSON(e, colTags, row.Tags); err != nil {
			return nil, fail(err)
		}
	}
	if row.ParentInstance != nil {
		if err := putJSON(e, colParentInstance, row.ParentInstance); err != nil {
			return nil, fail(err)
		}
	}
	if err := putTraceContext(e, row.ParentTraceContext); err != nil {
		return nil, fail(err)
	}
	if err := e.validate(); err != nil {
		return nil, fail(err)
	}
	if _, err := offloadInstanceValues(ctx, blobs, e); err != nil {
		return nil, fail(err)
	}
	return e, nil
}

func customStatusColumn(s string) string {
	if s == "" {
		return nullJSON
	}
	return s
}

// offloadInstanceValues moves large values of an Instances row to blobs
// named "{escaped id}/instance-{column}-{random}.json.gz"; the column keeps
// the blob's URL, which is what .NET tools show for such values.
func offloadInstanceValues(ctx context.Context, blobs BlobStore, e Entity) (map[string]bool, error) {
	pk := e.str(propPartitionKey)
	return offloadLargeValues(ctx, blobs, e,
		func(col string) string {
			return fmt.Sprintf("%s/instance-%s-%s.json.gz", pk, col, randomHex8())
		},
		func(name string) string { return blobs.URL(name) })
}

// InstancePatch names the Instances columns to change in a Merge-mode
// update; nil fields are left untouched. A non-nil string field is written
// even when empty (clearing the column), and a non-nil CustomStatus of ""
// is written as "null". This is how the engine records progress
// (RuntimeStatus, LastUpdatedTime, CustomStatus, Output, CompletedTime,
// ExecutionId) without rewriting a possibly large Input.
type InstancePatch struct {
	Name            *string
	Version         *string
	ExecutionID     *string
	RuntimeStatus   *history.RuntimeStatus
	LastUpdatedTime *time.Time
	CompletedTime   *time.Time
	Input           *string
	Output          *string
	CustomStatus    *string
	ParentInstance  *history.ParentInstance
}

// EncodeInstancePatch encodes the columns set in p, plus the keys of the
// instance's row, for UpdateEntity or UpsertEntity in Merge mode. Every
// string column written is accompanied by its "{column}BlobName" column
// (empty unless the value was offloaded), so that a value that used to be
// in a blob is not shadowed by the stale blob reference after the merge.
func EncodeInstancePatch(ctx context.Context, blobs BlobStore, instanceID string, p InstancePatch) (Entity, error) {
	fail := func(err error) error {
		return fmt.Errorf("encode instance update of %q: %w", instanceID, err)
	}
	if instanceID == "" {
		return nil, fail(errors.New("empty instance ID"))
	}
	e := Entity{
		propPartitionKey: EscapePartitionKey(instanceID),
		propRowKey:       "",
	}
	strs := []struct {
		col string
		v   *string
	}{
		{colName, p.Name}, {colVersion, p.Version}, {colExecutionID, p.ExecutionID},
		{colInput, p.Input}, {colOutput, p.Output},
	}
	for _, s := range strs {
		if s.v != nil {
			e[s.col] = *s.v
		}
	}
	if p.CustomStatus != nil {
		e[colCustomStatus] = customStatusColumn(*p.CustomStatus)
	}
	if p.RuntimeStatus != nil {
		if !p.RuntimeStatus.IsKnown() {
			return nil, fail(fmt.Errorf("property RuntimeStatus: unknown runtime status %q", *p.RuntimeStatus))
		}
		e[colRuntimeStatus] = string(*p.RuntimeStatus)
	}
	if p.LastUpdatedTime != nil {
		e[colLastUpdatedTime] = *p.LastUpdatedTime
	}
	if p.CompletedTime != nil {
		e[colCompletedTime] = *p.CompletedTime
	}
	if p.ParentInstance != nil {
		if err := putJSON(e, colParentInstance, p.ParentInstance); err != nil {
			return nil, fail(err)
		}
	}
	if err := e.validate(); err != nil {
		return nil, fail(err)
	}
	if _, err := offloadInstanceValues(ctx, blobs, e); err != nil {
		return nil, fail(err)
	}
	for _, col := range e.sortedNames() {
		if _, isString := e[col].(string); isString && col != propPartitionKey && col != propRowKey && offloadable(col) {
			if _, ok := e[col+blobNameSuffix]; !ok {
				e[col+blobNameSuffix] = ""
			}
		}
	}
	return e, nil
}

// DecodeInstanceRow reads an Instances row returned by the Table service,
// loading offloaded values from blobs and taking ETag from the entity's
// metadata. A CompletedTime or ScheduledStartTime of 1601-01-01T00:00:00Z,
// the placeholder .NET writes for "no value", decodes as nil.
func DecodeInstanceRow(ctx context.Context, blobs BlobStore, e Entity) (InstanceRow, error) {
	pk := e.str(propPartitionKey)
	fail := func(err error) error {
		return fmt.Errorf("decode instance row of partition %q: %w", pk, err)
	}
	id, err := UnescapePartitionKey(pk)
	if err != nil {
		return InstanceRow{}, fail(err)
	}
	if id == "" {
		return InstanceRow{}, fail(errors.New("property PartitionKey is missing"))
	}
	r, err := resolveBlobValues(ctx, blobs, e)
	if err != nil {
		return InstanceRow{}, fail(err)
	}
	d := decoder{e: r}
	row := InstanceRow{
		InstanceID:         id,
		Name:               d.str(colName),
		Version:            d.str(colVersion),
		ExecutionID:        d.str(colExecutionID),
		RuntimeStatus:      d.status(colRuntimeStatus),
		CreatedTime:        d.time(colCreatedTime),
		LastUpdatedTime:    d.time(colLastUpdatedTime),
		CompletedTime:      d.optionalTime(colCompletedTime),
		ScheduledStartTime: d.optionalTime(colScheduledStartTime),
		Input:              d.str(colInput),
		Output:             d.str(colOutput),
		CustomStatus:       d.str(colCustomStatus),
		Generation:         d.int(colGeneration),
		Tags:               d.tags(colTags),
		TaskHubName:        d.str(colTaskHubName),
		ParentInstance:     decodeJSONPtr[history.ParentInstance](&d, colParentInstance),
		ParentTraceContext: decodeJSONPtr[history.TraceContext](&d, colParentTraceContext),
		ETag:               e.ETag(),
	}
	if d.err != nil {
		return InstanceRow{}, fail(d.err)
	}
	if row.RuntimeStatus == "" {
		return InstanceRow{}, fail(errors.New("property RuntimeStatus is missing"))
	}
	if row.CustomStatus == nullJSON {
		row.CustomStatus = ""
	}
	return row, nil
}

// StartMessage is the control-queue message that starts the execution an
// instance row describes. Every copy of it (the client's, and any that
// recovery sends again because the first may have been lost) carries the
// same message ID, derived from the execution ID, so the instance applies
// exactly one.
func StartMessage(row *InstanceRow) history.TaskMessage {
	inst := history.OrchestrationInstance{InstanceID: row.InstanceID, ExecutionID: row.ExecutionID}
	ev := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: row.CreatedTime, Name: row.Name,
		Version: row.Version, Input: row.Input, OrchestrationInstance: &inst, ScheduledStartTime: row.ScheduledStartTime,
		Generation: row.Generation, MessageID: StartMessageID(row.InstanceID, row.ExecutionID), ParentInstance: row.ParentInstance,
		ParentTraceContext: row.ParentTraceContext}
	return history.TaskMessage{OrchestrationInstance: inst, Event: ev}
}

// StartMessageID is the message ID of the start message a client sends for
// an execution; the worker tells client starts (whose client indexed them)
// from the executions it starts itself by it.
func StartMessageID(instanceID, executionID string) string {
	return uuid.NewSHA1(startMessageNamespace, []byte(instanceID+"/"+executionID)).String()
}

// startMessageNamespace makes start message IDs GUIDs, the form the .NET
// provider's ActivityId has.
var startMessageNamespace = uuid.MustParse("4c0d1f3e-7f5b-4b0c-9a51-2f8f4f7a6d21")
