package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/telemetry"
)

// runInstance runs episodes for one instance until it has nothing left to
// do. Only one goroutine runs a given instance at a time.
func (w *Worker) runInstance(inst *instance) {
	select {
	case w.orchSlots <- struct{}{}:
	case <-w.ctx.Done():
	}
	defer func() { <-w.orchSlots }()
	failures := 0
	for {
		batch, kick, flush, epoch, ok := w.insts.take(inst)
		if !ok {
			return
		}
		if len(batch) == 0 && !kick {
			if flush && w.parts.owns(inst.partition, epoch) {
				w.flush(w.ctx, inst)
			}
			continue
		}
		for _, d := range batch {
			inst.admitted = inst.admitted || d.admitted
		}
		if w.ctx.Err() != nil || !w.parts.owns(inst.partition, epoch) {
			if kick {
				w.parts.markDirty(inst.partition) // see partitions.markDirty
			}
			w.dropSnapshot(inst)
			w.handOff(inst.id, batch)
			w.leaveAdmission(inst)
			continue
		}
		var began time.Time
		if w.opts.Metrics.Enabled() {
			began = episodeBegan(batch)
		}
		err := w.episode(w.ctx, inst, batch, kick)
		if w.opts.Metrics.Enabled() {
			name, version := orchestratorOf(inst.snap, batch)
			w.opts.Metrics.Episode(name, version, time.Since(began), err != nil)
		}
		w.leaveAdmission(inst)
		if err == nil {
			failures = 0
			continue
		}
		// The messages of progress kept in memory are retried with the
		// batch, in front of it, as they came.
		batch = append(inst.snap.takeHeld(), batch...)
		w.dropSnapshot(inst)
		failures++
		if failures <= maxEpisodeRetries {
			// Keep the messages held and try again: giving them back with a
			// delay would let younger messages of the instance overtake them.
			w.logger(inst).Warn("episode failed; retrying", "attempt", failures, "error", err)
			w.insts.requeue(inst, batch)
			if kick {
				w.insts.deliver(inst.id, inst.partition, epoch, nil, true)
			}
			select {
			case <-w.ctx.Done():
			case <-time.After(retryDelay(failures)):
			}
			continue
		}
		w.logger(inst).Error("episode keeps failing; giving its messages back", "error", err)
		failures = 0
		w.retryLater(inst, batch)
	}
}

// dropSnapshot forgets the instance's cached history, so that the next
// episode loads it again. Progress kept only in memory (see mayDefer) is
// lost with it, and that progress may have consumed results of activities
// whose TaskScheduled is durable: nothing would ever deliver those results
// again, since replay re-sends only actions history lacks. So they are
// sent to the instance's control queue first, where whoever owns the
// partition next finds them (a copy of a result already applied is
// dropped).
//
// The queue messages whose events that progress consumed (snap.held) are
// given back, visible at once; a caller that retries them in memory takes
// them first (snapshot.takeHeld).
func (w *Worker) dropSnapshot(inst *instance) {
	snap := inst.snap
	inst.snap = nil
	w.closeSession(snap)
	held := snap.takeHeld()
	for _, ev := range salvage(snap, held) {
		w.sendDurably(context.WithoutCancel(w.ctx), history.MessageTo(inst.id, ev))
	}
	if len(held) > 0 {
		w.handOff(inst.id, held)
	}
}

// leaveAdmission gives up the instance's place in the admission of local
// starts once it no longer waits for activities of this process.
func (w *Worker) leaveAdmission(inst *instance) {
	if inst.admitted && !holdsAdmission(inst.snap) {
		inst.admitted = false
		w.admit.release()
	}
}

// episodeBegan is when an episode of batch began, as its duration counts
// it: when its first message was dequeued, now for events handed over in
// memory.
func episodeBegan(batch []delivery) time.Time {
	began := time.Now()
	for _, d := range batch {
		if d.msg != nil && !d.msg.Dequeued.IsZero() && d.msg.Dequeued.Before(began) {
			began = d.msg.Dequeued
		}
	}
	return began
}

// orchestratorOf is the name and version of the orchestrator an episode
// ran: from the snapshot it left, else from a start in its batch; "" when
// neither says (a failed episode of an instance not loaded).
func orchestratorOf(snap *snapshot, batch []delivery) (name, version string) {
	var past []history.Event
	if snap != nil {
		past = snap.events
	}
	if start := telemetry.StartOf(past, nil); start != nil {
		return start.Name, start.Version
	}
	for _, d := range batch {
		if d.ev.Type == history.ExecutionStarted {
			return d.ev.Name, d.ev.Version
		}
	}
	return "", ""
}

// maxEpisodeRetries is how often a failing batch is retried in memory
// before its messages are given back to the queue.
const maxEpisodeRetries = 8

func retryDelay(attempt int) time.Duration {
	return min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)
}

// handOff gives events back to storage: messages become visible again at
// once for the partition's next owner; in-memory results are sent to the
// instance's control queue, since nothing else holds them.
func (w *Worker) handOff(instanceID string, batch []delivery) {
	w.giveBack(instanceID, batch, func(*azstore.Message) time.Duration { return 0 })
}

// retryLater backs off a batch that keeps failing: messages come back
// after a delay that grows with their dequeue count; in-memory events are
// made durable.
func (w *Worker) retryLater(inst *instance, batch []delivery) {
	w.giveBack(inst.id, batch, func(m *azstore.Message) time.Duration {
		return time.Duration(min(m.DequeueCount, 30)) * time.Second
	})
}

