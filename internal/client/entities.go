package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// ErrEntityNotFound reports an entity that has no state: never given any,
// or deleted.
var ErrEntityNotFound = errors.New("entity not found")

// SignalEntity sends operation op with input to entity id, one way: the
// entity is created by its first operation, and runs the operations it
// receives one at a time. A zero at delivers it now; a later one then. It
// returns the request's ID.
func (c *Client) SignalEntity(ctx context.Context, id entity.ID, op string, input any, at time.Time) (string, error) {
	id, err := entity.NewID(id.Name, id.Key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	in, err := EncodeInput(input)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	r := entity.Request{Operation: op, IsSignal: true, Input: in, ID: uuid.NewString()}
	name, visible := entity.EventOperation, time.Time{}
	if at.After(now) {
		due := entity.Time{Time: at.UTC().Truncate(100 * time.Nanosecond)}
		r.Due, name, visible = &due, entity.ScheduledEventName(due.Time), due.Time
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("signal %s of %s: %w", op, id, err)
	}
	target := id.String()
	tm := history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: target},
		Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: now, Name: name, Input: string(b), MessageID: r.ID}}
	if err := c.hub.SendToInstance(ctx, tm, visible); err != nil {
		return "", fmt.Errorf("signal %s of %s: %w", op, id, err)
	}
	c.wake(ctx, target, "entity signal", visible)
	return r.ID, nil
}

// EntityMetadata is what a reader sees of an entity.
type EntityMetadata struct {
	ID entity.ID
	// LastOperationTime is when its last batch of operations ran.
	LastOperationTime time.Time
	// State is its state as JSON; nil when not read or when it has none.
	State json.RawMessage
	// LockedBy is the orchestration whose critical section holds it.
	LockedBy string
	// BacklogQueueSize counts the operations waiting (behind a lock).
	BacklogQueueSize int
}

// GetEntity reads entity id, with its state when includeState is set;
// ErrEntityNotFound when it has no state.
func (c *Client) GetEntity(ctx context.Context, id entity.ID, includeState bool) (*EntityMetadata, error) {
	id, err := entity.NewID(id.Name, id.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	row, err := c.hub.GetInstance(ctx, id.String())
	if errors.Is(err, azstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrEntityNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read entity %s: %w", id, err)
	}
	md, err := entityFromRow(row, includeState, false)
	if err != nil {
		return nil, err
	}
	if md == nil {
		return nil, fmt.Errorf("%w: %s", ErrEntityNotFound, id)
	}
	return md, nil
}

// entityFromRow reads an entity's row: nil when it has no state and
// includeDeleted is not set.
func entityFromRow(row *layout.InstanceRow, includeState, includeDeleted bool) (*EntityMetadata, error) {
	id, ok := entity.Parse(row.InstanceID)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an entity", ErrBadArgument, row.InstanceID)
	}
	st := entity.DecodeStatus(row.CustomStatus)
	if !st.EntityExists && !includeDeleted {
		return nil, nil
	}
	md := &EntityMetadata{ID: id, LastOperationTime: row.CreatedTime, LockedBy: st.LockedBy, BacklogQueueSize: st.QueueSize}
	if includeState && st.EntityExists {
		sched, err := entity.DecodeState(row.Input)
		if err != nil {
			return nil, fmt.Errorf("read entity %s: %w", id, err)
		}
		if sched.State != nil {
			md.State = json.RawMessage(*sched.State)
		}
	}
	return md, nil
}

// EntityQuery selects entities.
type EntityQuery struct {
	// Name keeps the entities of that name; "" keeps all.
	Name string
	// LastOperationFrom and LastOperationTo bound the time of their last
	// batch of operations (inclusive, exclusive); zero does not bound.
	LastOperationFrom, LastOperationTo time.Time
	// FetchState reads their states too.
	FetchState bool
	// IncludeDeleted keeps entities without state.
	IncludeDeleted bool
	// PageSize is the most a page holds (default 100, at most 1000).
	PageSize          int
	ContinuationToken string
}

// EntityPage is one page of entities; ContinuationToken is "" on the
// last.
type EntityPage struct {
	Entities          []EntityMetadata
	ContinuationToken string
}

