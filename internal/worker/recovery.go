package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/azstore"
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
			if len(hs.Events) == 0 || (row.RuntimeStatus == history.StatusPending && hs.ExecutionID != row.ExecutionID) {
				if err := w.resendStart(ctx, row.InstanceID, row.Name, row.Version, row.ExecutionID, row.Input, row.Generation, row.CreatedTime, row.ScheduledStartTime); err != nil {
					return err
				}
				restarted++
				continue
			}
			n := len(hs.Events)
			if end := completion(hs.Events); end != nil {
				// History finished but the row was not updated before the crash.
				if err := w.repairRow(ctx, row.InstanceID, end); err != nil {
					return fmt.Errorf("recover partition %d: %w", partition, err)
				}
				repaired++
				continue
			}
			if n > 0 && hs.Events[n-1].Type == history.ContinueAsNew {
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

func (w *Worker) resendStart(ctx context.Context, id, name, version, executionID, input string, generation int, created time.Time, scheduled *time.Time) error {
	ev := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: created, Name: name, Version: version, Input: input,
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: id, ExecutionID: executionID}, ScheduledStartTime: scheduled,
		Generation: generation}
	var visibleAt time.Time
	if scheduled != nil {
		visibleAt = *scheduled
	}
	tm := history.TaskMessage{OrchestrationInstance: history.OrchestrationInstance{InstanceID: id, ExecutionID: executionID}, Event: ev}
	if err := w.hub.SendToInstance(ctx, tm, visibleAt); err != nil {
		return fmt.Errorf("resend start of %q: %w", id, err)
	}
	return nil
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
		output = end.FailureDetails.JSON()
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