// giveBack returns a batch to storage: each message becomes visible again
// after delay(message), and each event held only in memory is sent to the
// instance's control queue.
func (w *Worker) giveBack(instanceID string, batch []delivery, delay func(*azstore.Message) time.Duration) {
	ctx := context.WithoutCancel(w.ctx)
	var held []*azstore.Message
	for _, d := range batch {
		if d.msg == nil {
			w.sendDurably(ctx, history.MessageTo(instanceID, d.ev))
			continue
		}
		held = append(held, d.msg)
		if err := w.hub.Abandon(ctx, d.msg, delay(d.msg)); err != nil && !errors.Is(err, azstore.ErrConflict) {
			w.log.Warn("giving a message back failed; it reappears after its visibility timeout", "error", err)
		}
	}
	w.insts.settled(held...)
}

// sendDurably puts a message on its instance's control queue, retrying
// storage errors until the worker's context ends.
func (w *Worker) sendDurably(ctx context.Context, tm history.TaskMessage) {
	backoff := 100 * time.Millisecond
	for {
		err := w.hub.SendToInstance(ctx, tm, time.Time{})
		if err == nil {
			w.Notify(tm.OrchestrationInstance.InstanceID)
			return
		}
		w.log.Warn("sending a message failed; retrying", "instanceId", tm.OrchestrationInstance.InstanceID, "error", err)
		select {
		case <-ctx.Done():
			w.log.Error("message not sent; partition recovery will re-run its activity", "instanceId", tm.OrchestrationInstance.InstanceID)
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// episode processes one batch of events for an instance: replay, send
// outbound messages, checkpoint history, update the instance row, delete
// the consumed messages, then start local activities.
func (w *Worker) episode(ctx context.Context, inst *instance, batch []delivery, kick bool) error {
	w.episodes.Add(1)
	var msgs []*azstore.Message
	var events []history.Event
	now := time.Now().UTC()
	for _, d := range batch {
		if d.msg != nil {
			msgs = append(msgs, d.msg)
		}
		ev := d.ev
		if ev.Type == history.TimerFired && ev.FireAt.After(now.Add(time.Second)) {
			// A timer beyond a queue message's 7-day limit: send it on for
			// the rest of its wait.
			if err := w.hub.SendToInstance(ctx, history.MessageTo(inst.id, ev), ev.FireAt); err != nil {
				return err
			}
			continue
		}
		events = append(events, ev)
	}

	snap, err := w.snapshotFor(ctx, inst, events)
	if err != nil {
		return err
	}
	w.noteStart(inst, snap.events, events)
	if snap.done() {
		if parentAsksAgain(snap.events, events) {
			// The parent's start came again: the parent may have dropped our
			// completion (see durable.ParentNoticeAgain). Send it again; the
			// parent drops the copy if it has it already.
			if tm, ok := durable.ParentNoticeAgain(inst.id, snap.events); ok {
				if err := w.hub.SendToInstance(ctx, tm, time.Time{}); err != nil {
					return err
				}
				w.Notify(tm.OrchestrationInstance.InstanceID)
				w.logger(inst).Debug("sent a finished sub-orchestration's completion to its parent again", "parent", tm.OrchestrationInstance.InstanceID)
			}
		}
		events = restartEvents(snap, events)
		if len(events) > 0 {
			stale, err := w.staleStart(ctx, inst.id, events[0])
			if err != nil {
				return err
			}
			if stale {
				events = nil
			}
		}
		if len(events) == 0 {
			w.logger(inst).Debug("dropping messages for a finished instance", "count", len(batch))
			_, err := w.deleteMessages(ctx, msgs)
			return err
		}
		// A new generation replaces the finished one; rows are overwritten
		// from sequence 0 under the same sentinel.
		w.closeSession(snap)
		snap = &snapshot{etag: snap.etag}
		inst.snap = snap
	}
	if len(snap.events) == 0 && !hasStart(events) {
		if !entity.IsEntity(inst.id) {
			return w.notStarted(ctx, inst, batch)
		}
		// An entity starts with its first message, as the Durable Task
		// Framework's auto-start does: an execution named by the entity's
		// instance ID, with no input (no state yet).
		events = append([]history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: now, Name: inst.id,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: inst.id,
				ExecutionID: history.ExecutionID(uuid.New())}}}, events...)
	}
	if len(events) == 0 && !kick {
		// Only chained timers: nothing to replay.
		_, err := w.deleteMessages(ctx, msgs)
		return err
	}

	if len(snap.events) == 0 {
		// Only a start without history may begin a trace: a redelivered
		// start is dropped as a duplicate anyway.
		w.opts.Tracer.Starting(events)
	}

	committed := false
	// The batch's messages are deleted as soon as a checkpoint holds their
	// events: before the next execution of a continue-as-new chain
	// overwrites that history, and never before the checkpoint. Those of
	// earlier episodes whose progress stayed in memory (snap.held) join
	// them once a checkpoint holds their events too.
	var undeleted []delivery
	for _, d := range batch {
		if d.msg != nil {
			undeleted = append(undeleted, d)
		}
	}
	deleteHeld := func() error {
		ids, err := w.deleteMessages(ctx, messagesOf(undeleted))
		snap.noteDeleted(ids)
		undeleted = nil
		return err
	}
	// Once a checkpoint holds the batch's events, retrying the messages
	// would deliver them twice: delete them and resume from history.
	afterCommit := func(err error) error {
		if !committed {
			return err
		}
		w.logger(inst).Warn("episode failed after its checkpoint; resuming from history", "error", err)
		// The resume rests on the kick below; should the partition go
		// before it runs, its next owner must recover the instance.
		w.parts.markDirty(inst.partition)
		w.dropSnapshot(inst)
		if derr := deleteHeld(); derr != nil {
			return errors.Join(err, derr)
		}
		w.insts.deliver(inst.id, inst.partition, inst.epoch, nil, true)
		return nil
	}
	// The version policy applies to the execution the batch is for; a
	// next execution that a continue-as-new starts in this episode runs
	// here, and meets the policy from its next episode on.
	versions := w.opts.Versions
	var deleteErr error // deleting the messages beside the last row write
	for {
		w.noteStart(inst, snap.events, events)
		res := w.execute(snap, durable.Episode{InstanceID: inst.id, Past: snap.events, New: events, Now: now,
			Versions: versions})
		versions = nil
		if res.Rejected != nil {
			w.reject(inst, batch, res.Rejected)
			return nil
		}
		w.logger(inst).Debug("episode", "past", len(snap.events), "new", len(events), "dropped", res.Dropped,
			"status", res.Status, "outbound", len(res.Outbound), "messages", len(msgs))
		if len(events) > 0 && res.Dropped == len(events) && !kick {
			// Only duplicates: nothing to record.
			return deleteHeld()
		}
		kick = false
		// The retries this episode issued count when their scheduling is
		// checkpointed, which may be a later, deferred checkpoint.
		snap.retries = append(snap.retries, res.Retries...)
		// What the episode schedules carries the orchestration's trace
		// context, in history and in its messages.
		w.opts.Tracer.Stamp(snap.events, res)
		if snap.executionID == "" {
			snap.executionID = res.ExecutionID
		}
		// The in-flight row goes with the outbound messages, both before
		// the checkpoint, so that it costs no round trip of its own. An
		// episode that may keep its progress in memory writes none now: the
		// checkpoint that ends the deferral decides (see needsJournal).
		var journaled chan error
		if needsJournal(snap, res.Appended, now) && !mayDefer(snap, res, len(snap.held)+len(undeleted), 0, w.stopping.Load(), now) {
			journaled = make(chan error, 1)
			go func() {
				w.unjournal.rejournal(inst.id)
				journaled <- w.hub.PutInFlight(ctx, inst.id)
			}()
		}
		local, elsewhere, err := w.sendOutbound(ctx, inst, res)
		if journaled != nil {
			if jerr := <-journaled; jerr == nil {
				snap.journaled = true
			} else if err == nil {
				w.acts.unreserve(len(local))
				err = jerr
			}
		}
		if err != nil {
			return afterCommit(err)
		}
		snap.last = res
		if mayDefer(snap, res, len(snap.held)+len(undeleted), elsewhere, w.stopping.Load(), now) {
			// Only local activities to wait for: keep this step in memory
			// and checkpoint it with a later one (at most maxDefer later).
			// The messages it consumed stay held until then.
			snap.held = append(snap.held, undeleted...)
			undeleted = nil
			if snap.deferredSince.IsZero() {
				snap.deferredSince = now
				w.insts.flushAfter(inst.id, inst.epoch, maxDefer)
			}
			snap.record(res.Appended)
			w.acts.submit(inst.partition, local)
			return nil
		}
		if len(res.Appended) > 0 || snap.uncommitted() > 0 {
			// A worker whose lease ran out by its own clock may already have
			// been replaced: committing now could apply events the new owner
			// applies too. The new owner waits until well after the expiry
			// before its first dequeue, and the sentinel's ETag stops a write
			// that was already on its way.
			if !w.parts.owns(inst.partition, inst.epoch) {
				w.acts.unreserve(len(local))
				return afterCommit(errNotOwner)
			}
			if start := firstOfSubOrchestration(snap, res.Appended); start != nil {
				if err := w.writeChildRow(ctx, inst.id, snap, start, now); err != nil {
					w.acts.unreserve(len(local))
					return afterCommit(err)
				}
			}
			if err := w.checkpoint(ctx, inst.id, snap, res.Appended); err != nil {
				w.acts.unreserve(len(local))
				if errors.Is(err, azstore.ErrConflict) && snap.assumedNew {
					// Whatever is retried reads history first.
					inst.mustLoad = true
				}
				if errors.Is(err, azstore.ErrConflict) && snap.assumedNew && snap.durable == 0 && len(snap.events) == 0 {
					// The instance has history after all (a restart, or a
					// duplicate start): read it and try again.
					w.closeSession(snap)
					inst.snap, inst.mustLoad = nil, true
					w.insts.deliver(inst.id, inst.partition, inst.epoch, batch, false)
					return nil
				}
				return afterCommit(err)
			}
			committed = true
			undeleted = append(snap.takeHeld(), undeleted...)
		}
		// Once the checkpoint holds the last execution's events, its
		// messages go while the row is written, not after: neither waits
		// for the other, and a crash between them leaves only a row that
		// recovery (or the look for lost starts) repairs.
		var deleted chan deletion
		if committed && res.ContinueAsNew == nil && len(undeleted) > 0 {
			deleted = make(chan deletion, 1)
			go func(msgs []*azstore.Message) {
				ids, err := w.deleteMessages(ctx, msgs)
				deleted <- deletion{ids, err}
			}(messagesOf(undeleted))
			undeleted = nil
		}
		if err := w.updateInstanceRowWithRetry(ctx, inst.id, snap, res, now); err != nil {
			// History is safe; the row catches up at the next episode or
			// the retry, or at the partition's next recovery.
			w.logger(inst).Warn("updating the instance row failed; retrying", "error", err)
			w.retryRow(inst)
		} else {
			snap.rowDirty, snap.rowRetries = false, 0
		}
		if deleted != nil {
			d := <-deleted
			snap.noteDeleted(d.ids)
			deleteErr = d.err
		}
		if res.Status.IsTerminal() && committed {
			// After the row, so that a status read after the notice never
			// shows the instance still running.
			w.publishDone(inst.id, finalRow(inst.id, w.hub.Name(), snap, res, now))
		}
		w.acts.submit(inst.partition, local)
		if res.ContinueAsNew == nil {
			break
		}
		if committed && len(undeleted) > 0 {
			if err := deleteHeld(); err != nil {
				// A message left behind comes back; the next execution still
				// knows its ID and drops it.
				w.logger(inst).Warn("deleting the messages of a continued execution failed", "error", err)
			}
		}
		next := durable.NextExecutionID(inst.id, snap.executionID)
		res.ContinueAsNew.Applied = appliedToCarry(res.ContinueAsNew, snap.deleted, now)
		startAt := res.ContinueAsNew.At
		if startAt.IsZero() {
			startAt = now
		}
		events = durable.NewExecutionEvents(res, inst.id, next, startAt)
		w.opts.Tracer.Continue(snap.events, events)
		var spill []history.Event
		events, spill = splitCarry(inst.id, snap.executionID, events)
		for _, e := range spill {
			if err := w.hub.SendToInstance(ctx, history.MessageTo(inst.id, e), time.Time{}); err != nil {
				// Nothing of the next execution is written yet: the history
				// still ends with the continue-as-new, which the next episode
				// (or recovery) carries out again.
				return afterCommit(err)
			}
		}
		snap.deleted = keepDeleted(snap.deleted, events)
		snap.executionID, snap.events, snap.durable, snap.open, snap.continued = next, nil, 0, 0, true
	}
	err = errors.Join(deleteErr, deleteHeld())
	w.noteQuiet(inst)
	return err
}

