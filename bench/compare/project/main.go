// Command project runs the comparison workloads on this project's engine
// and prints one JSON line of figures on stdout for bench/compare.
//
// It runs the workload of bench/benchapp, which `make bench` runs too, so
// that both measure the same code path, against the storage account in
// DURABLE_TEST_STORAGE, which bench/compare points at an Azurite it has
// just started with scripts/azurite.sh.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/durable-go/durable/bench/benchapp"
	"github.com/durable-go/durable/bench/compare/internal/result"
	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
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

// newApp is benchapp.New on a hub named for this run.
func newApp(ctx context.Context, cs string, counter *azstore.RequestCounter) (*app.App, error) {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	return benchapp.New(ctx, cs, "Compare"+hex.EncodeToString(suffix[:]), counter)
}

func run(ctx context.Context, a *app.App, counter *azstore.RequestCounter, res *result.Result,
	n, inFlight, warmup, fanOut, idleRuns int, idle time.Duration) (azstore.RequestCounts, error) {
	if _, err := benchapp.Batch(ctx, a, warmup, inFlight); err != nil {
		return azstore.RequestCounts{}, fmt.Errorf("warm-up: %w", err)
	}
	before := counter.Snapshot()
	s, err := benchapp.Batch(ctx, a, n, inFlight)
	if err != nil {
		return azstore.RequestCounts{}, fmt.Errorf("batch: %w", err)
	}
	used := counter.Snapshot().Sub(before)
	res.Batch = summary(s, n)

	if fanOut > 0 {
		f, err := benchapp.Run(ctx, a, "FanOutFanIn", fanOut)
		if err != nil {
			return used, fmt.Errorf("FanOutFanIn: %w", err)
		}
		res.FanOut = result.FanOut{N: fanOut, CallerMs: result.Ms(f.Caller()), InstanceMs: result.Ms(instance(f))}
	}

	res.Idle.IdleMs = result.Ms(idle)
	for i := 0; i < idleRuns; i++ {
		select {
		case <-time.After(idle):
		case <-ctx.Done():
			return used, ctx.Err()
		}
		x, err := benchapp.Run(ctx, a, "HelloCities5", nil)
		if err != nil {
			return used, fmt.Errorf("idle run %d: %w", i, err)
		}
		res.Idle.CallerMs = append(res.Idle.CallerMs, result.Ms(x.Caller()))
		res.Idle.InstanceMs = append(res.Idle.InstanceMs, result.Ms(instance(x)))
	}
	return used, nil
}

// instance is an orchestration's own duration, from the CreatedTime to the
// LastUpdatedTime of its final status, as the peer's figures are taken.
func instance(s benchapp.Sample) time.Duration {
	return s.Status.LastUpdatedTime.Sub(s.Status.CreatedTime)
}

func summary(s []benchapp.Sample, n int) result.Batch {
	first, last := s[0].Start, s[0].End
	created, updated := s[0].Status.CreatedTime, s[0].Status.LastUpdatedTime
	caller := make([]float64, len(s))
	inst := make([]float64, len(s))
	for i, x := range s {
		if x.Start.Before(first) {
			first = x.Start
		}
		if x.End.After(last) {
			last = x.End
		}
		if x.Status.CreatedTime.Before(created) {
			created = x.Status.CreatedTime
		}
		if x.Status.LastUpdatedTime.After(updated) {
			updated = x.Status.LastUpdatedTime
		}
		caller[i] = result.Ms(x.Caller())
		inst[i] = result.Ms(instance(x))
	}
	return result.Batch{
		N: n, CallerMs: result.Ms(last.Sub(first)), InstanceMs: result.Ms(updated.Sub(created)),
		CallerP50Ms: result.Percentile(caller, 0.5), CallerP99Ms: result.Percentile(caller, 0.99),
		InstanceP50Ms: result.Percentile(inst, 0.5), InstanceP99Ms: result.Percentile(inst, 0.99),
	}
}
