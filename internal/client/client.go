// Package client is the management client of a task hub: it starts,
// queries, signals and cleans up orchestration instances by writing to the
// hub's storage, whether or not a worker is running.
//
// It depends on internal/azstore only, never on the replay engine: what it
// needs to know about orchestrations is in the Instances and History tables.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/telemetry"
)

// Outcomes a caller can tell apart with errors.Is. Anything else is a
// storage or connection failure.
var (
	// ErrNotFound: no such instance.
	ErrNotFound = errors.New("instance not found")
	// ErrWrongState: the instance exists but its status forbids the
	// operation, e.g. terminating a finished instance.
	ErrWrongState = errors.New("instance is in the wrong state for this operation")
	// ErrBadArgument: the request itself is invalid.
	ErrBadArgument = errors.New("bad argument")
)

// Notifier lets a client in the same process as a worker wake it and wait
// on it instead of polling storage. worker.Worker implements it.
type Notifier interface {
	Notify(instanceID string)
	// StartLocal hands a start to the worker in memory when the worker
	// owns the instance's partition, and reports whether it took it. The
	// instance row, already written, is what makes such a start durable:
	// if the worker dies first, recovery finds the row and sends the start.
	StartLocal(tm history.TaskMessage) bool
	// Subscribe delivers the instance's final row once it finishes.
	Subscribe(instanceID string) (done <-chan *layout.InstanceRow, cancel func())
}

// Options configure a Client.
type Options struct {
	// Notifier is the in-process worker, if any.
	Notifier Notifier
	// IsOrchestrator, when set, rejects starts of unknown orchestrators.
	IsOrchestrator func(name string) bool
	Logger         *slog.Logger
	// IgnoreIndex makes created-time queries scan the Instances table as
	// if the hub had no instance index; benchmarks compare the two.
	IgnoreIndex bool
	// PurgeConcurrency is how many instances a purge deletes at once
	// (default 8, which saturates Azurite; benchmarks vary it).
	PurgeConcurrency int
	// DefaultVersion is the version StartNew records when its options
	// name none: host.json's extensions.durableTask.defaultVersion.
	DefaultVersion string
	// Tracer emits the create_orchestration and orchestration_event spans
	// of starts and raised events, under the span of the caller's context,
	// and puts their trace context in the messages; nil is tracing off.
	Tracer *telemetry.Tracer
}

// Client manages instances of one task hub. It is safe for concurrent use.
type Client struct {
	hub   *azstore.Hub
	opts  Options
	index *indexState
}

// New returns a Client for hub.
func New(hub *azstore.Hub, opts Options) *Client {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Client{hub: hub, opts: opts, index: &indexState{}}
}

// Hub is the task hub the client manages.
func (c *Client) Hub() *azstore.Hub { return c.hub }

// wake gets the message just sent processed: an in-process worker is
// poked; otherwise the app may be scaled in, and a wake-up message on the
// app's wake queue makes the Functions host start it. A failed wake-up is
// logged, not returned: the work itself is queued durably either way.
func (c *Client) wake(ctx context.Context, id, reason string, at time.Time) {
	if c.opts.Notifier != nil {
		c.opts.Notifier.Notify(id)
		return
	}
	if err := c.hub.Wake(ctx, id, reason, at); err != nil {
		c.opts.Logger.Warn("wake-up message not sent; the app picks the work up when it next runs", "instanceId", id, "error", err)
	}
}

// StartOptions adjust StartNew.
type StartOptions struct {
	// InstanceID is the ID to use; a random one when empty.
	InstanceID string
	// StartAt delays the start until then.
	StartAt time.Time
	// Version is recorded with the instance (the Instances table's and
	// the ExecutionStarted row's Version column); when empty, StartNew
	// records the client's default version (host.json's defaultVersion).
	Version string
	// executionID, when set, is the new execution's ID instead of a random
	// one: a bulk restart derives it, so that a repeat recognizes its own
	// earlier start.
	executionID string
}

// MaxPayloadBytes is the largest input or event data a client accepts, the
// same for the HTTP API, the CLI and Go callers. Larger values go to blobs
// and work, but a payload this big is almost always a mistake, and every
// replay of the instance loads it.
const MaxPayloadBytes = 16 << 20

// EncodeInput turns a Go value into the JSON text stored as input: nil
// stays empty, json.RawMessage and []byte must already be valid JSON, and
// no value may encode to more than MaxPayloadBytes.
func EncodeInput(v any) (string, error) {
	s, err := encodeInput(v)
	if err == nil && len(s) > MaxPayloadBytes {
		return "", fmt.Errorf("%w: the payload is %d bytes, more than the limit of %d (16 MiB)", ErrBadArgument, len(s), MaxPayloadBytes)
	}
	return s, err
}

