// Package funcapp runs a Go custom handler for Azure Functions with the
// durable engine in it: one call from main serves the built-in management
// functions (StartNew … PurgeTimer, Wake), Durable Functions' HTTP API and
// orchestration starters, the app's own orchestrators and activities, and
// any functions of the app's own.
//
// The Functions host (`func start`, or this project's dev host) starts the
// handler with FUNCTIONS_CUSTOMHANDLER_PORT set; the handler reads the app
// settings (the environment, and local.settings.json in the app root) and
// host.json's extensions.durableTask. `durable init DIR` writes a new app
// that uses this package.
package funcapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/client"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/handler"
	"github.com/durable-go/durable/internal/schedule"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
)

// Options configure Run.
type Options struct {
	// Register adds the app's orchestrators and activities to reg. The App
	// gives them the app settings, and the client that activities may use
	// once the app runs.
	Register func(reg *task.Registry, app *App) error
	// Functions are the app's own functions by name (the name of each
	// function folder): queue-, timer- or otherwise triggered functions
	// that the host invokes with POST /{name} and the custom handler's
	// invocation payload ({"Data": …, "Metadata": …}, answered with
	// {"Outputs": …, "Logs": …, "ReturnValue": …}).
	Functions map[string]http.Handler
	// HTTP serves the app's own HTTP-triggered routes, which the host
	// forwards with their path (customHandler.enableForwardingHttpRequest).
	// The routes under /orchestrators and /durabletask are the built-in
	// ones.
	HTTP http.Handler
	// Logger defaults to text on stderr at the level DURABLE_LOG_LEVEL
	// names (INFO).
	Logger *slog.Logger
	// Schedules are schedules that ship with the app, by ID, beside those
	// of host.json (extensions.durableTask.schedules): the app creates
	// each at start, or changes it to match. Removing one here does not
	// delete it; `durable schedule delete` does.
	Schedules map[string]client.Schedule
	// ShutdownGrace is how long activities still running at shutdown get
	// to finish (default 20 s); then the app exits and another instance
	// runs them again.
	ShutdownGrace time.Duration
}

// App is the running function app as its orchestrators and activities see
// it.
type App struct {
	h *handler.App
	// isOrchestrator looks names up in the app's registry, so that the
	// app's own client refuses to start an orchestrator the app does not
	// have, as its HTTP API does.
	isOrchestrator func(name string) bool
	once           sync.Once
	client         *client.Client
	openErr        error
}

// Setting returns an app setting (the environment wins over
// local.settings.json) and whether it is set.
func (a *App) Setting(name string) (string, bool) { return a.h.Settings.Get(name) }

// Logger is the app's logger.
func (a *App) Logger() *slog.Logger { return a.h.Logger }

// HubName is the app's task hub.
func (a *App) HubName() string { return a.h.Hub.Name() }

// Client returns a management client of the app's task hub, for use from
// activities and the app's own functions once the app runs (not from
// orchestrators, which must not do I/O). Its HTTP management payloads point
// at BaseURL. Like the app's HTTP API, it refuses to start an orchestrator
// the app does not register (ErrBadArgument).
func (a *App) Client() (*client.Client, error) {
	a.once.Do(func() {
		a.client, a.openErr = client.Open(context.Background(), client.Config{
			Settings: a.h.Settings.All(), ConnectionName: a.h.Host.Durable.ConnectionName, HubName: a.h.Hub.Name(),
			PartitionCount: a.h.Hub.PartitionCount(), BaseURL: a.BaseURL(), Logger: a.h.Logger,
			IsOrchestrator: a.isOrchestrator, DefaultVersion: a.h.Host.Durable.DefaultVersion,
			TracerProvider: a.tracerProvider()})
	})
	return a.client, a.openErr
}

// tracerProvider is the provider the app's tracing installed as
// OpenTelemetry's global (see internal/telemetry.Setup), nil when host.json
// leaves tracing off.
func (a *App) tracerProvider() trace.TracerProvider {
	if !a.h.Host.Durable.Tracing.DistributedTracingEnabled {
		return nil
	}
	return otel.GetTracerProvider()
}

// BaseURL is the app's public address: the app setting DURABLE_BASE_URL,
// else https://WEBSITE_HOSTNAME (set on Azure), else
// http://localhost:7071, where `func start` serves.
func (a *App) BaseURL() string {
	if v, ok := a.Setting("DURABLE_BASE_URL"); ok && v != "" {
		return strings.TrimSuffix(v, "/")
	}
	if v, ok := a.Setting("WEBSITE_HOSTNAME"); ok && v != "" {
		if strings.HasPrefix(v, "localhost") || strings.HasPrefix(v, "127.0.0.1") {
			return "http://" + v
		}
		return "https://" + v
	}
	return "http://localhost:7071"
}

// Run serves the custom handler until SIGTERM or SIGINT, then drains the
// engine and releases its partitions so that other app instances take
// them over at once. It returns an error when the app cannot start: bad
// settings or host.json, a registration error, a port in use.
func Run(opts Options) error {
	hopts := handler.Options{Functions: opts.Functions, HTTP: opts.HTTP, Logger: opts.Logger, ShutdownGrace: opts.ShutdownGrace}
	if len(opts.Schedules) > 0 {
		hopts.Schedules = map[string]schedule.Spec{}
		for id, s := range opts.Schedules {
			// Through the JSON both share: the HTTP API's and host.json's.
			var spec schedule.Spec
			b, err := json.Marshal(s)
			if err == nil {
				spec, err = schedule.DecodeSpec(b)
			}
			if err != nil {
				return fmt.Errorf("schedule %q: %w", id, err)
			}
			hopts.Schedules[id] = spec
		}
	}
	if opts.Register != nil {
		hopts.Register = func(reg *durable.Registry, h *handler.App) error {
			return opts.Register(taskbridge.Public(reg).(*task.Registry), &App{h: h, isOrchestrator: func(name string) bool {
				_, ok := reg.Orchestrator(name)
				return ok
			}})
		}
	}
	return handler.Run(hopts)
}

// Main is Run for a main function: it logs a start-up error and exits with
// status 1.
func Main(opts Options) {
	if err := Run(opts); err != nil {
		logger := opts.Logger
		if logger == nil {
			logger = handler.DefaultLogger()
		}
		logger.Error("handler stopped", "error", err)
		os.Exit(1)
	}
}
