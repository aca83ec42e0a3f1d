package worker

import (
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// This file holds the worker's decisions as plain functions over messages,
// history and leases, apart from the I/O that carries them out, so that
// each exactly-once rule has a unit test of its own.

// orderBatch sorts an instance's batch into the order its messages were
// sent: a message that was hidden (held by a worker that crashed, say)
// comes back behind younger ones, and applying it in that order would
// reorder one sender's events. The key is the time the sender stamped on
// the event when it sent it, which orders one sender's messages exactly;
// the queue's insertion time, which has only whole seconds, is the
// fallback for an event without one. Events handed over in memory carry no
// such order and keep theirs, ahead of the messages.
func orderBatch(batch []delivery) {
	sort.SliceStable(batch, func(i, j int) bool {
		return sentAt(batch[i]).Before(sentAt(batch[j]))
	})
}

func sentAt(d delivery) time.Time {
	switch {
	case d.msg == nil:
		return time.Time{}
	case !d.ev.Timestamp.IsZero():
		return d.ev.Timestamp
	}
	return d.msg.Inserted
}

// KeptDeletedIDs is how many IDs of deleted messages, the most recent, a
// continue-as-new still carries. A deleted message never comes back, but
// its sender may send a copy under the same ID: a replay sends again the
// messages of an episode whose checkpoint failed, and a bulk operation
// (internal/batch) repeats a step after a crash, seconds later. The copy
// must be dropped too, even when the instance has continued as new since.
const KeptDeletedIDs = 100

// redeliveryHorizon is how long after it was consumed an undeleted message
// may still come back: a held message is hidden for seconds at a time (see
// maxHold), a crashed holder's for at most the visibility timeout, and a
// sender repeats a message (a replay after a crash, a repeated bulk step)
// within a takeover or two. An hour leaves a wide margin.
const redeliveryHorizon = time.Hour

// appliedToCarry picks the message IDs a continue-as-new carries into the
// next execution: every ID whose message may still be redelivered, with no
// fixed window. IDs of messages this worker deleted are dropped but for the
// KeptDeletedIDs most recent (see withoutDeleted); IDs inherited from the
// execution before (whose deletion this worker may not have seen) are
// dropped once that execution started more than redeliveryHorizon ago,
// since they were all consumed before it started.
func appliedToCarry(can *durable.ContinueAsNew, deleted map[string]bool, now time.Time) []string {
	applied := can.Applied
	if can.Inherited > 0 && !can.StartedAt.IsZero() && now.Sub(can.StartedAt) > redeliveryHorizon {
		applied = applied[min(can.Inherited, len(applied)):]
	}
	return withoutDeleted(applied, deleted)
}

// withoutDeleted drops from the message IDs a continue-as-new carries those
// whose messages were deleted, but for the KeptDeletedIDs most recent: the
// others only take room from IDs whose messages may still be redelivered.
func withoutDeleted(applied []string, deleted map[string]bool) []string {
	if len(deleted) == 0 {
		return applied
	}
	keep := make([]bool, len(applied))
	recent := 0
	for i := len(applied) - 1; i >= 0; i-- {
		if !deleted[applied[i]] {
			keep[i] = true
		} else if recent < KeptDeletedIDs {
			keep[i] = true
			recent++
		}
	}
	out := applied[:0:0]
	for i, id := range applied {
		if keep[i] {
			out = append(out, id)
		}
	}
	return out
}

// keepDeleted keeps, of the deleted message IDs, those of the events that
// open the next execution (its carried-over events): only they can still
// end up in a later continue-as-new's list.
func keepDeleted(deleted map[string]bool, next []history.Event) map[string]bool {
	if len(deleted) == 0 {
		return deleted
	}
	kept := map[string]bool{}
	for _, e := range next {
		if deleted[e.MessageID] {
			kept[e.MessageID] = true
		}
	}
	return kept
}

// takeoverNotBefore is when a worker taking lease l may first dequeue. A
// worker keeps the messages it holds hidden for hold at a time, renewing
// them only while its lease is valid by its own clock; so when the lease
// was not released but ran out, every message its owner held is visible
// again by the lease's expiry plus hold. Waiting that long (plus a second
// for clock skew) lets the new owner see those messages together with the
// younger ones. A lease released cleanly had its messages given back.
func takeoverNotBefore(l *azstore.Lease, hold time.Duration) time.Time {
	if l.CurrentOwner == "" || l.ExpiresAt.IsZero() {
		return time.Time{}
	}
	return l.ExpiresAt.Add(hold + time.Second)
}

// leaseCounts is who holds how many partitions, as one lease round sees
// it: owners of unexpired leases, workers that recently asked for one,
// and this worker.
type leaseCounts struct {
	partitions int
	counts     map[string]int
	now        time.Time
}

func leaseView(leases []*azstore.Lease, me string, now time.Time, dur time.Duration) leaseCounts {
	v := leaseCounts{counts: map[string]int{me: 0}, now: now}
	for _, l := range leases {
		if l == nil {
			continue
		}
		v.partitions++
		if l.CurrentOwner != "" && now.Before(l.ExpiresAt) {
			v.counts[l.CurrentOwner]++
		}
		if l.NextOwner != "" && now.Before(l.LastRenewal.Add(dur)) {
			if _, ok := v.counts[l.NextOwner]; !ok {
				v.counts[l.NextOwner] = 0
			}
		}
	}
	return v
}

// ceilShare is the most partitions a worker needs to hold for all of
// them to be held: ⌈partitions / workers⌉.
func (v leaseCounts) ceilShare() int {
	return (v.partitions + len(v.counts) - 1) / len(v.counts)
}

// asks picks the leases this worker asks their owners for: one at a time
// from the busiest owner while that owner holds at least two more than this
// worker, up to this worker's ceiling share. That ends with every worker
// within one of every other (4 partitions over 3 workers: 2/1/1), which
// asking only owners above the ceiling share would not (2/2/0 stays).
// A lease already promised to this worker counts as its own.
func (v leaseCounts) asks(leases []*azstore.Lease, me string) []*azstore.Lease {
	counts := map[string]int{}
	for k, n := range v.counts {
		counts[k] = n
	}
	askable := map[string][]*azstore.Lease{}
	for _, l := range leases {
		if l == nil || l.CurrentOwner == "" || l.CurrentOwner == me || !v.now.Before(l.ExpiresAt) {
			continue // free or expired: claimed, not asked for
		}
		switch l.NextOwner {
		case me:
			counts[me]++
			counts[l.CurrentOwner]--
		case "":
			askable[l.CurrentOwner] = append(askable[l.CurrentOwner], l)
		}
	}
	limit := v.ceilShare()
	var out []*azstore.Lease
	for counts[me] < limit {
		victim := ""
		for owner, ls := range askable {
			if len(ls) == 0 || counts[owner] < counts[me]+2 {
				continue
			}
			if victim == "" || counts[owner] > counts[victim] || (counts[owner] == counts[victim] && owner < victim) {
				victim = owner
			}
		}
		if victim == "" {
			break
		}
		ls := askable[victim]
		out = append(out, ls[0])
		askable[victim] = ls[1:]
		counts[victim]--
		counts[me]++
	}
	return out
}

// startLost reports whether an instance row's start can only have been
// lost: the row is Pending (or, read by recovery, unfinished) while history
// holds nothing of the row's execution. A row that a restart replaced is
// Pending with the old execution's history, hence the execution check.
func startLost(row *layout.InstanceRow, hs *azstore.HistorySnapshot) bool {
	if len(hs.Events) == 0 {
		return true
	}
	if row.RuntimeStatus != history.StatusPending || hs.ExecutionID == row.ExecutionID {
		return false
	}
	// The row names another execution than history does: one that a
	// client's restart wrote after history's (its start is lost), or one
	// that history has continued past since a crash kept the row from
	// being written (the row is behind; an episode rewrites it). Sending
	// that old start again would restart the instance once it finishes.
	for _, e := range hs.Events {
		if e.Type == history.ExecutionStarted {
			return row.CreatedTime.After(e.Timestamp)
		}
	}
	return true
}

// grants decides which of this worker's leases that other workers asked
// for it gives up: never so many that it falls below ⌊partitions /
// workers⌋, and each to an asker that then holds no more than this worker,
// the askers with the fewest first. Askers that join at once each count
// only the workers they have seen, so together they may ask for more than
// is fair; the owner, which sees every ask, is where that is capped. The
// asks it refuses are to be cleared.
func (v leaseCounts) grants(mine []*azstore.Lease, me string) (release, refuse []*azstore.Lease) {
	var asked []*azstore.Lease
	for _, l := range mine {
		if l.NextOwner != "" && l.NextOwner != me {
			asked = append(asked, l)
		}
	}
	if len(asked) == 0 {
		return nil, nil
	}
	counts := map[string]int{}
	for k, n := range v.counts {
		counts[k] = n
	}
	remaining := len(mine)
	floor := v.partitions / len(counts)
	sort.SliceStable(asked, func(i, j int) bool { return counts[asked[i].NextOwner] < counts[asked[j].NextOwner] })
	for _, l := range asked {
		if remaining > floor && counts[l.NextOwner]+2 <= remaining {
			release = append(release, l)
			counts[l.NextOwner]++
			remaining--
			continue
		}
		refuse = append(refuse, l)
	}
	return release, refuse
}

// maxDefer bounds how long an instance's progress stays in memory only,
// and maxUncommitted how many events of it: a checkpoint batch holds 99
// rows besides the sentinel.
const (
	maxDefer       = time.Second
	maxUncommitted = 80
	// maxDeferHistory: past this many events an episode's replay costs
	// more than its checkpoint, and the checkpoint's wait is what lets
	// results pile up into one episode (a fan-out of a thousand
	// activities); so long histories that are not parked (see
	// Worker.execute) are checkpointed every episode. A parked one's
	// episode costs what it adds, whatever the history: it defers as a
	// short one does, so a step of a long chain costs what a step of a
	// short one does, storage requests included.
	maxDeferHistory = 200
	// maxHeldDeferred bounds the queue messages held for an instance's
	// progress kept in memory.
	maxHeldDeferred = 16
)

// mayDefer decides whether an episode's events may stay in memory instead
// of being checkpointed now. A chain of activities run in this process
// then costs one checkpoint per maxDefer rather than one per step: when
// the episode sent nothing to another instance, a timer or the shared
// work-item queue, did not finish or continue as new, and has activities
// to wait for, whose results will bring the next episode (a timer
// checkpoints after maxDefer at the latest). A crash loses the progress
// kept in memory, which is safe: the durable history is a prefix of it, so the
// replay schedules the lost steps again and their activities run again
// (activities are at-least-once), and no result is ever applied twice.
// Nothing is deferred while the worker stops.
//
// Queue messages the deferred steps consumed (heldMessages, counting those
// of earlier deferred steps) stay held, hidden by the renewer, until the
// checkpoint that ends the deferral holds their events; then they are
// deleted. Should the progress be dropped instead, they are given back
// and come again, as after a crash. So a start sent through the queue (by
// another app, or a parent) runs as cheaply as one taken in memory, and a
// few messages per instance are all that wait: maxDefer is far below a
// message's visibility timeout.
func mayDefer(snap *snapshot, res *durable.Result, heldMessages, sentElsewhere int, stopping bool, now time.Time) bool {
	switch {
	case stopping, heldMessages > maxHeldDeferred, sentElsewhere > 0, res.ContinueAsNew != nil,
		res.Status != history.StatusRunning, snap.open+openActivities(res.Appended) <= 0:
		return false
	case !snap.deferredSince.IsZero() && now.Sub(snap.deferredSince) >= maxDefer,
		len(snap.events) > maxDeferHistory && !snap.sess.Live():
		return false
	}
	return snap.uncommitted()+len(res.Appended) <= maxUncommitted
}

// openActivities counts the activities events schedule less the results
// they hold.
func openActivities(events []history.Event) int {
	open := 0
	for _, e := range events {
		switch e.Type {
		case history.TaskScheduled:
			open++
		case history.TaskCompleted, history.TaskFailed:
			open--
		}
	}
	return open
}

// salvage lists the events of a snapshot's progress kept only in memory
// that nothing would deliver again once that progress is dropped: the
// results of activities whose TaskScheduled is durable (replay re-sends
// only actions that history lacks, so their activities never run again)
// and an ExecutionStarted taken in memory (a local start, whose Pending
// row the look for lost starts would find only much later). Results of
// tasks scheduled in the dropped progress are not among them: replay
// schedules those tasks again and their activities run again. Nor are the
// events of held, the queue messages that progress consumed: those
// messages are given back or retried, and deliver their events again.
func salvage(snap *snapshot, held []delivery) []history.Event {
	if snap.uncommitted() <= 0 {
		return nil
	}
	durable := map[int]bool{}
	for _, e := range snap.events[:snap.durable] {
		if e.Type == history.TaskScheduled {
			durable[e.EventID] = true
		}
	}
	redelivered := map[string]bool{}
	for _, d := range held {
		if d.ev.MessageID != "" {
			redelivered[d.ev.MessageID] = true
		}
	}
	var out []history.Event
	for _, e := range snap.events[snap.durable:] {
		switch {
		case e.MessageID != "" && redelivered[e.MessageID]:
		case e.Type == history.ExecutionStarted,
			(e.Type == history.TaskCompleted || e.Type == history.TaskFailed) && durable[e.TaskScheduledID]:
			e.IsPlayed = false
			out = append(out, e)
		}
	}
	return out
}

// Bounds on the events a new execution's first checkpoint carries over
// from the one it continues (see splitCarry): with OrchestratorStarted,
// ExecutionStarted and a few actions they fit the first batch, in count
// and, payloads past a table column's size being in blobs, in bytes.
const (
	maxCarriedInFirstBatch      = 90
	maxCarriedBytesInFirstBatch = 1 << 20
)

// splitCarry splits the events that open a continue-as-new execution
// (ExecutionStarted, then the carried-over events) into those its first
// checkpoint holds and those sent back to the instance's own control
// queue instead. The new execution's first checkpoint overwrites the rows
// of the execution it continues, which were the only copy of the carried
// events; a checkpoint too large for one batch is committed one batch at a
// time (azstore.WriteHistoryCounted), so a crash between batches would lose
// every carried event past the first. Sent as messages, they are applied
// when they come back, in their order (each keeps its sender's timestamp),
// and the copies a redo sends after a crash are dropped by message ID:
// an event without one gets an ID derived from its place in the carry.
func splitCarry(instanceID, fromExecution string, events []history.Event) (keep, spill []history.Event) {
	n, size := 1, 0
	for n < len(events) && n-1 < maxCarriedInFirstBatch {
		e := events[n]
		size += len(e.Input) + len(e.Result) + len(e.Data)
		if size > maxCarriedBytesInFirstBatch && n > 1 {
			break
		}
		n++
	}
	if n == len(events) {
		return events, nil
	}
	spill = make([]history.Event, len(events)-n)
	for i, e := range events[n:] {
		if e.MessageID == "" {
			e.MessageID = uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "%s/%s/carry/%d", instanceID, fromExecution, n+i)).String()
		}
		e.IsPlayed = false
		spill[i] = e
	}
	return events[:n], spill
}

