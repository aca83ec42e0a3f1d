// Package app wires a function app's durable-task pieces together: it
// reads the settings and host.json options, opens the storage account,
// and builds the task hub, the worker and the management client.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.opentelemetry.io/otel/metric"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/batch"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/retention"
	"github.com/durable-go/durable/internal/schedule"
	"github.com/durable-go/durable/internal/telemetry"
	"github.com/durable-go/durable/internal/worker"
)

// Config is what an App is built from.
type Config struct {
	Settings *config.Settings
	Durable  config.DurableOptions
	Registry *durable.Registry
	Logger   *slog.Logger
	// Policies are added to every storage client's pipeline, e.g. a
	// request counter.
	Policies []policy.Policy
	// WorkerID overrides the generated lease owner name.
	WorkerID string
	// ShutdownGrace bounds how long Stop lets activities finish.
	ShutdownGrace time.Duration
	// Schedules are the schedules the app's code declares, by ID, beside
	// those of host.json (Durable.Schedules); an ID may be declared once.
	Schedules map[string]schedule.Spec
	// MeterProvider, when set, is where the app records its metrics,
	// whatever the environment says (see telemetry.MetricsOn): a program
	// that embeds the app with an OpenTelemetry SDK of its own, or a test
	// that reads them. The caller shuts it down.
	MeterProvider metric.MeterProvider
}

// App is a task hub with its worker and client.
type App struct {
	Hub    *azstore.Hub
	Worker *worker.Worker
	Client *client.Client
	log    *slog.Logger

	// retention is nil when host.json configures none.
	retention *retention.Sweeper
	// schedules are the declared schedules, made or brought up to date at
	// Start.
	schedules map[string]schedule.Spec
	// mu guards the sweeper's start and stop: the handler starts the app
	// in the background and may stop it while it is still starting.
	mu sync.Mutex
	// stopRetention ends the sweeper Start started; sweeperDone closes
	// when it has. stopped keeps a Start after Stop from sweeping.
	stopRetention context.CancelFunc
	sweeperDone   chan struct{}
	stopped       bool
	// telemetry flushes the spans and metrics not exported yet and stops
	// the exporters at Stop.
	telemetry *telemetry.Telemetry
}

// WakeQueueSetting names the app setting that holds the wake-up queue
// (default DefaultWakeQueue; "none" turns wake-ups off).
const WakeQueueSetting = "DurableWakeQueue"

// DefaultWakeQueue is the queue the Wake function is triggered by.
const DefaultWakeQueue = "durable-wake"

// WakeQueue returns the configured wake-up queue, "" when turned off.
func WakeQueue(settings *config.Settings) string {
	q, ok := settings.Get(WakeQueueSetting)
	switch {
	case !ok || q == "":
		return DefaultWakeQueue
	case strings.EqualFold(q, "none"):
		return ""
	}
	return q
}

// OpenHub opens the storage account named by the connection setting and
// returns the task hub, without creating anything. The CLI uses it alone.
func OpenHub(settings *config.Settings, opts config.DurableOptions, logger *slog.Logger, extra ...policy.Policy) (*azstore.Hub, error) {
	return openHub(settings, opts, logger, nil, extra...)
}

// openHub is OpenHub whose storage requests metrics counts (nil: none).
func openHub(settings *config.Settings, opts config.DurableOptions, logger *slog.Logger, metrics *telemetry.Metrics,
	extra ...policy.Policy) (*azstore.Hub, error) {
	if logger == nil {
		logger = slog.Default()
	}
	co := config.ClientOptions{
		PerCallPolicies: append(azstore.Policies(), extra...),
		Transport:       newTransport(),
	}
	if metrics != nil {
		// Per retry: every HTTP attempt counts, throttled ones included.
		co.PerRetryPolicies = func(service string) []policy.Policy {
			return []policy.Policy{metrics.StoragePolicy(service)}
		}
	}
	st, err := config.OpenStorage(settings, opts.ConnectionName, co)
	if err != nil {
		return nil, err
	}
	hub, err := azstore.Open(azstore.Clients{Tables: st.Tables, Queues: st.Queues, Blobs: st.Blobs},
		azstore.Options{HubName: opts.HubName, PartitionCount: opts.PartitionCount, Logger: logger, WakeQueue: WakeQueue(settings)})
	if err != nil {
		return nil, err
	}
	return hub, nil
}

