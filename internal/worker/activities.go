package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/telemetry"
)

// aloneBacklog is the room in the local backlog's channel of a worker that serves the hub alone,
// enough for a fan-out of a thousand activities.
const aloneBacklog = 1024

// activityItem is one activity to run: scheduled locally by an instance
// this worker owns (msg nil), or taken from the work-item queue.
type activityItem struct {
	tm        history.TaskMessage
	partition int
	msg       *azstore.Message
}

// activities runs activity code with bounded concurrency.
type activities struct {
	w         *Worker
	local     chan activityItem
	queued    chan activityItem
	reserved  atomic.Int64
	running   atomic.Int64
	localRuns atomic.Int64
	queueRuns atomic.Int64
	queuePoke chan struct{}
	mu        sync.Mutex
	inFlight  map[int]int // local activities per partition, queued or running
	// overflow holds, in order, local activities the channel local had no
	// room for (a worker alone takes fan-outs of any width); feed wakes
	// the goroutine that moves them on.
	overflow  []activityItem
	feed      chan struct{}
	drained   chan struct{}
	stopQueue context.CancelFunc
	wg        sync.WaitGroup
}

func newActivities(w *Worker) *activities {
	return &activities{w: w, local: make(chan activityItem, max(w.opts.LocalActivityBacklog, aloneBacklog)),
		queued: make(chan activityItem), queuePoke: make(chan struct{}, 1), inFlight: map[int]int{}, feed: make(chan struct{}, 1),
		drained: make(chan struct{})}
}

func (a *activities) start() {
	w := a.w
	for i := 0; i < w.opts.MaxConcurrentActivities; i++ {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.runLoop()
		}()
	}
	ctx, cancel := context.WithCancel(w.ctx)
	a.stopQueue = cancel
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		a.pollWorkItems(ctx)
	}()
	go func() {
		defer a.wg.Done()
		a.feedOverflow()
	}()
}

// reserve claims a slot in the local backlog; the slot is used by submit
// after the checkpoint, so submit never blocks.
func (a *activities) reserve() bool {
	if a.w.parts.alone.Load() {
		// No other worker serves the hub: the work-item queue would only
		// carry activities back to this one, at three requests each. What
		// the backlog's channel does not hold waits in overflow, so a fan-out
		// of any width runs here; its memory is the activities' inputs, which
		// the instance's history in memory holds anyway.
		a.reserved.Add(1)
		return true
	}
	if a.reserved.Add(1) > int64(a.w.opts.LocalActivityBacklog) {
		a.reserved.Add(-1)
		return false
	}
	return true
}

func (a *activities) unreserve(n int) { a.reserved.Add(-int64(n)) }

func (a *activities) submit(partition int, tms []history.TaskMessage) {
	if len(tms) == 0 {
		return
	}
	a.mu.Lock()
	a.inFlight[partition] += len(tms)
	for i, tm := range tms {
		it := activityItem{tm: tm, partition: partition}
		if len(a.overflow) == 0 {
			select {
			case a.local <- it:
				continue
			default:
			}
		}
		// Behind what already waits, in order.
		for _, tm := range tms[i:] {
			a.overflow = append(a.overflow, activityItem{tm: tm, partition: partition})
		}
		break
	}
	a.mu.Unlock()
	select {
	case a.feed <- struct{}{}:
	default:
	}
}

// feedOverflow moves activities from overflow into the backlog's channel as
// it drains, until the worker's activities are drained.
func (a *activities) feedOverflow() {
	for {
		select {
		case <-a.feed:
		case <-a.drained:
			return
		}
		for {
			a.mu.Lock()
			if len(a.overflow) == 0 {
				a.overflow = nil
				a.mu.Unlock()
				break
			}
			it := a.overflow[0]
			a.overflow = a.overflow[1:]
			a.mu.Unlock()
			select {
			case a.local <- it:
			case <-a.drained:
				return
			}
		}
	}
}

// waiting counts the local activities not started yet.
func (a *activities) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.local) + len(a.overflow)
}

func (a *activities) inFlightFor(partition int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inFlight[partition]
}

func (a *activities) pokeQueue() {
	select {
	case a.queuePoke <- struct{}{}:
	default:
	}
}

func (a *activities) runLoop() {
	for {
		select {
		case it := <-a.local:
			a.reserved.Add(-1)
			a.run(it)
			a.mu.Lock()
			a.inFlight[it.partition]--
			if a.inFlight[it.partition] == 0 {
				delete(a.inFlight, it.partition)
			}
			a.mu.Unlock()
		case it := <-a.queued:
			a.run(it)
		case <-a.drained:
			return
		}
	}
}