// ListEntities returns one page of the entities q selects, in instance-ID
// order. It reads the entities' rows by a range of their keys, and only
// those: what it reads is what matches, but for entities without state.
func (c *Client) ListEntities(ctx context.Context, q EntityQuery) (*EntityPage, error) {
	size := q.PageSize
	if size <= 0 {
		size = 100
	}
	if size > 1000 {
		return nil, fmt.Errorf("%w: page size %d is over 1000", ErrBadArgument, size)
	}
	aq := azstore.InstanceQuery{InstanceIDPrefix: entity.Prefix(q.Name), Top: int32(size),
		Columns: []string{"Name", "RuntimeStatus", "CreatedTime", "CustomStatus"}}
	if q.FetchState {
		aq.Columns = append(aq.Columns, "Input")
	}
	if !q.LastOperationFrom.IsZero() {
		aq.CreatedFrom = layout.FormatTime(q.LastOperationFrom)
	}
	if !q.LastOperationTo.IsZero() {
		aq.CreatedTo = layout.FormatTime(q.LastOperationTo)
	}
	if q.ContinuationToken != "" {
		pos, err := decodeToken(q.ContinuationToken)
		if err != nil {
			return nil, err
		}
		aq.Continuation = pos
	}
	out := &EntityPage{}
	token, err := c.fillPage(ctx, aq, size, func(row *layout.InstanceRow) (bool, error) {
		md, err := entityFromRow(row, q.FetchState, q.IncludeDeleted)
		if md != nil {
			out.Entities = append(out.Entities, *md)
		}
		return md != nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	out.ContinuationToken = token
	return out, nil
}

// CleanEntityOptions says what CleanEntityStorage does.
type CleanEntityOptions struct {
	// RemoveEmptyEntities deletes the rows and history of entities that
	// have no state, hold no lock, have no operation waiting, and have run
	// no operation for EmptyFor.
	RemoveEmptyEntities bool
	// ReleaseOrphanedLocks releases the locks held by orchestrations that
	// no longer run (finished, or gone) without having released them.
	ReleaseOrphanedLocks bool
	// EmptyFor is how long an empty entity must have been idle before it
	// is removed; zero is entity.ReorderWindow (30 minutes), as in the
	// Durable Task Framework. Removing an entity forgets which of its
	// senders' messages it has received, so a copy of one that arrives
	// later (a redelivery, a resend after a crash) would run again: keep
	// it at least as long as such a copy can take.
	EmptyFor time.Duration
	// ContinuationToken resumes a clean that returned one.
	ContinuationToken string
}

// CleanEntityResult is what CleanEntityStorage did.
type CleanEntityResult struct {
	EmptyEntitiesRemoved  int
	OrphanedLocksReleased int
	// ContinuationToken is set when the clean stopped before the last
	// entity (its time ran out); pass it back to go on.
	ContinuationToken string
}

// cleanPageSize is how many entity rows a clean reads at a time.
const cleanPageSize = 100

// CleanEntityStorage removes empty entities and releases orphaned locks,
// as o says, reading the entities' rows by their key range (never the
// orchestrations') a page at a time. It stops, with a continuation token,
// when ctx's deadline is less than a page's work away or ctx ends after a
// page; without a deadline it goes through every entity.
//
// An entity is removed only if its history is still the execution its
// row shows, and the removal is conditional on both: an operation that
// arrives meanwhile either finds the entity gone and starts a new one
// (it had no state to lose), or makes the removal fail and is kept.
func (c *Client) CleanEntityStorage(ctx context.Context, o CleanEntityOptions) (*CleanEntityResult, error) {
	out := &CleanEntityResult{}
	if !o.RemoveEmptyEntities && !o.ReleaseOrphanedLocks {
		return out, nil
	}
	emptyFor := o.EmptyFor
	if emptyFor <= 0 {
		emptyFor = entity.ReorderWindow
	}
	aq := azstore.InstanceQuery{InstanceIDPrefix: entity.Prefix(""), Top: cleanPageSize,
		Columns: []string{"Name", "RuntimeStatus", "CreatedTime", "LastUpdatedTime", "CustomStatus", "ExecutionId"}}
	if o.ContinuationToken != "" {
		pos, err := decodeToken(o.ContinuationToken)
		if err != nil {
			return nil, err
		}
		aq.Continuation = pos
	}
	for {
		started := time.Now()
		page, err := c.hub.QueryInstances(ctx, aq)
		if err != nil {
			return out, fmt.Errorf("clean entity storage: %w", err)
		}
		for _, row := range page.Rows {
			st := entity.DecodeStatus(row.CustomStatus)
			switch {
			case st.LockedBy != "":
				if !o.ReleaseOrphanedLocks {
					continue
				}
				released, err := c.releaseOrphanedLock(ctx, row.InstanceID, st.LockedBy)
				if err != nil {
					return out, fmt.Errorf("clean entity storage: %w", err)
				}
				if released {
					out.OrphanedLocksReleased++
				}
			case o.RemoveEmptyEntities && !st.EntityExists && st.QueueSize == 0 && time.Since(row.LastUpdatedTime) >= emptyFor:
				removed, err := c.removeEmptyEntity(ctx, row)
				if err != nil {
					return out, fmt.Errorf("clean entity storage: %w", err)
				}
				if removed {
					out.EmptyEntitiesRemoved++
				}
			}
		}
		if page.Continuation == "" {
			return out, nil
		}
		aq.Continuation = page.Continuation
		if dl, ok := ctx.Deadline(); (ok && time.Until(dl) < 2*time.Since(started)) || ctx.Err() != nil {
			out.ContinuationToken = encodeToken(page.Continuation)
			return out, nil
		}
	}
}

// releaseOrphanedLock sends entity id the release of the lock owner holds
// when owner is no longer running (finished, or gone), and reports
// whether it did. The entity applies a release only while owner still
// holds its lock, so a copy of the owner's own release is harmless.
func (c *Client) releaseOrphanedLock(ctx context.Context, id, owner string) (bool, error) {
	row, err := c.hub.GetInstanceColumns(ctx, owner, []string{"RuntimeStatus"})
	switch {
	case err != nil:
		return false, fmt.Errorf("read %s, which holds the lock of %s: %w", owner, id, err)
	case row != nil && !row.RuntimeStatus.IsTerminal():
		return false, nil
	}
	b, err := json.Marshal(entity.Release{Parent: owner, ID: "fix-orphaned-lock"})
	if err != nil {
		return false, fmt.Errorf("release the lock of %s: %w", id, err)
	}
	tm := history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: id},
		Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: time.Now().UTC(), Name: entity.EventRelease,
			Input: string(b), MessageID: uuid.NewString()}}
	if err := c.hub.SendToInstance(ctx, tm, time.Time{}); err != nil {
		return false, fmt.Errorf("release the lock of %s held by %s: %w", id, owner, err)
	}
	c.wake(ctx, id, "orphaned lock release", time.Time{})
	return true, nil
}

