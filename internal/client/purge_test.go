package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/testutil"
)

// storedHub is an app whose worker does not run, on a created hub, for
// tests that write rows directly.
func storedHub(t *testing.T) *app.App {
	t.Helper()
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, false)
	if err := a.Hub.CreateIfNotExists(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Hub.Delete(context.Background()) })
	return a
}

// putInstance writes an instance row and events history events, as a
// finished or running instance would have; big puts a payload large
// enough to go to blobs in both the row and the history.
func putInstance(t *testing.T, hub *azstore.Hub, id string, status history.RuntimeStatus, created time.Time, events int, big bool) {
	t.Helper()
	ctx := context.Background()
	out := `"done"`
	if big {
		out = `"` + strings.Repeat("x", 70*1024) + `"`
	}
	row := &layout.InstanceRow{InstanceID: id, Name: "HelloCities5", ExecutionID: "exec-" + id, RuntimeStatus: status,
		CreatedTime: created, LastUpdatedTime: created, Output: out, TaskHubName: hub.Name()}
	if status.IsTerminal() {
		row.CompletedTime = &created
	}
	// As a start writes it: the index row first.
	if err := hub.PutIndex(ctx, id, created); err != nil {
		t.Fatal(err)
	}
	if err := hub.InsertInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	evs := []history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: created, Name: "HelloCities5", Input: out}}
	for i := 1; i < events; i++ {
		evs = append(evs, history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: created, Data: fmt.Sprint(i)})
	}
	if _, err := hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: row.ExecutionID, Events: evs}); err != nil {
		t.Fatal(err)
	}
}

func historyRows(t *testing.T, hub *azstore.Hub, id string) int {
	t.Helper()
	hs, err := hub.LoadHistory(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return hs.Rows
}

func blobNames(t *testing.T, hub *azstore.Hub) []string {
	t.Helper()
	names, _, err := hub.ListBlobNames(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestPurgeRangeDeletesOnlyWhatMatches purges a range with more than one
// History key chunk, payload blobs (row, history and a queue message, with
// an ID whose escaped form differs) and neighbours that must stay.
func TestPurgeRangeDeletesOnlyWhatMatches(t *testing.T) {
	a := storedHub(t)
	ctx := context.Background()
	hub := a.Hub
	old := time.Now().UTC().Add(-2 * time.Hour)
	recent := time.Now().UTC().Add(-time.Minute)

	var gone, kept []string
	for i := 0; i < 230; i++ {
		id := fmt.Sprintf("p-%03d", i)
		putInstance(t, hub, id, history.StatusCompleted, old, 3+i%5, false)
		gone = append(gone, id)
	}
	// Blobs under both prefixes of an ID that needs escaping.
	bigID := "p-big^1"
	putInstance(t, hub, bigID, history.StatusFailed, old, 2, true)
	gone = append(gone, bigID)
	msg := history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: bigID},
		Event: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: old, Name: "e", Input: `"` + strings.Repeat("y", 80*1024) + `"`}}
	if err := hub.SendToInstance(ctx, msg, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Between the purged ones in key order: unfinished, too recent, and
	// a status not asked for.
	for i, st := range []history.RuntimeStatus{history.StatusRunning, history.StatusPending, history.StatusSuspended} {
		id := fmt.Sprintf("p-%03d-live", i*50)
		putInstance(t, hub, id, st, old, 4, i == 0)
		kept = append(kept, id)
	}
	putInstance(t, hub, "p-100-recent", history.StatusCompleted, recent, 4, false)
	putInstance(t, hub, "p-150-term", history.StatusTerminated, old, 4, false)
	kept = append(kept, "p-100-recent", "p-150-term")
	keptRows := map[string]int{}
	for _, id := range kept {
		keptRows[id] = historyRows(t, hub, id)
	}
	var keptBlobs []string
	for _, n := range blobNames(t, hub) {
		if strings.HasPrefix(n, "p-000-live/") {
			keptBlobs = append(keptBlobs, n)
		}
	}
	if len(keptBlobs) == 0 {
		t.Fatal("the running instance's payload did not go to a blob")
	}
	var rawBlob bool
	for _, n := range blobNames(t, hub) {
		rawBlob = rawBlob || strings.HasPrefix(n, bigID+"/")
	}
	if !rawBlob {
		t.Fatalf("no message blob under the raw ID: %v", blobNames(t, hub))
	}

	var mu sync.Mutex
	var reports []int
	n, err := a.Client.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: old.Add(-time.Minute), CreatedTo: recent.Add(-30 * time.Second),
		Statuses: []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed}}, func(done, total int) {
		mu.Lock()
		reports = append(reports, done)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(gone) {
		t.Errorf("purged %d, want %d", n, len(gone))
	}
	if len(reports) != len(gone) || reports[len(reports)-1] != len(gone) {
		t.Errorf("progress reported %d times, last %v; want %d", len(reports), reports[len(reports)-1:], len(gone))
	}
	for _, id := range gone {
		if _, err := hub.GetInstance(ctx, id); !errors.Is(err, azstore.ErrNotFound) {
			t.Errorf("%s: row still there (%v)", id, err)
		}
		if r := historyRows(t, hub, id); r != 0 {
			t.Errorf("%s: %d history rows left", id, r)
		}
	}
	for _, id := range kept {
		if _, err := hub.GetInstance(ctx, id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if r := historyRows(t, hub, id); r != keptRows[id] {
			t.Errorf("%s: %d history rows, want %d", id, r, keptRows[id])
		}
	}
	left := blobNames(t, hub)
	if strings.Join(left, ",") != strings.Join(keptBlobs, ",") {
		t.Errorf("blobs left %v, want only the running instance's %v", left, keptBlobs)
	}

	// A wider purge takes the two finished ones left out before.
	if n, err := a.Client.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: old.Add(-time.Minute)}, nil); err != nil || n != 2 {
		t.Errorf("second purge: %d, %v; want 2 (the Terminated and the recent one)", n, err)
	}
}

