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

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/app"
	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
)

// Errors a caller tells apart with errors.Is; anything else is a storage
// or connection failure.
var (
	// ErrNotFound: no such instance (or task hub).
	ErrNotFound = iclient.ErrNotFound
	// ErrWrongState: the instance's status forbids the operation, e.g.
	// terminating a finished instance. A *StateError carries the status.
	ErrWrongState = iclient.ErrWrongState
	// ErrBadArgument: the request itself is invalid (a bad ID, JSON that
	// does not parse, a payload over MaxPayloadBytes).
	ErrBadArgument = iclient.ErrBadArgument
)

// MaxPayloadBytes is the largest input or event data accepted (16 MiB).
const MaxPayloadBytes = iclient.MaxPayloadBytes

// StateError is an ErrWrongState naming the status that forbade the
// operation.
type StateError = iclient.StateError

// RuntimeStatus is an instance's status, spelled as Durable Functions
// spells it.
type RuntimeStatus = history.RuntimeStatus

// Runtime statuses.
const (
	StatusPending        = history.StatusPending
	StatusRunning        = history.StatusRunning
	StatusCompleted      = history.StatusCompleted
	StatusContinuedAsNew = history.StatusContinuedAsNew
	StatusFailed         = history.StatusFailed
	StatusCanceled       = history.StatusCanceled
	StatusTerminated     = history.StatusTerminated
	StatusSuspended      = history.StatusSuspended
)

// HistoryEvent is one event of an instance's history, in the Durable Task
// Framework's model.
type HistoryEvent = history.Event

// StartOptions adjust StartNew: the instance ID (random when empty), a
// delayed start, a version.
type StartOptions = iclient.StartOptions

// Status is an instance's state: name, ID, runtime status, input, custom
// status and output as JSON, times, and the history when asked for.
type Status = iclient.Status

// StatusOptions choose what GetStatus reads.
type StatusOptions = iclient.StatusOptions

// Query selects instances for ListInstances and CountInstances:
// created-time range, statuses, ID prefix, orchestrator names, page size
// and continuation. Instances of internal orchestrations (IsInternalName)
// are left out unless ShowInternal is set or Names names them.
type Query = iclient.Query

// InternalNamePrefix starts the names of the orchestrations the module
// runs for itself, such as BatchOrchestrator. The prefix is reserved: an
// app's own orchestrators must not use it, or lists would hide them.
const InternalNamePrefix = iclient.InternalNamePrefix

// IsInternalName reports whether an orchestration name is internal.
func IsInternalName(name string) bool { return iclient.IsInternalName(name) }

// Counts is the number of instances per runtime status, as CountInstances
// returns it: every status is present, zero or not.
type Counts = iclient.Counts

// VersionCounts is the number of instances of one orchestrator and
// version, per runtime status (CountByVersion).
type VersionCounts = iclient.VersionCounts

// Page is one page of ListInstances.
type Page = iclient.Page

// PurgeQuery selects finished instances for PurgeRange.
type PurgeQuery = iclient.PurgeQuery

// Progress reports how far a long operation got.
type Progress = iclient.Progress

// TerminateOptions adjust TerminateWithOptions: the reason, and whether
// the instance's whole tree of sub-orchestrations is terminated too.
type TerminateOptions = iclient.TerminateOptions

// PurgeOptions adjust PurgeWithOptions: whether the instance's whole tree
// of sub-orchestrations is purged too.
type PurgeOptions = iclient.PurgeOptions

// PurgeIncompleteError is the ErrWrongState of a recursive purge that
// deleted what it could but left instances that have not finished, and
// their ancestors. It counts the instances deleted and names the
// unfinished ones.
type PurgeIncompleteError = iclient.PurgeIncompleteError

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
		DefaultVersion: strings.TrimSpace(cfg.DefaultVersion)}), hub: hub.Name(),
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
	return c.c.StartNew(ctx, name, input, o)
}

// GetStatus reads an instance's status; ErrNotFound when it does not exist.
func (c *Client) GetStatus(ctx context.Context, instanceID string, o StatusOptions) (*Status, error) {
	return c.c.GetStatus(ctx, instanceID, o)
}

// ListInstances returns one page of the instances that q selects.
func (c *Client) ListInstances(ctx context.Context, q Query) (*Page, error) {
	return c.c.ListInstances(ctx, q)
}

// CountInstances counts the instances that q's filters select (its paging
// fields are ignored), per runtime status.
func (c *Client) CountInstances(ctx context.Context, q Query) (Counts, error) {
	return c.c.CountInstances(ctx, q)
}

