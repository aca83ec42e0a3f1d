package retention_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/retention"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// newApp is an app whose worker does not run (tests start it or sweep
// themselves), with the retention policy r.
func newApp(t *testing.T, r config.Retention) *app.App {
	t.Helper()
	return apptest.NewApp(t, apptest.AppOptions{NoStart: true, Manual: true, Durable: func(d *config.DurableOptions) {
		d.PartitionLeaseDuration, d.PartitionLeaseRenewInterval = 3*time.Second, time.Second
		d.Retention = r
	}})
}

// instance is a row to write: created, completed (nil: none) and last
// updated, ages before now.
type instance struct {
	id               string
	status           history.RuntimeStatus
	created, updated time.Duration
	completed        *time.Duration
	wantGone         bool
}

func ago(d time.Duration) *time.Duration { return &d }

func put(t *testing.T, hub *azstore.Hub, in instance) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	row := &layout.InstanceRow{InstanceID: in.id, Name: "Hello", ExecutionID: "e" + in.id, RuntimeStatus: in.status,
		CreatedTime: now.Add(-in.created), LastUpdatedTime: now.Add(-in.updated), TaskHubName: hub.Name()}
	if in.completed != nil {
		c := now.Add(-*in.completed)
		row.CompletedTime = &c
	}
	// As a start writes it: the index row first, then the instance row.
	if err := hub.PutIndex(ctx, in.id, row.CreatedTime); err != nil {
		t.Fatal(err)
	}
	if err := hub.InsertInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	evs := []history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: row.CreatedTime, Name: "Hello"},
		{Type: history.ExecutionCompleted, EventID: 1, Timestamp: row.LastUpdatedTime, OrchestrationStatus: in.status}}
	if _, err := hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: in.id, ExecutionID: row.ExecutionID, Events: evs}); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, hub *azstore.Hub, id string) bool {
	t.Helper()
	_, err := hub.GetInstance(context.Background(), id)
	if err != nil && !errors.Is(err, azstore.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestAppEnforcesRetention runs an app whose host.json options ask for
// retention, with a short interval and no timer function, and checks that
// it purges exactly the instances past their status's age.
func TestAppEnforcesRetention(t *testing.T) {
	a := newApp(t, config.Retention{Completed: time.Hour, Failed: 2 * time.Hour, Interval: time.Second})
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = a.Stop(sctx)
		_ = a.Hub.Delete(sctx)
	})
	h := time.Hour
	all := []instance{
		{id: "c-old", status: history.StatusCompleted, created: 3 * h, updated: 2 * h, completed: ago(2 * h), wantGone: true},
		// Created long ago but finished recently: age counts from the end.
		{id: "c-young", status: history.StatusCompleted, created: 3 * h, updated: 10 * time.Minute, completed: ago(10 * time.Minute)},
		// No CompletedTime: LastUpdatedTime stands in.
		{id: "c-nocompleted-old", status: history.StatusCompleted, created: 3 * h, updated: 2 * h, wantGone: true},
		{id: "c-nocompleted-young", status: history.StatusCompleted, created: 3 * h, updated: time.Minute},
		{id: "c-new", status: history.StatusCompleted, created: time.Minute, updated: time.Second, completed: ago(time.Second)},
		{id: "f-mid", status: history.StatusFailed, created: 3 * h, updated: 90 * time.Minute, completed: ago(90 * time.Minute)},
		{id: "f-old", status: history.StatusFailed, created: 5 * h, updated: 3 * h, completed: ago(3 * h), wantGone: true},
		// Statuses without an age are kept forever.
		{id: "t-old", status: history.StatusTerminated, created: 120 * h, updated: 100 * h, completed: ago(100 * h)},
		{id: "x-old", status: history.StatusCanceled, created: 120 * h, updated: 100 * h, completed: ago(100 * h)},
		// Never an unfinished instance, however old.
		{id: "r-old", status: history.StatusRunning, created: 120 * h, updated: 100 * h},
		{id: "p-old", status: history.StatusPending, created: 120 * h, updated: 120 * h},
	}
	for _, in := range all {
		put(t, a.Hub, in)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := 0
		for _, in := range all {
			if in.wantGone && exists(t, a.Hub, in.id) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d instances past their age are still there after 30 s", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A few more sweeps must not take anything else.
	time.Sleep(time.Second)
	for _, in := range all {
		if !in.wantGone && !exists(t, a.Hub, in.id) {
			t.Errorf("%s (%s) was purged", in.id, in.status)
		}
		if in.wantGone {
			hs, err := a.Hub.LoadHistory(ctx, in.id)
			if err != nil || hs.Rows != 0 {
				t.Errorf("%s: %d history rows left (%v)", in.id, hs.Rows, err)
			}
		}
	}
}

// TestSweepOnlyByTheLeader checks that an app instance that is not the
// leader leaves everything alone, and that Sweep counts what it purges.
func TestSweepOnlyByTheLeader(t *testing.T) {
	a := newApp(t, config.Retention{Interval: time.Minute})
	ctx := context.Background()
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Hub.Delete(context.Background()) })
	put(t, a.Hub, instance{id: "old", status: history.StatusCompleted, created: 48 * time.Hour, updated: 47 * time.Hour, completed: ago(47 * time.Hour)})
	policy := config.Retention{Completed: time.Hour, Terminated: time.Hour, Interval: time.Second}

	s := retention.New(retention.Options{Policy: policy, Client: a.Client, Leader: func() bool { return false }})
	rctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	s.Run(rctx)
	cancel()
	if !exists(t, a.Hub, "old") {
		t.Fatal("a sweeper that is not the leader purged")
	}

	s = retention.New(retention.Options{Policy: policy, Client: a.Client})
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 || exists(t, a.Hub, "old") {
		t.Fatalf("Sweep = %d, %v; want 1 and the instance gone", n, err)
	}
}

// Between full sweeps a sweep looks only at the instances created since the
// previous cutoff; one that finished long after its creation waits for the
// next full sweep.
func TestIncrementalSweeps(t *testing.T) {
	a := newApp(t, config.Retention{Interval: time.Minute})
	ctx := context.Background()
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Hub.Delete(context.Background()) })
	clock := time.Now()
	s := retention.New(retention.Options{Policy: config.Retention{Completed: time.Hour, Interval: time.Second}, Client: a.Client,
		Now: func() time.Time { return clock }})
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("first (full) sweep: %d, %v", n, err)
	}
	put(t, a.Hub, instance{id: "window", status: history.StatusCompleted, created: 50 * time.Minute, updated: 45 * time.Minute, completed: ago(45 * time.Minute)})
	put(t, a.Hub, instance{id: "long", status: history.StatusCompleted, created: 3 * time.Hour, updated: 40 * time.Minute, completed: ago(40 * time.Minute)})
	clock = clock.Add(30 * time.Minute)
	if n, err := s.Sweep(ctx); err != nil || n != 1 || exists(t, a.Hub, "window") || !exists(t, a.Hub, "long") {
		t.Fatalf("incremental sweep: %d, %v; want only the instance created since the last cutoff purged", n, err)
	}
	clock = clock.Add(retention.FullSweepEvery)
	if n, err := s.Sweep(ctx); err != nil || n != 1 || exists(t, a.Hub, "long") {
		t.Fatalf("the next full sweep: %d, %v; want the long-running instance purged", n, err)
	}
}