// pollWorkItems takes activities from the shared queue when this worker
// has idle capacity and nothing local waiting.
func (a *activities) pollWorkItems(ctx context.Context) {
	w := a.w
	b := newPollBackoff(ctx, a.queuePoke, w.opts.MaxQueuePollingInterval)
	for ctx.Err() == nil {
		idle := w.opts.MaxConcurrentActivities - int(a.running.Load()) - a.waiting()
		if idle <= 0 {
			if !b.sleep(20 * time.Millisecond) {
				return
			}
			continue
		}
		got, err := a.dequeue(ctx, idle)
		if err != nil || len(got.Messages) == 0 {
			if err != nil && ctx.Err() == nil {
				w.log.Warn("dequeue from the work-item queue failed", "error", err)
			}
			if !b.idle() {
				return
			}
			continue
		}
		b.reset()
		for i, m := range got.Messages {
			it := activityItem{tm: m.Data.TaskMessage, partition: -1, msg: m}
			select {
			case a.queued <- it:
			case <-ctx.Done():
				// Shutting down: the items no runner took go back at once.
				bctx := context.WithoutCancel(ctx)
				for _, rest := range got.Messages[i:] {
					_ = w.hub.Abandon(bctx, rest, 0)
				}
				return
			}
		}
	}
}

// dequeue takes work items without letting ctx cut the request short (see
// Worker.dequeueControl): a dequeue abandoned at shutdown would hide its
// activities for the whole visibility timeout.
func (a *activities) dequeue(ctx context.Context, n int) (*azstore.Dequeued, error) {
	w := a.w
	return w.dequeueUncut(ctx, func(ctx context.Context) (*azstore.Dequeued, error) {
		return w.hub.DequeueWorkItems(ctx, n, w.opts.WorkItemQueueVisibilityTimeout)
	})
}

// run executes one activity and hands its result to the instance.
func (a *activities) run(it activityItem) {
	w := a.w
	a.running.Add(1)
	defer a.running.Add(-1)
	ev := it.tm.Event
	id := it.tm.OrchestrationInstance.InstanceID
	fn, _ := w.reg.Activity(ev.Name)
	ctx, endSpan := w.opts.Tracer.StartActivity(w.ctx, id, &ev)
	log := telemetry.ActivityLogger(ctx, w.log)
	began := time.Now()
	result := durable.ActivityResult(ctx, fn, ev, id, log)
	w.opts.Metrics.Activity(ev.Name, ev.Version, time.Since(began), result.Type == history.TaskFailed)
	endSpan(&result)
	result.Timestamp = time.Now().UTC()
	result.TargetExecutionID = it.tm.OrchestrationInstance.ExecutionID
	log.Debug("activity done", "instanceId", id, "taskId", ev.EventID, "name", ev.Name, "queued", it.msg != nil, "result", result.Type.String())
	if it.msg != nil {
		a.queueRuns.Add(1)
	} else {
		a.localRuns.Add(1)
	}
	w.deliverResult(it.tm.OrchestrationInstance, result)
	if it.msg != nil {
		if err := w.hub.DeleteMessage(context.WithoutCancel(w.ctx), it.msg); err != nil && !errors.Is(err, azstore.ErrConflict) {
			log.Warn("deleting a finished work item failed; it may run again", "instanceId", id, "error", err)
		}
	}
}

// deliverResult hands an activity result to its instance: in memory when
// this worker owns the instance's partition, otherwise through its control
// queue.
func (w *Worker) deliverResult(target history.OrchestrationInstance, ev history.Event) {
	p := w.hub.PartitionOf(target.InstanceID)
	if epoch, ok := w.parts.ownedEpoch(p); ok && !w.stopping.Load() {
		w.insts.deliver(target.InstanceID, p, epoch, []delivery{{ev: ev}}, false)
		return
	}
	w.sendDurably(context.WithoutCancel(w.ctx), history.TaskMessage{OrchestrationInstance: target, Event: ev})
}

// drain stops taking queued work and waits up to grace for local
// activities to finish. Local work that did not start stays recorded as
// unfinished in history; the partition is then released as needing
// recovery, so the next owner runs it.
func (a *activities) drain(ctx context.Context, grace time.Duration) {
	if a.stopQueue != nil {
		a.stopQueue()
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for a.running.Load() > 0 || a.waiting() > 0 {
		select {
		case <-deadline.C:
			a.w.log.Warn("shutdown grace ran out with activities unfinished; the next owner re-runs them",
				"running", a.running.Load(), "queued", a.waiting())
			close(a.drained)
			return
		case <-ctx.Done():
			close(a.drained)
			return
		case <-tick.C:
		}
	}
	close(a.drained)
}