// deletion is what deleting an episode's messages did.
type deletion struct {
	ids []string
	err error
}

// maxParked bounds the orchestrations kept parked between episodes (see
// durable.Session): a parked one holds a goroutine and its stack. Past it,
// episodes replay.
const maxParked = 2000

// execute runs an episode: on the instance's parked orchestration when it
// has one that followed its history, else by replay, keeping the
// orchestration parked for the next episode while there is room.
func (w *Worker) execute(snap *snapshot, ep durable.Episode) *durable.Result {
	if snap.sess != nil {
		res := snap.sess.Next(ep)
		if res == nil || !snap.sess.Live() {
			// Spent (the execution ended), or behind the history (an
			// episode's result was not recorded): replay from here on.
			w.closeSession(snap)
		}
		if res != nil {
			return res
		}
	}
	// An orchestrator's log lines carry its trace (a parked session keeps
	// the logger it began with: one execution, one trace).
	log := w.opts.Tracer.OrchestrationLogger(w.log, ep.Past, ep.New)
	if w.parked.Load() >= maxParked {
		return durable.Execute(w.reg, ep, log)
	}
	res, sess := durable.Begin(w.reg, ep, log)
	if sess != nil {
		w.parked.Add(1)
		snap.sess = sess
	}
	return res
}

