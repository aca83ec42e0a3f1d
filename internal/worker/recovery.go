package worker

import (
	"context"
	"fmt"
	"time"

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
// clean hand-over.
func (w *Worker) recoverPartition(ctx context.Context, partition int, epoch int64) error {
	started := time.Now()
	q := azstore.InstanceQuery{Statuses: []history.RuntimeStatus{history.StatusPending, history.StatusRunning,
		history.StatusSuspended, history.StatusContinuedAsNew}, Top: 1000}
	activities, kicked, restarted, repaired, seen := 0, 0, 0, 0, 0
	for {
		page, err := w.hub.QueryInstances(ctx, q)
		if err != nil {
			return fmt.Errorf("recover partition %d: %w", partition, err)
		}
		for _, row := range page.Rows {
			if w.hub.PartitionOf(row.InstanceID) != partition {
				continue
			}
			seen++
			// History, not the row, says how far an instance got: the row is
			// written after the checkpoint and may lag behind it.
			hs, err := w.hub.LoadHistory(ctx, row.InstanceID)
			if err != nil {
				return fmt.Errorf("recover partition %d: %w", partition, err)
			}
			if startLost(row, hs) {
				if err := w.resendStart(ctx, row); err != nil {
					return err
				}
				restarted++
				continue
			}
			if end := completion(hs.Events); end != nil {
				// History finished but the row was not updated before the crash.
				if err := w.repairRow(ctx, row.InstanceID, end); err != nil {
					return fmt.Errorf("recover partition %d: %w", partition, err)
				}
				repaired++
				continue
			}
			if durable.EndedByContinueAsNew(hs.Events) {
				w.insts.deliver(row.InstanceID, partition, epoch, nil, true)
				kicked++
				continue
			}
			for _, tm := range unfinishedActivities(row.InstanceID, hs) {
				if w.acts.reserve() {
					w.acts.submit(partition, []history.TaskMessage{tm})
				} else if err := w.hub.SendToWorkItems(ctx, tm); err != nil {
					return fmt.Errorf("recover partition %d: %w", partition, err)
				}
				activities++
			}
		}
		if page.Continuation == "" {
			break
		}
		q.Continuation = page.Continuation
	}
	w.log.Info("partition recovered", "partition", partition, "instances", seen, "activitiesRestarted", activities,
		"continued", kicked, "startsResent", restarted, "rowsRepaired", repaired, "took", time.Since(started).Round(time.Millisecond))
	return nil
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
	tm := layout.StartMessage(row)
	var visibleAt time.Time
	if row.ScheduledStartTime != nil {
		visibleAt = *row.ScheduledStartTime
	}
	if err := w.hub.SendToInstance(ctx, tm, visibleAt); err != nil {
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
			if _, ok := w.parts.ownedEpoch(p); !ok || w.insts.active(row.InstanceID) {
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
