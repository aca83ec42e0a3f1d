package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// This file holds the client's side of bulk operations: the request a
// caller gives, the input of the built-in orchestration that runs it
// (package internal/batch), and the per-instance step that orchestration's
// activity applies, made repeatable with deterministic message IDs. The
// exactly-once argument is written down in package internal/batch.

// BatchOrchestrator is the name of the built-in orchestration that runs a
// bulk operation. Every app registers it. Being internal (IsInternalName),
// its instances are a bulk operation's targets only when the filter asks
// for internal instances, and a bulk operation never targets itself.
const BatchOrchestrator = InternalNamePrefix + "Batch"

// BatchOperation is what a bulk operation does to each matching instance.
type BatchOperation string

// The bulk operations, spelled as in the HTTP route.
const (
	BatchTerminate  BatchOperation = "terminate"
	BatchSuspend    BatchOperation = "suspend"
	BatchResume     BatchOperation = "resume"
	BatchRewind     BatchOperation = "rewind"
	BatchRestart    BatchOperation = "restart"
	BatchRaiseEvent BatchOperation = "raiseEvent"
	BatchPurge      BatchOperation = "purge"
)

// BatchOperations lists every operation, in the order help texts name them.
var BatchOperations = []BatchOperation{BatchTerminate, BatchSuspend, BatchResume, BatchRewind, BatchRestart, BatchRaiseEvent, BatchPurge}

// ParseBatchOperation reads an operation name, case-insensitively.
func ParseBatchOperation(s string) (BatchOperation, error) {
	for _, op := range BatchOperations {
		if strings.EqualFold(s, string(op)) {
			return op, nil
		}
	}
	names := make([]string, len(BatchOperations))
	for i, op := range BatchOperations {
		names[i] = string(op)
	}
	return "", fmt.Errorf("%w: unknown bulk operation %q: want one of %s", ErrBadArgument, s, strings.Join(names, ", "))
}

// DefaultBatchSize is how many instances a bulk operation lists and
// applies per step; MaxBatchSize bounds it (a table query's page).
const (
	DefaultBatchSize = 100
	MaxBatchSize     = 1000
)

// BatchRequest asks for a bulk operation over every instance that Filter
// selects.
type BatchRequest struct {
	Operation BatchOperation
	// Filter selects the targets with the fields of the list query
	// (created-time range, statuses, ID prefix, names); its paging fields
	// are ignored. When it names no runtime status, the operation's own
	// default applies (see DefaultStatuses). Instances created after the
	// operation starts are never targets.
	Filter Query
	// Reason is recorded by terminate, suspend, resume and rewind.
	Reason string
	// EventName and EventData are raiseEvent's event: a name (required)
	// and any JSON-encodable value (json.RawMessage and []byte as JSON).
	EventName string
	EventData any
	// RestartWithNewInstanceID makes restart start each instance under a
	// new ID (derived from the bulk operation and the instance, so that a
	// repeated step finds it) instead of in place, which needs a finished
	// instance. The HTTP API and the CLI default it to true.
	RestartWithNewInstanceID bool
	// BatchSize is how many instances each step lists and applies
	// (DefaultBatchSize when 0, at most MaxBatchSize).
	BatchSize int
	// Recursive makes terminate and purge reach each instance's
	// sub-orchestrations too, as TerminateWithOptions and PurgeWithOptions
	// do with Recursive.
	Recursive bool
}

// BatchFilter is a Query's filter as the orchestration's input carries it.
type BatchFilter struct {
	CreatedTimeFrom  time.Time               `json:"createdTimeFrom,omitzero"`
	CreatedTimeTo    time.Time               `json:"createdTimeTo,omitzero"`
	RuntimeStatus    []history.RuntimeStatus `json:"runtimeStatus,omitempty"`
	InstanceIDPrefix string                  `json:"instanceIdPrefix,omitempty"`
	Names            []string                `json:"name,omitempty"`
	// Versions is Query.Versions; a bulk operation started before the
	// field existed reads nil, which does not filter.
	Versions []string `json:"version,omitempty"`
	// ShowInternal is Query.ShowInternal: internal instances (other bulk
	// operations among them) are targets only when asked for. A bulk
	// operation started before the field existed reads false, which is
	// what it did then.
	ShowInternal bool `json:"showInternal,omitempty"`
	// Self is the bulk operation's own instance ID, set when it starts: it
	// is never its own target, even when internal instances are asked for
	// (a bulk terminate or suspend of Running instances would stop itself).
	Self string `json:"self,omitempty"`
}