// New builds an App; Start starts its worker.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Durable.Validate(); err != nil {
		return nil, err
	}
	d := cfg.Durable
	// Setup only builds the SDK: exporters connect when they first send.
	tracing := d.Tracing.DistributedTracingEnabled
	tel, err := telemetry.Setup(context.Background(), telemetry.Signals{Traces: tracing,
		Metrics: cfg.MeterProvider == nil && telemetry.MetricsOn(tracing)})
	if err != nil {
		return nil, fmt.Errorf("set up OpenTelemetry: %w", err)
	}
	if cfg.MeterProvider != nil {
		if tel.Metrics, err = telemetry.NewMetrics(cfg.MeterProvider); err != nil {
			_ = tel.Shutdown(context.Background())
			return nil, err
		}
	}
	if tel.Tracer != nil {
		cfg.Logger.Info("distributed tracing is on (OpenTelemetry, Durable Functions' span model V2)")
	}
	if tel.Metrics != nil {
		cfg.Logger.Info("metrics are on (OpenTelemetry)")
	}
	hub, err := openHub(cfg.Settings, cfg.Durable, cfg.Logger, tel.Metrics, cfg.Policies...)
	if err != nil {
		_ = tel.Shutdown(context.Background())
		return nil, err
	}
	tracer := tel.Tracer
	w, err := worker.New(worker.Options{
		Hub: hub, Registry: cfg.Registry, Logger: cfg.Logger, WorkerID: cfg.WorkerID,
		MaxQueuePollingInterval:        d.MaxQueuePollingInterval,
		ControlQueueBatchSize:          d.ControlQueueBatchSize,
		ControlQueueVisibilityTimeout:  d.ControlQueueVisibilityTimeout,
		WorkItemQueueVisibilityTimeout: d.WorkItemQueueVisibilityTimeout,
		MaxConcurrentActivities:        d.MaxConcurrentActivityFunctions,
		MaxConcurrentOrchestrations:    d.MaxConcurrentOrchestratorFunctions,
		LocalActivityBacklog:           d.LocalActivityBacklog(),
		LeaseDuration:                  d.PartitionLeaseDuration,
		LeaseRenewInterval:             d.PartitionLeaseRenewInterval,
		ShutdownGrace:                  cfg.ShutdownGrace,
		Versions:                       versionPolicy(d),
		Tracer:                         tracer,
		Metrics:                        tel.Metrics,
	})
	if err != nil {
		_ = tel.Shutdown(context.Background())
		return nil, err
	}
	c := client.New(hub, client.Options{Notifier: w, Logger: cfg.Logger, DefaultVersion: d.DefaultVersion, Tracer: tracer, IsOrchestrator: func(name string) bool {
		_, ok := cfg.Registry.Orchestrator(name)
		return ok
	}})
	// Bulk operations run in every app, so that any app serving the hub
	// picks up one that a CLI or another program started.
	if err := batch.Register(cfg.Registry, c); err != nil {
		_ = tel.Shutdown(context.Background())
		return nil, fmt.Errorf("register bulk operations: %w", err)
	}
	// Schedules are entities that every app runs, like bulk operations.
	if _, ok := cfg.Registry.Entity(schedule.EntityName); !ok {
		if err := cfg.Registry.AddEntity(schedule.EntityName, schedule.Entity); err != nil {
			_ = tel.Shutdown(context.Background())
			return nil, fmt.Errorf("register schedules: %w", err)
		}
	}
	a := &App{Hub: hub, Worker: w, Client: c, log: cfg.Logger, telemetry: tel, schedules: map[string]schedule.Spec{}}
	for _, declared := range []map[string]schedule.Spec{d.Schedules, cfg.Schedules} {
		for id, spec := range declared {
			if _, dup := a.schedules[id]; dup {
				_ = tel.Shutdown(context.Background())
				return nil, fmt.Errorf("schedule %q is declared both in host.json and in the app's code", id)
			}
			a.schedules[id] = spec
		}
	}
	if d.Retention.Enabled() {
		// The worker that owns partition 0 sweeps: one app instance at a
		// time, and another takes over when it goes, with no lease of its own.
		a.retention = retention.New(retention.Options{Policy: d.Retention, Client: c, Logger: cfg.Logger,
			Leader: func() bool { return w.OwnsPartition(0) }})
	}
	return a, nil
}

// Start creates the hub if needed and starts processing, and the
// retention sweeps when host.json asks for them.
func (a *App) Start(ctx context.Context) error {
	if err := a.Worker.Start(ctx); err != nil {
		return fmt.Errorf("start durable worker: %w", err)
	}
	a.declareSchedules(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.retention != nil && a.stopRetention == nil && !a.stopped {
		// Not ctx: Start's context bounds starting, the sweeps end at Stop.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		a.stopRetention, a.sweeperDone = cancel, make(chan struct{})
		go func() {
			defer close(a.sweeperDone)
			a.retention.Run(sctx)
		}()
	}
	return nil
}

// Stop ends the retention sweeps and drains the worker (see
// worker.Worker.Stop).
func (a *App) Stop(ctx context.Context) error {
	a.mu.Lock()
	a.stopped = true
	stop, done := a.stopRetention, a.sweeperDone
	a.mu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	err := a.Worker.Stop(ctx)
	// After the worker: its last episodes' spans and counts are in too.
	if terr := a.telemetry.Shutdown(ctx); terr != nil {
		a.log.Warn("flushing the last spans and metrics failed", "error", terr)
	}
	return err
}

// newTransport keeps enough idle connections for the worker's concurrent
// requests to one storage host; Go's default keeps two, and re-dialing
// costs more than the request on a local emulator.
func newTransport() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// versionPolicy is the worker's version policy from host.json: none (every
// version runs) without a defaultVersion or with versionMatchStrategy None.
func versionPolicy(d config.DurableOptions) *durable.VersionPolicy {
	if d.DefaultVersion == "" || d.VersionMatchStrategy == string(durable.MatchNone) {
		return nil
	}
	return &durable.VersionPolicy{Version: d.DefaultVersion, Match: durable.VersionMatch(d.VersionMatchStrategy),
		Failure: durable.VersionFailure(d.VersionFailureStrategy)}
}

// declareSchedules creates the declared schedules, or brings them up to date:
// a schedule whose spec did not change ignores the request, so every app
// instance may send it at every start. A schedule that cannot be declared
// (its orchestrator is not registered) is logged, and the app runs on.
func (a *App) declareSchedules(ctx context.Context) {
	for id, spec := range a.schedules {
		if err := a.Client.CreateSchedule(ctx, id, spec); err != nil {
			a.log.Error("declaring a schedule failed", "schedule", id, "error", err)
			continue
		}
		a.log.Info("declared schedule", "schedule", id, "orchestrator", spec.Orchestrator)
	}
}