// removeEmptyEntity deletes an empty entity's history, blobs and row, and
// reports whether it did. History goes first, on the sentinel's ETag and
// only while the sentinel names the execution the row shows: a checkpoint
// since (an operation that arrived) fails the delete and keeps the entity;
// one after finds no history and starts the entity afresh, which is what
// it was. The row goes last, on its ETag: a row a new life wrote stays.
func (c *Client) removeEmptyEntity(ctx context.Context, row *layout.InstanceRow) (bool, error) {
	pk := layout.EscapePartitionKey(row.InstanceID)
	keys, _, err := c.hub.ScanHistoryKeys(ctx, pk, pk, map[string]bool{pk: true}, 0)
	if err != nil {
		return false, fmt.Errorf("remove empty entity %s: %w", row.InstanceID, err)
	}
	if k := keys[pk]; k != nil {
		if k.SentinelETag == "" || k.ExecutionID != row.ExecutionID {
			// History has moved on from the row (or was written by
			// something else): the entity is not as idle as its row says.
			return false, nil
		}
		if err := c.hub.DeleteHistoryRows(ctx, row.InstanceID, k); err != nil {
			if errors.Is(err, azstore.ErrConflict) {
				return false, nil
			}
			return false, fmt.Errorf("remove empty entity %s: %w", row.InstanceID, err)
		}
	}
	if _, err := c.hub.DeleteInstanceBlobs(ctx, row.InstanceID); err != nil {
		return false, fmt.Errorf("remove empty entity %s: %w", row.InstanceID, err)
	}
	if err := c.hub.DeleteInstanceRowIfMatch(ctx, row.InstanceID, row.ETag); err != nil {
		if errors.Is(err, azstore.ErrConflict) || errors.Is(err, azstore.ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("remove empty entity %s: %w", row.InstanceID, err)
	}
	return true, nil
}
