package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/telemetry"
)

// delivery is one event for an instance: from a control-queue message,
// which is deleted once the event is checkpointed, or handed over in
// memory by a local activity (msg nil).
type delivery struct {
	ev  history.Event
	msg *azstore.Message
	// admitted marks a start taken in memory that holds a place in the
	// worker's admission (see admission).
	admitted bool
}

// instance is the in-memory state of one orchestration instance. pending,
// kick and running are guarded by instances.mu; snap is touched only by
// the single goroutine running the instance.
type instance struct {
	id        string
	partition int
	epoch     int64
	pending   []delivery
	kick      bool
	// flush asks the goroutine to checkpoint progress kept in memory.
	flush   bool
	running bool
	snap    *snapshot
	// mustLoad forbids assuming a new instance: a sentinel insert already
	// showed that history exists.
	mustLoad bool
	// admitted: the instance holds a place in the worker's admission.
	// Touched only by the goroutine running the instance.
	admitted bool
	// log is the logger of the worker's lines about the instance, with
	// what names execution logExec (see Worker.noteStart); it outlives
	// dropped snapshots, so that a failing episode's lines name the
	// execution too. Touched only by the goroutine running the instance.
	log     *slog.Logger
	logExec string
}

// snapshot is a cached copy of the instance's current execution, valid as
// long as this worker keeps the partition: only the owner writes history.
type snapshot struct {
	executionID string
	// events are the execution's history: the first durable of them are
	// checkpointed, the rest are progress kept in memory only (see
	// mayDefer).
	events  []history.Event
	durable int
	// open counts the activities events schedule without their results
	// (see record), so that a step's decisions do not read all of history.
	open int
	// deferredSince is when the oldest progress not checkpointed was made;
	// last is the result of the last episode, for the instance row.
	deferredSince time.Time
	last          *durable.Result
	etag          azcore.ETag
	rowStatus     history.RuntimeStatus
	rowCustom     string
	rowExecution  string
	// sess keeps the orchestration parked between episodes (see
	// Worker.execute); it follows events, and is closed whenever the
	// snapshot is dropped or replaced.
	sess *durable.Session
	// journaled says the instance has an in-flight row (see
	// layout.InFlightTable) that this worker wrote; mayHaveRow that one
	// may exist from before a load (another worker's, or this one's before
	// it dropped the snapshot), which only the row's deletion cares about:
	// a checkpoint cannot count on a row it did not see written.
	// quietSince is when it last became quiet.
	journaled  bool
	mayHaveRow bool
	quietSince time.Time
	// continued marks an execution that a continue-as-new started here;
	// its row exists already (see firstOfSubOrchestration).
	continued bool
	// rowDirty marks an instance row that a write failed to bring up to
	// date with history; a timer retries it (see retryRow) and the
	// instance stays cached until it succeeds.
	rowDirty   bool
	rowRetries int
	// assumedNew marks a snapshot made without reading storage for an
	// ExecutionStarted; the sentinel insert proves or disproves it.
	assumedNew bool
	// deleted holds IDs of messages this worker deleted that a later
	// continue-as-new would otherwise carry: a deleted message never comes
	// back, so its ID need not be remembered.
	deleted map[string]bool
	// retries are the event IDs of the retries among the events not
	// checkpointed yet (see durable.Result.Retries): the checkpoint that
	// writes them counts them.
	retries []int
	// held are the queue messages whose events are among those kept in
	// memory only (see mayDefer): they are deleted once a checkpoint holds
	// their events, and given back (or retried) when the progress is
	// dropped. The renewer keeps them hidden meanwhile.
	held []delivery
}

// takeHeld hands over the snapshot's held messages and forgets them.
func (sn *snapshot) takeHeld() []delivery {
	if sn == nil {
		return nil
	}
	held := sn.held
	sn.held = nil
	return held
}

// messagesOf lists the queue messages of deliveries.
func messagesOf(ds []delivery) []*azstore.Message {
	var out []*azstore.Message
	for _, d := range ds {
		if d.msg != nil {
			out = append(out, d.msg)
		}
	}
	return out
}

