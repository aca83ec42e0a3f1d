// Package client manages the orchestration instances of a task hub from Go:
// start, query, list, wait, raise events, terminate, suspend and resume,
// rewind, restart and purge, the operations Durable Functions' durable
// client offers, and bulk operations over every instance a filter selects
// (StartBatch). It works on storage alone, so it serves a function app's
// own code (funcapp.App.Client, usable from inside an activity) as well as
// a separate program with nothing but the storage connection (Open).
package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/app"
	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/telemetry"
)

// MaxPayloadBytes is the largest input or event data accepted (16 MiB).
const MaxPayloadBytes = 16 << 20

// RuntimeStatus is an instance's status, a string spelled as Durable
// Functions spells it ("Completed"); the same type as tasktest.Status.
type RuntimeStatus = history.RuntimeStatus

// StatusPending is an instance created but not started yet (a start
// message not yet processed, or a delayed start).
const StatusPending RuntimeStatus = "Pending"

// StatusRunning is an instance that started and has not finished.
const StatusRunning RuntimeStatus = "Running"

// StatusCompleted is an instance whose orchestrator returned a result.
const StatusCompleted RuntimeStatus = "Completed"

// StatusContinuedAsNew is an execution that continued as new; the instance
// shows it only between two executions.
const StatusContinuedAsNew RuntimeStatus = "ContinuedAsNew"

// StatusFailed is an instance whose orchestrator failed; Status.Output
// and Status.FailureDetails say why.
const StatusFailed RuntimeStatus = "Failed"

// StatusCanceled is a status of the Durable Task Framework that this
// engine does not produce; rows written by other engines may hold it.
const StatusCanceled RuntimeStatus = "Canceled"

// StatusTerminated is an instance ended by Terminate.
const StatusTerminated RuntimeStatus = "Terminated"

// StatusSuspended is an instance paused by Suspend until Resume.
const StatusSuspended RuntimeStatus = "Suspended"

// HistoryEvent is one event of an instance's history, in the Durable Task
// Framework's model.
type HistoryEvent = history.Event

// InternalNamePrefix starts the names of the orchestrations the module
// runs for itself, such as BatchOrchestrator. The prefix is reserved: an
// app's own orchestrators must not use it, or lists would hide them.
const InternalNamePrefix = "DurableTask."

// IsInternalName reports whether an orchestration name is internal.
func IsInternalName(name string) bool { return iclient.IsInternalName(name) }

// Client manages the instances of one task hub. It is safe for concurrent
// use.
type Client struct {
	c          *iclient.Client
	hub        string
	connection string
	baseURL    string
}

// Config names the task hub Open connects to.
type Config struct {
	// Settings are app settings as a function app has them: the storage
	// connection under ConnectionName (a connection string,
	// "UseDevelopmentStorage=true", or the identity-based
	// "{name}__accountName" / "{name}__queueServiceUri" … forms).
	Settings map[string]string
	// ConnectionString is a shorthand for Settings[ConnectionName].
	ConnectionString string
	// ConnectionName names the connection setting (AzureWebJobsStorage).
	ConnectionName string
	// HubName is the task hub (DurableFunctionsHub).
	HubName string
	// PartitionCount is the hub's number of control queues; when zero,
	// Open reads it from the hub (and uses 4 for a hub that does not exist
	// yet).
	PartitionCount int
	// BaseURL is the function app's address, for the management URLs of
	// CreateHTTPManagementPayload, e.g. "https://myapp.azurewebsites.net".
	BaseURL string
	// Logger receives warnings; default slog.Default().
	Logger *slog.Logger
	// IsOrchestrator, when set, reports whether the app serving the hub
	// registers an orchestrator of that name; StartNew then refuses any
	// other name with ErrBadArgument, as the HTTP API answers 400. A
	// client opened without it knows nothing of the app's code (it may be
	// a separate program, and the app may not even run): StartNew then
	// accepts any name, and an instance of a name no app registers fails
	// when an app runs it ("orchestrator X is not registered in this
	// app"). funcapp.App.Client sets it from the app's registry.
	IsOrchestrator func(name string) bool
	// DefaultVersion is the version StartNew records when StartOptions
	// name none, as host.json's extensions.durableTask.defaultVersion does
	// for the app; funcapp.App.Client sets it from host.json.
	DefaultVersion string
	// TracerProvider, when set, traces starts and raised events:
	// StartNew emits a create_orchestration span (RaiseEvent an
	// orchestration_event span) under the span of its ctx, and the
	// orchestration's spans continue that trace, as in Durable Functions'
	// distributed tracing. Pass otel.GetTracerProvider() to use the global
	// one. Nil traces nothing; funcapp.App.Client sets it when host.json
	// turns tracing on.
	TracerProvider trace.TracerProvider
}

