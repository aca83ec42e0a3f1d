package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/telemetry"
)

// Status is an instance's state as Durable Functions reports it.
type Status struct {
	Name            string
	InstanceID      string
	RuntimeStatus   history.RuntimeStatus
	Input           json.RawMessage
	CustomStatus    json.RawMessage
	Output          json.RawMessage
	CreatedTime     time.Time
	LastUpdatedTime time.Time
	// CompletedTime is when the instance finished; zero while it runs (and
	// for rows written by engines that do not record it).
	CompletedTime time.Time
	ExecutionID   string
	// Version is the orchestration's version ("" when it has none).
	Version string
	// FailureDetails of a Failed instance, read from its history: Output
	// holds only their text form ("ErrorType: ErrorMessage"), as in
	// Durable Functions.
	FailureDetails *history.FailureDetails
	// History is set only when asked for.
	History []history.Event
	// TraceID is the trace (32 hex digits) of the current execution, as
	// its ExecutionStarted event carries it; set when GetStatus read the
	// history (ShowHistory, ShowTraceID, or a Failed instance) and the
	// execution was traced.
	TraceID string

	// etag is the instance row's ETag when it was read, so that a purge
	// deletes the row only if nobody changed it since; "" when unknown.
	etag string
}

// StatusOptions choose what GetStatus reads.
type StatusOptions struct {
	ShowHistory       bool
	ShowHistoryOutput bool
	// HideInput leaves Input out (the API's showInput=false).
	HideInput bool
	// ShowTraceID reads the history for the execution's trace ID even
	// when ShowHistory is off: one more query.
	ShowTraceID bool
}

func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if !json.Valid([]byte(s)) {
		// Keep whatever was stored readable rather than failing the query.
		b, _ := json.Marshal(s)
		return b
	}
	return json.RawMessage(s)
}

func statusFromRow(row *layout.InstanceRow, showInput bool) *Status {
	st := &Status{Name: row.Name, InstanceID: row.InstanceID, RuntimeStatus: row.RuntimeStatus,
		CustomStatus: rawJSON(row.CustomStatus), Output: rawJSON(row.Output), CreatedTime: row.CreatedTime,
		LastUpdatedTime: row.LastUpdatedTime, ExecutionID: row.ExecutionID, Version: row.Version, etag: row.ETag}
	if row.CompletedTime != nil {
		st.CompletedTime = *row.CompletedTime
	}
	if showInput {
		st.Input = rawJSON(row.Input)
	}
	return st
}

// GetStatus reads an instance's status; ErrNotFound when it does not exist.
func (c *Client) GetStatus(ctx context.Context, id string, o StatusOptions) (*Status, error) {
	// An entity's instance may be read too: its input is its scheduler
	// state.
	if err := ValidateReadableID(id); err != nil {
		return nil, err
	}
	row, err := c.row(ctx, id)
	if err != nil {
		return nil, err
	}
	st := statusFromRow(row, !o.HideInput)
	if o.ShowTraceID && !o.ShowHistory && row.RuntimeStatus != history.StatusFailed {
		// The trace ID alone: the start's rows, not the whole history.
		start, err := c.hub.LoadStart(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("status of %q: %w", id, err)
		}
		st.TraceID = telemetry.TraceIDOf(start)
		return st, nil
	}
	if o.ShowHistory || o.ShowTraceID || row.RuntimeStatus == history.StatusFailed {
		hs, err := c.hub.LoadHistory(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("status of %q: %w", id, err)
		}
		st.FailureDetails = failureOf(hs.Events)
		st.TraceID = telemetry.TraceIDOf(telemetry.StartOf(hs.Events, nil))
		if !o.ShowHistory {
			return st, nil
		}
		st.History = hs.Events
		if !o.ShowHistoryOutput {
			for i := range st.History {
				st.History[i].Result = ""
			}
		}
	}
	return st, nil
}

// failureOf returns the failure details of a failed execution's history.
func failureOf(events []history.Event) *history.FailureDetails {
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Type == history.ExecutionCompleted && e.OrchestrationStatus == history.StatusFailed {
			return e.FailureDetails
		}
	}
	return nil
}

// WaitForCompletion waits until the instance reaches a terminal status or
// ctx ends, checking storage every poll interval (default 1 s). With an
// in-process worker it takes the final status from the worker's completion
// notice instead, and delays its first storage read a little, since an
// instance just started is rarely done already; a notice never comes for an
// instance another worker runs, so storage is still read on schedule.
func (c *Client) WaitForCompletion(ctx context.Context, id string, poll time.Duration) (*Status, error) {
	if poll <= 0 {
		poll = time.Second
	}
	var done <-chan *layout.InstanceRow
	first := time.Duration(0)
	if c.opts.Notifier != nil {
		ch, cancel := c.opts.Notifier.Subscribe(id)
		defer cancel()
		done = ch
		first = min(poll, 200*time.Millisecond)
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case row := <-done:
			if row != nil && row.RuntimeStatus.IsTerminal() {
				// The notice comes once history holds the outcome, maybe
				// before the instance row does: it is the status.
				st := statusFromRow(row, true)
				if row.RuntimeStatus == history.StatusFailed {
					hs, err := c.hub.LoadHistory(ctx, id)
					if err != nil {
						return nil, fmt.Errorf("status of %q: %w", id, err)
					}
					st.FailureDetails = failureOf(hs.Events)
				}
				return st, nil
			}
			done = nil
			continue
		case <-t.C:
		}
		st, err := c.GetStatus(ctx, id, StatusOptions{})
		if err != nil {
			return nil, err
		}
		if st.RuntimeStatus.IsTerminal() {
			return st, nil
		}
		t.Reset(poll)
	}
}
