package client

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// StateError is an ErrWrongState with the status that caused it, so that
// surfaces can map it (the HTTP API answers 410 for some statuses and 400
// for others).
type StateError struct {
	InstanceID string
	Status     history.RuntimeStatus
	Op         string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s instance %q: it is %s", e.Op, e.InstanceID, e.Status)
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *StateError) Unwrap() error { return ErrWrongState }

// Query selects instances for ListInstances. Zero fields do not filter.
type Query struct {
	// CreatedFrom and CreatedTo bound CreatedTime: from inclusive, to exclusive.
	CreatedFrom, CreatedTo time.Time
	Statuses               []history.RuntimeStatus
	InstanceIDPrefix       string
	// Names keeps instances of these orchestrators only (any of them).
	Names []string
	// Versions keeps instances of these versions only (any of them), equal
	// as CompareVersions says ("1.0" matches "01.0", "Beta" matches
	// "beta"); "" among them matches instances without a version. Empty
	// does not filter. Storage cannot compare versions so, so the rows
	// are read and filtered here.
	Versions []string
	// PageSize caps the page (default 100, at most 1000).
	PageSize int
	// ContinuationToken resumes after a previous page ("" = first page).
	ContinuationToken string
	// ShowInput includes each instance's input.
	ShowInput bool
	// ShowInternal includes the instances of internal orchestrations
	// (IsInternalName: the bulk operations' own, say), which are left out
	// unless this is set or Names names them.
	ShowInternal bool
	// columns, when set, are the only columns read (counts need few).
	columns []string
}

// Page is one page of ListInstances.
type Page struct {
	Instances []*Status
	// ContinuationToken is "" on the last page.
	ContinuationToken string
}

// PurgeQuery selects finished instances for PurgeRange.
type PurgeQuery struct {
	// CreatedFrom is required; CreatedTo defaults to now.
	CreatedFrom, CreatedTo time.Time
	// Statuses must all be terminal (Completed, Failed, Terminated,
	// Canceled); empty means all four.
	Statuses []history.RuntimeStatus
}

// Progress reports how far a long operation got; it may be nil.
type Progress func(done, total int)

// columnsWithoutInput are the Instances columns read when the caller does
// not want inputs, which may be large and offloaded to blobs.
func columnsWithoutInput() []string {
	return []string{"Name", "Version", "ExecutionId", "RuntimeStatus", "CreatedTime", "LastUpdatedTime",
		"CompletedTime", "ScheduledStartTime", "Output", "OutputBlobName", "CustomStatus", "CustomStatusBlobName",
		"Generation", "Tags", "TaskHubName"}
}

// readColumns are the Instances columns a query reads; nil means all.
func (q Query) readColumns() []string {
	switch {
	case q.columns != nil:
		return q.columns
	case q.ShowInput:
		return nil
	}
	return columnsWithoutInput()
}