// record appends events to the execution's history.
func (sn *snapshot) record(events []history.Event) {
	sn.events = append(sn.events, events...)
	sn.open += openActivities(events)
}

// uncommitted counts the events not checkpointed yet.
func (sn *snapshot) uncommitted() int {
	if sn == nil {
		return 0
	}
	return len(sn.events) - sn.durable
}

func (sn *snapshot) noteDeleted(ids []string) {
	if len(ids) == 0 {
		return
	}
	if sn.deleted == nil {
		sn.deleted = map[string]bool{}
	}
	for _, id := range ids {
		sn.deleted[id] = true
	}
}

type instances struct {
	w    *Worker
	mu   sync.Mutex
	idle *sync.Cond
	m    map[string]*instance
	// held are the control messages dequeued and not yet settled, by
	// message ID: the renewer keeps them hidden, and a second delivery of
	// one of them only refreshes its pop receipt.
	held map[string]*heldMessage
	busy int // instances running
}

// heldMessage is a control message this worker has dequeued and not yet
// deleted or given back.
type heldMessage struct {
	msg       *azstore.Message
	partition int
	// epoch is the ownership of the partition under which it was
	// dequeued: only that ownership renews it or keeps its next delivery
	// out (see deliverMessages).
	epoch   int64
	renewed time.Time // when it was last dequeued or renewed
}

func newInstances(w *Worker) *instances {
	s := &instances{w: w, m: map[string]*instance{}, held: map[string]*heldMessage{}}
	s.idle = sync.NewCond(&s.mu)
	return s
}

func (s *instances) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// saturated tells pollers to stop dequeuing. Holding more messages than
// there are orchestration slots only lines new instances up in front of
// the ones already running, which raises every instance's latency without
// raising throughput; and messages held too long would outlive their
// visibility timeout and come back as duplicates.
func (s *instances) saturated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held) >= max(s.w.opts.ControlQueueBatchSize, 2*s.w.opts.MaxConcurrentOrchestrations)
}

// holdDequeued records dequeued messages as held, and returns those to
// deliver: all but the ones held already under the same ownership of the
// partition, which only take the new pop receipt.
func holdDequeued(held map[string]*heldMessage, partition int, epoch int64, msgs []*azstore.Message, now time.Time) []*azstore.Message {
	fresh := msgs[:0:0]
	for _, m := range msgs {
		if h := held[m.ID]; h != nil && h.epoch == epoch {
			h.msg.Replace(m)
			h.renewed = now
			continue
		}
		held[m.ID] = &heldMessage{msg: m, partition: partition, epoch: epoch, renewed: now}
		fresh = append(fresh, m)
	}
	return fresh
}

// deliverMessages hands dequeued messages to their instances. A message
// this worker already holds (dequeued again after its visibility ran out)
// is not delivered twice: the held copy takes the new pop receipt. One
// held under an earlier ownership of the partition is delivered afresh:
// whatever held it went with that ownership, and must not keep it from
// the new one (a copy already applied is dropped by its ID).
func (s *instances) deliverMessages(partition int, epoch int64, msgs []*azstore.Message) {
	byInstance := map[string][]delivery{}
	var order []string
	now := time.Now()
	s.mu.Lock()
	fresh := holdDequeued(s.held, partition, epoch, msgs, now)
	s.mu.Unlock()
	for _, m := range fresh {
		id := m.InstanceID()
		if _, ok := byInstance[id]; !ok {
			order = append(order, id)
		}
		byInstance[id] = append(byInstance[id], delivery{ev: m.Event(), msg: m})
	}
	for _, id := range order {
		s.deliver(id, partition, epoch, byInstance[id], false)
	}
}

