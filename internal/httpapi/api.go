// Package httpapi serves the HTTP side of the function app: the starters
// (POST /orchestrators/{functionName}[/{instanceId}] and its /wait form, the
// seed's HttpStart and HttpSyncStart) and the Durable Functions instance
// management API under /durabletask, with the routes, status codes and JSON
// shapes of the Durable Functions built-in HTTP API.
//
// The Functions host forwards these requests unchanged (customHandler
// enableForwardingHttpRequest), so the handler sees the original path and
// serves it with an ordinary mux. Keys are checked by the host (the
// management functions are authLevel function); this package only carries a
// request's code into the URLs it hands out.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/schedule"
)

// BasePath is the management API's path below the route prefix. Durable
// Functions serves it under /runtime/webhooks/durabletask, a path function
// apps cannot register.
const BasePath = "durabletask"

// Client is the part of the management client the API uses;
// *client.Client implements it.
type Client interface {
	StartNew(ctx context.Context, name string, input any, o client.StartOptions) (string, error)
	GetStatus(ctx context.Context, id string, o client.StatusOptions) (*client.Status, error)
	WaitForCompletion(ctx context.Context, id string, poll time.Duration) (*client.Status, error)
	ListInstances(ctx context.Context, q client.Query) (*client.Page, error)
	CountInstances(ctx context.Context, q client.Query) (client.Counts, error)
	CountByVersion(ctx context.Context, q client.Query) ([]client.VersionCounts, error)
	RaiseEvent(ctx context.Context, id, eventName string, data any) error
	Terminate(ctx context.Context, id, reason string) error
	TerminateWithOptions(ctx context.Context, id string, o client.TerminateOptions) error
	Suspend(ctx context.Context, id, reason string) error
	Resume(ctx context.Context, id, reason string) error
	Rewind(ctx context.Context, id, reason string) error
	Restart(ctx context.Context, id string, newInstanceID bool) (string, error)
	Purge(ctx context.Context, id string) error
	PurgeWithOptions(ctx context.Context, id string, o client.PurgeOptions) (int, error)
	PurgeRange(ctx context.Context, q client.PurgeQuery, progress client.Progress) (int, error)
	StartBatch(ctx context.Context, req client.BatchRequest) (string, error)
	SignalEntity(ctx context.Context, id entity.ID, op string, input any, at time.Time) (string, error)
	GetEntity(ctx context.Context, id entity.ID, includeState bool) (*client.EntityMetadata, error)
	ListEntities(ctx context.Context, q client.EntityQuery) (*client.EntityPage, error)
	CleanEntityStorage(ctx context.Context, o client.CleanEntityOptions) (*client.CleanEntityResult, error)
	CreateSchedule(ctx context.Context, id string, spec schedule.Spec) error
	UpdateSchedule(ctx context.Context, id string, spec schedule.Spec) error
	GetSchedule(ctx context.Context, id string) (*schedule.State, error)
	ListSchedules(ctx context.Context, pageSize int, token string) (*client.SchedulePage, error)
	PauseSchedule(ctx context.Context, id, note string) error
	ResumeSchedule(ctx context.Context, id, note string) error
	TriggerSchedule(ctx context.Context, id string) error
	BackfillSchedule(ctx context.Context, id string, from, to time.Time) error
	DeleteSchedule(ctx context.Context, id string) error
}