// closeSession lets go of a snapshot's parked orchestration, if any.
func (w *Worker) closeSession(snap *snapshot) {
	if snap == nil || snap.sess == nil {
		return
	}
	snap.sess.Close()
	snap.sess = nil
	w.parked.Add(-1)
}

// rejectPeriod spaces the returns of a rejected instance's messages.
const rejectPeriod = 15 * time.Second

// reject leaves the batch of an instance whose version this worker does
// not run (versionFailureStrategy Reject) for a worker that runs it:
// nothing ran, nothing is written, and every message goes back to the
// queue. They all become visible again at the next multiple of
// rejectPeriod, so that the instance's messages, whenever rejected, come
// back together (in one dequeue, which orders them as usual) rather than
// in an order their rejections made; and the worker that owns the
// partition sees each of them once per period, not in a loop. Events held
// only in memory (a local start) are sent to the control queue. A worker
// that runs the version processes them once it owns the partition, as
// after any rebalancing.
func (w *Worker) reject(inst *instance, batch []delivery, why *durable.VersionMismatchError) {
	if inst.snap != nil && inst.snap.uncommitted() > 0 {
		// Progress kept in memory (a continue-as-new into this version ran
		// here): give it back too; see dropSnapshot.
		w.dropSnapshot(inst)
	}
	for _, d := range batch {
		if d.ev.Type == history.ExecutionStarted {
			// The start is not lost, only waiting: the look for lost starts
			// skips it rather than sending it again.
			w.starts.note(inst.id, time.Now())
			break
		}
	}
	delay := rejectDelay(time.Now())
	w.rejected.Add(1)
	w.logger(inst).Debug("rejected an instance of a version this worker does not run", "reason", why.Error(), "messages", len(batch), "backIn", delay)
	w.giveBack(inst.id, batch, func(*azstore.Message) time.Duration { return delay })
}