// ListInstances returns one page of instances matching q, in instance-ID
// order. The continuation token is a position in that order, so paging
// holds while instances are created: each existing instance appears once.
func (c *Client) ListInstances(ctx context.Context, q Query) (*Page, error) {
	size := q.PageSize
	if size <= 0 {
		size = 100
	}
	if size > 1000 {
		return nil, fmt.Errorf("%w: page size %d is over 1000", ErrBadArgument, size)
	}
	if !q.CreatedFrom.IsZero() && !q.CreatedTo.IsZero() && !q.CreatedTo.After(q.CreatedFrom) {
		return nil, fmt.Errorf("%w: createdTimeTo must be after createdTimeFrom", ErrBadArgument)
	}
	var pos string
	if q.ContinuationToken != "" {
		var err error
		if pos, err = decodeToken(q.ContinuationToken); err != nil {
			return nil, err
		}
	}
	// The token says how the first page was read; a query keeps that way
	// to its end, even if the index became complete meanwhile.
	if after, ok := strings.CutPrefix(pos, indexToken); ok {
		if q.CreatedFrom.IsZero() && q.CreatedTo.IsZero() {
			return nil, fmt.Errorf("%w: the continuation token belongs to a query with a created-time range", ErrBadArgument)
		}
		return c.listByIndex(ctx, q, size, after)
	}
	if pos == "" && c.useIndex(ctx, q) {
		return c.listByIndex(ctx, q, size, "")
	}
	aq := azstore.InstanceQuery{Statuses: q.Statuses, InstanceIDPrefix: q.InstanceIDPrefix, Names: q.Names, Top: int32(size),
		Continuation: pos}
	if !q.CreatedFrom.IsZero() {
		aq.CreatedFrom = layout.FormatTime(q.CreatedFrom)
	}
	if !q.CreatedTo.IsZero() {
		aq.CreatedTo = layout.FormatTime(q.CreatedTo)
	}
	aq.Columns = q.readColumns()
	out := &Page{}
	token, err := c.fillPage(ctx, aq, size, func(row *layout.InstanceRow) (bool, error) {
		if q.hides(row.Name) || !q.hasVersion(row.Version) {
			return false, nil
		}
		out.Instances = append(out.Instances, statusFromRow(row, q.ShowInput))
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	out.ContinuationToken = token
	return out, nil
}

// fillPage reads instance rows by aq until keep has taken size of them or
// the table has no more, and returns the continuation token of what is
// left ("" at the end). The table service may answer with fewer rows than
// asked, even none, and a continuation: it keeps reading until the page is
// full or done.
func (c *Client) fillPage(ctx context.Context, aq azstore.InstanceQuery, size int, keep func(*layout.InstanceRow) (bool, error)) (string, error) {
	kept := 0
	for {
		page, err := c.hub.QueryInstances(ctx, aq)
		if err != nil {
			return "", err
		}
		for _, row := range page.Rows {
			ok, err := keep(row)
			if err != nil {
				return "", err
			}
			if ok {
				kept++
			}
		}
		aq.Continuation = page.Continuation
		if page.Continuation == "" || kept >= size {
			break
		}
		aq.Top = int32(size - kept)
	}
	if aq.Continuation == "" {
		return "", nil
	}
	return encodeToken(aq.Continuation), nil
}

// Rewind restarts a Failed instance from its last failure: the failed
// steps run again, the steps that succeeded (received events included)
// are kept, failed sub-orchestrations are rewound too, and what was in
// flight when it failed (activities, timers) is issued again. Steps issued
// after the last settled one, such as a retry's back-off timers, are
// issued again only if the replay issues them. rewind.go has the rules.
// Nothing is written unless the whole rewind holds together. A StateError
// reports any status but Failed.
func (c *Client) Rewind(ctx context.Context, id, reason string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus != history.StatusFailed {
		return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "rewind"}
	}
	return c.rewind(ctx, id, reason, 0, "")
}

// signal sends an event to an instance's control queue and wakes its
// worker; what names the operation in errors and in the wake-up reason.
func (c *Client) signal(ctx context.Context, id string, ev history.Event, what string) error {
	tm := history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: id}, Event: ev}
	if err := c.hub.SendToInstance(ctx, tm, time.Time{}); err != nil {
		return fmt.Errorf("send %s to %q: %w", what, id, err)
	}
	c.wake(ctx, id, what, time.Time{})
	return nil
}

// Suspend pauses a running instance; events it receives meanwhile are kept.
func (c *Client) Suspend(ctx context.Context, id, reason string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "suspend"}
	}
	return c.signal(ctx, id, history.Event{Type: history.ExecutionSuspended, EventID: -1, Timestamp: time.Now().UTC(), Reason: reason}, "suspend")
}

// Resume continues a suspended instance.
func (c *Client) Resume(ctx context.Context, id, reason string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "resume"}
	}
	return c.signal(ctx, id, history.Event{Type: history.ExecutionResumed, EventID: -1, Timestamp: time.Now().UTC(), Reason: reason}, "resume")
}

// Restart starts the instance's orchestrator again with the same input,
// under a new ID when newInstanceID is true (else the same ID, which must
// have finished), and returns the ID it started.
func (c *Client) Restart(ctx context.Context, id string, newInstanceID bool) (string, error) {
	row, err := c.instance(ctx, id)
	if err != nil {
		return "", err
	}
	o := StartOptions{InstanceID: id, Version: row.Version}
	if newInstanceID {
		o.InstanceID = ""
	} else if !row.RuntimeStatus.IsTerminal() {
		return "", &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "restart"}
	}
	var input any
	if row.Input != "" {
		input = []byte(row.Input)
	}
	return c.startNew(ctx, row.Name, input, o, false)
}

// DeleteTaskHub removes every table, queue and container of the hub;
// ErrNotFound when none of them existed.
func (c *Client) DeleteTaskHub(ctx context.Context, progress Progress) error {
	if progress != nil {
		progress(0, 1)
	}
	found, err := c.hub.DeleteExisting(ctx)
	if err != nil {
		return fmt.Errorf("delete task hub %s: %w", c.hub.Name(), err)
	}
	if found == 0 {
		return fmt.Errorf("%w: task hub %s does not exist", ErrNotFound, c.hub.Name())
	}
	if progress != nil {
		progress(1, 1)
	}
	return nil
}
