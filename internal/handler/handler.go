// Package handler is the custom handler's serving code: it loads the app
// settings and host.json, builds the durable engine, serves the Functions
// host's requests (the built-in management functions and HTTP API, and the
// app's own functions) and stops cleanly on SIGTERM. Package funcapp is its
// public face.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/replaycheck"
	"github.com/durable-go/durable/internal/schedule"
)

// Options configure Run.
type Options struct {
	// Register adds the app's orchestrators and activities. The App it
	// gets is built but not started: its Client works once activities run.
	Register func(reg *durable.Registry, a *App) error
	// Functions are the app's own functions by name (its function folders);
	// the host invokes each with POST /{name}.
	Functions map[string]http.Handler
	// HTTP serves the app's own HTTP routes that the host forwards.
	HTTP http.Handler
	// Logger defaults to text on stderr at DURABLE_LOG_LEVEL.
	Logger *slog.Logger
	// ShutdownGrace is how long running activities get at shutdown (20 s).
	ShutdownGrace time.Duration
	// Schedules are the schedules the app's code declares, by ID.
	Schedules map[string]schedule.Spec
}

// App is a running function app as the app's own code sees it.
type App struct {
	*app.App
	Settings *config.Settings
	Host     *config.Host
	Logger   *slog.Logger
	// storage is what the router knows of storage and of the engine's
	// start: requests that need storage wait for the start, or answer
	// 503 at once while storage does not answer.
	storage storageState
}

// Run serves the custom handler until SIGTERM or SIGINT and then stops the
// engine, releasing its partitions for other app instances.
func Run(opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = DefaultLogger()
	}
	root := os.Getenv("DURABLE_APP_ROOT")
	if root == "" {
		root = "."
	}
	settings, err := config.LoadSettings(root)
	if err != nil {
		return err
	}
	host, err := config.LoadHost(filepath.Join(root, config.HostFile), settings)
	if err != nil {
		return err
	}
	reg := durable.NewRegistry()
	grace := opts.ShutdownGrace
	if grace <= 0 {
		grace = 20 * time.Second
	}
	a := &App{Settings: settings, Host: host, Logger: logger}
	// Before the server runs: the router reads it.
	a.storage.started = make(chan struct{})
	a.App, err = app.New(app.Config{Settings: settings, Durable: host.Durable, Registry: reg, Logger: logger, ShutdownGrace: grace,
		Schedules: opts.Schedules})
	if err != nil {
		return err
	}
	if opts.Register != nil {
		if err := opts.Register(reg, a); err != nil {
			return fmt.Errorf("register orchestrations: %w", err)
		}
	}
	if os.Getenv(replaycheck.ServeEnv) != "" {
		// Started by `durable replay-check`: replay the histories it
		// sends against this build's orchestrators, and serve nothing.
		return replaycheck.Serve(reg, os.Stdin, os.Stdout)
	}

	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("listen on port %s: %w", port, err)
	}
	router, err := newRouter(a, opts.Functions, opts.HTTP)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	// Serve before the engine starts: the host probes GET / and gives up
	// on a handler that does not answer within its start-up window.
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("custom handler listening", "port", port, "hub", host.Durable.HubName)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go startEngine(ctx, a, logger)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
	defer cancel()
	httpErr := srv.Shutdown(shutdownCtx)
	return errors.Join(httpErr, a.Stop(shutdownCtx))
}

// DefaultLogger is the handler's logger when its options name none: on
// stderr at DURABLE_LOG_LEVEL, as text, or as slog's JSON when
// DURABLE_LOG_FORMAT is "json" (what log pipelines parse; with tracing on,
// the lines about an orchestration or activity carry traceId and spanId).
func DefaultLogger() *slog.Logger {
	o := &slog.HandlerOptions{Level: logLevel()}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("DURABLE_LOG_FORMAT")), "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, o))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, o))
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("DURABLE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}