// Query is the filter as a list query.
func (f BatchFilter) Query() Query {
	return Query{CreatedFrom: f.CreatedTimeFrom, CreatedTo: f.CreatedTimeTo, Statuses: f.RuntimeStatus,
		InstanceIDPrefix: f.InstanceIDPrefix, Names: f.Names, Versions: f.Versions, ShowInternal: f.ShowInternal}
}

// Pinned returns the filter with its created-time end at asOf or earlier,
// so that instances created once the operation runs (restart's new ones
// among them) never join its targets.
func (f BatchFilter) Pinned(asOf time.Time) BatchFilter {
	if f.CreatedTimeTo.IsZero() || f.CreatedTimeTo.After(asOf) {
		f.CreatedTimeTo = asOf
	}
	return f
}

// Targets reports whether a bulk operation with filter f may handle an
// instance the filter's query listed: any but the operation itself. The
// query already leaves internal instances out unless f asks for them;
// checking again here keeps that true whatever the listing does.
func (f BatchFilter) Targets(st *Status) bool {
	return st.InstanceID != f.Self && !f.Query().hides(st.Name)
}

// CountBatchTargets counts, per runtime status, the instances a bulk
// operation with filter f would handle now: those f selects, the
// operation itself left out. It is the dry run's count, so that what a
// dry run announces is what the operation handles.
func (c *Client) CountBatchTargets(ctx context.Context, f BatchFilter) (Counts, error) {
	return c.countMatching(ctx, f.Query(), f.Targets)
}

// BatchInput is the input of a BatchOrchestrator instance.
type BatchInput struct {
	Operation                BatchOperation  `json:"operation"`
	Filter                   BatchFilter     `json:"filter"`
	Reason                   string          `json:"reason,omitempty"`
	EventName                string          `json:"eventName,omitempty"`
	EventData                json.RawMessage `json:"eventData,omitempty"`
	RestartWithNewInstanceID bool            `json:"restartWithNewInstanceId,omitempty"`
	BatchSize                int             `json:"batchSize,omitempty"`
	Recursive                bool            `json:"recursive,omitempty"`
	// AsOf is when the operation started, set by its first execution: the
	// filter's created-time end, and part of every derived message ID so
	// that a bulk operation reusing an instance ID derives other ones.
	AsOf time.Time `json:"asOf,omitzero"`
}

// DefaultStatuses are the statuses an operation targets when the filter
// names none: those it applies to, so that instances it could only refuse
// are not counted as failures. nil means any status.
func DefaultStatuses(op BatchOperation, restartWithNewID bool) []history.RuntimeStatus {
	active := []history.RuntimeStatus{history.StatusPending, history.StatusRunning, history.StatusSuspended}
	finished := []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed, history.StatusTerminated, history.StatusCanceled}
	switch op {
	case BatchTerminate, BatchRaiseEvent:
		return active
	case BatchSuspend:
		return []history.RuntimeStatus{history.StatusPending, history.StatusRunning}
	case BatchResume:
		return []history.RuntimeStatus{history.StatusSuspended}
	case BatchRewind:
		return []history.RuntimeStatus{history.StatusFailed}
	case BatchPurge:
		return finished
	case BatchRestart:
		if !restartWithNewID {
			return finished
		}
	}
	return nil
}