// TestPurgeManyOutcomes purges a list of IDs with unknown, unfinished and
// repeated ones, and finished ones far apart in key order with much
// history between them, so that the key query gives up on the range.
func TestPurgeManyOutcomes(t *testing.T) {
	a := storedHub(t)
	ctx := context.Background()
	hub := a.Hub
	old := time.Now().UTC().Add(-time.Hour)
	putInstance(t, hub, "a-first", history.StatusCompleted, old, 5, false)
	for i := 0; i < 3; i++ {
		putInstance(t, hub, fmt.Sprintf("m-between-%d", i), history.StatusCompleted, old, 900, false)
	}
	putInstance(t, hub, "z-last", history.StatusCanceled, old, 120, false)
	putInstance(t, hub, "r-running", history.StatusRunning, old, 5, false)

	got := map[string]error{}
	n, err := a.Client.PurgeMany(ctx, []string{"z-last", "nope", "r-running", "a-first", "z-last", "bad/id?"}, func(id string, err error) {
		if _, dup := got[id]; dup && id != "z-last" {
			t.Errorf("%s reported twice", id)
		}
		got[id] = err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	var se *client.StateError
	if got["a-first"] != nil || got["z-last"] != nil || !errors.Is(got["nope"], client.ErrNotFound) ||
		!errors.As(got["r-running"], &se) || got["bad/id?"] == nil {
		t.Errorf("outcomes: %v", got)
	}
	for _, id := range []string{"a-first", "z-last"} {
		if r := historyRows(t, hub, id); r != 0 {
			t.Errorf("%s: %d history rows left", id, r)
		}
	}
	for i := 0; i < 3; i++ {
		if r := historyRows(t, hub, fmt.Sprintf("m-between-%d", i)); r != 901 {
			t.Errorf("m-between-%d: %d rows, want 901", i, r)
		}
	}
	if err := a.Client.Purge(ctx, "r-running"); !errors.As(err, &se) {
		t.Errorf("Purge of a running instance: %v", err)
	}
	if err := a.Client.Purge(ctx, "a-first"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Purge of a purged instance: %v", err)
	}
	if err := a.Client.Purge(ctx, "m-between-1"); err != nil {
		t.Errorf("Purge: %v", err)
	}
}

// TestPurgeStorageGuards checks the conditions that keep a purge from
// deleting what changed after it was selected.
func TestPurgeStorageGuards(t *testing.T) {
	a := storedHub(t)
	ctx := context.Background()
	hub := a.Hub
	putInstance(t, hub, "g", history.StatusCompleted, time.Now().UTC(), 3, false)
	pk := layout.EscapePartitionKey("g")
	keys, _, err := hub.ScanHistoryKeys(ctx, pk, pk, map[string]bool{pk: true}, 0)
	if err != nil || keys[pk] == nil || len(keys[pk].RowKeys) != 3 || keys[pk].SentinelETag == "" {
		t.Fatalf("keys %+v, %v", keys[pk], err)
	}
	row, err := hub.GetInstance(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint after the keys were read: the delete must not happen.
	hs, _ := hub.LoadHistory(ctx, "g")
	if _, err := hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: "g", ExecutionID: hs.ExecutionID, FirstSeq: 3,
		Events: []history.Event{{Type: history.GenericEvent, EventID: -1, Timestamp: time.Now().UTC()}}, ETag: hs.ETag}); err != nil {
		t.Fatal(err)
	}
	if err := hub.DeleteHistoryRows(ctx, "g", keys[pk]); !errors.Is(err, azstore.ErrConflict) {
		t.Errorf("delete on a stale sentinel: %v", err)
	}
	if r := historyRows(t, hub, "g"); r != 5 {
		t.Errorf("%d rows after a refused delete, want 5", r)
	}
	now := time.Now().UTC()
	if err := hub.PatchInstance(ctx, "g", layout.InstancePatch{LastUpdatedTime: &now}, nil); err != nil {
		t.Fatal(err)
	}
	if err := hub.DeleteInstanceRowIfMatch(ctx, "g", row.ETag); !errors.Is(err, azstore.ErrConflict) {
		t.Errorf("row delete on a stale ETag: %v", err)
	}
	// The client reads it again, finds it still finished, and purges it.
	if err := a.Client.Purge(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if r := historyRows(t, hub, "g"); r != 0 {
		t.Errorf("%d rows left", r)
	}
}
