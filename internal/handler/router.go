package handler

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/durable-go/durable/internal/dashboard"
	"github.com/durable-go/durable/internal/functions"
	"github.com/durable-go/durable/internal/httpapi"
	"github.com/durable-go/durable/internal/telemetry"
)

// builtInFunctions are the queue and timer functions of internal/functions.
func builtInFunctions() []string {
	return []string{functions.StartNew, functions.GetStatus, functions.Terminate, functions.RaiseEvent,
		functions.Rewind, functions.Purge, functions.PurgeTimer, functions.Wake}
}

// newRouter serves the host's requests:
//
//   - GET / answers the host's start-up probe;
//   - forwarded HTTP requests for the dashboard under /durabletask/dashboard/
//     go to internal/dashboard, which calls the management API in-process;
//   - forwarded HTTP requests for the starters under /orchestrators and the
//     management API under /durabletask (below the route prefix) go to
//     internal/httpapi;
//   - POST /{FunctionName} of a known function is an invocation: of one of
//     the app's own functions, of a built-in queue or timer function
//     (internal/functions), or, when the host does not forward HTTP
//     requests, of a built-in HTTP function from its payload;
//   - any other request is a forwarded request for the app's own HTTP
//     routes.
func newRouter(a *App, own map[string]http.Handler, ownHTTP http.Handler) (http.Handler, error) {
	api, err := httpapi.New(httpapi.Config{
		Client:         a.Client,
		HubName:        a.Hub.Name(),
		ConnectionName: a.Host.Durable.ConnectionName,
		RoutePrefix:    a.Host.HTTPRoutePrefix,
		Logger:         a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("build HTTP API: %w", err)
	}
	fns, err := functions.New(functions.Config{
		Client: a.Client,
		Engine: a.Worker,
		// The engine is processing once it owns a partition; on a fresh
		// start that takes one lease round.
		EngineReady: func() bool { return len(a.Worker.Stats().OwnedPartitions) > 0 },
		Setting:     a.Settings.Get,
		Logger:      a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	traceURL, _ := a.Settings.Get(dashboard.TraceURLSetting)
	dash, err := dashboard.New(dashboard.Config{
		API:            api,
		ManagementBase: api.ManagementBase(),
		Statuses:       a.Client,
		HubName:        a.Hub.Name(),
		Logger:         a.Logger,
		TraceURL:       traceURL,
	})
	if err != nil {
		return nil, fmt.Errorf("build dashboard: %w", err)
	}
	tracing := a.Host.Durable.Tracing.DistributedTracingEnabled
	// The dashboard lives below the management API's path, so it is asked
	// first.
	mgmt := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tracing {
			// A request rebuilt from an invocation payload (forwarding off)
			// carries the caller's headers, the caller's trace context
			// among them; a forwarded request has it already.
			r = r.WithContext(telemetry.Extract(r.Context(), r.Header))
		}
		if dash.Handles(r.URL.Path) {
			dash.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	payload := httpapi.PayloadHandler(mgmt)
	// Function names are matched case-insensitively, as the host does.
	invocations := map[string]http.Handler{}
	for _, n := range httpapi.FunctionNames() {
		invocations[strings.ToLower(n)] = payload
	}
	for _, n := range builtInFunctions() {
		invocations[strings.ToLower(n)] = fns
	}
	for name, h := range own {
		if invocations[strings.ToLower(name)] != nil {
			return nil, fmt.Errorf("function %q: the name is taken by a built-in function", name)
		}
		invocations[strings.ToLower(name)] = h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tracing {
			// A caller's W3C trace context (forwarded requests keep their
			// headers) becomes the parent of what the request starts: the
			// start routes' create_orchestration spans, and so the
			// orchestration. With tracing off nothing reads it.
			r = r.WithContext(telemetry.Extract(r.Context(), r.Header))
		}
		// Forwarded requests keep their original path, so the API's
		// prefixes tell them from invocations.
		if api.Handles(r.URL.Path) && !dash.Handles(r.URL.Path) {
			a.storage.awaitStart(r.Context())
		}
		switch {
		case api.Handles(r.URL.Path) && !dash.Handles(r.URL.Path) && a.storage.unreachable() != "":
			// Every API route needs storage; the dashboard's page itself
			// does not, and shows the API's answers.
			httpapi.WriteStorageUnreachable(w, a.storage.unreachable())
		case dash.Handles(r.URL.Path) || api.Handles(r.URL.Path):
			mgmt.ServeHTTP(w, r)
		case r.Method == http.MethodGet && r.URL.Path == "/":
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodPost && invocations[strings.ToLower(strings.TrimPrefix(r.URL.Path, "/"))] != nil:
			invocations[strings.ToLower(strings.TrimPrefix(r.URL.Path, "/"))].ServeHTTP(w, r)
		case ownHTTP != nil:
			ownHTTP.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}), nil
}