// Open connects to a task hub's storage. It does not create the hub: a
// client of a hub that does not exist yet gets ErrNotFound or a storage
// error until an app creates it.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	values := map[string]string{}
	for k, v := range cfg.Settings {
		values[k] = v
	}
	d := config.DefaultDurableOptions()
	if cfg.ConnectionName != "" {
		d.ConnectionName = cfg.ConnectionName
	}
	if cfg.HubName != "" {
		d.HubName = cfg.HubName
	}
	if cfg.PartitionCount != 0 {
		d.PartitionCount = cfg.PartitionCount
	}
	if cfg.ConnectionString != "" {
		values[d.ConnectionName] = cfg.ConnectionString
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("open task hub client: %w", err)
	}
	settings := config.NewSettings(values, false)
	hub, err := app.OpenHub(settings, d, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("open task hub client: %w", err)
	}
	if cfg.PartitionCount == 0 {
		if _, err := hub.UseRecordedPartitionCount(ctx); err != nil {
			return nil, fmt.Errorf("open task hub client: %w", err)
		}
	}
	return &Client{c: iclient.New(hub, iclient.Options{Logger: cfg.Logger, IsOrchestrator: cfg.IsOrchestrator,
		DefaultVersion: strings.TrimSpace(cfg.DefaultVersion), Tracer: telemetry.New(cfg.TracerProvider)}), hub: hub.Name(),
		connection: d.ConnectionName, baseURL: cfg.BaseURL}, nil
}

// HubName is the task hub the client manages.
func (c *Client) HubName() string { return c.hub }

// StartNew schedules a new instance of the orchestrator name with input
// (any JSON-encodable value; json.RawMessage and []byte are taken as JSON)
// and returns its instance ID. An instance with the same ID that finished
// is replaced; one that is still active makes it fail with ErrWrongState,
// unless it is a Pending instance started with the same name and input,
// whose start this then repeats (a retry after a lost answer). A name the
// app does not register is ErrBadArgument when the client knows the app's
// orchestrators (Config.IsOrchestrator, set by funcapp.App.Client);
// otherwise the instance is created and fails when an app runs it.
func (c *Client) StartNew(ctx context.Context, name string, input any, o StartOptions) (string, error) {
	v, err := c.c.StartNew(ctx, name, input, o.internal())
	return v, publicError(err)
}

// GetStatus reads an instance's status; ErrNotFound when it does not exist.
func (c *Client) GetStatus(ctx context.Context, instanceID string, o StatusOptions) (*Status, error) {
	st, err := c.c.GetStatus(ctx, instanceID, iclient.StatusOptions(o))
	return publicStatus(st), publicError(err)
}

// ListInstances returns one page of the instances that q selects.
func (c *Client) ListInstances(ctx context.Context, q Query) (*Page, error) {
	p, err := c.c.ListInstances(ctx, q.internal())
	if p == nil {
		return nil, publicError(err)
	}
	out := &Page{ContinuationToken: p.ContinuationToken, Instances: make([]*Status, len(p.Instances))}
	for i, st := range p.Instances {
		out.Instances[i] = publicStatus(st)
	}
	return out, publicError(err)
}

// CountInstances counts the instances that q's filters select (its paging
// fields are ignored), per runtime status.
func (c *Client) CountInstances(ctx context.Context, q Query) (Counts, error) {
	n, err := c.c.CountInstances(ctx, q.internal())
	return Counts(n), publicError(err)
}

// CountByVersion counts the instances q selects per orchestrator and
// version, and per runtime status within each, sorted by name and version:
// what is still in flight of an old version (see the README's "Deploying
// changes safely").
func (c *Client) CountByVersion(ctx context.Context, q Query) ([]VersionCounts, error) {
	in, err := c.c.CountByVersion(ctx, q.internal())
	out := make([]VersionCounts, len(in))
	for i, v := range in {
		out[i] = VersionCounts{Name: v.Name, Version: v.Version, Counts: Counts(v.Counts)}
	}
	return out, publicError(err)
}

