package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/functions"
	"github.com/durable-go/durable/internal/httpapi"
)

// newRouter serves the host's requests:
//
//   - GET / answers the host's start-up probe;
//   - forwarded HTTP requests (the starters under /orchestrators and the
//     management API under /durabletask, below the route prefix) go to
//     internal/httpapi;
//   - POST /{FunctionName} invokes a queue or timer function
//     (internal/functions) or, when the host does not forward HTTP
//     requests, an HTTP function from its payload.
func newRouter(a *app.App, host *config.Host, settings *config.Settings, logger *slog.Logger) (http.Handler, error) {
	api, err := httpapi.New(httpapi.Config{
		Client:         a.Client,
		HubName:        a.Hub.Name(),
		ConnectionName: host.Durable.ConnectionName,
		RoutePrefix:    host.HTTPRoutePrefix,
		Logger:         logger,
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
		Setting:     settings.Get,
		Logger:      logger,
	})
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	payload := httpapi.PayloadHandler(api)
	httpFuncs := map[string]bool{}
	for _, n := range httpapi.FunctionNames() {
		httpFuncs[strings.ToLower(n)] = true
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /{function}", func(w http.ResponseWriter, r *http.Request) {
		if httpFuncs[strings.ToLower(r.PathValue("function"))] {
			payload.ServeHTTP(w, r)
			return
		}
		fns.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Forwarded requests keep their original path, so the API's
		// prefixes tell them from invocations.
		if api.Handles(r.URL.Path) {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}), nil
}