// sameParent reports whether start is a sub-orchestration start from the
// very parent task that started the execution past holds: the same parent
// instance, execution and task. Such a start is a copy that the parent's
// replay sent again, never a request to run the child once more.
func sameParent(past []history.Event, start history.Event) bool {
	if start.Type != history.ExecutionStarted || start.ParentInstance == nil {
		return false
	}
	for _, e := range past {
		if e.Type != history.ExecutionStarted {
			continue
		}
		p, q := e.ParentInstance, start.ParentInstance
		return p != nil && p.TaskScheduleID == q.TaskScheduleID &&
			p.OrchestrationInstance.InstanceID == q.OrchestrationInstance.InstanceID &&
			p.OrchestrationInstance.ExecutionID == q.OrchestrationInstance.ExecutionID
	}
	return false
}

// parentAsksAgain reports whether a batch for a finished execution holds
// its parent's start sent again (see sameParent).
func parentAsksAgain(past, events []history.Event) bool {
	for _, e := range events {
		if sameParent(past, e) {
			return true
		}
	}
	return false
}

// firstOfSubOrchestration returns the ExecutionStarted of a
// sub-orchestration when the checkpoint about to be written is the first
// of its first execution, the moment its row must be written first (see
// Worker.writeChildRow); nil otherwise. A start the client sent has its
// row already, and so does an execution that a continue-as-new started.
func firstOfSubOrchestration(snap *snapshot, appended []history.Event) *history.Event {
	if snap.durable > 0 || snap.continued || snap.rowExecution == snap.executionID && snap.executionID != "" {
		return nil
	}
	for _, evs := range [][]history.Event{snap.events, appended} {
		for i := range evs {
			e := &evs[i]
			if e.Type != history.ExecutionStarted {
				continue
			}
			if e.ParentInstance == nil || e.OrchestrationInstance == nil ||
				e.MessageID == layout.StartMessageID(e.OrchestrationInstance.InstanceID, e.OrchestrationInstance.ExecutionID) {
				return nil
			}
			return e
		}
	}
	return nil
}

