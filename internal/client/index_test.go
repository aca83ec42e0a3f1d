package client_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// allIDs pages through q and returns the IDs in page order.
func allIDs(t *testing.T, c *client.Client, q client.Query) []string {
	t.Helper()
	var ids []string
	err := c.EachMatch(context.Background(), q, func(p *client.Page) error {
		for _, st := range p.Instances {
			ids = append(ids, st.InstanceID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %+v: %v", q, err)
	}
	return ids
}

func sorted(ids []string) []string { s := slices.Clone(ids); slices.Sort(s); return s }

// The index answers created-time queries as the scan does, page by page,
// with the other filters, and drops rows that a restart made stale.
func TestIndexedQueriesMatchTheScan(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, "IndexQueries", map[string]string{}, false)
	defer stop(t, a, true)
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Hub.IndexComplete(ctx); err != nil || !ok {
		t.Fatalf("a new hub's index is complete: got %v, %v", ok, err)
	}
	indexed := a.Client
	scan := client.New(a.Hub, client.Options{IgnoreIndex: true})

	// Three waves of starts, concurrent within a wave (the index writes of
	// a wave share batches).
	var bounds []time.Time
	for wave := range 3 {
		bounds = append(bounds, time.Now().UTC())
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "HelloCities5"
				if i%4 == 0 {
					name = "Counter"
				}
				if _, err := indexed.StartNew(ctx, name, nil, client.StartOptions{InstanceID: fmt.Sprintf("w%d-%02d", wave, i)}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bounds = append(bounds, time.Now().UTC())

	queries := []client.Query{
		{CreatedFrom: bounds[1], CreatedTo: bounds[2]},
		{CreatedFrom: bounds[1]},
		{CreatedTo: bounds[2]},
		{CreatedFrom: bounds[0], CreatedTo: bounds[3], Names: []string{"Counter"}},
		{CreatedFrom: bounds[0], InstanceIDPrefix: "w2-1"},
		{CreatedFrom: bounds[0], Statuses: []history.RuntimeStatus{history.StatusPending}, PageSize: 7},
		{CreatedFrom: bounds[0], Statuses: []history.RuntimeStatus{history.StatusCompleted}},
	}
	for _, q := range queries {
		for _, size := range []int{0, 7} {
			if q.PageSize == 0 {
				q.PageSize = size
			}
			got, want := allIDs(t, indexed, q), allIDs(t, scan, q)
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("query %+v: index gave %d instances %v, scan %d %v", q, len(got), got, len(want), want)
			}
			if len(slices.Compact(sorted(got))) != len(got) {
				t.Errorf("query %+v: an instance came twice: %v", q, got)
			}
		}
	}
	if got := allIDs(t, indexed, client.Query{CreatedFrom: bounds[1], CreatedTo: bounds[2]}); len(got) != 40 {
		t.Errorf("wave 1 has 40 instances, the index found %d", len(got))
	}

	// A terminated instance started again under its ID gets a new
	// CreatedTime: it leaves wave 0's range, and its old index row goes.
	if err := a.Hub.PatchInstance(ctx, "w0-01", layout.InstancePatch{RuntimeStatus: ptr(history.StatusTerminated)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := indexed.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: "w0-01"}); err != nil {
		t.Fatal(err)
	}
	wave0 := client.Query{CreatedFrom: bounds[0], CreatedTo: bounds[1]}
	if got := allIDs(t, indexed, wave0); len(got) != 39 || slices.Contains(got, "w0-01") {
		t.Errorf("after the restart wave 0 has 39 instances without w0-01; got %d %v", len(got), got)
	}
	if got := allIDs(t, indexed, client.Query{CreatedFrom: bounds[3]}); !slices.Equal(got, []string{"w0-01"}) {
		t.Errorf("the restarted instance is in the new range: got %v", got)
	}
	entries, _, err := a.Hub.QueryIndex(ctx, azstoreQuery(bounds[0], bounds[1]))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.InstanceID == "w0-01" {
			t.Errorf("the stale index row of w0-01 was not removed: %+v", e)
		}
	}

	// A start refused because the instance is active, and a retry of a
	// Pending start (which sends the first start again), leave no index row.
	before := time.Now().UTC()
	if _, err := indexed.StartNew(ctx, "HelloCities5", "other", client.StartOptions{InstanceID: "w1-05"}); err == nil {
		t.Fatal("a different start of an active instance was accepted")
	}
	if _, err := indexed.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: "w1-05"}); err != nil {
		t.Fatalf("a retried start: %v", err)
	}
	if entries, _, err := a.Hub.QueryIndex(ctx, azstoreQuery(before, time.Time{})); err != nil || len(entries) != 0 {
		t.Errorf("the refused start left index rows: %+v %v", entries, err)
	}

	counts, err := indexed.CountInstances(ctx, client.Query{CreatedFrom: bounds[0]})
	if err != nil {
		t.Fatal(err)
	}
	if counts[history.StatusPending] != 120 || counts[history.StatusRunning] != 0 {
		t.Errorf("counts: %v", counts)
	}

	// A purge by range finds wave 2 through the index and removes its
	// index rows with the instances.
	for i := range 40 {
		if err := a.Hub.PatchInstance(ctx, fmt.Sprintf("w2-%02d", i), layout.InstancePatch{RuntimeStatus: ptr(history.StatusCompleted)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	n, err := indexed.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: bounds[2], CreatedTo: bounds[3]}, nil)
	if err != nil || n != 40 {
		t.Fatalf("purge wave 2: %d, %v", n, err)
	}
	if entries, _, err := a.Hub.QueryIndex(ctx, azstoreQuery(bounds[2], bounds[3])); err != nil || len(entries) != 0 {
		t.Errorf("purged instances left %d index rows (%v)", len(entries), err)
	}
}

// A hub made before the index has none: queries scan until a backfill
// indexes the existing rows and marks the index complete.
func TestIndexBackfill(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, "IndexBackfill", map[string]string{}, false)
	defer stop(t, a, true)
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	from := time.Now().UTC()
	for i := range 25 {
		if _, err := a.Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: fmt.Sprintf("b%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Make it an old hub: no index rows, no marker.
	entries, _, err := a.Hub.QueryIndex(ctx, azstoreQuery(time.Time{}, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.DeleteIndex(ctx, append(entries, layout.IndexEntry{PartitionKey: layout.IndexMarkerPartitionKey, RowKey: layout.IndexMarkerRowKey})); err != nil {
		t.Fatal(err)
	}
	fresh := client.New(a.Hub, client.Options{})
	if got := allIDs(t, fresh, client.Query{CreatedFrom: from}); len(got) != 25 {
		t.Fatalf("without an index the scan finds all 25: got %d", len(got))
	}
	n, err := a.Hub.BackfillIndex(ctx)
	if err != nil || n != 25 {
		t.Fatalf("backfill: %d rows, %v", n, err)
	}
	if ok, err := a.Hub.IndexComplete(ctx); err != nil || !ok {
		t.Fatalf("index complete after backfill: %v %v", ok, err)
	}
	entries, _, err = a.Hub.QueryIndex(ctx, azstoreQuery(from, time.Time{}))
	if err != nil || len(entries) != 25 {
		t.Fatalf("index after backfill: %d rows, %v", len(entries), err)
	}
	if got := allIDs(t, client.New(a.Hub, client.Options{}), client.Query{CreatedFrom: from, PageSize: 10}); len(got) != 25 {
		t.Errorf("the index finds all 25 after the backfill: got %d", len(got))
	}
}

func ptr[T any](v T) *T { return &v }

func azstoreQuery(from, to time.Time) azstore.IndexQuery {
	return azstore.IndexQuery{From: from, To: to, Top: 1000}
}

// The worker indexes the executions it starts itself: a sub-orchestration
// is found by a created-time query as the scan finds it.
func TestIndexHoldsSubOrchestrations(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, "IndexSubOrch", map[string]string{}, true)
	defer stop(t, a, true)
	from := time.Now().UTC()
	id, err := a.Client.StartNew(ctx, "SubOrchestrationDemo", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st, err := a.Client.WaitForCompletion(wctx, id, 50*time.Millisecond); err != nil || st.RuntimeStatus != history.StatusCompleted {
		t.Fatalf("wait: %v %v", st, err)
	}
	q := client.Query{CreatedFrom: from}
	got, want := allIDs(t, a.Client, q), allIDs(t, client.New(a.Hub, client.Options{IgnoreIndex: true}), q)
	if len(want) != 2 || !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("index gave %v, scan %v (want the parent and its child)", got, want)
	}
}
