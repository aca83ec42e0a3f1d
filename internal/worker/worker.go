// Package worker runs orchestrations and activities on a task hub: it owns
// control-queue partitions through leases, polls their queues, replays
// orchestrations with internal/durable and checkpoints them with
// internal/azstore.
//
// Activities scheduled by an instance this worker owns run in this process
// and hand their results straight back to the instance, without a queue
// round trip; the TaskScheduled event in history is what makes that
// durable, because a worker that takes over a partition after a crash
// re-dispatches every activity that history shows as unfinished, for the
// instances the partition's in-flight rows name (see recoverPartition).
// Activities beyond the local backlog go through the shared work-item
// queue, where any worker can pick them up, unless the worker serves the
// hub alone.
//
// Orchestrations that wait stay parked between episodes (durable.Session),
// so that an episode costs what it adds; replay stays the recovery path.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/telemetry"
)

// Options configure a Worker. Zero values take the Durable Functions
// defaults noted on each field.
type Options struct {
	Hub      *azstore.Hub
	Registry *durable.Registry
	Logger   *slog.Logger
	// WorkerID names this worker in leases; default host name, pid and a
	// random suffix, so a restarted process never mistakes old leases for
	// its own.
	WorkerID string
	// MaxQueuePollingInterval caps the empty-poll backoff (default 30 s).
	MaxQueuePollingInterval time.Duration
	// ControlQueueBatchSize is the dequeue size (default 32).
	ControlQueueBatchSize int
	// ControlQueueVisibilityTimeout hides dequeued control messages (5 min).
	ControlQueueVisibilityTimeout time.Duration
	// WorkItemQueueVisibilityTimeout hides dequeued activity messages (5 min).
	WorkItemQueueVisibilityTimeout time.Duration
	// MaxConcurrentActivities bounds running activities (default 10).
	MaxConcurrentActivities int
	// MaxConcurrentOrchestrations bounds running episodes (default 10).
	MaxConcurrentOrchestrations int
	// LocalActivityBacklog bounds activities queued in this process; more go
	// to the work-item queue (default 2 × MaxConcurrentActivities).
	LocalActivityBacklog int
	// LeaseDuration is how long a partition lease lasts unrenewed (30 s).
	LeaseDuration time.Duration
	// LeaseRenewInterval is how often leases are renewed and balanced (10 s).
	LeaseRenewInterval time.Duration
	// MaxCachedInstances bounds the histories kept in memory (10,000).
	MaxCachedInstances int
	// ShutdownGrace is how long Stop waits for running activities (10 s).
	ShutdownGrace time.Duration
	// Versions, when set, is the version policy of this worker (host.json's
	// defaultVersion and versionMatchStrategy/versionFailureStrategy): an
	// instance whose version it does not run fails, or is rejected (see
	// reject). Nil runs every version.
	Versions *durable.VersionPolicy
	// Tracer emits the orchestrations' and activities' spans; nil is
	// tracing off.
	Tracer *telemetry.Tracer
	// Metrics records the orchestrations', activities', checkpoints',
	// partitions' and recovery's metrics; nil is metrics off.
	Metrics *telemetry.Metrics
}

