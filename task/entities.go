package task

import (
	"errors"
	"time"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/entity"
)

// EntityID names a durable entity: an entity name (not case sensitive;
// stored lower-case) and a key. Its instance ID is "@name@key".
type EntityID struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// String is the entity's instance ID, "@name@key", with the name
// lower-cased.
func (id EntityID) String() string { return id.engine().String() }

func (id EntityID) engine() entity.ID {
	if n, err := entity.NewID(id.Name, id.Key); err == nil {
		return n
	}
	return entity.ID{Name: id.Name, Key: id.Key}
}

func engineIDs(ids []EntityID) []entity.ID {
	out := make([]entity.ID, len(ids))
	for i, id := range ids {
		out[i] = id.engine()
	}
	return out
}

// EntityFunc is a durable entity: it runs one operation
// (EntityContext.Operation) on the entity's state, and returns the
// operation's result. Operations on one entity run one at a time, in the
// order each sender sent them, each exactly once. An error (or a panic)
// fails the operation: its state changes and signals are undone, and a
// caller's CallEntity returns an *EntityOperationFailedError.
type EntityFunc func(ctx *EntityContext) (any, error)

// ErrUnknownOperation is what an EntityFunc returns for an operation it
// does not have. An unknown "delete" deletes the entity's state, as in
// Durable Functions.
var ErrUnknownOperation error

// AddEntity registers an entity under name (not case sensitive). It fails
// when the name is empty or holds '@', fn is nil or the name is taken.
func (r *Registry) AddEntity(name string, fn EntityFunc) error {
	var engineFn entity.Func
	if fn != nil {
		engineFn = func(c *entity.Context) (any, error) { return fn(&EntityContext{c: c}) }
	}
	return r.r.AddEntity(name, engineFn)
}

// EntityContext is one operation's view of its entity.
type EntityContext struct{ c *entity.Context }

// ID is the entity's ID.
func (c *EntityContext) ID() EntityID {
	id := c.c.ID()
	return EntityID{Name: id.Name, Key: id.Key}
}

// Operation is the operation's name.
func (c *EntityContext) Operation() string { return c.c.Operation() }

// HasInput reports whether the operation came with input.
func (c *EntityContext) HasInput() bool { return c.c.HasInput() }

// GetInput decodes the operation's input into v.
func (c *EntityContext) GetInput(v any) error { return c.c.Input(v) }

// HasState reports whether the entity has state.
func (c *EntityContext) HasState() bool { return c.c.HasState() }

// GetState decodes the entity's state into v, leaving v as it is when the
// entity has none.
func (c *EntityContext) GetState(v any) error { return c.c.State(v) }

// SetState replaces the entity's state with v (JSON-encodable).
func (c *EntityContext) SetState(v any) error { return c.c.SetState(v) }

// DeleteState removes the entity's state: readers no longer find the
// entity until an operation sets state again.
func (c *EntityContext) DeleteState() { c.c.DeleteState() }

// SignalEntity sends operation op with input to another entity, one way,
// once this operation succeeds.
func (c *EntityContext) SignalEntity(id EntityID, op string, input any) error {
	return c.c.SignalEntity(id.engine(), op, input)
}

// ScheduleSignal is SignalEntity delivered at at.
func (c *EntityContext) ScheduleSignal(id EntityID, op string, input any, at time.Time) error {
	return c.c.ScheduleSignal(id.engine(), op, input, at)
}

// StartNewOrchestration starts orchestration name with input as instance
// instanceID, or under a new ID when instanceID is "", and returns the
// instance's ID, as Durable Functions' entity context does. Nothing waits
// for the orchestration, and its end is reported to no one. The start is
// sent once this operation succeeds and its batch is stored; an instance
// of that ID that is still running keeps running and drops the start, one
// that has finished starts again.
func (c *EntityContext) StartNewOrchestration(name string, input any, instanceID string) (string, error) {
	return c.c.StartNewOrchestration(name, input, instanceID)
}

// EntityOperationFailedError is what awaiting CallEntity returns when the
// operation failed.
type EntityOperationFailedError struct {
	Entity    EntityID
	Operation string
	Details   *FailureDetails
}

func (e *EntityOperationFailedError) Error() string { return e.engine().Error() }

// Unwrap returns the engine's form of the error, through which an
// orchestration that fails with it records the operation's failure.
func (e *EntityOperationFailedError) Unwrap() error { return e.engine() }

func (e *EntityOperationFailedError) engine() *durable.EntityOperationFailedError {
	return &durable.EntityOperationFailedError{Entity: e.Entity.engine(), Operation: e.Operation, Details: engineFailure(e.Details)}
}

// ErrCriticalSection is the error of what an orchestration may not do
// inside a critical section (LockEntities): signal a locked entity, call
// one it did not lock, start a sub-orchestration or another critical
// section.
var ErrCriticalSection error

func init() {
	// The engine's own values, which its errors wrap.
	ErrUnknownOperation, ErrCriticalSection = entity.ErrUnknownOperation, durable.ErrCriticalSection
}

// SignalEntity sends operation op with input (JSON-encodable) to entity
// id, one way; the entity is created by its first operation. The
// operations an orchestration sends an entity run in the order it sent
// them.
func (c *OrchestrationContext) SignalEntity(id EntityID, op string, input any) error {
	return c.c.SignalEntity(id.engine(), op, input)
}

// CallEntity runs operation op with input on entity id; awaiting the task
// decodes the operation's result, or returns an
// *EntityOperationFailedError when the operation failed.
func (c *OrchestrationContext) CallEntity(id EntityID, op string, input any) Task {
	return &entityCall{t: c.c.CallEntity(id.engine(), op, input)}
}

// entityCall is CallEntity's task, with its failure in this package's
// type.
type entityCall struct{ t durable.Task }

func (e *entityCall) IsDone() bool { return e.t.IsDone() }

func (e *entityCall) Await(v any) error {
	err := e.t.Await(v)
	var failed *durable.EntityOperationFailedError
	if errors.As(err, &failed) {
		return &EntityOperationFailedError{Entity: EntityID{Name: failed.Entity.Name, Key: failed.Entity.Key},
			Operation: failed.Operation, Details: publicFailure(failed.Details)}
	}
	return err
}

// LockEntities starts a critical section: it locks the entities and waits
// until it holds them all, in an order every orchestration uses, so two
// critical sections cannot deadlock. While it holds them, other senders'
// operations on them wait; the orchestration may call only them, may not
// signal them, and may start no sub-orchestration or other critical
// section (ErrCriticalSection). release ends the section; locks still held
// when the orchestration ends (completes, fails, continues as new) are
// released then.
func (c *OrchestrationContext) LockEntities(ids ...EntityID) (release func(), err error) {
	return c.c.LockEntities(engineIDs(ids)...)
}
