package handler

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/durable-go/durable/internal/config"
)

// storageState is what the handler knows about reaching its storage
// account before the engine has started: while the last probe failed, the
// routes that need storage answer 503 with the reason at once.
type storageState struct {
	reason atomic.Pointer[string]
	// started is closed once the engine has started (and so has created
	// the task hub); nil when nothing starts it (tests of the routing).
	started chan struct{}
	// failed is set once a start has failed for a reason other than
	// unreachable storage (a wrong key, say): requests then stop waiting
	// for a start that may never come and get storage's own answer.
	failed atomic.Bool
}

// startWait bounds how long a request that arrives while the engine is
// starting waits for it. Creating a new hub takes a second or two; a
// request answered 503 meanwhile was the first thing a new user saw.
const startWait = 15 * time.Second

// awaitStart waits until the engine has started, storage is known not to
// answer, the request is gone or startWait has passed, whichever is first.
// The request then goes ahead and gets whatever answer storage gives.
func (s *storageState) awaitStart(ctx context.Context) {
	if s.started == nil {
		return
	}
	deadline := time.NewTimer(startWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.unreachable() == "" && !s.failed.Load() {
		select {
		case <-s.started:
			return
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// unreachable returns why storage cannot be reached, "" when it can (or
// has not been probed yet).
func (s *storageState) unreachable() string {
	if p := s.reason.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *storageState) set(reason string) { s.reason.Store(&reason) }
func (s *storageState) clear()            { s.reason.Store(nil) }

// probeInterval is how often an app whose storage does not answer looks
// again: a dial to a local port costs nothing, and the app should start
// within a second of Azurite.
const probeInterval = time.Second

// unreachableAdvice says what to do about storage that does not answer,
// in words for someone who has just created the app.
func unreachableAdvice(ep config.Endpoints, connection string) string {
	if ep.Emulator {
		return fmt.Sprintf("start Azurite: run `durable dev` in the app's folder (it starts Azurite, builds the handler and runs it), "+
			"or start Azurite yourself (npx azurite@3.35.0 --location .azurite) before `func start`; or point %s at a storage account that answers", connection)
	}
	return fmt.Sprintf("check the app setting %s (local.settings.json or the environment) and that this machine can reach the account", connection)
}

// startEngine starts the durable engine once storage answers, retrying
// until it has started or ctx ends: on a developer machine the emulator
// may come up after the handler. While storage does not answer at all it
// logs one line that names the endpoint and what to do (not one error per
// attempt), and the routes that need storage answer 503 meanwhile.
func startEngine(ctx context.Context, a *App, logger *slog.Logger) {
	conn := a.Host.Durable.ConnectionName
	ep, epErr := config.StorageEndpoints(a.Settings, conn)
	backoff := time.Second
	down := false
	for {
		if epErr == nil {
			if failed, err := ep.Probe(ctx, 2*time.Second); err != nil {
				if ctx.Err() != nil {
					return
				}
				advice := unreachableAdvice(ep, conn)
				a.storage.set(fmt.Sprintf("storage at %s does not answer (%v): %s", failed, err, advice))
				if !down {
					logger.Error(fmt.Sprintf("cannot reach storage at %s: %s; the app starts as soon as it answers, and answers 503 until then", failed, advice),
						"connection", conn, "error", err)
					down = true
				} else {
					logger.Debug("storage still unreachable", "endpoint", failed, "error", err)
				}
				if !sleep(ctx, probeInterval) {
					return
				}
				continue
			}
			if down {
				logger.Info("storage answers; starting the durable engine", "table", ep.Table)
				down = false
			}
			a.storage.clear()
		}
		err := a.App.Start(ctx)
		if err == nil {
			if a.storage.started != nil {
				close(a.storage.started)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		a.storage.failed.Store(true)
		logger.Error("starting the durable engine failed; retrying", "error", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