// deliver queues events for an instance and starts it if it is idle.
func (s *instances) deliver(id string, partition int, epoch int64, ds []delivery, kick bool) {
	s.mu.Lock()
	inst := s.m[id]
	if inst == nil {
		inst = &instance{id: id, partition: partition, epoch: epoch}
		s.m[id] = inst
	}
	if inst.epoch != epoch {
		// The partition was lost and won back: what we cached may be stale.
		if !inst.running {
			s.w.closeSession(inst.snap)
		}
		inst.epoch, inst.snap = epoch, nil
	}
	inst.pending = append(inst.pending, ds...)
	inst.kick = inst.kick || kick
	start := s.startLocked(inst)
	s.mu.Unlock()
	if start {
		s.run(inst)
	}
}

// take hands the running goroutine its next batch, or marks the instance
// idle and returns false. An instance with progress not checkpointed is
// never evicted from the cache: that would throw the progress away.
func (s *instances) take(inst *instance) (batch []delivery, kick, flush bool, epoch int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(inst.pending) == 0 && !inst.kick && !inst.flush {
		inst.running = false
		s.busy--
		if inst.snap == nil || (!inst.snap.rowDirty && (inst.snap.done() ||
			(len(s.m) > s.w.opts.MaxCachedInstances && inst.snap.uncommitted() == 0 && !inst.admitted))) {
			s.w.closeSession(inst.snap)
			delete(s.m, inst.id)
		}
		s.idle.Broadcast()
		return nil, false, false, 0, false
	}
	batch, kick, flush, epoch = inst.pending, inst.kick, inst.flush, inst.epoch
	inst.pending, inst.kick, inst.flush = nil, false, false
	orderBatch(batch)
	return batch, kick, flush, epoch, true
}

// flushAfter asks for a checkpoint of the instance's progress in memory
// after d, unless an episode makes one first.
func (s *instances) flushAfter(id string, epoch int64, d time.Duration) {
	time.AfterFunc(d, func() { s.requestFlush(id, epoch) })
}

func (s *instances) requestFlush(id string, epoch int64) {
	s.mu.Lock()
	inst := s.m[id]
	if inst == nil || inst.epoch != epoch {
		s.mu.Unlock()
		return
	}
	inst.flush = true
	start := s.startLocked(inst)
	s.mu.Unlock()
	if start {
		s.run(inst)
	}
}

// flushAll asks every instance for a checkpoint of its progress in memory,
// before a shutdown.
func (s *instances) flushAll() {
	s.mu.Lock()
	var started []*instance
	for _, inst := range s.m {
		if inst.running || (inst.snap.uncommitted() == 0 && (inst.snap == nil || !inst.snap.rowDirty)) {
			continue
		}
		inst.flush = true
		if s.startLocked(inst) {
			started = append(started, inst)
		}
	}
	s.mu.Unlock()
	for _, inst := range started {
		s.run(inst)
	}
}

// startLocked marks an idle instance running and reports whether the
// caller must start its goroutine (with run, after unlocking).
func (s *instances) startLocked(inst *instance) bool {
	if inst.running {
		return false
	}
	inst.running = true
	s.busy++
	return true
}

func (s *instances) run(inst *instance) {
	s.w.wg.Add(1)
	go func() {
		defer s.w.wg.Done()
		s.w.runInstance(inst)
	}()
}

// requeue puts a batch that could not be processed back in front of
// whatever arrived since, keeping the messages held.
func (s *instances) requeue(inst *instance, batch []delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst.pending = append(batch[:len(batch):len(batch)], inst.pending...)
}

// settled forgets held messages that were deleted or given back.
func (s *instances) settled(msgs ...*azstore.Message) {
	if len(msgs) == 0 {
		return
	}
	s.mu.Lock()
	for _, m := range msgs {
		if h := s.held[m.ID]; h != nil && h.msg == m {
			delete(s.held, m.ID)
		}
	}
	s.mu.Unlock()
}

// forgetHeldAfter is how long a held message of an ownership that ended is
// remembered: well past any visibility timeout.
const forgetHeldAfter = 30 * time.Minute

