// Command handler is the function app's custom handler: the Azure Functions
// host (or the project's dev host) starts it with FUNCTIONS_CUSTOMHANDLER_PORT
// set and forwards every trigger to it. It runs the durable-task engine in
// the same process.
//
// Register your own orchestrators and activities in register below.
package main

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
	"syscall"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/samples"
)

// register adds the app's orchestrators and activities.
func register(reg *durable.Registry, settings *config.Settings) error {
	return samples.Register(reg, settings.Get)
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	if err := run(logger); err != nil {
		logger.Error("handler stopped", "error", err)
		os.Exit(1)
	}
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("DURABLE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func run(logger *slog.Logger) error {
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
	if err := register(reg, settings); err != nil {
		return fmt.Errorf("register orchestrations: %w", err)
	}
	a, err := app.New(app.Config{Settings: settings, Durable: host.Durable, Registry: reg, Logger: logger,
		ShutdownGrace: 20 * time.Second})
	if err != nil {
		return err
	}

	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return fmt.Errorf("listen on port %s: %w", port, err)
	}
	router, err := newRouter(a, host, settings, logger)
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
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	httpErr := srv.Shutdown(shutdownCtx)
	return errors.Join(httpErr, a.Stop(shutdownCtx))
}

// startEngine retries until storage answers: on a developer machine the
// emulator may come up after the handler.
func startEngine(ctx context.Context, a *app.App, logger *slog.Logger) {
	backoff := time.Second
	for {
		err := a.Start(ctx)
		if err == nil {
			return
		}
		logger.Error("starting the durable engine failed; retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}