// BatchInput validates the request and returns the orchestration's input
// (without AsOf, which the orchestration sets). Every refusal is an
// ErrBadArgument.
func (r BatchRequest) BatchInput() (*BatchInput, error) {
	op, err := ParseBatchOperation(string(r.Operation))
	if err != nil {
		return nil, err
	}
	f := r.Filter
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedTo.After(f.CreatedFrom) {
		return nil, fmt.Errorf("%w: createdTimeTo must be after createdTimeFrom", ErrBadArgument)
	}
	if p := f.InstanceIDPrefix; p != "" {
		if err := layout.ValidateInstanceID(p); err != nil {
			return nil, fmt.Errorf("%w: the instance ID prefix cannot start an instance ID: %v", ErrBadArgument, err)
		}
	}
	size := r.BatchSize
	if size == 0 {
		size = DefaultBatchSize
	}
	if size < 1 || size > MaxBatchSize {
		return nil, fmt.Errorf("%w: batch size %d is not in 1..%d", ErrBadArgument, r.BatchSize, MaxBatchSize)
	}
	in := &BatchInput{Operation: op, Reason: r.Reason, RestartWithNewInstanceID: r.RestartWithNewInstanceID, BatchSize: size,
		Recursive: r.Recursive,
		Filter: BatchFilter{CreatedTimeFrom: f.CreatedFrom.UTC(), CreatedTimeTo: f.CreatedTo.UTC(), RuntimeStatus: f.Statuses,
			InstanceIDPrefix: f.InstanceIDPrefix, Names: f.Names, Versions: f.Versions, ShowInternal: f.ShowInternal}}
	if f.CreatedFrom.IsZero() {
		in.Filter.CreatedTimeFrom = time.Time{}
	}
	if f.CreatedTo.IsZero() {
		in.Filter.CreatedTimeTo = time.Time{}
	}
	if op == BatchRaiseEvent {
		if strings.TrimSpace(r.EventName) == "" {
			return nil, fmt.Errorf("%w: raiseEvent needs an event name", ErrBadArgument)
		}
		data, err := EncodeInput(r.EventData)
		if err != nil {
			return nil, err
		}
		if data == "" {
			data = "null"
		}
		in.EventName, in.EventData = r.EventName, json.RawMessage(data)
	} else if r.EventName != "" || r.EventData != nil {
		return nil, fmt.Errorf("%w: an event name and data are only for raiseEvent, not %s", ErrBadArgument, op)
	}
	if r.Recursive && op != BatchTerminate && op != BatchPurge {
		return nil, fmt.Errorf("%w: recursive is only for terminate and purge, not %s", ErrBadArgument, op)
	}
	if op != BatchRestart && r.RestartWithNewInstanceID {
		return nil, fmt.Errorf("%w: restartWithNewInstanceId is only for restart, not %s", ErrBadArgument, op)
	}
	if len(in.Filter.RuntimeStatus) == 0 {
		in.Filter.RuntimeStatus = DefaultStatuses(op, r.RestartWithNewInstanceID)
	}
	if op == BatchPurge {
		for _, s := range in.Filter.RuntimeStatus {
			if !s.IsTerminal() {
				return nil, fmt.Errorf("%w: only finished instances can be purged (Completed, Failed, Terminated, Canceled), not %s", ErrBadArgument, s)
			}
		}
	}
	return in, nil
}

// StartBatch validates req and starts the bulk operation as a new
// BatchOrchestrator instance, whose ID it returns. The operation runs
// when an app serving the hub runs; its progress is the instance's custom
// status (BatchProgress) and its result the output (BatchSummary).
func (c *Client) StartBatch(ctx context.Context, req BatchRequest) (string, error) {
	in, err := req.BatchInput()
	if err != nil {
		return "", err
	}
	// The orchestration may come from a client that does not know the
	// app's registry (the CLI); every app registers it.
	return c.startNew(ctx, BatchOrchestrator, in, StartOptions{}, false)
}

// BatchProgress is a running bulk operation's custom status.
type BatchProgress struct {
	Operation BatchOperation `json:"operation"`
	// Total is how many instances matched when the operation started: an
	// estimate for progress bars, since instances change meanwhile.
	Total     int  `json:"total"`
	Matched   int  `json:"matched"`
	Succeeded int  `json:"succeeded"`
	Failed    int  `json:"failed"`
	Pages     int  `json:"pages"`
	Done      bool `json:"done"`
}

// BatchError is one instance a bulk operation failed on.
type BatchError struct {
	InstanceID string `json:"instanceId"`
	Error      string `json:"error"`
}

// MaxBatchErrors bounds the errors a summary keeps: the first ones.
const MaxBatchErrors = 20

// BatchSummary is a finished bulk operation's output: how many instances
// it handled (Matched = Succeeded + Failed) and the first errors.
type BatchSummary struct {
	Operation BatchOperation `json:"operation"`
	Matched   int            `json:"matched"`
	Succeeded int            `json:"succeeded"`
	Failed    int            `json:"failed"`
	Errors    []BatchError   `json:"errors"`
}

