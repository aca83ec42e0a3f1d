// Command peer runs the comparison workloads on microsoft/durabletask-go
// v0.5.0 with its SQLite backend, in one process (task hub worker and
// client side by side, as the library's samples do), and prints one JSON
// line of figures on stdout for bench/compare.
//
// It lives in a Go module of its own so that the project's module never
// depends on durabletask-go or its SQLite driver.
//
//	peer -backend file -db /tmp/x/hub.sqlite
//	peer -backend memory
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/backend"
	"github.com/microsoft/durabletask-go/backend/sqlite"
	"github.com/microsoft/durabletask-go/task"
)

func main() {
	var (
		kind     = flag.String("backend", "file", "SQLite database: file (on disk, in -db) or memory")
		dbPath   = flag.String("db", "", "database file for -backend file; empty: hub.sqlite in a new temp dir, removed at exit")
		n        = flag.Int("n", 1000, "HelloCities5 orchestrations in the batch")
		inFlight = flag.Int("inflight", 32, "starts in flight at once (bench/bench_test.go uses 32)")
		warmup   = flag.Int("warmup", 10, "HelloCities5 run before the batch")
		fanOut   = flag.Int("fanout", 1000, "activities in the FanOutFanIn orchestration; 0 skips it")
		idleRuns = flag.Int("idle-runs", 10, "single orchestrations timed after an idle pause; 0 skips them")
		idle     = flag.Duration("idle", 2*time.Second, "idle pause before each single orchestration")
		parallel = flag.Int("parallel", 0, "MaxParallelWorkItems of the orchestration and activity workers; 0 keeps the library default (1), as its samples do")
		timeout  = flag.Duration("timeout", 8*time.Minute, "bound on the whole run")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("peer: ")

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	path := ""
	switch *kind {
	case "memory":
	case "file":
		path = *dbPath
		if path == "" {
			dir, err := os.MkdirTemp("", "durabletask-sqlite-")
			if err != nil {
				log.Fatal(err)
			}
			defer os.RemoveAll(dir)
			path = filepath.Join(dir, "hub.sqlite")
		}
	default:
		log.Fatalf("-backend %q: want file or memory", *kind)
	}

	logger := &quietLogger{}
	h, err := start(ctx, path, logger, int32(*parallel))
	if err != nil {
		log.Fatal(err)
	}
	res := Result{System: "peer-" + *kind}
	err = run(ctx, h, &res, *n, *inFlight, *warmup, *fanOut, *idleRuns, *idle)
	// Shutdown waits for in-flight work items; bound it like everything else.
	stopped := make(chan error, 1)
	go func() { stopped <- h.worker.Shutdown(context.Background()) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		log.Print("worker shutdown did not finish within 30 s")
	}
	if err != nil {
		log.Fatal(err)
	}
	if w, e := logger.warnings.Load(), logger.errors.Load(); w+e > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("durabletask-go logged %d warnings and %d errors (see its stderr)", w, e))
	}
	if *parallel > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("workers' MaxParallelWorkItems = %d", *parallel))
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}

type hub struct {
	worker backend.TaskHubWorker
	client backend.TaskHubClient
}

