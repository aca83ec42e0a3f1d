// Command devhost runs a custom-handler function app locally the way `func start` does, for
// machines without Azure Functions Core Tools. See package internal/devhost. It needs storage
// running (Azurite); `durable dev` runs the same host with Azurite and a fresh build, in one
// command.
//
//	go build -o handler . && go run ./cmd/devhost --app-root . --port 7071
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/durable-go/durable/internal/devhost"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devhost:", err)
		os.Exit(1)
	}
}

func run() error {
	appRoot := flag.String("app-root", ".", "function app directory (holding host.json)")
	port := flag.Int("port", 7071, "port for HTTP triggers")
	bind := flag.String("host", "127.0.0.1", "address to listen on")
	verbose := flag.Bool("verbose", false, "log at debug level")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// The first SIGINT/SIGTERM starts a graceful shutdown (which stops the handler with
	// SIGTERM); a second one kills the dev host at once, as stop() restores the default.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	return devhost.Run(ctx, devhost.Options{
		AppRoot: *appRoot,
		Addr:    net.JoinHostPort(*bind, strconv.Itoa(*port)),
		Logger:  logger,
	})
}