func (o *Options) defaults() error {
	if o.Hub == nil || o.Registry == nil {
		return errors.New("worker: Hub and Registry are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WorkerID == "" {
		host, _ := os.Hostname()
		o.WorkerID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.MaxQueuePollingInterval, 30*time.Second)
	def(&o.ControlQueueVisibilityTimeout, 5*time.Minute)
	def(&o.WorkItemQueueVisibilityTimeout, 5*time.Minute)
	def(&o.LeaseDuration, 30*time.Second)
	def(&o.LeaseRenewInterval, 10*time.Second)
	def(&o.ShutdownGrace, 10*time.Second)
	defInt(&o.ControlQueueBatchSize, 32)
	defInt(&o.MaxConcurrentActivities, 10)
	defInt(&o.MaxConcurrentOrchestrations, 10)
	defInt(&o.LocalActivityBacklog, 2*o.MaxConcurrentActivities)
	defInt(&o.MaxCachedInstances, 10000)
	if o.LeaseRenewInterval >= o.LeaseDuration {
		return fmt.Errorf("worker: lease renew interval %s must be shorter than the lease duration %s", o.LeaseRenewInterval, o.LeaseDuration)
	}
	return nil
}

// Worker processes one task hub. Start it once; Stop it once.
type Worker struct {
	opts   Options
	hub    *azstore.Hub
	reg    *durable.Registry
	log    *slog.Logger
	ctx    context.Context // cancelled by Stop after draining
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// hold is how long a dequeued control message stays hidden at a time;
	// the renewer extends it while the message is held.
	hold      time.Duration
	parts     *partitions
	insts     *instances
	acts      *activities
	admit     *admission
	orchSlots chan struct{}
	stopping  atomic.Bool
	subsMu    sync.Mutex
	subs      map[string][]chan *layout.InstanceRow
	episodes  atomic.Int64
	// rejected counts batches left for a worker of another version.
	rejected  atomic.Int64
	resends   resends
	starts    starts
	parked    atomic.Int64 // orchestrations parked in sessions
	unjournal unjournal
	// recreating serializes re-creating a hub deleted under the worker;
	// lastRecreate rate-limits it.
	recreating   sync.Mutex
	lastRecreate time.Time
	started      atomic.Bool
	lifecycle    sync.Mutex // serializes Start and Stop
	// stopGauges ends the reports of the worker's gauges (see
	// telemetry.Metrics.ObserveWorker).
	stopGauges func()
}

// New validates options and builds a Worker.
func New(opts Options) (*Worker, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	w := &Worker{opts: opts, hub: opts.Hub, reg: opts.Registry,
		log:       opts.Logger.With("worker", opts.WorkerID, "hub", opts.Hub.Name()),
		orchSlots: make(chan struct{}, opts.MaxConcurrentOrchestrations),
		subs:      map[string][]chan *layout.InstanceRow{},
	}
	w.hold = min(opts.ControlQueueVisibilityTimeout, maxHold)
	w.insts = newInstances(w)
	w.acts = newActivities(w)
	w.admit = newAdmission(w)
	w.parts = newPartitions(w)
	return w, nil
}

// maxHold caps how long a dequeued control message is hidden at a time.
// After a crash its messages are visible again at most this long after the
// lease runs out, which is what a new owner waits for before its first
// dequeue; so it bounds, with the lease duration, how long a crashed
// worker's partitions go unprocessed. The renewer keeps held messages
// hidden past it.
const maxHold = 6 * time.Second

// ID is the worker's lease owner name.
func (w *Worker) ID() string { return w.opts.WorkerID }

// Start creates the task hub if needed and starts polling. It returns once
// the first lease round is done, so an idle single worker owns its
// partitions by the time Start returns.
func (w *Worker) Start(ctx context.Context) error {
	w.lifecycle.Lock()
	defer w.lifecycle.Unlock()
	if w.started.Load() {
		return errors.New("worker: already started")
	}
	if w.stopping.Load() {
		return errors.New("worker: stopped")
	}
	// A failed start leaves the worker unstarted, so the caller can retry
	// (the handler does while storage comes up).
	if err := w.hub.CreateIfNotExists(ctx); err != nil {
		return fmt.Errorf("worker: prepare task hub %s: %w", w.hub.Name(), err)
	}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.started.Store(true)
	w.acts.start()
	if err := w.parts.balance(ctx); err != nil {
		w.log.Warn("first lease round failed; retrying in the background", "error", err)
	}
	w.wg.Add(5)
	go func() {
		defer w.wg.Done()
		w.deleteInFlightRows()
	}()
	go func() {
		defer w.wg.Done()
		w.parts.loop()
	}()
	go func() {
		defer w.wg.Done()
		w.renewHeld()
	}()
	go func() {
		defer w.wg.Done()
		w.sweepPending(2 * w.opts.LeaseDuration)
	}()
	go func() {
		defer w.wg.Done()
		w.backfillIndex()
	}()
	w.stopGauges = func() {}
	if w.opts.Metrics.Enabled() {
		// The backlog costs a queue properties request and a peek per owned
		// partition per collection (the export interval), nothing between.
		backlog := func(ctx context.Context, partition int) (int64, time.Duration, error) {
			b, err := w.hub.ControlBacklog(ctx, partition)
			return b.Messages, b.OldestAge, err
		}
		stop, err := w.opts.Metrics.ObserveWorker(telemetry.WorkerGauges{Owned: w.parts.owned, Backlog: backlog})
		if err != nil {
			w.log.Warn("the worker's gauges are not reported", "error", err)
		} else {
			w.stopGauges = stop
		}
	}
	w.log.Info("worker started", "partitions", w.hub.PartitionCount())
	return nil
}

// Stop drains the worker: no new messages are taken, running episodes
// finish, running activities get ShutdownGrace to finish, and partitions
// are released so another worker can take them at once. Work that did not
// finish is left for the next owner's recovery.
func (w *Worker) Stop(ctx context.Context) error {
	w.lifecycle.Lock()
	defer w.lifecycle.Unlock()
	if !w.stopping.CompareAndSwap(false, true) || !w.started.Load() {
		return nil
	}
	w.log.Info("worker stopping")
	w.parts.stopPolling()
	w.insts.waitIdle(ctx)
	w.acts.drain(ctx, w.opts.ShutdownGrace)
	w.insts.waitIdle(ctx)
	// Progress kept in memory is checkpointed, so that the next owner does
	// not run those activities again.
	w.insts.flushAll()
	w.insts.waitIdle(ctx)
	w.admit.spill(ctx)
	err := w.parts.releaseAll(ctx)
	w.stopGauges()
	w.cancel()
	w.wg.Wait()
	w.log.Info("worker stopped")
	return err
}

// renewHeld keeps the control messages this worker holds hidden while it
// owns their partitions, renewing each once a third of its hold has passed.
// It stops renewing a partition's messages as soon as the lease has run out
// by this worker's clock, so that a new owner knows when they are visible.
func (w *Worker) renewHeld() {
	every := w.hold / 3
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		msgs := w.insts.toRenew(time.Now().Add(-every), w.parts.owns)
		_ = parallel(w.ctx, len(msgs), 8, func(ctx context.Context, i int) error {
			if err := w.hub.Renew(ctx, msgs[i], w.hold); err != nil && !errors.Is(err, azstore.ErrConflict) && ctx.Err() == nil {
				w.log.Warn("renewing a held message failed", "messageId", msgs[i].ID, "error", err)
			}
			return nil
		})
	}
}

