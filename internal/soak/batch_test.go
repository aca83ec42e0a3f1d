package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// TestBulkRaiseEventUnderKill runs a bulk raiseEvent over Counters by ID prefix and SIGKILLs
// the only handler once the bulk operation shows progress, then starts a new one. The bulk
// operation must finish with every matching Counter counted once (matched == succeeded ==
// N), and every Counter's total must show its event exactly once: 1 for the matching ones,
// whose Add each continues as new (the hardest case for de-duplication), 0 for the others.
// A small batch size makes the operation take many steps, so that the kill lands mid-way.
func TestBulkRaiseEventUnderKill(t *testing.T) {
	sz := sizeOf(t).once()
	sz.parallel(t)
	matching, others, batchSize := 200, 20, 10
	if sz.full {
		matching, batchSize = 1000, 25
	}
	sz.forSeeds(t, "bulk raiseEvent under a kill", func(t *testing.T, _ *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 1)
		var wants []want
		for i := range matching {
			wants = append(wants, wantCounter(fmt.Sprintf("bulk-%04d", i), 1, 1))
		}
		for i := range others {
			wants = append(wants, wantCounter(fmt.Sprintf("other-%04d", i), 0, 0))
		}
		// The bulk operation's own instance completes too.
		tr := s.track(len(wants) + 1)
		startAll(t, c, wants)

		status, body, err := c.do(http.MethodPost, fmt.Sprintf("/durabletask/batch/raiseEvent?instanceIdPrefix=bulk-&eventName=Add&batchSize=%d", batchSize), []byte("1"))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("start the bulk operation: HTTP %d %s %v", status, body, err)
		}
		var cs struct{ ID string }
		if err := json.Unmarshal(body, &cs); err != nil || cs.ID == "" {
			t.Fatalf("check-status body %s: %v", body, err)
		}

		// Kill once a few pages are done, but well before the end.
		var atKill client.BatchProgress
		deadline := time.Now().Add(time.Minute)
		for atKill.Matched < 4*batchSize {
			if time.Now().After(deadline) {
				t.Fatalf("no progress within a minute: %+v", atKill)
			}
			time.Sleep(20 * time.Millisecond)
			atKill = progressOf(t, s, cs.ID)
		}
		c.kill(c.handlers()[0])
		atKill = progressOf(t, s, cs.ID)
		if atKill.Done {
			t.Fatalf("the bulk operation finished before the kill (%+v): the test proves nothing", atKill)
		}
		t0 := time.Now()
		c.mustStart()

		ctx, cancel := context.WithTimeout(context.Background(), sz.deadline)
		defer cancel()
		st, err := s.c.WaitForCompletion(ctx, cs.ID, 200*time.Millisecond)
		if err != nil {
			t.Fatalf("bulk operation %s did not finish after the kill: %v (progress %+v)", cs.ID, err, progressOf(t, s, cs.ID))
		}
		var sum client.BatchSummary
		if st.RuntimeStatus != history.StatusCompleted || json.Unmarshal(st.Output, &sum) != nil {
			t.Fatalf("bulk operation %s: %s %s", cs.ID, st.RuntimeStatus, st.Output)
		}
		recovered := time.Since(t0)
		if sum.Matched != matching || sum.Succeeded != matching || sum.Failed != 0 {
			t.Errorf("summary %+v, want matched = succeeded = %d, failed = 0", sum, matching)
		}
		t.Logf("bulk raiseEvent over %d of %d Counters, batch size %d: killed at %d matched (%d pages); finished %s after the restart; summary %d/%d/%d",
			matching, matching+others, batchSize, atKill.Matched, atKill.Pages, recovered.Round(100*time.Millisecond), sum.Matched, sum.Succeeded, sum.Failed)

		stopAll(t, c, wants)
		x := finish(t, s, c, tr, wants, sz.deadline)
		x.notes = fmt.Sprintf("killed at %d/%d matched", atKill.Matched, matching)
		return x
	})
}

// startAll starts the Counters a few at a time.
func startAll(t *testing.T, c *cluster, wants []want) {
	t.Helper()
	forAll(wants, func(w want) {
		if err := c.startInstance("Counter", w.id, 0); err != nil {
			t.Errorf("%v", err)
		}
	})
}

// stopAll raises Stop to every Counter, so that each completes with its total.
func stopAll(t *testing.T, c *cluster, wants []want) {
	t.Helper()
	forAll(wants, func(w want) {
		if err := c.stopCounter(w.id); err != nil {
			t.Errorf("%v", err)
		}
	})
}

func forAll(wants []want, fn func(w want)) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, w := range wants {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(w)
		})
	}
	wg.Wait()
}

// progressOf reads the bulk operation's custom status from storage; zero before it has any.
func progressOf(t *testing.T, s *store, id string) client.BatchProgress {
	t.Helper()
	var p client.BatchProgress
	st, err := s.c.GetStatus(context.Background(), id, client.StatusOptions{HideInput: true})
	if err == nil && len(st.CustomStatus) > 0 {
		_ = json.Unmarshal(st.CustomStatus, &p)
	}
	return p
}
