package worker

import (
	"context"
	"fmt"
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
//   - a Pending instance gets its start message again, in case the client
//     died between writing the row and sending the message (a duplicate
//     start is dropped).
//
// It scans the Instances table for unfinished instances, which is costly
// on a large hub, but it runs only when a lease is taken over without a
// clean hand-over, beside the partition's normal processing, and loads the
// histories of its partition's instances recoveryLoads at a time.
func (w *Worker) recoverPartition(ctx context.Context, partition int, epoch int64) error {
	started := time.Now()
	q := azstore.InstanceQuery{Statuses: []history.RuntimeStatus{history.StatusPending, history.StatusRunning,
		history.StatusSuspended, history.StatusContinuedAsNew}, Top: 1000}
	var activities, kicked, restarted, repaired, seen atomic.Int64
	for {
		page, err := w.hub.QueryInstances(ctx, q)
		if err != nil {
			return fmt.Errorf("recover partition %d: %w", partition, err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(recoveryLoads)
		for _, row := range page.Rows {
			if w.hub.PartitionOf(row.InstanceID) != partition {
				continue
			}
			seen.Add(1)
			g.Go(func() error {
				a, k, r, p, err := w.recoverInstance(gctx, partition, epoch, row)
				activities.Add(int64(a))
				kicked.Add(int64(k))
				restarted.Add(int64(r))
				repaired.Add(int64(p))
				if err != nil {
					return fmt.Errorf("recover partition %d: %w", partition, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if page.Continuation == "" {
			break
		}
		q.Continuation = page.Continuation
	}
	w.log.Info("partition recovered", "partition", partition, "instances", seen.Load(), "activitiesRestarted", activities.Load(),
		"continued", kicked.Load(), "startsResent", restarted.Load(), "rowsRepaired", repaired.Load(),
		"took", time.Since(started).Round(time.Millisecond))
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
	if startLost(row, hs) {
		if err := w.resendStart(ctx, row); err != nil {
			return 0, 0, 0, 0, err
		}
		return 0, 0, 1, 0, nil
	}
	if end := completion(hs.Events); end != nil {
		// History finished but the row was not updated before the crash.
		if err := w.repairRow(ctx, row.InstanceID, end); err != nil {
			return 0, 0, 0, 0, err
		}
		return 0, 0, 0, 1, nil
	}
	if durable.EndedByContinueAsNew(hs.Events) || rowBehind(row, hs.ExecutionID, hs.Events) {
		// An interrupted continue-as-new is carried out, and a row behind
		// its history rewritten, by an episode.
		w.insts.deliver(row.InstanceID, partition, epoch, nil, true)
		kicked = 1
		if durable.EndedByContinueAsNew(hs.Events) {
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
func (w *Worker) sweepPending(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		if w.stopping.Load() {
			return
		}
		w.resends.prune(time.Now().Add(-resendMemory))
		n, err := w.resendLostStarts(w.ctx, time.Now().Add(-interval))
		if err != nil && w.ctx.Err() == nil {
			w.log.Warn("looking for lost starts failed", "error", err)
		}
		if n > 0 {
			w.log.Warn("resent lost start messages", "count", n)
		}
	}
}

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
			p := w.hub.PartitionOf(row.InstanceID)
			// A partition not polled yet (its new owner waits for the old
			// owner's messages to come back, then drains them) may hold the
			// start in its queue: only its recovery may resend it.
			if !w.parts.polling(p) || w.insts.active(row.InstanceID) || w.resends.sent(row.InstanceID, row.ExecutionID) {
				continue
			}
			if row.ScheduledStartTime != nil && row.ScheduledStartTime.After(createdBefore) {
				continue // not due long enough to count as lost
			}
			hs, err := w.hub.LoadHistory(ctx, row.InstanceID)
			if err != nil {
				return resent, err
			}
			if !startLost(row, hs) {
				continue
			}
			if err := w.resendStart(ctx, row); err != nil {
				return resent, err
			}
			resent++
		}
		if page.Continuation == "" {
			return resent, nil
		}
		q.Continuation = page.Continuation
	}
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

// repairRow writes a finished execution's outcome into its instance row.
func (w *Worker) repairRow(ctx context.Context, id string, end *history.Event) error {
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
		CompletedTime: &at, LastUpdatedTime: &now}, nil)
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
