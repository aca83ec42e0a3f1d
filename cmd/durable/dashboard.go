package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/durable-go/durable/internal/dashboard"
	"github.com/durable-go/durable/internal/httpapi"
)

// defaultDashboardPort is next to Core Tools' 7071, so the app and the
// dashboard can run side by side.
const defaultDashboardPort = 7072

type dashboardCmd struct {
	port int
}

func (c *dashboardCmd) define(fs *flag.FlagSet) {
	fs.IntVar(&c.port, "port", defaultDashboardPort, "TCP `port` on 127.0.0.1; 0 picks a free one")
}

func (c *dashboardCmd) run(ctx context.Context, e *env) error {
	if c.port < 0 || c.port > 65535 {
		return usageErrorf("--port %d is not a TCP port (0 to 65535)", c.port)
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	if !t.known {
		fmt.Fprintf(e.stderr, "durable dashboard: task hub %s was not found in this storage account (check --task-hub-name and --connection-string-setting); serving it anyway\n", t.hub.Name())
	}
	api, err := httpapi.New(httpapi.Config{Client: t.client, HubName: t.hub.Name(), ConnectionName: t.connection, Logger: e.logger})
	if err != nil {
		return fmt.Errorf("build the management API: %w", err)
	}
	// Loopback only: the dashboard acts on the hub with the tool's own
	// credentials and has no key of its own.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)))
	if err != nil {
		return usageErrorf("listen on 127.0.0.1:%d: %w (pick another --port, or 0 for a free one)", c.port, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	dash, err := dashboard.New(dashboard.Config{
		API:            api,
		ManagementBase: api.ManagementBase(),
		Statuses:       t.client,
		HubName:        t.hub.Name(),
		AllowedHosts:   []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("localhost:%d", port)},
		Logger:         e.logger,
		TraceURL:       t.setting(dashboard.TraceURLSetting),
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("build the dashboard: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(dash.Base(), dash)
	mux.Handle("/", http.RedirectHandler(dash.Base(), http.StatusFound))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "Dashboard of task hub %s: http://127.0.0.1:%d%s\n", t.hub.Name(), port, dash.Base())
	fmt.Fprintln(e.stderr, "Press Ctrl-C to stop.")
	select {
	case err := <-served:
		return fmt.Errorf("serve the dashboard: %w", err)
	case <-ctx.Done():
	}
	// Ctrl-C is how this command ends, so it is a success; requests in
	// flight get a moment to finish.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop the dashboard: %w", err)
	}
	return nil
}