// WaitForCompletion waits until the instance finishes (Completed, Failed,
// Terminated or Canceled) or ctx ends, reading its status every poll
// interval (default 1 s), and returns the final status.
func (c *Client) WaitForCompletion(ctx context.Context, instanceID string, poll time.Duration) (*Status, error) {
	st, err := c.c.WaitForCompletion(ctx, instanceID, poll)
	return publicStatus(st), publicError(err)
}

// RaiseEvent sends the event eventName with data to an instance. Once it
// returns, the event is applied exactly once, in the order sent; an event
// the instance is not waiting for yet is kept until it waits.
func (c *Client) RaiseEvent(ctx context.Context, instanceID, eventName string, data any) error {
	return publicError(c.c.RaiseEvent(ctx, instanceID, eventName, data))
}

// Terminate ends an active instance as Terminated with reason as output.
func (c *Client) Terminate(ctx context.Context, instanceID, reason string) error {
	return publicError(c.c.Terminate(ctx, instanceID, reason))
}

// TerminateWithOptions is Terminate with options. With Recursive set,
// every sub-orchestration of the instance that has not finished, and each
// of theirs, ends as Terminated with the same reason. The engine does it
// as part of terminating each parent, so it holds under crashes and for
// children created while the request is on its way.
func (c *Client) TerminateWithOptions(ctx context.Context, instanceID string, o TerminateOptions) error {
	return publicError(c.c.TerminateWithOptions(ctx, instanceID, iclient.TerminateOptions(o)))
}

// Suspend pauses an active instance; events it receives meanwhile are kept.
func (c *Client) Suspend(ctx context.Context, instanceID, reason string) error {
	return publicError(c.c.Suspend(ctx, instanceID, reason))
}

// Resume continues a suspended instance.
func (c *Client) Resume(ctx context.Context, instanceID, reason string) error {
	return publicError(c.c.Resume(ctx, instanceID, reason))
}

// Rewind replays a Failed instance from its last failure: failed steps run
// again, successful ones are kept. Any other status is a *StateError.
func (c *Client) Rewind(ctx context.Context, instanceID, reason string) error {
	return publicError(c.c.Rewind(ctx, instanceID, reason))
}

// Restart starts the instance's orchestrator again with the same input:
// under a new ID (returned) when newInstanceID is true, else under the
// same ID, which must have finished.
func (c *Client) Restart(ctx context.Context, instanceID string, newInstanceID bool) (string, error) {
	v, err := c.c.Restart(ctx, instanceID, newInstanceID)
	return v, publicError(err)
}

// Purge deletes a finished instance's row, history and large payloads.
func (c *Client) Purge(ctx context.Context, instanceID string) error {
	return publicError(c.c.Purge(ctx, instanceID))
}

// PurgeWithOptions is Purge with options, and returns how many instances
// it deleted. With Recursive set it purges the instance's tree of
// sub-orchestrations, children before parents, so that an interrupted
// purge can be repeated. An unfinished instance in the tree is kept, with
// its subtree and its ancestors; the rest is purged and the error is a
// *PurgeIncompleteError.
func (c *Client) PurgeWithOptions(ctx context.Context, instanceID string, o PurgeOptions) (int, error) {
	v, err := c.c.PurgeWithOptions(ctx, instanceID, iclient.PurgeOptions(o))
	return v, publicError(err)
}

// PurgeRange purges the finished instances that q selects and returns how
// many it purged.
func (c *Client) PurgeRange(ctx context.Context, q PurgeQuery, progress Progress) (int, error) {
	v, err := c.c.PurgeRange(ctx, iclient.PurgeQuery(q), iclient.Progress(progress))
	return v, publicError(err)
}

// HTTPManagementPayload is Durable Functions' HttpManagementPayload: the
// instance's ID and the URLs of the app's HTTP management API for it
// (status, raise event, terminate, rewind, purge, restart, suspend,
// resume), with {eventName} and {text} left for the caller to fill in. Its
// JSON has the extension's field names.
type HTTPManagementPayload struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	RewindPostURI         string `json:"rewindPostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// CreateHTTPManagementPayload returns the management URLs of an instance,
// below the Config's BaseURL (its /durabletask routes), as Durable
// Functions' CreateHttpManagementPayload does; an activity can hand them to
// an outside system that then watches or signals the instance. They carry
// taskHub and connection but no function key: add ?code= on Azure.
func (c *Client) CreateHTTPManagementPayload(instanceID string) HTTPManagementPayload {
	return HTTPManagementPayload(apijson.BuildManagementPayload(c.baseURL+"/durabletask", instanceID, url.PathEscape(instanceID), c.hub, c.connection, ""))
}
