// Command project runs the comparison workloads on this project's engine
// and prints one JSON line of figures on stdout for bench/compare.
//
// It builds the app exactly as bench/bench_test.go's newApp does (host.json
// defaults, the samples registered, the request counter on every storage
// client, in process) and waits the way its runBatch does, against the
// storage account in DURABLE_TEST_STORAGE, which bench/compare points at an
// Azurite it has just started with scripts/azurite.sh. Keep the two in step:
// the comparison is only meaningful while they measure the same code path.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/durable-go/durable/bench/compare/internal/result"
	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/samples"
)

// envStorage is the variable `make bench` uses for the same purpose
// (internal/testutil.EnvStorage); the connection string stays off the
// command line that bench/compare prints.
const envStorage = "DURABLE_TEST_STORAGE"

func main() {
	var (
		n        = flag.Int("n", 1000, "HelloCities5 orchestrations in the batch")
		inFlight = flag.Int("inflight", 32, "starts in flight at once (as bench/bench_test.go)")
		warmup   = flag.Int("warmup", 10, "HelloCities5 run before the batch (as bench/bench_test.go)")
		fanOut   = flag.Int("fanout", 1000, "activities in the FanOutFanIn orchestration; 0 skips it")
		idleRuns = flag.Int("idle-runs", 10, "single orchestrations timed after an idle pause; 0 skips them")
		idle     = flag.Duration("idle", 2*time.Second, "idle pause before each single orchestration")
		timeout  = flag.Duration("timeout", 8*time.Minute, "bound on the whole run")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("project: ")
	cs := os.Getenv(envStorage)
	if cs == "" {
		log.Fatalf("%s is not set: run me through bench/compare (make bench-compare)", envStorage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	counter := &azstore.RequestCounter{}
	a, err := newApp(ctx, cs, counter)
	if err != nil {
		log.Fatal(err)
	}
	res := result.Result{System: "project"}
	used, err := run(ctx, a, counter, &res, *n, *inFlight, *warmup, *fanOut, *idleRuns, *idle)
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Minute)
	if err := a.Stop(stopCtx); err != nil {
		log.Printf("stopping the app: %v", err)
	}
	stopCancel()
	if err != nil {
		log.Fatal(err)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("storage requests per orchestration in the batch: %.2f (idle polls apart: %.2f)",
		float64(used.Work())/float64(*n), float64(used.EmptyPolls)/float64(*n)))
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		log.Fatal(err)
	}
}

// newApp is bench/bench_test.go's newApp without testing.B.
func newApp(ctx context.Context, cs string, counter *azstore.RequestCounter) (*app.App, error) {
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": cs, app.WakeQueueSetting: "none"}, false)
	d := config.DefaultDurableOptions()
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	d.HubName = "Compare" + hex.EncodeToString(suffix[:])
	reg := durable.NewRegistry()
	if err := samples.Register(reg, settings.Get); err != nil {
		return nil, err
	}
	a, err := app.New(app.Config{Settings: settings, Durable: d, Registry: reg, Policies: []policy.Policy{counter}})
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func run(ctx context.Context, a *app.App, counter *azstore.RequestCounter, res *result.Result,
	n, inFlight, warmup, fanOut, idleRuns int, idle time.Duration) (azstore.RequestCounts, error) {
	if _, err := batch(ctx, a, warmup, inFlight); err != nil {
		return azstore.RequestCounts{}, fmt.Errorf("warm-up: %w", err)
	}
	before := counter.Snapshot()
	s, err := batch(ctx, a, n, inFlight)
	if err != nil {
		return azstore.RequestCounts{}, fmt.Errorf("batch: %w", err)
	}
	used := counter.Snapshot().Sub(before)
	res.Batch = s.summary(n)

	if fanOut > 0 {
		f, err := one(ctx, a, "FanOutFanIn", fanOut)
		if err != nil {
			return used, fmt.Errorf("FanOutFanIn: %w", err)
		}
		res.FanOut = result.FanOut{N: fanOut, CallerMs: result.Ms(f.caller), InstanceMs: result.Ms(f.instance)}
	}

	res.Idle.IdleMs = result.Ms(idle)
	for i := 0; i < idleRuns; i++ {
		select {
		case <-time.After(idle):
		case <-ctx.Done():
			return used, ctx.Err()
		}
		x, err := one(ctx, a, "HelloCities5", nil)
		if err != nil {
			return used, fmt.Errorf("idle run %d: %w", i, err)
		}
		res.Idle.CallerMs = append(res.Idle.CallerMs, result.Ms(x.caller))
		res.Idle.InstanceMs = append(res.Idle.InstanceMs, result.Ms(x.instance))
	}
	return used, nil
}

// sample is one orchestration: caller from its StartNew call to the return
// of WaitForCompletion, instance from the CreatedTime to the
// LastUpdatedTime of its final status, as the peer's figures are taken.
type sample struct {
	caller, instance       time.Duration
	created, lastUpdated   time.Time
	callerStart, callerEnd time.Time
}

// waitPoll is bench/bench_test.go's storage poll interval; the in-process
// completion notice normally answers first.
const waitPoll = 5 * time.Second

func one(ctx context.Context, a *app.App, name string, input any) (sample, error) {
	t0 := time.Now()
	id, err := a.Client.StartNew(ctx, name, input, client.StartOptions{})
	if err != nil {
		return sample{}, err
	}
	return wait(ctx, a, id, t0)
}

func wait(ctx context.Context, a *app.App, id string, t0 time.Time) (sample, error) {
	st, err := a.Client.WaitForCompletion(ctx, id, waitPoll)
	t1 := time.Now()
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", id, err)
	}
	if st.RuntimeStatus != history.StatusCompleted {
		return sample{}, fmt.Errorf("%s: %s %s", id, st.RuntimeStatus, st.Output)
	}
	return sample{
		caller: t1.Sub(t0), instance: st.LastUpdatedTime.Sub(st.CreatedTime),
		created: st.CreatedTime, lastUpdated: st.LastUpdatedTime,
		callerStart: t0, callerEnd: t1,
	}, nil
}

type batchSamples []sample

// batch is bench/bench_test.go's runBatch: n HelloCities5, inFlight starts
// at a time, each waited for by its own goroutine.
func batch(ctx context.Context, a *app.App, n, inFlight int) (batchSamples, error) {
	out := make(batchSamples, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			id, err := a.Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{})
			<-sem
			if err != nil {
				errs <- err
				return
			}
			s, err := wait(ctx, a, id, t0)
			if err != nil {
				errs <- err
				return
			}
			out[i] = s
		}(i)
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		return nil, fmt.Errorf("%d of %d failed: %w", len(all), n, errors.Join(all[:min(len(all), 3)]...))
	}
	return out, nil
}

func (s batchSamples) summary(n int) result.Batch {
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
		caller[i] = result.Ms(x.caller)
		inst[i] = result.Ms(x.instance)
	}
	return result.Batch{
		N: n, CallerMs: result.Ms(last.Sub(first)), InstanceMs: result.Ms(updated.Sub(created)),
		CallerP50Ms: result.Percentile(caller, 0.5), CallerP99Ms: result.Percentile(caller, 0.99),
		InstanceP50Ms: result.Percentile(inst, 0.5), InstanceP99Ms: result.Percentile(inst, 0.99),
	}
}
