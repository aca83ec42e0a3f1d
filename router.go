package main

import (
	"log/slog"
	"net/http"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/config"
)

// newRouter serves the host's requests.
func newRouter(a *app.App, host *config.Host, settings *config.Settings, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}