// Add counts the outcome of one step's instances into s, keeping at most
// MaxBatchErrors errors, the first ones.
func (s *BatchSummary) Add(results []BatchItemResult) {
	for _, r := range results {
		s.Matched++
		if r.Error == "" {
			s.Succeeded++
			continue
		}
		s.Failed++
		if len(s.Errors) < MaxBatchErrors {
			s.Errors = append(s.Errors, BatchError{InstanceID: r.InstanceID, Error: r.Error})
		}
	}
}

// BatchItemResult is what one step did to one instance; Error is "" for
// success.
type BatchItemResult struct {
	InstanceID string `json:"instanceId"`
	Error      string `json:"error,omitempty"`
	// NewInstanceID is the instance a restart started.
	NewInstanceID string `json:"newInstanceId,omitempty"`
}

// batchNamespace makes the derived IDs GUIDs, the form the .NET provider's
// ActivityId has.
var batchNamespace = uuid.MustParse("0f6b8f5e-3c2a-4e7d-9b1a-5d4c3b2a1f00")

// BatchDerivedID is the deterministic ID of what bulk operation batchID
// (started at asOf) does to target; purpose tells apart the IDs of one
// step: "message", "restart-instance", "restart-execution".
func BatchDerivedID(batchID string, asOf time.Time, target, purpose string) uuid.UUID {
	key := strings.Join([]string{batchID, asOf.UTC().Format(time.RFC3339Nano), target, purpose}, "\x00")
	return uuid.NewSHA1(batchNamespace, []byte(key))
}

// BatchMessageID is the message ID of the signal that bulk operation
// batchID sends to target: the same on every attempt, so that the
// target's de-duplication drops a repeated copy.
func BatchMessageID(batchID string, asOf time.Time, target string, op BatchOperation) string {
	return BatchDerivedID(batchID, asOf, target, "message/"+string(op)).String()
}

// ApplyBatch applies the bulk operation in to one target instance on
// behalf of bulk operation batchID, and may be called again for the same
// target (an activity runs at least once): a repeat finds the effect of
// the earlier call and reports success again instead of applying it twice
// or failing. It returns the instance a restart started, if any.
func (c *Client) ApplyBatch(ctx context.Context, in *BatchInput, batchID, target string) (newID string, err error) {
	msg := BatchMessageID(batchID, in.AsOf, target, in.Operation)
	switch in.Operation {
	case BatchTerminate:
		r, _ := json.Marshal(in.Reason)
		err = c.signalOnce(ctx, target, msg, "terminate", history.Event{Type: history.ExecutionTerminated, Input: string(r),
			Recursive: in.Recursive})
	case BatchSuspend:
		err = c.signalOnce(ctx, target, msg, "suspend", history.Event{Type: history.ExecutionSuspended, Reason: in.Reason})
	case BatchResume:
		err = c.signalOnce(ctx, target, msg, "resume", history.Event{Type: history.ExecutionResumed, Reason: in.Reason})
	case BatchRaiseEvent:
		err = c.signalOnce(ctx, target, msg, "event", history.Event{Type: history.EventRaised, Name: in.EventName, Input: string(in.EventData)})
	case BatchRewind:
		err = c.rewindOnce(ctx, target, in.Reason, msg)
	case BatchRestart:
		newID, err = c.restartOnce(ctx, in, batchID, target)
	case BatchPurge:
		if in.Recursive {
			// Children first and the target last, so a repeat after a
			// crash finds the target and finishes its tree.
			_, err = c.PurgeWithOptions(ctx, target, PurgeOptions{Recursive: true})
		} else {
			err = c.Purge(ctx, target)
		}
		if errors.Is(err, ErrNotFound) {
			// Gone already: an earlier attempt of this step purged it (or
			// someone else did); either way nothing is left to purge.
			err = nil
		}
	default:
		err = fmt.Errorf("%w: unknown bulk operation %q", ErrBadArgument, in.Operation)
	}
	return newID, err
}

