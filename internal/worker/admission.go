package worker

import (
	"context"
	"sync"

	"github.com/durable-go/durable/internal/history"
)

// admission bounds how many instances started in memory (StartLocal) run
// at once. Without it a burst of a thousand starts would make a thousand
// instances share the engine's slots, and each would finish only near the
// end of the burst; with it, the first ones finish first and the others
// wait their turn, in order, as messages wait in a queue.
//
// An instance holds its place while it waits for activities run in this
// process; it gives it up once it finishes or waits for anything else (an
// event, a timer, a sub-orchestration), which could take forever.
type admission struct {
	w      *Worker
	mu     sync.Mutex
	limit  int
	active int
	queue  []history.TaskMessage
}

func newAdmission(w *Worker) *admission {
	return &admission{w: w, limit: 2 * w.opts.MaxConcurrentOrchestrations}
}

// offer runs a start now when there is room, or queues it.
func (a *admission) offer(tm history.TaskMessage) {
	a.mu.Lock()
	if a.active >= a.limit {
		a.queue = append(a.queue, tm)
		a.mu.Unlock()
		return
	}
	a.active++
	a.mu.Unlock()
	if !a.w.deliverStart(tm) {
		a.release()
	}
}

// release gives up a place and admits the next queued start.
func (a *admission) release() {
	for {
		a.mu.Lock()
		a.active--
		if len(a.queue) == 0 || a.active >= a.limit {
			a.mu.Unlock()
			return
		}
		tm := a.queue[0]
		a.queue = a.queue[1:]
		a.active++
		a.mu.Unlock()
		if a.w.deliverStart(tm) {
			return
		}
		// Its partition is gone: deliverStart sent it to the queue; the
		// place is free again.
	}
}

// spill sends the starts still waiting to their control queues, at
// shutdown, so that whoever owns their partitions next runs them.
func (a *admission) spill(ctx context.Context) {
	a.mu.Lock()
	queued := a.queue
	a.queue = nil
	a.mu.Unlock()
	for _, tm := range queued {
		a.w.sendDurably(ctx, tm)
	}
}

// spillPartition sends the waiting starts of one partition to its control
// queue when the partition is given up, so that its next owner runs them
// even if this process then dies.
func (a *admission) spillPartition(ctx context.Context, partition int) {
	a.mu.Lock()
	var mine []history.TaskMessage
	kept := a.queue[:0]
	for _, tm := range a.queue {
		if a.w.hub.PartitionOf(tm.OrchestrationInstance.InstanceID) == partition {
			mine = append(mine, tm)
		} else {
			kept = append(kept, tm)
		}
	}
	a.queue = kept
	a.mu.Unlock()
	for _, tm := range mine {
		a.w.sendDurably(ctx, tm)
	}
}

// deliverStart hands an admitted start to its instance when this worker
// still owns the partition, and reports whether it did; otherwise the start
// goes to the instance's control queue.
func (w *Worker) deliverStart(tm history.TaskMessage) bool {
	id := tm.OrchestrationInstance.InstanceID
	p := w.hub.PartitionOf(id)
	epoch, ok := w.parts.ownedEpoch(p)
	if !ok || w.stopping.Load() {
		w.sendDurably(context.WithoutCancel(w.ctx), tm)
		return false
	}
	w.insts.deliver(id, p, epoch, []delivery{{ev: tm.Received(), admitted: true}}, false)
	return true
}

// holdsAdmission reports whether an admitted instance keeps its place: it
// is running and waits for activities of this process.
func holdsAdmission(snap *snapshot) bool {
	return snap != nil && !snap.done() && snap.open > 0
}
