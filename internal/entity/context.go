package entity

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/layout"
)

// Func is an entity's code: it runs one operation (Context.Operation) on
// the entity's state and returns the operation's result. An error fails
// the operation: its changes to the state and what it sent are undone, and
// a caller gets the error.
type Func func(ctx *Context) (any, error)

// ErrUnknownOperation is what a Func returns for an operation it does not
// have. An unknown "delete" deletes the state, as in Durable Functions.
var ErrUnknownOperation = errors.New("unknown entity operation")

// Context is one operation's view of its entity.
type Context struct {
	id      ID
	req     Request
	state   *string
	now     time.Time
	newID   func() string
	actions []action
}

// action is a signal an operation asked to send to an entity, or (when
// orchestration is set) an orchestration it asked to start.
type action struct {
	target ID
	req    Request
	at     time.Time
	// orchestration is the name of the orchestration to start as
	// instance instanceID with input req.Input, at version, signalling
	// onEnd back when it ends; terminate ends instanceID instead, with
	// reason req.Input.
	orchestration, instanceID, version, onEnd string
	terminate                                 bool
}

// ID is the entity's ID.
func (c *Context) ID() ID { return c.id }

// Operation is the operation's name.
func (c *Context) Operation() string { return c.req.Operation }

// Caller is the instance that sent the operation; "" for a client.
func (c *Context) Caller() string { return c.req.Parent }

// Now is when the batch began: the same for every operation of it.
func (c *Context) Now() time.Time { return c.now }

// HasInput reports whether the operation came with input.
func (c *Context) HasInput() bool { return c.req.Input != "" }

// Input reads the operation's input into v.
func (c *Context) Input(v any) error {
	if c.req.Input == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(c.req.Input), v); err != nil {
		return fmt.Errorf("read the input of operation %q of %s: %w", c.req.Operation, c.id, err)
	}
	return nil
}

// HasState reports whether the entity has state.
func (c *Context) HasState() bool { return c.state != nil }

// State reads the entity's state into v; it leaves v as it is when the
// entity has none.
func (c *Context) State(v any) error {
	if c.state == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(*c.state), v); err != nil {
		return fmt.Errorf("read the state of %s: %w", c.id, err)
	}
	return nil
}

// SetState replaces the entity's state with v.
func (c *Context) SetState(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write the state of %s: %w", c.id, err)
	}
	s := string(b)
	c.state = &s
	return nil
}

// DeleteState removes the entity's state: the entity no longer exists
// for readers until an operation sets state again.
func (c *Context) DeleteState() { c.state = nil }

// SignalEntity sends operation op to entity target, one way.
func (c *Context) SignalEntity(target ID, op string, input any) error {
	return c.ScheduleSignal(target, op, input, time.Time{})
}

// ScheduleSignal sends operation op to entity target, delivered at at
// (now when zero).
func (c *Context) ScheduleSignal(target ID, op string, input any, at time.Time) error {
	in, err := encodeInput(input)
	if err != nil {
		return fmt.Errorf("signal %s of %s: %w", op, target, err)
	}
	c.actions = append(c.actions, action{target: target, at: at,
		req: Request{Operation: op, IsSignal: true, Input: in, Parent: c.id.String()}})
	return nil
}

// StartNewOrchestration starts orchestration name with input, as instance
// instanceID (a new ID when ""), and returns the instance's ID. Nothing
// waits for it: it reports its end to no one. The start is sent once the
// operation's batch is durable, and only if the operation succeeds; a
// start of an instance that already runs is dropped.
func (c *Context) StartNewOrchestration(name string, input any, instanceID string) (string, error) {
	return c.StartOrchestration(StartOptions{Name: name, Input: input, InstanceID: instanceID})
}

// StartOptions describe an orchestration an entity starts.
type StartOptions struct {
	Name  string
	Input any
	// InstanceID is the instance's ID; "" for a new one.
	InstanceID string
	// Version is its version; "" for the worker's (its policy's).
	Version string
	// OnEnd, when set, is the operation of this entity that the
	// orchestration signals when it ends, with an OrchestrationEnded.
	OnEnd string
}

// StartOrchestration starts an orchestration as o describes and returns its
// instance ID; see StartNewOrchestration.
func (c *Context) StartOrchestration(o StartOptions) (string, error) {
	if o.Name == "" || o.Name[0] == '@' {
		return "", fmt.Errorf("start orchestration %q: not an orchestrator's name", o.Name)
	}
	if o.InstanceID == "" {
		o.InstanceID = c.newID()
	}
	if err := layout.ValidateInstanceID(o.InstanceID); err != nil {
		return "", fmt.Errorf("start orchestration %q: %w", o.Name, err)
	}
	in, err := encodeInput(o.Input)
	if err != nil {
		return "", fmt.Errorf("start orchestration %q: encode input: %w", o.Name, err)
	}
	c.actions = append(c.actions, action{orchestration: o.Name, instanceID: o.InstanceID, version: o.Version, onEnd: o.OnEnd,
		req: Request{Input: in}})
	return o.InstanceID, nil
}

// Terminate ends orchestration instanceID as Terminated with reason, once
// the operation succeeds: for an entity that manages what it started.
func (c *Context) Terminate(instanceID, reason string) error {
	if err := layout.ValidateInstanceID(instanceID); err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	in, err := encodeInput(reason)
	if err != nil {
		return fmt.Errorf("terminate %s: %w", instanceID, err)
	}
	c.actions = append(c.actions, action{terminate: true, instanceID: instanceID, req: Request{Input: in}})
	return nil
}

func encodeInput(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return string(raw), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
