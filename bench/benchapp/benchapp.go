// Package benchapp is the workload both benchmarks run on this project's
// engine, `make bench` (bench/bench_test.go) and the project's side of
// `make bench-compare` (bench/compare/project), so that the two always
// measure the same code path: the app in process with the host.json
// defaults, the samples registered, a request counter on every storage
// client, and orchestrations started and waited for by its client.
package benchapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
)

// New starts an app on a new task hub of the storage account, with the
// host.json defaults; counter counts its storage requests.
func New(ctx context.Context, connectionString, hubName string, counter *azstore.RequestCounter) (*app.App, error) {
	return NewWith(ctx, connectionString, hubName, counter, nil)
}

// NewWith is New with the host.json options changed by tweak first (nil
// for none): a variant's app, such as one with tracing on.
func NewWith(ctx context.Context, connectionString, hubName string, counter *azstore.RequestCounter, tweak func(*config.DurableOptions)) (*app.App, error) {
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": connectionString, app.WakeQueueSetting: "none"}, false)
	d := config.DefaultDurableOptions()
	d.HubName = hubName
	if tweak != nil {
		tweak(&d)
	}
	reg := task.NewRegistry()
	if err := samples.Register(reg, settings.Get); err != nil {
		return nil, err
	}
	a, err := app.New(app.Config{Settings: settings, Durable: d, Registry: taskbridge.Engine(reg), Policies: []policy.Policy{counter}})
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// Sample is one orchestration as the caller saw it: from its StartNew call
// to the return of WaitForCompletion, with its final status.
type Sample struct {
	Start, End time.Time
	Status     *client.Status
}

// Caller is the start-to-completion latency the caller saw.
func (s Sample) Caller() time.Duration { return s.End.Sub(s.Start) }

// waitPoll is how often a waiter reads storage; the in-process completion
// notice normally answers first.
const waitPoll = 5 * time.Second

// Run starts one orchestration and waits until it completes.
func Run(ctx context.Context, a *app.App, name string, input any) (Sample, error) {
	t0 := time.Now()
	id, err := a.Client.StartNew(ctx, name, input, client.StartOptions{})
	if err != nil {
		return Sample{}, err
	}
	return wait(ctx, a, id, t0)
}

func wait(ctx context.Context, a *app.App, id string, t0 time.Time) (Sample, error) {
	st, err := a.Client.WaitForCompletion(ctx, id, waitPoll)
	t1 := time.Now()
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", id, err)
	}
	if st.RuntimeStatus != history.StatusCompleted {
		return Sample{}, fmt.Errorf("%s: %s %s", id, st.RuntimeStatus, st.Output)
	}
	return Sample{Start: t0, End: t1, Status: st}, nil
}

// Batch runs n HelloCities5 with at most inFlight starts under way at a
// time (not orchestrations: each is then waited for by its own goroutine).
func Batch(ctx context.Context, a *app.App, n, inFlight int) ([]Sample, error) {
	out := make([]Sample, n)
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