// toRenew lists held messages, held under the current ownership of their
// partitions, that were last renewed before cutoff, and marks them renewed
// now.
func (s *instances) toRenew(cutoff time.Time, owned func(partition int, epoch int64) bool) []*azstore.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*azstore.Message
	now := time.Now()
	for id, h := range s.held {
		if !owned(h.partition, h.epoch) && now.Sub(h.renewed) > forgetHeldAfter {
			// Its ownership is long gone and nothing settled it (a snapshot
			// dropped with the partition while it ran): the message went
			// back to the queue when its visibility ran out.
			delete(s.held, id)
			continue
		}
		if h.renewed.Before(cutoff) && owned(h.partition, h.epoch) {
			h.renewed = now
			out = append(out, h.msg)
		}
	}
	return out
}

// waitIdle blocks until no instance is running or ctx ends.
func (s *instances) waitIdle(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.idle.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy > 0 && ctx.Err() == nil {
		s.idle.Wait()
	}
}

// releasePartition waits for the partition's running instances, then
// hands their queued events back to storage and forgets them. Progress
// they kept in memory is checkpointed when the partition is given up
// cleanly (clean: this worker still holds the lease), and otherwise handed
// over through the control queue (see dropSnapshot); starts of the
// partition still waiting for admission go to their queue.
func (s *instances) releasePartition(ctx context.Context, partition int, clean bool) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.idle.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	for ctx.Err() == nil {
		running := false
		for _, inst := range s.m {
			if inst.partition == partition && inst.running {
				running = true
				break
			}
		}
		if !running {
			break
		}
		s.idle.Wait()
	}
	handOff := map[string][]delivery{}
	var unsaved, gone []*instance
	admitted := 0
	for id, inst := range s.m {
		if inst.partition != partition || inst.running {
			continue
		}
		if len(inst.pending) > 0 {
			handOff[id] = inst.pending
		}
		if inst.kick {
			// A kick lives in memory only: the next owner's recovery does
			// its work (see partitions.markDirty).
			s.w.parts.markDirty(partition)
		}
		if inst.admitted {
			admitted++
		}
		if inst.snap.uncommitted() > 0 || (inst.snap != nil && inst.snap.rowDirty) {
			unsaved = append(unsaved, inst)
		}
		gone = append(gone, inst)
		delete(s.m, id)
	}
	s.mu.Unlock()
	for _, inst := range unsaved {
		if clean {
			s.w.flush(ctx, inst)
		} else {
			s.w.dropSnapshot(inst)
		}
	}
	for _, inst := range gone {
		s.w.closeSession(inst.snap)
	}
	for range admitted {
		s.w.admit.release()
	}
	for id, batch := range handOff {
		s.w.handOff(id, batch)
	}
	s.w.admit.spillPartition(ctx, partition)
}

func (sn *snapshot) done() bool {
	if sn == nil || len(sn.events) == 0 {
		return false
	}
	last := sn.events[len(sn.events)-1]
	if last.Type == history.OrchestratorCompleted && len(sn.events) > 1 {
		last = sn.events[len(sn.events)-2]
	}
	return last.Type == history.ExecutionCompleted && last.OrchestrationStatus.IsTerminal()
}

// logger is the logger of the worker's lines about inst: with its
// execution, orchestrator and trace once its start has been seen.
func (w *Worker) logger(inst *instance) *slog.Logger {
	if inst.log != nil {
		return inst.log
	}
	return w.log.With("instanceId", inst.id)
}

// noteStart keeps, for inst, the logger of the execution whose history is
// past followed by more; it is built once per execution.
func (w *Worker) noteStart(inst *instance, past, more []history.Event) {
	start := telemetry.StartOf(past, more)
	if start == nil || start.OrchestrationInstance == nil || (inst.log != nil && inst.logExec == start.OrchestrationInstance.ExecutionID) {
		return
	}
	inst.log, inst.logExec = telemetry.InstanceLogger(w.log, start), start.OrchestrationInstance.ExecutionID
}