// hubMissing re-creates the task hub when err says that part of it is
// gone: someone deleted the hub under the running app. Work started after
// that then runs at once instead of failing until the app restarts. It
// reports whether err was such an error.
func (w *Worker) hubMissing(ctx context.Context, err error) bool {
	if !azstore.IsHubMissing(err) {
		return false
	}
	w.recreating.Lock()
	defer w.recreating.Unlock()
	if time.Since(w.lastRecreate) < time.Second {
		return true
	}
	w.lastRecreate = time.Now()
	w.log.Warn("the task hub is missing (deleted while the app runs?); creating it again", "error", err)
	if cerr := w.hub.CreateIfNotExists(ctx); cerr != nil {
		w.log.Error("re-creating the task hub failed", "error", cerr)
	}
	return true
}

// Notify tells the worker that a message for instanceID was just queued,
// so the partition's poller skips its backoff. Clients in the same process
// call it; other processes fall back on polling.
func (w *Worker) Notify(instanceID string) {
	w.parts.poke(w.hub.PartitionOf(instanceID))
}

// StartLocal takes the start of a new instance in memory when this worker
// owns its partition, saving the start message's three queue requests.
// The caller has written the instance row: should this worker die before
// the start's first checkpoint, the next owner's recovery (or, without a
// takeover, the periodic look for Pending instances without history)
// sends the start from the row.
func (w *Worker) StartLocal(tm history.TaskMessage) bool {
	if w.stopping.Load() {
		return false
	}
	if _, ok := w.parts.ownedEpoch(w.hub.PartitionOf(tm.OrchestrationInstance.InstanceID)); !ok {
		return false
	}
	w.admit.offer(tm)
	return true
}

// Subscribe returns a channel that receives instanceID's final instance
// row when this worker sees the instance reach a terminal status. cancel
// releases the subscription.
func (w *Worker) Subscribe(instanceID string) (done <-chan *layout.InstanceRow, cancel func()) {
	ch := make(chan *layout.InstanceRow, 1)
	w.subsMu.Lock()
	w.subs[instanceID] = append(w.subs[instanceID], ch)
	w.subsMu.Unlock()
	return ch, func() {
		w.subsMu.Lock()
		defer w.subsMu.Unlock()
		list := w.subs[instanceID]
		for i, c := range list {
			if c == ch {
				w.subs[instanceID] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(w.subs[instanceID]) == 0 {
			delete(w.subs, instanceID)
		}
	}
}

// publishDone hands a finished instance's row, as just written, to its
// subscribers, so in-process waiters need not read it back.
func (w *Worker) publishDone(instanceID string, row *layout.InstanceRow) {
	w.subsMu.Lock()
	list := w.subs[instanceID]
	delete(w.subs, instanceID)
	w.subsMu.Unlock()
	for _, ch := range list {
		ch <- row // buffered, one send per subscription
	}
}

// Stats are counters for tests and benchmarks.
type Stats struct {
	Episodes        int64
	OwnedPartitions []int
	CachedInstances int
	LocalActivities int64
	QueueActivities int64
	// Rejected counts the batches rejected for their version (see
	// Options.Versions): each is a look at the instance, once per period
	// while it waits for a worker that runs its version.
	Rejected int64
}

// OwnsPartition reports whether this worker holds an unexpired lease on
// control-queue partition i. At most one worker of a hub does at a time
// (give or take clock skew within the lease margin), which makes it a
// cheap way to pick one app instance for hub-wide chores such as
// retention.
func (w *Worker) OwnsPartition(i int) bool {
	_, ok := w.parts.ownedEpoch(i)
	return ok
}

// Stats reads the worker's counters.
func (w *Worker) Stats() Stats {
	return Stats{Episodes: w.episodes.Load(), OwnedPartitions: w.parts.owned(), CachedInstances: w.insts.size(),
		LocalActivities: w.acts.localRuns.Load(), QueueActivities: w.acts.queueRuns.Load(), Rejected: w.rejected.Load()}
}