// rejectDelay is how long rejected messages stay hidden: until the next
// multiple of rejectPeriod. Queue visibility counts whole seconds (Abandon
// rounds down), so a boundary less than a second away would make them
// visible at once: the one after it is taken then.
func rejectDelay(now time.Time) time.Duration {
	at := now.Truncate(rejectPeriod).Add(rejectPeriod)
	if at.Sub(now) < time.Second {
		at = at.Add(rejectPeriod)
	}
	return at.Sub(now)
}

// errNotOwner stops an episode whose partition lease ran out by this
// worker's clock before its checkpoint.
var errNotOwner = errors.New("the partition's lease ran out before the checkpoint")

// checkpoint writes the events of snap not checkpointed yet, then more,
// with the sentinel's ETag, and records them in snap as durable. When it
// fails after some of its batches landed, the events those held count as
// durable, so that a later dropSnapshot resends only what was lost; the
// snapshot's ETag is stale then, and the caller drops it.
func (w *Worker) checkpoint(ctx context.Context, id string, snap *snapshot, more []history.Event) error {
	if needsJournal(snap, more, time.Now()) {
		// Recovery finds what a checkpoint leaves to do (activities run
		// here, the row write after it) through the in-flight row.
		w.unjournal.rejournal(id)
		if err := w.hub.PutInFlight(ctx, id); err != nil {
			return err
		}
		snap.journaled = true
	}
	snap.quietSince = time.Time{}
	events := append(append([]history.Event(nil), snap.events[snap.durable:]...), more...)
	began := time.Now()
	etag, committed, err := w.hub.WriteHistoryCounted(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: snap.executionID,
		FirstSeq: snap.durable, Events: events, ETag: snap.etag})
	w.opts.Metrics.Checkpoint(time.Since(began), err != nil)
	if err != nil {
		snap.durable += min(committed, snap.uncommitted())
		return err
	}
	snap.etag, snap.assumedNew = etag, false
	// The spans these events end are emitted now that they are durable:
	// once per event, whichever episode or worker wrote it.
	w.opts.Tracer.Committed(snap.events[:snap.durable], events)
	// Counted here for the same reason: an event counts when the write
	// that makes it durable succeeds, and only the events this write
	// added count, so a checkpoint redone after a partial failure, a
	// replay, or another worker's takeover counts nothing twice. A write
	// that landed but whose answer was lost (a timeout) counts nothing:
	// the next attempt finds the events written and loads them instead.
	w.opts.Metrics.Committed(snap.events[:snap.durable], events, snap.retries)
	snap.retries = nil
	for _, e := range events {
		if e.Type == history.ExecutionStarted {
			w.starts.note(id, time.Now())
			break
		}
	}
	snap.record(more)
	snap.durable, snap.deferredSince = len(snap.events), time.Time{}
	return nil
}

// flush checkpoints the progress an instance kept in memory (see mayDefer)
// when no episode did within maxDefer, or before a shutdown, and retries an
// instance row write that failed (see retryRow).
func (w *Worker) flush(ctx context.Context, inst *instance) {
	snap := inst.snap
	if snap == nil {
		return
	}
	if snap.uncommitted() > 0 {
		if err := w.checkpoint(ctx, inst.id, snap, nil); err != nil {
			w.logger(inst).Warn("checkpointing progress kept in memory failed; it will be redone", "error", err)
			if errors.Is(err, azstore.ErrConflict) && snap.assumedNew {
				inst.mustLoad = true
			}
			w.dropSnapshot(inst)
			return
		}
		snap.rowDirty = true
		if held := snap.takeHeld(); len(held) > 0 {
			ids, err := w.deleteMessages(ctx, messagesOf(held))
			snap.noteDeleted(ids)
			if err != nil {
				// A message left behind comes back and is dropped by its ID.
				w.logger(inst).Warn("deleting the messages of progress checkpointed late failed", "error", err)
			}
		}
	}
	if snap.rowDirty && snap.last != nil {
		if err := w.updateInstanceRow(ctx, inst.id, snap, snap.last, time.Now().UTC()); err != nil {
			w.logger(inst).Warn("updating the instance row failed; retrying", "error", err)
			w.retryRow(inst)
			return
		}
		snap.rowDirty, snap.rowRetries = false, 0
	}
	w.noteQuiet(inst)
}

// journalQuiet is how long an instance stays quiet (see quiet) before its
// in-flight row is deleted: a busy instance keeps its row rather than
// writing and deleting it at every step.
const journalQuiet = 5 * time.Second

// noteQuiet deletes the in-flight row of an instance that finished at
// once, and of one that stayed quiet for journalQuiet (a flush comes back
// for it then); any checkpoint in between keeps the row.
func (w *Worker) noteQuiet(inst *instance) {
	snap := inst.snap
	if snap == nil || !snap.journaled && !snap.mayHaveRow {
		return
	}
	switch {
	case snap.done() && !snap.rowDirty:
	case !quiet(snap):
		snap.quietSince = time.Time{}
		return
	case snap.quietSince.IsZero():
		snap.quietSince = time.Now()
		w.insts.flushAfter(inst.id, inst.epoch, journalQuiet)
		return
	case time.Since(snap.quietSince) < journalQuiet:
		return
	}
	snap.journaled, snap.mayHaveRow, snap.quietSince = false, false, time.Time{}
	w.unjournal.add(inst.id)
}

