package worker

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// recoverPartition finds work that the partition's previous owner may have
// held only in memory when it died, and restarts it:
//   - activities that history shows as scheduled but not finished run again
//     (activities are at-least-once; a duplicate result is dropped);
//   - an execution that recorded a continue-as-new but not its successor
//     is continued;
//   - a row behind its history is rewritten, and a finished one repaired;
//   - a Pending instance gets its start message again, in case the client
//     died between writing the row and sending the message (a duplicate
//     start is dropped).
//
// It reads the partition's in-flight rows (layout.InFlightTable), which a
// worker writes before any checkpoint that leaves such work, and not the
// Instances table: its cost follows what the dead worker had in flight, not
// the hub. It runs only when a lease is taken over without a clean
// hand-over, beside the partition's normal processing, and loads the
// histories recoveryLoads at a time. Rows that point at nothing left to do
// are deleted.
func (w *Worker) recoverPartition(ctx context.Context, partition int, epoch int64) (err error) {
	started := time.Now()
	defer func() { w.opts.Metrics.Recovery(time.Since(started), err != nil) }()
	ids, err := w.hub.ListInFlight(ctx, partition)
	if err != nil {
		return fmt.Errorf("recover partition %d: %w", partition, err)
	}
	var activities, kicked, restarted, repaired, cleared atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(recoveryLoads)
	for _, id := range ids {
		g.Go(func() error {
			row, err := w.hub.GetInstanceColumns(gctx, id, nil)
			if err != nil {
				return fmt.Errorf("recover partition %d: %w", partition, err)
			}
			var a, k, r, p int
			if row != nil {
				a, k, r, p, err = w.recoverInstance(gctx, partition, epoch, row)
				if err != nil {
					return fmt.Errorf("recover partition %d: %w", partition, err)
				}
			}
			activities.Add(int64(a))
			kicked.Add(int64(k))
			restarted.Add(int64(r))
			repaired.Add(int64(p))
			// Work handed to an episode or an activity keeps the row (the
			// instance deletes it once quiet); otherwise nothing is left.
			if a == 0 && k == 0 {
				if err := w.hub.DeleteInFlight(gctx, id); err != nil {
					w.log.Debug("deleting an in-flight row failed", "instanceId", id, "error", err)
				} else {
					cleared.Add(1)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	w.log.Info("partition recovered", "partition", partition, "instances", len(ids), "activitiesRestarted", activities.Load(),
		"continued", kicked.Load(), "startsResent", restarted.Load(), "rowsRepaired", repaired.Load(),
		"rowsCleared", cleared.Load(), "took", time.Since(started).Round(time.Millisecond))
	return nil
}

// recoveryLoads bounds the histories one partition's recovery loads at once.
const recoveryLoads = 16

// recoverInstance restarts what one unfinished instance may have lost (see
// recoverPartition) and counts what it did: activities re-run, episodes
// kicked, starts resent, rows repaired.
func (w *Worker) recoverInstance(ctx context.Context, partition int, epoch int64, row *layout.InstanceRow) (activities, kicked, restarted, repaired int, err error) {
	// History, not the row, says how far an instance got: the row is
	// written after the checkpoint and may lag behind it.
	hs, err := w.hub.LoadHistory(ctx, row.InstanceID)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	end := completion(hs.Events)
	if row.RuntimeStatus.IsTerminal() && (len(hs.Events) == 0 ||
		end != nil && end.OrchestrationStatus == row.RuntimeStatus && hs.ExecutionID == row.ExecutionID) {
		return 0, 0, 0, 0, nil // finished, and the row says so
	}
	if startLost(row, hs) {
		if err := w.resendStart(ctx, row); err != nil {
			return 0, 0, 0, 0, err
		}
		w.opts.Metrics.StartResent()
		return 0, 0, 1, 0, nil
	}
	if end != nil {
		// History finished but the row was not updated before the crash.
		if err := w.repairRow(ctx, row.InstanceID, hs.ExecutionID, end); err != nil {
			return 0, 0, 0, 0, err
		}
		return 0, 0, 0, 1, nil
	}
	continued := durable.EndedByContinueAsNew(hs.Events)
	if continued || rowBehind(row, hs.ExecutionID, hs.Events) {
		// An interrupted continue-as-new is carried out, and a row behind
		// its history rewritten, by an episode.
		w.insts.deliver(row.InstanceID, partition, epoch, nil, true)
		kicked = 1
		if continued {
			return 0, kicked, 0, 0, nil
		}
	}
	for _, tm := range unfinishedActivities(row.InstanceID, hs) {
		if w.acts.reserve() {
			w.acts.submit(partition, []history.TaskMessage{tm})
		} else if err := w.hub.SendToWorkItems(ctx, tm); err != nil {
			return activities, kicked, 0, 0, err
		}
		activities++
	}
	return activities, kicked, 0, 0, nil
}

// unfinishedActivities lists the TaskScheduled events of the current
// execution that have no result yet.
func unfinishedActivities(instanceID string, hs *azstore.HistorySnapshot) []history.TaskMessage {
	done := map[int]bool{}
	for _, e := range hs.Events {
		if e.Type == history.TaskCompleted || e.Type == history.TaskFailed {
			done[e.TaskScheduledID] = true
		}
	}
	var out []history.TaskMessage
	for _, e := range hs.Events {
		if e.Type == history.TaskScheduled && !done[e.EventID] {
			out = append(out, history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{
				InstanceID: instanceID, ExecutionID: hs.ExecutionID}, Event: e})
		}
	}
	return out
}

// resendStart sends the start message of a Pending row again. If the
// first one exists after all, the instance drops the copy: both carry the
// row's execution ID.
func (w *Worker) resendStart(ctx context.Context, row *layout.InstanceRow) error {
	if !w.resends.first(row.InstanceID, row.ExecutionID, time.Now()) {
		// Sent again already: that copy is in the queue, durable, and a
		// worker that dies holding it leaves it there.
		return nil
	}
	tm := layout.StartMessage(row)
	var visibleAt time.Time
	if row.ScheduledStartTime != nil {
		visibleAt = *row.ScheduledStartTime
	}
	if err := w.hub.SendToInstance(ctx, tm, visibleAt); err != nil {
		w.resends.forget(row.InstanceID, row.ExecutionID)
		return fmt.Errorf("resend start of %q: %w", row.InstanceID, err)
	}
	w.Notify(row.InstanceID)
	return nil
}

// sweepPending looks, every interval, for Pending instances of this
// worker's partitions that are older than interval and have no history of
// their execution: their start message was lost (the client died between
// writing the row and sending it, or the send failed), and nothing else
// would ever run them. It sends their start again.
//
// Each look reads only the starts made since the last one, through the
// instance index, so that an idle app's background work does not grow
// with the hub (see lookForLostStarts); once a day, and while the index is
// incomplete, it scans the Instances table instead.
func (w *Worker) sweepPending(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var sweep lostStartSweep
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		if w.stopping.Load() {
			return
		}
		now := time.Now()
		w.resends.prune(now.Add(-resendMemory))
		// A start is looked at by the looks between interval and
		// 2 × interval + the overlap after it was made.
		w.starts.prune(now.Add(-2*interval - 2*lostStartOverlap))
		n, err := w.lookForLostStarts(w.ctx, &sweep, now, interval)
		if err != nil && w.ctx.Err() == nil {
			w.log.Warn("looking for lost starts failed", "error", err)
		}
		if n > 0 {
			w.log.Warn("resent lost start messages", "count", n)
		}
	}
}

// Bounds of the look for lost starts.
const (
	// lostStartLookback is how far back a worker's first look reads the
	// index: a start lost longer before, while no worker looked, waits for
	// the daily scan (or a takeover's recovery).
	lostStartLookback = time.Hour
	// lostStartFullScan is how often the owner of partition 0 scans the
	// whole Instances table for lost starts all the same; its first scan
	// comes that long after the worker started, so that a restart (after a
	// crash, say) reads no more than the starts since the last look.
	lostStartFullScan = 24 * time.Hour
	// lostStartOverlap is how far each look reads back before where the
	// last one ended: for clock skew, and for starts whose index row was
	// written a little before their instance row.
	lostStartOverlap = time.Minute
)

// lostStartSweep is where the look for lost starts got to: per partition
// this worker polls, the index was read up to from[p] (since it acquired
// the partition in epoch[p]), and the last full scan ran at fullAt. Each
// partition has its own mark because a worker that takes a partition over
// must look at the starts its previous owner may have held, however far
// its looks at its other partitions got.
type lostStartSweep struct {
	from   map[int]time.Time
	epoch  map[int]int64
	fullAt time.Time
}

// lookForLostStarts runs one look: through the index, over the starts made
// in each polled partition between the end of the last look there (less
// lostStartOverlap; lostStartLookback back for a partition just acquired)
// and now − interval; or, once a day on the owner of partition 0 and
// whenever the index is not complete, a scan of every Pending row.
func (w *Worker) lookForLostStarts(ctx context.Context, sw *lostStartSweep, now time.Time, interval time.Duration) (int, error) {
	cutoff := now.Add(-interval)
	complete, err := w.hub.IndexComplete(ctx)
	if err != nil {
		return 0, err
	}
	if sw.fullAt.IsZero() {
		sw.fullAt = now
	}
	_, leader := w.parts.ownedEpoch(0)
	if !complete || (leader && now.Sub(sw.fullAt) >= lostStartFullScan) {
		n, err := w.resendLostStarts(ctx, cutoff)
		if err == nil && complete {
			sw.fullAt = now
		}
		return n, err
	}
	if sw.from == nil {
		sw.from, sw.epoch = map[int]time.Time{}, map[int]int64{}
	}
	var earliest time.Time
	for p := range w.hub.PartitionCount() {
		epoch, ok := w.parts.pollingEpoch(p)
		if !ok {
			delete(sw.from, p)
			continue
		}
		if _, seen := sw.from[p]; !seen || sw.epoch[p] != epoch {
			sw.from[p], sw.epoch[p] = now.Add(-lostStartLookback), epoch
		}
		if earliest.IsZero() || sw.from[p].Before(earliest) {
			earliest = sw.from[p]
		}
	}
	if earliest.IsZero() || !earliest.Before(cutoff) {
		return 0, nil
	}
	looked := maps.Clone(sw.from)
	n, err := w.resendLostStartsIndexed(ctx, earliest.Add(-lostStartOverlap), cutoff, func(p int, created time.Time) bool {
		from, ok := looked[p]
		return ok && !created.Before(from.Add(-lostStartOverlap))
	})
	if err == nil {
		for p := range looked {
			sw.from[p] = cutoff
		}
	}
	return n, err
}

// resendLostStartsIndexed looks at the instances the index lists as
// created in [from, to) in this worker's partitions, those that want
// accepts, and hands each that is still Pending to resendIfLost: its start
// is sent again when it has no history, its row repaired when it has.
// Instances whose start this worker processed are skipped without a read.
func (w *Worker) resendLostStartsIndexed(ctx context.Context, from, to time.Time, want func(partition int, created time.Time) bool) (int, error) {
	q := azstore.IndexQuery{From: from, To: to, Top: 1000}
	resent := 0
	for {
		entries, more, err := w.hub.QueryIndex(ctx, q)
		if err != nil {
			return resent, err
		}
		for _, e := range entries {
			p := w.hub.PartitionOf(e.InstanceID)
			// An instance busy in this worker is looked at all the same: the
			// events of one whose start was lost (a child's result, a raised
			// event) keep it busy, coming back again and again to wait for
			// that start, and a look right after a takeover's drain finds
			// most instances busy. A start resent while its first one is
			// under way costs a message that the instance drops.
			if !want(p, e.CreatedTime) || !w.parts.polling(p) || w.starts.seen(e.InstanceID) {
				continue
			}
			row, err := w.hub.GetInstanceColumns(ctx, e.InstanceID, nil)
			if err != nil {
				return resent, err
			}
			if row == nil || row.RuntimeStatus != history.StatusPending || !row.CreatedTime.Equal(e.CreatedTime) {
				continue // not (or no longer) a waiting start of this index row
			}
			ok, err := w.resendIfLost(ctx, row, to)
			if err != nil {
				return resent, err
			}
			if ok {
				resent++
			}
		}
		if !more || len(entries) == 0 {
			return resent, nil
		}
		last := entries[len(entries)-1]
		q.AfterPartitionKey, q.AfterRowKey = last.PartitionKey, last.RowKey
	}
}

// resendLostStarts scans the Instances table for Pending rows created
// before createdBefore and hands each to resendIfLost.
func (w *Worker) resendLostStarts(ctx context.Context, createdBefore time.Time) (int, error) {
	q := azstore.InstanceQuery{Statuses: []history.RuntimeStatus{history.StatusPending},
		CreatedTo: layout.FormatTime(createdBefore), Top: 1000}
	resent := 0
	for {
		page, err := w.hub.QueryInstances(ctx, q)
		if err != nil {
			return resent, fmt.Errorf("query pending instances: %w", err)
		}
		for _, row := range page.Rows {
			// A partition not polled yet (its new owner waits for the old
			// owner's messages to come back, then drains them) may hold the
			// start in its queue: only its recovery may resend it.
			if !w.parts.polling(w.hub.PartitionOf(row.InstanceID)) {
				continue // busy instances too: see resendLostStartsIndexed
			}
			ok, err := w.resendIfLost(ctx, row, createdBefore)
			if err != nil {
				return resent, err
			}
			if ok {
				resent++
			}
		}
		if page.Continuation == "" {
			return resent, nil
		}
		q.Continuation = page.Continuation
	}
}

// resendIfLost resends the start of a Pending row that was due before
// cutoff and has no history of its execution, once per worker. A Pending
// row with history is behind it: the first checkpoint of a client's start
// writes no in-flight row (see needsJournal), so a crash between it and
// the row write leaves this, which the instance's recovery repairs here.
func (w *Worker) resendIfLost(ctx context.Context, row *layout.InstanceRow, cutoff time.Time) (bool, error) {
	if w.resends.sent(row.InstanceID, row.ExecutionID) {
		return false, nil
	}
	if row.ScheduledStartTime != nil && row.ScheduledStartTime.After(cutoff) {
		return false, nil // not due long enough to count as lost
	}
	p := w.hub.PartitionOf(row.InstanceID)
	epoch, ok := w.parts.pollingEpoch(p)
	if !ok {
		return false, nil
	}
	_, _, restarted, _, err := w.recoverInstance(ctx, p, epoch, row)
	return restarted > 0, err
}

// completion returns the execution's terminal ExecutionCompleted event, if
// it has one.
func completion(events []history.Event) *history.Event {
	for i := len(events) - 1; i >= 0; i-- {
		e := &events[i]
		if e.Type == history.ExecutionCompleted && e.OrchestrationStatus.IsTerminal() {
			return e
		}
	}
	return nil
}

// repairRow writes a finished execution's outcome into its instance row,
// with the execution's ID: a crash may have left the row at an execution
// that history continued past.
func (w *Worker) repairRow(ctx context.Context, id, executionID string, end *history.Event) error {
	status := end.OrchestrationStatus
	output := end.Result
	if status == history.StatusFailed && end.FailureDetails != nil {
		output = end.FailureDetails.String()
	}
	at := end.Timestamp
	now := time.Now().UTC()
	if at.IsZero() {
		at = now
	}
	err := w.hub.PatchInstance(ctx, id, layout.InstancePatch{RuntimeStatus: &status, Output: &output,
		CompletedTime: &at, LastUpdatedTime: &now, ExecutionID: &executionID}, nil)
	if err != nil {
		return err
	}
	// Waiters re-read the row: this one lacks the columns recovery did not touch.
	row, err := w.hub.GetInstance(ctx, id)
	if err == nil {
		w.publishDone(id, row)
	}
	return nil
}

// resendMemory is how long a worker remembers the starts it sent again.
const resendMemory = time.Hour

// resends remembers which executions' starts this worker has sent again,
// so that each lost start is sent again once, not at every look.
type resends struct {
	mu sync.Mutex
	at map[string]time.Time
}

func resendKey(instanceID, executionID string) string { return instanceID + "\x00" + executionID }

// first records a resend of the execution's start at now and reports
// whether it is the first one remembered.
func (r *resends) first(instanceID, executionID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := resendKey(instanceID, executionID)
	if _, ok := r.at[k]; ok {
		return false
	}
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	r.at[k] = now
	return true
}

func (r *resends) sent(instanceID, executionID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.at[resendKey(instanceID, executionID)]
	return ok
}

func (r *resends) forget(instanceID, executionID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, resendKey(instanceID, executionID))
}

// prune forgets resends made before cutoff.
func (r *resends) prune(cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, t := range r.at {
		if t.Before(cutoff) {
			delete(r.at, k)
		}
	}
}

// starts remembers the instances whose start this worker processed (the
// checkpoint that holds their ExecutionStarted), so that the look for lost
// starts skips them without reading their rows.
type starts struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *starts) note(id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[string]time.Time{}
	}
	s.at[id] = now
}

func (s *starts) seen(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.at[id]
	return ok
}

func (s *starts) prune(cutoff time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.at {
		if t.Before(cutoff) {
			delete(s.at, id)
		}
	}
}
