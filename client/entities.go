package client

import (
	"context"
	"encoding/json"
	"time"

	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/task"
)

// ErrEntityNotFound: the entity has no state (it never had any, or it was
// deleted).
var ErrEntityNotFound = iclient.ErrEntityNotFound

func engineID(id task.EntityID) entity.ID { return entity.ID{Name: id.Name, Key: id.Key} }

// SignalEntity sends operation op with input (JSON-encodable) to entity
// id, one way: the entity is created by its first operation and runs the
// operations it receives one at a time. Once it returns, the operation
// runs exactly once.
func (c *Client) SignalEntity(ctx context.Context, id task.EntityID, op string, input any) error {
	_, err := c.c.SignalEntity(ctx, engineID(id), op, input, time.Time{})
	return publicError(err)
}

// ScheduleSignalEntity is SignalEntity delivered at at.
func (c *Client) ScheduleSignalEntity(ctx context.Context, id task.EntityID, op string, input any, at time.Time) error {
	_, err := c.c.SignalEntity(ctx, engineID(id), op, input, at)
	return publicError(err)
}

// EntityMetadata is what a reader sees of an entity.
type EntityMetadata struct {
	ID task.EntityID
	// LastOperationTime is when its last batch of operations ran.
	LastOperationTime time.Time
	// State is its state as JSON; nil when not read.
	State json.RawMessage
	// LockedBy is the orchestration whose critical section holds it.
	LockedBy string
	// BacklogQueueSize counts the operations waiting behind a lock.
	BacklogQueueSize int
}

func publicEntity(md *iclient.EntityMetadata) *EntityMetadata {
	return &EntityMetadata{ID: task.EntityID{Name: md.ID.Name, Key: md.ID.Key}, LastOperationTime: md.LastOperationTime,
		State: md.State, LockedBy: md.LockedBy, BacklogQueueSize: md.BacklogQueueSize}
}

// GetEntity reads entity id, with its state when includeState is set;
// ErrEntityNotFound when it has no state.
func (c *Client) GetEntity(ctx context.Context, id task.EntityID, includeState bool) (*EntityMetadata, error) {
	md, err := c.c.GetEntity(ctx, engineID(id), includeState)
	if err != nil {
		return nil, publicError(err)
	}
	return publicEntity(md), nil
}

// EntityQuery selects entities for ListEntities.
type EntityQuery struct {
	// Name keeps the entities of that name; "" keeps all.
	Name string
	// LastOperationFrom and LastOperationTo bound the time of their last
	// operation (inclusive, exclusive); zero does not bound.
	LastOperationFrom, LastOperationTo time.Time
	// FetchState reads their states too.
	FetchState bool
	// IncludeDeleted keeps entities without state.
	IncludeDeleted bool
	// PageSize is the most a page holds (default 100, at most 1000).
	PageSize int
	// ContinuationToken resumes from a previous page.
	ContinuationToken string
}

// EntityPage is one page of entities; ContinuationToken is "" on the
// last.
type EntityPage struct {
	Entities          []*EntityMetadata
	ContinuationToken string
}

// ListEntities returns one page of the entities q selects, in instance-ID
// order. Entities are not among ListInstances' orchestrations.
func (c *Client) ListEntities(ctx context.Context, q EntityQuery) (*EntityPage, error) {
	p, err := c.c.ListEntities(ctx, iclient.EntityQuery(q))
	if err != nil {
		return nil, publicError(err)
	}
	out := &EntityPage{ContinuationToken: p.ContinuationToken, Entities: make([]*EntityMetadata, len(p.Entities))}
	for i := range p.Entities {
		out.Entities[i] = publicEntity(&p.Entities[i])
	}
	return out, nil
}

// CleanEntityOptions says what CleanEntityStorage does.
type CleanEntityOptions struct {
	// RemoveEmptyEntities deletes entities that have no state, hold no
	// lock, have no operation waiting and have been idle for EmptyFor.
	RemoveEmptyEntities bool
	// ReleaseOrphanedLocks releases locks whose orchestration no longer
	// runs (it finished or is gone) without having released them.
	ReleaseOrphanedLocks bool
	// EmptyFor is how long an empty entity must have been idle to be
	// removed; zero means 30 minutes, Durable Functions' message reorder
	// window. A removed entity forgets which messages it has received, so
	// a late copy of one (a redelivery) would run again: do not set it
	// shorter than such a copy can take to arrive.
	EmptyFor time.Duration
	// ContinuationToken resumes a clean that returned one.
	ContinuationToken string
}

// CleanEntityResult is what CleanEntityStorage did.
type CleanEntityResult struct {
	EmptyEntitiesRemoved  int
	OrphanedLocksReleased int
	// ContinuationToken is set when ctx's deadline stopped the clean
	// before the last entity; pass it back to go on.
	ContinuationToken string
}

// CleanEntityStorage removes empty entities and releases orphaned locks,
// as Durable Functions' CleanEntityStorageAsync does. It reads only the
// entities' rows, a page at a time; with a deadline on ctx it stops in
// time and returns a continuation token.
func (c *Client) CleanEntityStorage(ctx context.Context, o CleanEntityOptions) (*CleanEntityResult, error) {
	r, err := c.c.CleanEntityStorage(ctx, iclient.CleanEntityOptions(o))
	if err != nil {
		return nil, publicError(err)
	}
	return &CleanEntityResult{EmptyEntitiesRemoved: r.EmptyEntitiesRemoved, OrphanedLocksReleased: r.OrphanedLocksReleased,
		ContinuationToken: r.ContinuationToken}, nil
}