// journalFreeAge is how recent a client's start must be for its first
// checkpoint to go without an in-flight row (see needsJournal): well inside
// lostStartLookback, so that the look for lost starts of a worker that
// takes the partition over still reads it, whatever the clocks.
const journalFreeAge = 10 * time.Minute

// needsJournal decides whether a checkpoint must write the instance's
// in-flight row (layout.InFlightTable) before it: whether a crash right
// after it would leave work that only recovery, reading that row, finds.
// That work is an activity run in this process without its result, and the
// row write that follows the checkpoint. One checkpoint needs neither: the
// first of an execution a client started a short while ago (its row
// Pending and indexed) that leaves no activity open. A crash after it
// leaves a Pending row with history, which the look for lost starts reads
// through the index like any recent start, and repairs (see
// Worker.resendIfLost). So a start that finishes in its first checkpoint,
// or waits there for an event or a timer, costs no in-flight row: neither
// its write, on the path of every such orchestration, nor its delete. A
// first checkpoint that continues as new does need one: the next
// execution is written after the row, which then shows ContinuedAsNew, not
// Pending, and a crash in between leaves work the look for lost starts
// would never see.
func needsJournal(snap *snapshot, more []history.Event, now time.Time) bool {
	switch {
	case snap.journaled:
		return false
	case snap.durable > 0, snap.continued, snap.open+openActivities(more) > 0,
		continuesAsNew(snap.events) || continuesAsNew(more):
		return true
	}
	for _, evs := range [][]history.Event{snap.events, more} {
		for i := range evs {
			e := &evs[i]
			if e.Type != history.ExecutionStarted {
				continue
			}
			return e.OrchestrationInstance == nil || e.Timestamp.IsZero() || now.Sub(e.Timestamp) > journalFreeAge ||
				e.MessageID != layout.StartMessageID(e.OrchestrationInstance.InstanceID, e.OrchestrationInstance.ExecutionID)
		}
	}
	return true
}