// Config is what an API is built from.
type Config struct {
	// Client manages the app's task hub.
	Client Client
	// HubName and ConnectionName are the task hub and the app setting
	// naming its storage account; they go into management URLs, and a
	// request naming another hub or connection is refused.
	HubName, ConnectionName string
	// RoutePrefix is host.json extensions.http.routePrefix ("" for none).
	RoutePrefix string
	Logger      *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Defaults of the wait-for-completion starter, as in Durable Functions.
const (
	DefaultWaitTimeout   = 10 * time.Second
	DefaultRetryInterval = time.Second
	// MaxWait bounds a wait: the Functions host cuts HTTP requests off at
	// 230 s, so a longer wait could only end in a gateway error.
	MaxWait = 220 * time.Second
	// maxBodyBytes bounds request bodies (inputs and event data).
	maxBodyBytes = client.MaxPayloadBytes
)

// API serves the HTTP routes. It is safe for concurrent use.
type API struct {
	cfg    Config
	prefix string // "/" or "/api/": the route prefix with slashes
	mux    *http.ServeMux
}

// New builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Client == nil {
		return nil, errors.New("httpapi: a client is required")
	}
	if cfg.HubName == "" || cfg.ConnectionName == "" {
		return nil, errors.New("httpapi: the hub name and connection name are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.prefix = "/"
	if p := strings.Trim(cfg.RoutePrefix, "/"); p != "" {
		a.prefix = "/" + p + "/"
	}
	a.routes()
	return a, nil
}

// ManagementBase is the management API's path, e.g. "/durabletask".
func (a *API) ManagementBase() string { return a.prefix + BasePath }

func (a *API) routes() {
	p, m := a.prefix, a.ManagementBase()
	// The app's own starters (function folders HttpStart and HttpSyncStart).
	a.mux.HandleFunc("POST "+p+"orchestrators/{functionName}", a.start)
	a.mux.HandleFunc("POST "+p+"orchestrators/{functionName}/{instanceId}", a.start)
	a.mux.HandleFunc("POST "+p+"orchestrators/{functionName}/wait", a.startAndWait)

	// The management API.
	a.mux.HandleFunc("POST "+m+"/orchestrators/{functionName}", a.start)
	a.mux.HandleFunc("POST "+m+"/orchestrators/{functionName}/{instanceId}", a.start)
	a.mux.HandleFunc("GET "+m+"/instances", a.list)
	a.mux.HandleFunc("GET "+m+"/instances/{$}", a.list)
	a.mux.HandleFunc("GET "+m+"/counts", a.counts)
	a.mux.HandleFunc("DELETE "+m+"/instances", a.purgeRange)
	a.mux.HandleFunc("DELETE "+m+"/instances/{$}", a.purgeRange)
	a.mux.HandleFunc("GET "+m+"/instances/{instanceId}", a.status)
	a.mux.HandleFunc("DELETE "+m+"/instances/{instanceId}", a.purge)
	a.mux.HandleFunc("POST "+m+"/instances/{instanceId}/{operation}", a.operation)
	a.mux.HandleFunc("POST "+m+"/batch/{operation}", a.batch)
	// {eventName...} takes the rest of the path so that an event name with
	// a raw '/' (which the JS clients put in the URL unescaped) gets a 400
	// that names the problem rather than a 404.
	a.mux.HandleFunc("POST "+m+"/instances/{instanceId}/{operation}/{eventName...}", a.raiseEvent)
	a.entityRoutes(m)
	a.scheduleRoutes(m)
}

// ServeHTTP routes a request. Requests that match no route get a JSON 404,
// and a known path with the wrong method a JSON 405.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != cleanPath(p) {
		// The mux would answer a path with an empty segment ("//", as a
		// client sends for an empty instance ID) with a redirect that
		// no API client follows; no route has such a path.
		writeError(w, http.StatusNotFound, http.StatusText(http.StatusNotFound),
			fmt.Sprintf("%s %s is not a route of this API: the path has an empty or dot segment", r.Method, p))
		return
	}
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r) // learn 404 or 405 (with Allow) without writing
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		status := rec.status
		if status == 0 {
			status = http.StatusNotFound
		}
		writeError(w, status, http.StatusText(status), fmt.Sprintf("%s %s is not a route of this API", r.Method, r.URL.Path))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// cleanPath is path.Clean as the mux applies it, keeping a trailing slash
// (GET /instances/ is a route).
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// statusOnly records the status and headers the mux's fallback handler
// would write.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.status = code }

// Handles reports whether path belongs to this API, so that a router can
// send it here.
func (a *API) Handles(path string) bool {
	return strings.HasPrefix(path, a.prefix+"orchestrators/") || strings.HasPrefix(path, a.ManagementBase()+"/")
}

// clientFor returns the client for the request's taskHub and connection
// query parameters, which Durable Functions accepts on every route. This
// app serves its own hub only: opening another hub without knowing its
// partition count could send messages to the wrong control queues.
func (a *API) clientFor(r *http.Request) (Client, error) {
	q := query(r)
	if hub := q.get("taskHub"); hub != "" && !strings.EqualFold(hub, a.cfg.HubName) {
		return nil, fmt.Errorf("%w: this app serves task hub %q only, not %q", client.ErrBadArgument, a.cfg.HubName, hub)
	}
	if conn := q.get("connection"); conn != "" && !sameConnection(conn, a.cfg.ConnectionName) {
		return nil, fmt.Errorf("%w: this app uses connection %q only, not %q", client.ErrBadArgument, a.cfg.ConnectionName, conn)
	}
	return a.cfg.Client, nil
}

// sameConnection reports whether the connection name a request gives
// resolves to the app's connection setting. The WebJobs SDK looks a name N
// up as the setting AzureWebJobsN first, then N, so the extension's own
// URLs and durableClient bindings say connection=Storage for the default
// connection AzureWebJobsStorage.
func sameConnection(given, setting string) bool {
	return strings.EqualFold(given, setting) || strings.EqualFold("AzureWebJobs"+given, setting)
}
