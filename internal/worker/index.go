package worker

import (
	"time"
)

// Backfilling the instance index of a hub made before it existed.
const (
	// backfillDelay lets starts that found no index table (made by clients
	// before this worker created it) write their instance rows first, so
	// that the backfill's one pass over the Instances table sees them.
	backfillDelay = 10 * time.Second
	// backfillRetry is how often a worker that is not the backfiller, or
	// whose backfill failed, looks again.
	backfillRetry = time.Minute
)

// backfillIndex indexes the instances of a hub that predates the instance
// index, once: the worker owning partition 0 does it, so that a scaled-out
// app reads the Instances table once, not once per worker. Until the
// index is marked complete, queries scan the Instances table as before.
func (w *Worker) backfillIndex() {
	ctx := w.ctx
	wait := backfillDelay
	for {
		done, err := w.hub.IndexComplete(ctx)
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = backfillRetry
		if _, owner := w.parts.ownedEpoch(0); !owner {
			continue
		}
		start := time.Now()
		n, err := w.hub.BackfillIndex(ctx)
		if err != nil {
			w.log.Warn("indexing the hub's existing instances failed; retrying later", "indexed", n, "error", err)
			continue
		}
		w.log.Info("indexed the hub's existing instances", "instances", n, "took", time.Since(start))
		return
	}
}