// signalOnce sends ev with message ID msg to a target that has not
// finished. A target that has finished is a success when its history
// holds msg: an earlier attempt's signal was applied (a terminate, or an
// event that completed the instance).
func (c *Client) signalOnce(ctx context.Context, id, msg, what string, ev history.Event) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		if held, herr := c.historyHolds(ctx, id, msg); herr != nil || held {
			return herr
		}
		return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: what}
	}
	ev.EventID, ev.Timestamp, ev.MessageID = -1, time.Now().UTC(), msg
	return c.signal(ctx, id, ev, what)
}

// historyHolds reports whether an instance's history, or the message IDs
// its current execution carried over from earlier ones, holds msg.
func (c *Client) historyHolds(ctx context.Context, id, msg string) (bool, error) {
	hs, err := c.hub.LoadHistory(ctx, id)
	if err != nil {
		return false, fmt.Errorf("read history of %q: %w", id, err)
	}
	return eventsHold(hs.Events, msg), nil
}

func eventsHold(events []history.Event, msg string) bool {
	for _, e := range events {
		if e.MessageID == msg || (e.Type == history.GenericEvent && strings.Contains(e.Data, rewindMarker(msg))) {
			return true
		}
		for _, m := range e.AppliedMessageIDs {
			if m == msg {
				return true
			}
		}
	}
	return false
}

// rewindMarker is what a rewind with a message ID adds to the GenericEvent
// that replaces the failed completion, so that a repeat knows the rewind
// happened even before the instance has processed the rewind's message.
func rewindMarker(msg string) string { return "Rewound by message " + msg }

// rewindOnce rewinds a Failed target with message ID msg, unless its
// history holds the marker of that very rewind: then an earlier attempt
// rewound it (and it may have failed again since, which is not this
// operation's to rewind twice). While such a target is still Pending, the
// rewind's message may have been lost with the earlier attempt, so it is
// sent again; a copy is dropped.
func (c *Client) rewindOnce(ctx context.Context, id, reason, msg string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	held, err := c.historyHolds(ctx, id, msg)
	switch {
	case err != nil:
		return err
	case held && row.RuntimeStatus == history.StatusPending:
		return c.signal(ctx, id, history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: time.Now().UTC(),
			Data: "Rewind: " + reason, MessageID: msg}, "rewind")
	case held:
		return nil
	case row.RuntimeStatus == history.StatusFailed:
		return c.rewind(ctx, id, reason, 0, msg)
	}
	return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "rewind"}
}

// restartOnce restarts a target with IDs derived from the bulk operation:
// under a new instance ID, which a repeat finds already started, or in
// place with a new execution ID, which a repeat finds in the row or (after
// a continue-as-new) among the message IDs its history carries.
func (c *Client) restartOnce(ctx context.Context, in *BatchInput, batchID, id string) (string, error) {
	row, err := c.instance(ctx, id)
	if err != nil {
		return "", err
	}
	exec := strings.ReplaceAll(BatchDerivedID(batchID, in.AsOf, id, "restart-execution").String(), "-", "")
	o := StartOptions{InstanceID: id, Version: row.Version, executionID: exec}
	var input any
	if row.Input != "" {
		input = []byte(row.Input)
	}
	if in.RestartWithNewInstanceID {
		o.InstanceID = strings.ReplaceAll(BatchDerivedID(batchID, in.AsOf, id, "restart-instance").String(), "-", "")
		// Started already, whatever its status. A start the earlier attempt
		// wrote but did not send is not sent here: the engine sends the
		// start of a row left Pending itself (worker recovery).
		_, err := c.hub.GetInstance(ctx, o.InstanceID)
		switch {
		case err == nil:
			return o.InstanceID, nil
		case !errors.Is(err, azstore.ErrNotFound):
			return "", fmt.Errorf("restart %q: %w", id, err)
		}
		return c.startNew(ctx, row.Name, input, o, false)
	}
	if row.ExecutionID == exec {
		return id, nil // restarted already, as above
	}
	start := layout.StartMessage(&layout.InstanceRow{InstanceID: id, ExecutionID: exec}).Event.MessageID
	held, err := c.historyHolds(ctx, id, start)
	switch {
	case err != nil:
		return "", err
	case held:
		return id, nil // restarted, then continued as new
	case !row.RuntimeStatus.IsTerminal():
		return "", &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "restart"}
	}
	return c.startNew(ctx, row.Name, input, o, false)
}