// unjournal collects the in-flight rows to delete, which a loop deletes
// once a second, all at once, so that the rows of one partition share
// entity-group batches: a busy worker pays a fraction of a request per
// instance for them. A row deleted late, or left behind by a crash, costs
// the next takeover one history read. An instance that needs its row again
// takes its ID out of the next deletion, and waits for one under way, so
// that no deletion lands after its new row.
type unjournal struct {
	mu       sync.Mutex
	cond     *sync.Cond
	pending  map[string]bool
	deleting map[string]bool
}

func (u *unjournal) add(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pending == nil {
		u.pending = map[string]bool{}
	}
	u.pending[id] = true
}

// rejournal cancels a pending deletion of id's row and waits for one under
// way to land, before the caller writes the row again.
func (u *unjournal) rejournal(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.pending, id)
	for u.deleting[id] {
		u.cond.Wait()
	}
}

// take hands the pending deletions to the caller, which calls done after.
func (u *unjournal) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.pending) == 0 {
		return nil
	}
	if u.deleting == nil {
		u.deleting, u.cond = map[string]bool{}, sync.NewCond(&u.mu)
	}
	ids := make([]string, 0, len(u.pending))
	for id := range u.pending {
		ids = append(ids, id)
		u.deleting[id] = true
	}
	u.pending = nil
	return ids
}

func (u *unjournal) done(ids []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, id := range ids {
		delete(u.deleting, id)
	}
	u.cond.Broadcast()
}

// deleteInFlightRows deletes the collected in-flight rows every second
// until the worker stops, and once more then.
func (w *Worker) deleteInFlightRows() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		stopped := false
		select {
		case <-w.ctx.Done():
			stopped = true
		case <-t.C:
		}
		if ids := w.unjournal.take(); len(ids) > 0 {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
			if err := w.hub.DeleteInFlight(ctx, ids...); err != nil {
				w.log.Debug("deleting in-flight rows failed", "count", len(ids), "error", err)
			}
			cancel()
			w.unjournal.done(ids)
		}
		if stopped {
			return
		}
	}
}

// retryRow marks the instance row as behind history and has the instance
// write it again after a back-off (1 s, doubling, at most 30 s) for as long
// as this worker owns the instance: an instance that waits for days has no
// later episode that would write it.
func (w *Worker) retryRow(inst *instance) {
	snap := inst.snap
	snap.rowStatus, snap.rowDirty = "", true
	delay := min(time.Second<<min(snap.rowRetries, 5), 30*time.Second)
	snap.rowRetries++
	w.insts.flushAfter(inst.id, inst.epoch, delay)
}

// writeChildRow inserts the instance row (Pending, with its parent) and
// the index row of a sub-orchestration before its first checkpoint.
// Written after it, as for other executions, a crash in between would leave
// history that no row points to: recovery and the look for lost starts,
// which start from rows, would never find the child, and its parent would
// wait for it for good. The parent column lets a start sent again from the
// row report to the parent. It is an insert, never an overwrite: the start
// may be a copy for a child that exists and has finished (a snapshot
// assumed new is only proven new by the checkpoint), and a row that exists
// already, of an earlier use of the ID, is found by recovery all the same
// and rewritten whole after the checkpoint.
func (w *Worker) writeChildRow(ctx context.Context, id string, snap *snapshot, start *history.Event, now time.Time) error {
	created := start.Timestamp
	if created.IsZero() {
		created = now
	}
	if err := w.hub.PutIndex(ctx, id, created); err != nil {
		return err
	}
	exec := start.OrchestrationInstance.ExecutionID
	row := &layout.InstanceRow{InstanceID: id, Name: start.Name, Version: start.Version, ExecutionID: exec,
		RuntimeStatus: history.StatusPending, CreatedTime: created.UTC(), LastUpdatedTime: now, Input: start.Input,
		TaskHubName: w.hub.Name(), ParentInstance: start.ParentInstance, ParentTraceContext: start.ParentTraceContext}
	err := w.hub.InsertInstance(ctx, row)
	switch {
	case errors.Is(err, azstore.ErrConflict):
		return nil
	case err != nil:
		return err
	}
	snap.rowExecution, snap.rowStatus, snap.rowCustom = exec, history.StatusPending, ""
	return nil
}

// finalRow is the instance row of a finished execution as the episode
// wrote it.
func finalRow(id, hub string, snap *snapshot, res *durable.Result, now time.Time) *layout.InstanceRow {
	row := &layout.InstanceRow{InstanceID: id, Name: res.Name, Version: res.Version, ExecutionID: snap.executionID,
		RuntimeStatus: res.Status, LastUpdatedTime: now, CompletedTime: &now, Output: res.Output,
		CustomStatus: res.CustomStatus, TaskHubName: hub}
	for _, e := range snap.events {
		if e.Type == history.ExecutionStarted {
			row.Input, row.CreatedTime = e.Input, e.Timestamp
			break
		}
	}
	return row
}