// continuesAsNew reports whether events hold a ContinueAsNew.
func continuesAsNew(events []history.Event) bool {
	for i := range events {
		if events[i].Type == history.ContinueAsNew {
			return true
		}
	}
	return false
}

// rowBehind reports whether the row of an unfinished execution shows less
// than its history: a crash between a checkpoint and the row write after
// it (or a row write that failed) leaves the row at an older execution,
// still Pending, with the suspension undone or redone, or with an older
// custom status. Recovery then has the instance run an episode, whose
// first row write after a load writes every column from history. The
// custom status is compared only when history records it (this project's
// CustomStatus column on OrchestratorCompleted).
func rowBehind(row *layout.InstanceRow, executionID string, events []history.Event) bool {
	if len(events) == 0 {
		return false
	}
	if row.ExecutionID != executionID || row.RuntimeStatus == history.StatusPending {
		return true
	}
	suspended := false
	var custom *string
	for _, e := range events {
		switch e.Type {
		case history.ExecutionSuspended:
			suspended = true
		case history.ExecutionResumed:
			suspended = false
		case history.OrchestratorCompleted:
			if e.CustomStatus != nil {
				custom = e.CustomStatus
			}
		}
	}
	if suspended != (row.RuntimeStatus == history.StatusSuspended) {
		return true
	}
	return custom != nil && *custom != row.CustomStatus
}

// quiet reports whether an instance holds nothing that storage alone does
// not show: no progress kept in memory, no row write to retry, no activity
// without a result (one run in this process would be lost with it), no
// continue-as-new between its two writes. Its in-flight row may then go.
func quiet(snap *snapshot) bool {
	return snap.uncommitted() == 0 && !snap.rowDirty && snap.open <= 0 &&
		!durable.EndedByContinueAsNew(snap.events)
}
