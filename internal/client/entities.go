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