// CountByVersion counts the instances q selects per orchestrator and
// version, and per runtime status within each, sorted by name and version:
// what is still in flight of an old version (see the README's "Deploying
// changes safely").
func (c *Client) CountByVersion(ctx context.Context, q Query) ([]VersionCounts, error) {
	return c.c.CountByVersion(ctx, q)
}

// WaitForCompletion waits until the instance finishes (Completed, Failed,
// Terminated or Canceled) or ctx ends, reading its status every poll
// interval (default 1 s), and returns the final status.
func (c *Client) WaitForCompletion(ctx context.Context, instanceID string, poll time.Duration) (*Status, error) {
	return c.c.WaitForCompletion(ctx, instanceID, poll)
}

// RaiseEvent sends the event eventName with data to an instance. Once it
// returns, the event is applied exactly once, in the order sent; an event
// the instance is not waiting for yet is kept until it waits.
func (c *Client) RaiseEvent(ctx context.Context, instanceID, eventName string, data any) error {
	return c.c.RaiseEvent(ctx, instanceID, eventName, data)
}

// Terminate ends an active instance as Terminated with reason as output.
func (c *Client) Terminate(ctx context.Context, instanceID, reason string) error {
	return c.c.Terminate(ctx, instanceID, reason)
}

// TerminateWithOptions is Terminate with options. With Recursive set,
// every sub-orchestration of the instance that has not finished, and each
// of theirs, ends as Terminated with the same reason. The engine does it
// as part of terminating each parent, so it holds under crashes and for
// children created while the request is on its way.
func (c *Client) TerminateWithOptions(ctx context.Context, instanceID string, o TerminateOptions) error {
	return c.c.TerminateWithOptions(ctx, instanceID, o)
}

// Suspend pauses an active instance; events it receives meanwhile are kept.
func (c *Client) Suspend(ctx context.Context, instanceID, reason string) error {
	return c.c.Suspend(ctx, instanceID, reason)
}

// Resume continues a suspended instance.
func (c *Client) Resume(ctx context.Context, instanceID, reason string) error {
	return c.c.Resume(ctx, instanceID, reason)
}

// Rewind replays a Failed instance from its last failure: failed steps run
// again, successful ones are kept. Any other status is a *StateError.
func (c *Client) Rewind(ctx context.Context, instanceID, reason string) error {
	return c.c.Rewind(ctx, instanceID, reason)
}

// Restart starts the instance's orchestrator again with the same input:
// under a new ID (returned) when newInstanceID is true, else under the
// same ID, which must have finished.
func (c *Client) Restart(ctx context.Context, instanceID string, newInstanceID bool) (string, error) {
	return c.c.Restart(ctx, instanceID, newInstanceID)
}

// Purge deletes a finished instance's row, history and large payloads.
func (c *Client) Purge(ctx context.Context, instanceID string) error {
	return c.c.Purge(ctx, instanceID)
}

// PurgeWithOptions is Purge with options, and returns how many instances
// it deleted. With Recursive set it purges the instance's tree of
// sub-orchestrations, children before parents, so that an interrupted
// purge can be repeated. An unfinished instance in the tree is kept, with
// its subtree and its ancestors; the rest is purged and the error is a
// *PurgeIncompleteError.
func (c *Client) PurgeWithOptions(ctx context.Context, instanceID string, o PurgeOptions) (int, error) {
	return c.c.PurgeWithOptions(ctx, instanceID, o)
}

// PurgeRange purges the finished instances that q selects and returns how
// many it purged.
func (c *Client) PurgeRange(ctx context.Context, q PurgeQuery, progress Progress) (int, error) {
	return c.c.PurgeRange(ctx, q, progress)
}

// HTTPManagementPayload is Durable Functions' HttpManagementPayload: the
// instance's ID and the URLs of the app's HTTP management API for it
// (status, raise event, terminate, rewind, purge, restart, suspend,
// resume), with {eventName} and {text} left for the caller to fill in. Its
// JSON has the extension's field names.
type HTTPManagementPayload = apijson.ManagementPayload

// CreateHTTPManagementPayload returns the management URLs of an instance,
// below the Config's BaseURL (its /durabletask routes), as Durable
// Functions' CreateHttpManagementPayload does; an activity can hand them to
// an outside system that then watches or signals the instance. They carry
// taskHub and connection but no function key: add ?code= on Azure.
func (c *Client) CreateHTTPManagementPayload(instanceID string) HTTPManagementPayload {
	return apijson.BuildManagementPayload(c.baseURL+"/durabletask", instanceID, url.PathEscape(instanceID), c.hub, c.connection, "")
}
