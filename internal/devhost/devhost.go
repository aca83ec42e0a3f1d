// Package devhost is a small stand-in for the Azure Functions host (`func start`) for
// machines where Azure Functions Core Tools cannot be installed.
//
// It reads host.json, local.settings.json and every */function.json of a custom-handler
// app, starts the handler executable, and drives its functions over the custom handler
// protocol: HTTP triggers (forwarded or as invocation payloads), queue triggers polled from
// Azure Storage (Azurite locally) with retries and poison queues, and NCRONTAB timer
// triggers. It encodes payloads with the real host's quirks so that a handler that works
// here works under the real host. It is a development tool, not a production host: no
// function keys, no scaling, no output bindings other than HTTP.
package devhost

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures [Run]. The zero value of each field means its documented default.
type Options struct {
	// AppRoot is the function app directory holding host.json. Default ".".
	AppRoot string
	// Addr is where HTTP triggers are served. Default "127.0.0.1:7071"; use port 0 for a
	// free port and learn it from Ready.
	Addr string
	// Env is the environment (KEY=VALUE) whose settings override local.settings.json and
	// which the handler gets. Default os.Environ().
	Env []string
	// Logger receives the host's logs. Default slog.Default().
	Logger *slog.Logger
	// Stdout and Stderr receive the handler's output. Default os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// StartupTimeout bounds the wait for the handler to answer its first GET /. Default 60 s.
	StartupTimeout time.Duration
	// ShutdownTimeout is how long the handler gets to exit after SIGTERM before it is
	// killed, and how long in-flight HTTP requests get. Default 10 s.
	ShutdownTimeout time.Duration
	// QueuePollMin and QueuePollMax bound the back-off between polls of an empty queue.
	// Defaults 100 ms and 1 s; host.json extensions.queues.maxPollingInterval, when set,
	// takes the place of QueuePollMax.
	QueuePollMin, QueuePollMax time.Duration
	// VisibilityTimeout is how long a dequeued message stays hidden from other consumers;
	// it is renewed while the invocation runs. Whole seconds, at least 1. Default 10 s.
	VisibilityTimeout time.Duration
	// Ready, if set, is called once the handler answers and the HTTP listener is open,
	// with the listener's address.
	Ready func(addr string)
}

func (o Options) withDefaults() Options {
	o.AppRoot = cmp.Or(o.AppRoot, ".")
	o.Addr = cmp.Or(o.Addr, "127.0.0.1:7071")
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	o.StartupTimeout = cmp.Or(o.StartupTimeout, 60*time.Second)
	o.ShutdownTimeout = cmp.Or(o.ShutdownTimeout, 10*time.Second)
	o.QueuePollMin = cmp.Or(o.QueuePollMin, 100*time.Millisecond)
	o.QueuePollMax = max(cmp.Or(o.QueuePollMax, time.Second), o.QueuePollMin)
	o.VisibilityTimeout = max(cmp.Or(o.VisibilityTimeout, 10*time.Second), time.Second)
	return o
}

// host is one running dev host.
type host struct {
	app        *app
	opts       Options
	log        *slog.Logger
	handlerURL string
	client     *http.Client // invocations; no timeout, they may run long
	routes     []*function  // HTTP functions, most specific route first

	// runCtx and work let admin-triggered invocations, which outlive the admin request,
	// stop and be waited for with the rest of the host. mu and closing keep work.Go from
	// racing with the final work.Wait.
	runCtx  context.Context
	work    *sync.WaitGroup
	mu      sync.Mutex
	closing bool

	// storageDown is set while the queue pollers find storage not
	// answering, so that the outage is logged once, not per function.
	storageDown atomic.Bool
}

// goWork runs f in the background as part of the host's work, unless the host is stopping.
func (h *host) goWork(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.work.Go(f)
	return true
}

// Run runs the app in opts.AppRoot until ctx is done or the handler exits, then stops the
// handler. It returns nil after a shutdown asked for through ctx.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	log := opts.Logger
	a, err := loadApp(opts.AppRoot, opts.Env, log)
	if err != nil {
		return fmt.Errorf("load function app: %w", err)
	}
	if len(a.functions) == 0 {
		log.Warn("no functions found", "app_root", opts.AppRoot)
	}

	proc, err := startHandler(ctx, a, opts)
	if err != nil {
		return err
	}
	defer proc.stop(opts.ShutdownTimeout)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var work sync.WaitGroup
	h := &host{
		app:        a,
		opts:       opts,
		log:        log,
		handlerURL: proc.url,
		client:     &http.Client{},
		runCtx:     runCtx,
		work:       &work,
	}
	h.routes = httpFunctions(a.functions)

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	for _, fn := range a.functions {
		switch {
		case fn.http != nil:
			mode := "payload"
			if fn.http.forward {
				mode = "forwarded"
			}
			log.Info("function", "name", fn.name, "trigger", "http", "url", base+"/"+routeURL(fn.http.route),
				"methods", methodList(fn.http.methods), "mode", mode, "authLevel", fn.http.authLevel)
		case fn.queue != nil:
			log.Info("function", "name", fn.name, "trigger", "queue", "queue", fn.queue.queueName, "connection", fn.queue.connection)
			h.goWork(func() { h.pollQueue(runCtx, fn) })
		case fn.timer != nil:
			log.Info("function", "name", fn.name, "trigger", "timer", "schedule", fn.timer.expr, "runOnStartup", fn.timer.runOnStartup)
			h.goWork(func() { h.runTimer(runCtx, fn) })
		}
	}
	log.Info("dev host ready", "url", base, "handler", proc.url)
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
	case <-proc.exited:
		runErr = fmt.Errorf("handler exited unexpectedly: %w", proc.exitErr())
	}
	cancel()
	shutdownCtx, stopShutdown := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer stopShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("HTTP shutdown", "err", err)
	}
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	work.Wait()
	return runErr
}

// httpFunctions returns the HTTP-triggered functions ordered so that the first whose route
// matches a request is the most specific one.
func httpFunctions(fns []*function) []*function {
	var out []*function
	for _, fn := range fns {
		if fn.http != nil {
			out = append(out, fn)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].http.route.precedence() < out[j].http.route.precedence()
	})
	return out
}

func methodList(m map[string]struct{}) []string {
	if len(m) == 0 {
		return []string{"*"}
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