// snapshotFor returns the cached history, loads it, or — for a lone
// ExecutionStarted — assumes a new instance and lets the checkpoint's
// sentinel insert confirm it, saving a query per new orchestration.
func (w *Worker) snapshotFor(ctx context.Context, inst *instance, events []history.Event) (*snapshot, error) {
	if inst.snap != nil {
		return inst.snap, nil
	}
	if !inst.mustLoad && len(events) > 0 && events[0].Type == history.ExecutionStarted && events[0].Generation == 0 {
		inst.snap = &snapshot{assumedNew: true}
		return inst.snap, nil
	}
	hs, err := w.hub.LoadHistory(ctx, inst.id)
	if err != nil {
		return nil, err
	}
	inst.mustLoad = false
	// What the row shows is unknown (a crash between a checkpoint and its
	// row write leaves the row behind, at an older execution even; a rewind
	// leaves it Pending), so the first episode after a load writes all of
	// it from history.
	// Whether it has an in-flight row is unknown too: its next checkpoint
	// writes one (a quiet instance's was deleted), and a quiet instance
	// deletes any.
	inst.snap = &snapshot{executionID: hs.ExecutionID, events: hs.Events, durable: len(hs.Events), etag: hs.ETag, mayHaveRow: true,
		open: openActivities(hs.Events)}
	return inst.snap, nil
}

// restartEvents keeps, for a finished instance, only a start of a new
// execution and what follows it; everything else is late and dropped. The
// parent's start of a sub-orchestration sent again is no new execution,
// even when the child continued as new since (its execution ID differs
// from the one the parent named).
func restartEvents(snap *snapshot, events []history.Event) []history.Event {
	for i, e := range events {
		if e.Type == history.ExecutionStarted && e.OrchestrationInstance != nil && e.OrchestrationInstance.ExecutionID != snap.executionID &&
			!sameParent(snap.events, e) {
			return events[i:]
		}
	}
	return nil
}