// start builds the backend, executor, workers and client the way the
// library's samples/sequence does. path "" is SQLite's in-memory database.
func start(ctx context.Context, path string, logger backend.Logger, parallel int32) (*hub, error) {
	r := task.NewTaskRegistry()
	errs := []error{
		r.AddOrchestratorN("HelloCities5", helloCities5),
		r.AddOrchestratorN("FanOutFanIn", fanOutFanIn),
		r.AddActivityN("SayHello", sayHello),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var opts []backend.NewTaskWorkerOptions
	if parallel > 0 {
		opts = append(opts, backend.WithMaxParallelism(parallel))
	}
	executor := task.NewTaskExecutor(r)
	be := sqlite.NewSqliteBackend(sqlite.NewSqliteOptions(path), logger)
	orchestrationWorker := backend.NewOrchestrationWorker(be, executor, logger, opts...)
	activityWorker := backend.NewActivityTaskWorker(be, executor, logger, opts...)
	w := backend.NewTaskHubWorker(be, orchestrationWorker, activityWorker, logger)
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return &hub{worker: w, client: backend.NewTaskHubClient(be)}, nil
}

// The workloads mirror samples/samples.go in the project.

func sayHello(ctx task.ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	return "Hello " + name + "!", nil
}

func helloCities5(ctx *task.OrchestrationContext) (any, error) {
	cities := []string{"Tokyo", "Seattle", "London", "Cairo", "Lima"}
	out := make([]string, 0, len(cities))
	for _, c := range cities {
		var s string
		if err := ctx.CallActivity("SayHello", task.WithActivityInput(c)).Await(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// fanOutFanIn schedules every activity before awaiting any: the library
// has no WhenAll, and awaiting in order is its samples/parallel pattern.
func fanOutFanIn(ctx *task.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.GetInput(&n); err != nil {
		return nil, err
	}
	tasks := make([]task.Task, n)
	for i := range tasks {
		tasks[i] = ctx.CallActivity("SayHello", task.WithActivityInput(fmt.Sprint(i)))
	}
	out := make([]string, n)
	for i, t := range tasks {
		if err := t.Await(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func run(ctx context.Context, h *hub, res *Result, n, inFlight, warmup, fanOut, idleRuns int, idle time.Duration) error {
	if _, err := batch(ctx, h, warmup, inFlight); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	b, err := batch(ctx, h, n, inFlight)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	res.Batch = b.summary(n)

	if fanOut > 0 {
		f, err := one(ctx, h, "FanOutFanIn", fanOut)
		if err != nil {
			return fmt.Errorf("FanOutFanIn: %w", err)
		}
		res.FanOut = FanOut{N: fanOut, CallerMs: ms(f.caller), InstanceMs: ms(f.instance)}
	}

	res.Idle.IdleMs = ms(idle)
	for i := 0; i < idleRuns; i++ {
		select {
		case <-time.After(idle):
		case <-ctx.Done():
			return ctx.Err()
		}
		s, err := one(ctx, h, "HelloCities5", nil)
		if err != nil {
			return fmt.Errorf("idle run %d: %w", i, err)
		}
		res.Idle.CallerMs = append(res.Idle.CallerMs, ms(s.caller))
		res.Idle.InstanceMs = append(res.Idle.InstanceMs, ms(s.instance))
	}
	return nil
}

// sample is one orchestration: caller is its start call to the return of
// WaitForOrchestrationCompletion, whose polls back off from 100 ms by 1.5×
// up to 10 s, so it overstates the time by up to half (a poll
// interval is half the time already waited, until the cap); instance is
// LastUpdatedAt − CreatedAt from its own metadata, free of that polling.
type sample struct {
	caller, instance       time.Duration
	created, lastUpdated   time.Time
	callerStart, callerEnd time.Time
}

func one(ctx context.Context, h *hub, name string, input any) (sample, error) {
	t0 := time.Now()
	var opts []api.NewOrchestrationOptions
	if input != nil {
		opts = append(opts, api.WithInput(input))
	}
	id, err := h.client.ScheduleNewOrchestration(ctx, name, opts...)
	if err != nil {
		return sample{}, err
	}
	md, err := h.client.WaitForOrchestrationCompletion(ctx, id)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", id, err)
	}
	t1 := time.Now()
	if md.RuntimeStatus != api.RUNTIME_STATUS_COMPLETED {
		return sample{}, fmt.Errorf("%s: %s %s %v", id, md.RuntimeStatus, md.SerializedOutput, md.FailureDetails)
	}
	return sample{
		caller: t1.Sub(t0), instance: md.LastUpdatedAt.Sub(md.CreatedAt),
		created: md.CreatedAt, lastUpdated: md.LastUpdatedAt,
		callerStart: t0, callerEnd: t1,
	}, nil
}

type samples []sample

// batch starts n HelloCities5 with inFlight starts at a time, as
// bench/bench_test.go's runBatch does, and waits for each.
func batch(ctx context.Context, h *hub, n, inFlight int) (samples, error) {
	out := make(samples, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			id, err := h.client.ScheduleNewOrchestration(ctx, "HelloCities5")
			<-sem
			if err != nil {
				errs <- err
				return
			}
			md, err := h.client.WaitForOrchestrationCompletion(ctx, id)
			t1 := time.Now()
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			if md.RuntimeStatus != api.RUNTIME_STATUS_COMPLETED {
				errs <- fmt.Errorf("%s: %s %s", id, md.RuntimeStatus, md.SerializedOutput)
				return
			}
			out[i] = sample{
				caller: t1.Sub(t0), instance: md.LastUpdatedAt.Sub(md.CreatedAt),
				created: md.CreatedAt, lastUpdated: md.LastUpdatedAt,
				callerStart: t0, callerEnd: t1,
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		return nil, fmt.Errorf("%d of %d failed, first: %w", len(all), n, all[0])
	}
	return out, nil
}

func (s samples) summary(n int) Batch {
	first, last := s[0].callerStart, s[0].callerEnd
	created, updated := s[0].created, s[0].lastUpdated
	caller := make([]float64, len(s))
	inst := make([]float64, len(s))
	for i, x := range s {
		if x.callerStart.Before(first) {
			first = x.callerStart
		}
		if x.callerEnd.After(last) {
			last = x.callerEnd
		}
		if x.created.Before(created) {
			created = x.created
		}
		if x.lastUpdated.After(updated) {
			updated = x.lastUpdated
		}
		caller[i] = ms(x.caller)
		inst[i] = ms(x.instance)
	}
	return Batch{
		N: n, CallerMs: ms(last.Sub(first)), InstanceMs: ms(updated.Sub(created)),
		CallerP50Ms: percentile(caller, 0.5), CallerP99Ms: percentile(caller, 0.99),
		InstanceP50Ms: percentile(inst, 0.5), InstanceP99Ms: percentile(inst, 0.99),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile rounds as bench/bench_test.go does (nearest rank below).
func percentile(d []float64, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1))]
}

// quietLogger drops the library's per-work-item info and debug lines,
// which would cost more than the work at these rates, and keeps warnings
// and errors on stderr, counted for the report.
type quietLogger struct{ warnings, errors atomic.Int64 }

func (*quietLogger) Debug(...any)          {}
func (*quietLogger) Debugf(string, ...any) {}
func (*quietLogger) Info(...any)           {}
func (*quietLogger) Infof(string, ...any)  {}
func (l *quietLogger) Warn(v ...any) {
	l.warnings.Add(1)
	log.Print(append([]any{"WARNING: "}, v...)...)
}
func (l *quietLogger) Warnf(f string, v ...any) { l.warnings.Add(1); log.Printf("WARNING: "+f, v...) }
func (l *quietLogger) Error(v ...any) {
	l.errors.Add(1)
	log.Print(append([]any{"ERROR: "}, v...)...)
}
func (l *quietLogger) Errorf(f string, v ...any) { l.errors.Add(1); log.Printf("ERROR: "+f, v...) }