func encodeInput(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case json.RawMessage:
		if !json.Valid(x) {
			return "", fmt.Errorf("%w: input is not valid JSON", ErrBadArgument)
		}
		return string(x), nil
	case []byte:
		if !json.Valid(x) {
			return "", fmt.Errorf("%w: input is not valid JSON", ErrBadArgument)
		}
		return string(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%w: encode input: %v", ErrBadArgument, err)
	}
	return string(b), nil
}

// StartNew schedules a new instance of orchestrator name and returns its
// ID. An existing instance with that ID is replaced only if it finished;
// otherwise the start fails with ErrWrongState.
func (c *Client) StartNew(ctx context.Context, name string, input any, o StartOptions) (string, error) {
	if strings.TrimSpace(o.Version) == "" {
		o.Version = c.opts.DefaultVersion
	}
	return c.startNew(ctx, name, input, o, true)
}

// startNew can skip the registry check: a restart runs whatever the
// instance ran, even from a client that does not know the app's code.
func (c *Client) startNew(ctx context.Context, name string, input any, o StartOptions, checkName bool) (_ string, err error) {
	if strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("%w: orchestrator name is required", ErrBadArgument)
	}
	if checkName && c.opts.IsOrchestrator != nil && !c.opts.IsOrchestrator(name) {
		return "", fmt.Errorf("%w: orchestrator %q is not registered in this app", ErrBadArgument, name)
	}
	id := o.InstanceID
	if id == "" {
		id = layout.NewInstanceID()
	} else if err := layout.ValidateInstanceID(id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	in, err := EncodeInput(input)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	exec := o.executionID
	if exec == "" {
		exec = history.ExecutionID(uuid.New())
	}
	traceContext, endSpan := c.opts.Tracer.CreateOrchestration(ctx, name, o.Version, id, exec)
	defer func() { endSpan(err) }()
	row := &layout.InstanceRow{InstanceID: id, Name: name, Version: o.Version, ExecutionID: exec,
		RuntimeStatus: history.StatusPending, CreatedTime: now, LastUpdatedTime: now, Input: in, TaskHubName: c.hub.Name(),
		ParentTraceContext: traceContext}
	if !o.StartAt.IsZero() {
		at := o.StartAt.UTC()
		row.ScheduledStartTime = &at
	}
	// The index row goes first, so that every instance row has one: a
	// created-time query reads the index, not the Instances table.
	if err := c.hub.PutIndex(ctx, id, now); err != nil {
		return "", fmt.Errorf("start %q: %w", id, err)
	}
	// Unless a row with this CreatedTime stays, the index row is garbage:
	// harmless to readers, but each of them would skip it again.
	rowWritten := false
	defer func() {
		if !rowWritten {
			if err := c.hub.DeleteIndex(context.WithoutCancel(ctx), []layout.IndexEntry{c.hub.IndexEntryOf(id, now)}); err != nil {
				c.opts.Logger.Debug("removing the index row of a start that did not happen", "instanceId", id, "error", err)
			}
		}
	}()
	inserted := true
	if err := c.hub.InsertInstance(ctx, row); err != nil {
		if !errors.Is(err, azstore.ErrConflict) {
			return "", fmt.Errorf("start %q: %w", id, err)
		}
		inserted = false
		existing, err := c.hub.GetInstance(ctx, id)
		if err != nil {
			return "", fmt.Errorf("start %q: %w", id, err)
		}
		if !existing.RuntimeStatus.IsTerminal() {
			if sameStart(existing, row) {
				// A retry of a start whose answer was lost, or whose start
				// message was (the caller died between the row and the
				// message): send the start again. If the first message exists
				// after all, the instance drops this copy, which has the same
				// message ID.
				if err := c.sendStart(ctx, existing, traceContext); err != nil {
					return "", fmt.Errorf("start %q: %w", id, err)
				}
				return id, nil
			}
			return "", fmt.Errorf("%w: an instance with ID %q already exists and is %s", ErrWrongState, id, existing.RuntimeStatus)
		}
		row.Generation = existing.Generation + 1
		if err := c.hub.ReplaceInstance(ctx, row, existing.ETag); err != nil {
			if errors.Is(err, azstore.ErrConflict) {
				return "", fmt.Errorf("%w: instance %q was changed while being replaced; try again", ErrWrongState, id)
			}
			return "", fmt.Errorf("start %q: %w", id, err)
		}
	}
	rowWritten = true
	if err := c.sendStart(ctx, row, traceContext); err != nil {
		if inserted {
			// The start is not acknowledged, so leave nothing behind: a row
			// without its message would block a retry. Should this delete
			// fail too, the engine finds the row and sends its start itself.
			if derr := c.hub.DeleteInstanceRow(context.WithoutCancel(ctx), id); derr != nil && !errors.Is(derr, azstore.ErrNotFound) {
				c.opts.Logger.Warn("removing the row of a start that failed", "instanceId", id, "error", derr)
			} else {
				rowWritten = false
			}
		}
		return "", fmt.Errorf("start %q: %w", id, err)
	}
	return id, nil
}