// staleStart reports whether start, which would begin a new execution of
// a finished instance, is a late copy of an old start instead: a start sent
// again while its first was under way (a lost start resent, a start handed
// over) that arrives after a continue-as-new chain has left that execution
// behind, where history no longer shows it. A client's real restart
// replaces the instance row, with the new execution's ID, before it sends
// the start, so the row tells them apart: one read, only when a finished
// instance gets a client's start.
func (w *Worker) staleStart(ctx context.Context, id string, start history.Event) (bool, error) {
	if start.OrchestrationInstance == nil || start.MessageID != layout.StartMessageID(id, start.OrchestrationInstance.ExecutionID) {
		// Not a client's start: a parent's start of a sub-orchestration
		// (sameParent drops its late copies) does not replace a row that
		// exists, so the row cannot tell.
		return false, nil
	}
	row, err := w.hub.GetInstance(ctx, id)
	switch {
	case errors.Is(err, azstore.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the row of %q for a start after its end: %w", id, err)
	case row == nil || start.OrchestrationInstance == nil:
		return false, nil
	}
	return row.ExecutionID != start.OrchestrationInstance.ExecutionID, nil
}

func hasStart(events []history.Event) bool {
	for _, e := range events {
		if e.Type == history.ExecutionStarted {
			return true
		}
	}
	return false
}

// notStarted handles events for an instance whose start has not been
// processed: they wait while the instance exists (its start message is on
// its way, or scheduled), and are dropped once it clearly does not.
func (w *Worker) notStarted(ctx context.Context, inst *instance, batch []delivery) error {
	w.closeSession(inst.snap)
	inst.snap = nil
	row, err := w.hub.GetInstance(ctx, inst.id)
	exists := err == nil && row != nil
	if err != nil && !errors.Is(err, azstore.ErrNotFound) {
		return err
	}
	if exists {
		// The start of an instance whose version this worker leaves to
		// others comes back at every reject period: its events wait for the
		// same boundary, so that they come back with it, in one dequeue and
		// in order, rather than on their own back-off below, looked at
		// more often and overtaking each other while it waits.
		if err := w.opts.Versions.Check(row.Name, row.Version); err != nil && w.opts.Versions.Failure != durable.FailureFail {
			var mismatch *durable.VersionMismatchError
			if errors.As(err, &mismatch) {
				w.reject(inst, batch, mismatch)
				return nil
			}
		}
	}
	var held []*azstore.Message
	defer func() { w.insts.settled(held...) }()
	for _, d := range batch {
		if d.msg == nil {
			continue
		}
		held = append(held, d.msg)
		if !exists && d.msg.DequeueCount >= 5 {
			w.logger(inst).Warn("dropping a message for an instance that does not exist", "event", d.ev.Type.String(), "name", d.ev.Name)
			if err := w.hub.DeleteMessage(ctx, d.msg); err != nil && !errors.Is(err, azstore.ErrConflict) {
				return err
			}
			continue
		}
		delay := time.Duration(min(d.msg.DequeueCount, 10)) * time.Second
		if err := w.hub.Abandon(ctx, d.msg, delay); err != nil && !errors.Is(err, azstore.ErrConflict) {
			return err
		}
	}
	return nil
}

// deleteMessages deletes consumed messages and returns the message IDs
// (as events carry them) of those that are gone for good. A message that
// someone else took after its visibility ran out (ErrConflict) is not: it
// may still come back.
func (w *Worker) deleteMessages(ctx context.Context, msgs []*azstore.Message) ([]string, error) {
	defer w.insts.settled(msgs...)
	gone := make([]bool, len(msgs))
	err := parallel(ctx, len(msgs), 8, func(ctx context.Context, i int) error {
		err := w.hub.DeleteMessage(ctx, msgs[i])
		if errors.Is(err, azstore.ErrConflict) {
			// Someone else took it after its visibility ran out; the
			// duplicate is dropped when it is processed.
			return nil
		}
		gone[i] = err == nil
		return err
	})
	var ids []string
	for i, ok := range gone {
		if ok {
			ids = append(ids, msgs[i].Event().MessageID)
		}
	}
	return ids, err
}

// wakeAfter is the shortest timer that also gets a wake-up message: an app
// is not scaled in within a shorter wait.
const wakeAfter = 30 * time.Second

// sendOutbound sends an episode's messages before its checkpoint, so a
// crash in between only causes duplicates, which replay drops. Activities
// that fit in the local backlog are returned to run after the checkpoint
// instead of going through the work-item queue.
func (w *Worker) sendOutbound(ctx context.Context, inst *instance, res *durable.Result) (local []history.TaskMessage, sentElsewhere int, err error) {
	var queued []history.TaskMessage
	var toInstances []durable.Outbound
	for _, o := range res.Outbound {
		if o.Kind == durable.ToActivity {
			if w.acts.reserve() {
				local = append(local, o.Message)
			} else {
				queued = append(queued, o.Message)
			}
			continue
		}
		toInstances = append(toInstances, o)
	}
	// A fan-out sends hundreds of work items at once; storage takes them in
	// parallel.
	err = parallel(ctx, len(queued)+len(toInstances), 32, func(ctx context.Context, i int) error {
		if i < len(queued) {
			return w.hub.SendToWorkItems(ctx, queued[i])
		}
		o := toInstances[i-len(queued)]
		if err := w.hub.SendToInstance(ctx, o.Message, o.VisibleAt); err != nil {
			return err
		}
		target := o.Message.OrchestrationInstance.InstanceID
		if d := time.Until(o.VisibleAt); d > 0 {
			time.AfterFunc(d, func() { w.Notify(target) })
			if d > wakeAfter {
				// The app may be scaled in by then; have the host start it.
				if err := w.hub.Wake(ctx, target, "timer", o.VisibleAt); err != nil {
					return err
				}
			}
		} else {
			w.Notify(target)
		}
		return nil
	})
	if err != nil {
		w.acts.unreserve(len(local))
		return nil, 0, err
	}
	if len(queued) > 0 {
		w.acts.pokeQueue()
	}
	return local, len(queued) + len(toInstances), nil
}

// updateInstanceRowWithRetry retries a finished instance's row update for a
// while: no later episode will write it, and callers wait on that row.
func (w *Worker) updateInstanceRowWithRetry(ctx context.Context, id string, snap *snapshot, res *durable.Result, now time.Time) error {
	err := w.updateInstanceRow(ctx, id, snap, res, now)
	for delay := 100 * time.Millisecond; err != nil && res.Status.IsTerminal() && delay < 10*time.Second; delay *= 2 {
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		err = w.updateInstanceRow(ctx, id, snap, res, now)
	}
	return err
}

// updateInstanceRow mirrors the execution's state into the Instances
// table. Steps that change nothing a reader sees (status, custom status,
// output) are not written, which saves a request per activity step; the
// cost is that LastUpdatedTime moves only with such changes.
func (w *Worker) updateInstanceRow(ctx context.Context, id string, snap *snapshot, res *durable.Result, now time.Time) error {
	status := res.Status
	custom := res.CustomStatus
	first := snap.rowExecution != snap.executionID
	if !first && status == snap.rowStatus && custom == snap.rowCustom && !status.IsTerminal() {
		return nil
	}
	p := layout.InstancePatch{RuntimeStatus: &status, LastUpdatedTime: &now}
	var extra map[string]any
	if custom != snap.rowCustom || first {
		p.CustomStatus = &custom
	}
	if first {
		exec := snap.executionID
		p.ExecutionID, p.Name, p.Version = &exec, &res.Name, &res.Version
		var start *history.Event
		for i := range snap.events {
			if snap.events[i].Type == history.ExecutionStarted {
				start = &snap.events[i]
				break
			}
		}
		if start != nil {
			input := start.Input
			p.Input = &input
			created := start.Timestamp
			if created.IsZero() {
				created = now
			}
			extra = map[string]any{"CreatedTime": created.UTC(), "TaskHubName": w.hub.Name()}
			// A client indexes the starts it makes; sub-orchestrations and
			// continued executions are indexed here, before their row.
			// Entities are not: the index serves lists of orchestrations,
			// and an entity's every batch is an execution.
			if start.MessageID != layout.StartMessageID(id, snap.executionID) && !entity.IsEntity(id) {
				if err := w.hub.PutIndex(ctx, id, created); err != nil {
					return err
				}
			}
		}
		empty := ""
		p.Output = &empty
	}
	switch {
	case status.IsTerminal():
		out := res.Output
		p.Output, p.CompletedTime = &out, &now
	case status != snap.rowStatus && (status == history.StatusSuspended || snap.rowStatus == history.StatusSuspended):
		// As the Durable Task Framework does: a suspended instance (and one
		// just resumed) shows the reason as its output.
		reason := res.SuspendReason
		p.Output = &reason
	}
	if err := w.hub.PatchInstance(ctx, id, p, extra); err != nil {
		return err
	}
	snap.rowStatus, snap.rowCustom, snap.rowExecution = status, custom, snap.executionID
	return nil
}

// parallel runs fn for 0..n-1 with at most limit at once and returns the
// first error; every call runs, whatever the others return. One call runs
// in the caller's goroutine, the common case of an episode's one message.
func parallel(ctx context.Context, n, limit int, fn func(context.Context, int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}
