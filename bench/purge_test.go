package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/bench/benchapp"
	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// BenchmarkPurge purges 5,000 finished HelloCities5 instances by time
// range, from a hub of 5,000 (just those) and from a hub of 10,000 (with
// 5,000 older finished instances, interleaved in key order, whose rows and
// histories of the same size are written directly), and reports
// instances/s and storage requests per purged instance. PURGE_HUBS sets
// the hub sizes (e.g. PURGE_HUBS=5000,20000).
//
// PURGE_BEFORE=1 also runs the purge this project had before the pipeline
// (a History query, a blob listing per prefix and a row delete per
// instance, 8 at a time, pages of 500) on an identical hub of 5,000, for
// comparison within one run. PURGE_CONCURRENCY sets the pipeline's
// concurrency (default 8).
func BenchmarkPurge(b *testing.B) {
	sizes := []int{5000, 10000}
	if env := os.Getenv("PURGE_HUBS"); env != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 5000 {
				b.Fatalf("PURGE_HUBS=%q: want hub sizes of at least 5000, separated by commas", env)
			}
			sizes = append(sizes, n)
		}
	}
	for _, hubSize := range sizes {
		b.Run(fmt.Sprintf("hub=%d", hubSize), func(b *testing.B) { benchPurge(b, hubSize, false) })
	}
	if os.Getenv("PURGE_BEFORE") == "1" {
		b.Run("before/hub=5000", func(b *testing.B) { benchPurge(b, 5000, true) })
	}
}

func benchPurge(b *testing.B, hubSize int, before bool) {
	const n = 5000
	counter := &azstore.RequestCounter{}
	a := newApp(b, counter)
	ctx := context.Background()
	t0 := time.Now().UTC()
	if _, err := runBatchErr(ctx, a, n); err != nil {
		b.Fatal(err)
	}
	rowsEach := historyRowsOf(b, a)
	if extra := hubSize - n; extra > 0 {
		fillFinished(b, a, extra, rowsEach-1, t0.Add(-24*time.Hour))
	}
	c := a.Client
	if conc, err := strconv.Atoi(os.Getenv("PURGE_CONCURRENCY")); err == nil && conc > 0 {
		c = client.New(a.Hub, client.Options{PurgeConcurrency: conc})
	}
	q := client.PurgeQuery{CreatedFrom: t0.Add(-time.Second)}
	req0 := counter.Snapshot()
	start := time.Now()
	var (
		purged int
		err    error
	)
	if before {
		purged, err = purgeRangeBefore(ctx, a, q)
	} else {
		purged, err = c.PurgeRange(ctx, q, nil)
	}
	elapsed := time.Since(start)
	used := counter.Snapshot().Sub(req0)
	if err != nil {
		b.Fatal(err)
	}
	if purged != n {
		b.Fatalf("purged %d, want %d", purged, n)
	}
	rate := float64(purged) / elapsed.Seconds()
	perInst := float64(used.Work()) / float64(purged)
	b.ReportMetric(rate, "inst/s")
	b.ReportMetric(perInst, "requests/inst")
	b.Logf("purged %d of a hub of %d (%d history rows each) in %s: %.0f instances/s; requests/instance %.2f "+
		"(table batch %.2f, table other %.2f, blob %.2f)", purged, hubSize, rowsEach, elapsed.Round(time.Millisecond), rate,
		perInst, float64(used.TableBatch)/float64(purged), float64(used.TableOther)/float64(purged), float64(used.Blob)/float64(purged))
	for i := 0; i < b.N; i++ {
		// The work above is the measurement; b.N only satisfies the runner.
	}
}

func runBatchErr(ctx context.Context, a *app.App, n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := benchapp.Batch(ctx, a, n, 32); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// historyRowsOf is the number of History rows (sentinel included) of one
// finished HelloCities5.
func historyRowsOf(b *testing.B, a *app.App) int {
	b.Helper()
	page, err := a.Client.ListInstances(context.Background(), client.Query{PageSize: 1})
	if err != nil || len(page.Instances) == 0 {
		b.Fatalf("list: %v", err)
	}
	hs, err := a.Hub.LoadHistory(context.Background(), page.Instances[0].InstanceID)
	if err != nil {
		b.Fatal(err)
	}
	return hs.Rows
}

// fillFinished writes n Completed instances created at created, each with
// a row and events history events, under random IDs like the workload's.
func fillFinished(b *testing.B, a *app.App, n, events int, created time.Time) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id := layout.NewInstanceID()
				exec := fmt.Sprintf("%032x", i)
				row := &layout.InstanceRow{InstanceID: id, Name: "HelloCities5", ExecutionID: exec,
					RuntimeStatus: history.StatusCompleted, CreatedTime: created, LastUpdatedTime: created, CompletedTime: &created,
					Output: `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`, TaskHubName: a.Hub.Name()}
				if err := a.Hub.PutIndex(ctx, id, created); err != nil {
					errs <- err
					return
				}
				if err := a.Hub.InsertInstance(ctx, row); err != nil {
					errs <- err
					return
				}
				evs := make([]history.Event, events)
				evs[0] = history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: created, Name: "HelloCities5"}
				for k := 1; k < events; k++ {
					evs[k] = history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: created, Data: "filler"}
				}
				if _, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: exec, Events: evs}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("fill the hub: %v", err)
	}
}

// purgeRangeBefore is the range purge as it was before the pipeline
// (commit 9719fff), kept here to measure against.
func purgeRangeBefore(ctx context.Context, a *app.App, q client.PurgeQuery) (int, error) {
	hub := a.Hub
	lq := client.Query{CreatedFrom: q.CreatedFrom, CreatedTo: time.Now().UTC(), PageSize: 500,
		Statuses: []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed, history.StatusTerminated, history.StatusCanceled}}
	done := 0
	for {
		page, err := a.Client.ListInstances(ctx, lq)
		if err != nil {
			return done, err
		}
		var (
			mu       sync.Mutex
			firstErr error
			wg       sync.WaitGroup
		)
		sem := make(chan struct{}, 8)
		for _, st := range page.Instances {
			sem <- struct{}{}
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				defer func() { <-sem }()
				_, err := hub.DeleteHistory(ctx, id)
				if err == nil {
					_, err = hub.DeleteInstanceBlobs(ctx, id)
				}
				if err == nil {
					if err = hub.DeleteInstanceRow(ctx, id); errors.Is(err, azstore.ErrNotFound) {
						err = nil
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil {
					done++
				}
			}(st.InstanceID)
		}
		wg.Wait()
		if firstErr != nil {
			return done, firstErr
		}
		if page.ContinuationToken == "" {
			return done, nil
		}
		lq.ContinuationToken = page.ContinuationToken
	}
}