// sameStart reports whether a start request asks for what an existing
// row already describes, so that it may be treated as a retry.
func sameStart(existing, req *layout.InstanceRow) bool {
	return existing.RuntimeStatus == history.StatusPending && existing.Name == req.Name &&
		existing.Input == req.Input && existing.Version == req.Version
}

// sendStart sends the start message of an instance row and wakes the app.
// A start that an in-process worker will run itself skips the queue.
func (c *Client) sendStart(ctx context.Context, row *layout.InstanceRow, tc *history.TraceContext) error {
	var at time.Time
	if row.ScheduledStartTime != nil {
		at = *row.ScheduledStartTime
	}
	tm := layout.StartMessage(row)
	tm.Event.ParentTraceContext = tc
	if at.IsZero() && c.opts.Notifier != nil && c.opts.Notifier.StartLocal(tm) {
		return nil
	}
	if err := c.hub.SendToInstance(ctx, tm, at); err != nil {
		return err
	}
	c.wake(ctx, row.InstanceID, "start", at)
	return nil
}

// instance reads an orchestration's instance row, mapping absence to
// ErrNotFound.
func (c *Client) instance(ctx context.Context, id string) (*layout.InstanceRow, error) {
	if err := ValidateInstanceID(id); err != nil {
		return nil, err
	}
	return c.row(ctx, id)
}

// ValidateInstanceID checks an orchestration's instance ID: an
// ErrBadArgument naming what is wrong with it, or nil.
func ValidateInstanceID(id string) error {
	if err := layout.ValidateInstanceID(id); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	return nil
}

// ValidateReadableID checks the ID of an instance that may be read: an
// orchestration's, or an entity's ("@name@key"), which only the entity's
// operations create and only the entity operations manage.
func ValidateReadableID(id string) error {
	if e, ok := entity.Parse(id); ok {
		if _, err := entity.NewID(e.Name, e.Key); err != nil {
			return fmt.Errorf("%w: %v", ErrBadArgument, err)
		}
		return nil
	}
	return ValidateInstanceID(id)
}

// row reads an instance row, mapping absence to ErrNotFound.
func (c *Client) row(ctx context.Context, id string) (*layout.InstanceRow, error) {
	row, err := c.hub.GetInstance(ctx, id)
	if err != nil {
		if errors.Is(err, azstore.ErrNotFound) {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		return nil, err
	}
	return row, nil
}

// RaiseEvent sends an event to a running or pending instance. An event
// for an instance that is not waiting yet is kept until it waits.
func (c *Client) RaiseEvent(ctx context.Context, id, eventName string, data any) error {
	if strings.TrimSpace(eventName) == "" {
		return fmt.Errorf("%w: event name is required", ErrBadArgument)
	}
	in, err := EncodeInput(data)
	if err != nil {
		return err
	}
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		return fmt.Errorf("%w: instance %q is %s and cannot receive events", ErrWrongState, id, row.RuntimeStatus)
	}
	tc, endSpan := c.opts.Tracer.RaiseEvent(ctx, eventName, id)
	err = c.signal(ctx, id, history.Event{Type: history.EventRaised, EventID: -1, Timestamp: time.Now().UTC(),
		Name: eventName, Input: in, ParentTraceContext: tc}, "event")
	endSpan(err)
	return err
}

// Terminate asks a running, pending or suspended instance to end as
// Terminated with reason as its output. It takes effect asynchronously.
func (c *Client) Terminate(ctx context.Context, id, reason string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		return fmt.Errorf("%w: instance %q is already %s", ErrWrongState, id, row.RuntimeStatus)
	}
	r, _ := json.Marshal(reason)
	return c.signal(ctx, id, history.Event{Type: history.ExecutionTerminated, EventID: -1, Timestamp: time.Now().UTC(),
		Input: string(r)}, "terminate")
}
