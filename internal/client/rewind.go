package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// How a rewind rewrites a Failed execution's history so that a replay runs
// again from the failure. It works out everything from history alone (the CLI
// rewinds without the orchestrator code). The engine pairs each action the
// code issues with the history event of the same sequence number, so a
// rewound history must be one the code reissues exactly; the rules below
// keep that true whatever failed.
//
// The cut. The last action whose outcome is settled — an activity that
// succeeded, a timer that fired, a sub-orchestration that completed or
// whose failed child is rewound in place — marks the cut. Every action
// issued after it is removed with its result: the code may have issued it
// because of a failure (a retry's back-off timer, the next attempt, a
// compensation), and the replay issues again whatever it still issues.
// Every failure received after the cut is removed too, so the failed steps
// run again; failures before the cut stay, since the actions kept were
// issued after the code saw them and would not be issued again otherwise.
// Received events, suspends and resumes and the results of kept actions
// stay where they are.
//
// What was in flight. Messages for a Failed instance are dropped, so a
// kept action still waiting for its outcome would wait for ever: an
// activity or a timer is removed so that the replay issues it again (same
// sequence number, same fire time), and a sub-orchestration is settled by
// its child's state: a running child's result is on its way, a completed
// child's result is delivered again, a failed child is rewound in place (as
// Durable Functions does, recursively), a purged child (or one whose
// instance ID a later execution has taken and finished) is started again.
// A terminated child, or one running for another parent, can never answer
// the parent (a start of it would be dropped), so the rewind is refused
// with what to do, wherever that child's action falls.
//
// Removed events become GenericEvent rows ("Rewound: ...") rather than
// disappearing, so the dashboard and get-history show what a rewind did.
// The whole tree of instances is planned and checked before anything is
// written, and a failed write puts back what was already written.

// childState is what a rewind knows of a sub-orchestration's instance.
type childState struct {
	found bool
	// ours says whether the child's current execution was started by the
	// very action that is being looked at (its ParentInstance names the
	// parent's execution and that action's sequence number).
	ours   bool
	status history.RuntimeStatus
	output string
}

// childPlan is what a rewind does about a sub-orchestration whose result
// the rewound history does not hold.
type childPlan int

const (
	childRestart childPlan = iota // gone: the replay starts it again
	childWait                     // running: its result is on its way
	childDeliver                  // completed: deliver its result again
	childRewind                   // failed: rewind it in place
	childStuck                    // cannot give a result: refuse the rewind
)

func planFor(s childState) childPlan {
	switch {
	case !s.found:
		return childRestart
	case !s.ours && s.status.IsTerminal():
		// Another execution of the same instance ID (a retry with
		// WithInstanceID restarted it): the replay's start, of a new
		// execution, replaces the finished one.
		return childRestart
	case !s.ours:
		// Running for someone else: a start would be dropped.
		return childStuck
	}
	switch s.status {
	case history.StatusPending, history.StatusRunning, history.StatusSuspended, history.StatusContinuedAsNew:
		return childWait
	case history.StatusCompleted:
		return childDeliver
	case history.StatusFailed:
		return childRewind
	}
	// Terminated or canceled: a start of the same execution is dropped as
	// late, and a terminated instance is not rewound.
	return childStuck
}

// stuckError explains why a child blocks a rewind and what to do.
func stuckError(e history.Event, s childState) error {
	what := "is " + string(s.status) + "; purge it so that the rewound parent starts it again"
	if !s.ours {
		what = "is running as an execution another parent or client started"
	}
	return fmt.Errorf("%w: sub-orchestration %q (#%d) %s", ErrWrongState, e.InstanceID, e.EventID, what)
}

// rewindPlan is the rewritten history of one instance and what goes with
// it.
type rewindPlan struct {
	events []history.Event
	// rewind are the children to rewind in place.
	rewind []string
	// deliver are results of finished children, sent to the instance.
	deliver []history.Event
}

// isAction reports whether e records an action the orchestrator code
// issued (matched by sequence number on replay).
func isAction(e history.Event) bool {
	switch e.Type {
	case history.TaskScheduled, history.SubOrchestrationInstanceCreated, history.TimerCreated, history.EventSent:
		return true
	}
	return false
}

// resultOf returns the sequence number of the action e resolves.
func resultOf(e history.Event) (int, bool) {
	switch {
	case e.IsTaskResult():
		return e.TaskScheduledID, true
	case e.Type == history.TimerFired:
		return e.TimerID, true
	}
	return 0, false
}

func isFailure(e history.Event) bool {
	return e.Type == history.TaskFailed || e.Type == history.SubOrchestrationInstanceFailed
}

// rewoundAs is the GenericEvent that takes a removed event's row.
func rewoundAs(e history.Event, what string) history.Event {
	return history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: e.Timestamp, IsPlayed: true,
		Data: "Rewound: " + what}
}

// planRewind computes the rewound history of one execution (see Rewind).
// children holds, by sequence number, the state of every sub-orchestration
// that history does not record as completed; marker, when set, is added to
// the row that replaces the failed end.
func planRewind(events []history.Event, children map[int]childState, marker string) (*rewindPlan, error) {
	actionAt := map[int]int{} // sequence number -> index
	resultAt := map[int]int{} // sequence number -> index of its outcome
	started := false
	for i, e := range events {
		switch {
		case e.Type == history.ExecutionStarted:
			started = true
		case isAction(e):
			if _, dup := actionAt[e.EventID]; dup {
				return nil, fmt.Errorf("history records action #%d twice", e.EventID)
			}
			actionAt[e.EventID] = i
		default:
			if id, ok := resultOf(e); ok {
				if _, dup := resultAt[id]; !dup {
					resultAt[id] = i
				}
			}
		}
	}
	if !started {
		return nil, errors.New("history holds no ExecutionStarted")
	}
	settled := func(i int) bool {
		e := events[i]
		r, ok := resultAt[e.EventID]
		switch e.Type {
		case history.TaskScheduled:
			return ok && events[r].Type == history.TaskCompleted
		case history.TimerCreated:
			return ok
		case history.SubOrchestrationInstanceCreated:
			if ok && events[r].Type == history.SubOrchestrationInstanceCompleted {
				return true
			}
			switch planFor(children[e.EventID]) {
			case childWait, childDeliver, childRewind:
				return true
			}
		}
		return false
	}
	cut := 0
	for i := len(events) - 1; i >= 0; i-- {
		if isAction(events[i]) && settled(i) {
			cut = i + 1
			break
		}
	}
	if i := legacyCut(events, actionAt); i < cut {
		cut = i
	}

	p := &rewindPlan{events: make([]history.Event, len(events))}
	copy(p.events, events)
	kept := map[int]bool{} // actions kept, by sequence number
	for i, e := range events {
		switch {
		case isAction(e) && i >= cut:
			if e.Type == history.SubOrchestrationInstanceCreated && planFor(children[e.EventID]) == childStuck {
				// The replay may start it again, and that start would be
				// dropped.
				return nil, stuckError(e, children[e.EventID])
			}
			p.events[i] = rewoundAs(e, fmt.Sprintf("%s #%d (%q), issued after the last settled step", e.Type, e.EventID, e.Name))
		case isAction(e):
			kept[e.EventID] = true
		case e.Type == history.ExecutionCompleted && e.OrchestrationStatus == history.StatusFailed:
			p.events[i] = rewoundAs(e, e.Type.String())
			if marker != "" {
				// Tells a repeated bulk rewind that this one happened.
				p.events[i].Data += "; " + marker
			}
		}
	}
	resolved := map[int]bool{}
	for i, e := range events {
		id, ok := resultOf(e)
		if !ok {
			continue
		}
		a, scheduled := actionAt[id]
		switch {
		case !scheduled:
			// An outcome of nothing history records; the engine ignores it.
		case a >= cut:
			p.events[i] = rewoundAs(e, fmt.Sprintf("%s #%d, of a step issued after the last settled step", e.Type, id))
		case isFailure(e) && i >= cut:
			p.events[i] = rewoundAs(e, fmt.Sprintf("%s #%d", e.Type, id))
		default:
			resolved[id] = true
		}
	}
	// Kept actions without an outcome now: their messages were dropped
	// while the instance was Failed, or they are the failed steps.
	for i, e := range events {
		if !isAction(e) || !kept[e.EventID] || resolved[e.EventID] {
			continue
		}
		id := e.EventID
		switch e.Type {
		case history.TaskScheduled, history.TimerCreated:
			p.events[i] = rewoundAs(e, fmt.Sprintf("%s #%d (%q), to be issued again", e.Type, id, e.Name))
		case history.SubOrchestrationInstanceCreated:
			switch planFor(children[id]) {
			case childRestart:
				p.events[i] = rewoundAs(e, fmt.Sprintf("%s #%d (%q), to be started again", e.Type, id, e.Name))
			case childWait:
			case childDeliver:
				p.deliver = append(p.deliver, history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1,
					TaskScheduledID: id, Result: children[id].output})
			case childRewind:
				p.rewind = append(p.rewind, e.InstanceID)
			default:
				return nil, stuckError(e, children[id])
			}
		}
	}
	if err := checkRewound(p.events); err != nil {
		return nil, fmt.Errorf("the rewound history would not replay: %w", err)
	}
	return p, nil
}

// legacyCut finds where a rewind of an earlier version broke a history,
// len(events) when none did. That rewind removed failed steps and their
// failures but kept what the code issued after seeing them (a retry's
// back-off timers), so the replay met actions the code no longer issued
// and failed with NonDeterministicOrchestrationError. Such a history has
// that rewind's markers, and a hole in its actions' sequence numbers (a
// removed step the replay never got to issue again; a rewind that worked
// has every number). Cutting at its first removed failure, where what the
// code saw first changed, makes it replay again.
func legacyCut(events []history.Event, actionAt map[int]int) int {
	first := len(events)
	for i, e := range events {
		if e.Type == history.GenericEvent && (e.Data == "Rewound: TaskFailed" || e.Data == "Rewound: SubOrchestrationInstanceFailed") {
			first = i
			break
		}
	}
	if first == len(events) {
		return first
	}
	top := -1
	for id := range actionAt {
		top = max(top, id)
	}
	for id := 0; id < top; id++ {
		if _, ok := actionAt[id]; !ok {
			return first
		}
	}
	return len(events)
}

// checkRewound is the last check before a rewound history is written: the
// execution must be able to run again, and every outcome must belong to an
// earlier action of its kind, once.
func checkRewound(events []history.Event) error {
	kinds := map[int]history.EventType{}
	done := map[int]bool{}
	for _, e := range events {
		switch {
		case e.Type == history.ExecutionCompleted, e.Type == history.ContinueAsNew, e.Type == history.ExecutionTerminated:
			return fmt.Errorf("it still ends with %s", e.Type)
		case isAction(e):
			if _, dup := kinds[e.EventID]; dup {
				return fmt.Errorf("action #%d appears twice", e.EventID)
			}
			kinds[e.EventID] = e.Type
		}
		id, ok := resultOf(e)
		if !ok {
			continue
		}
		want := map[history.EventType]history.EventType{
			history.TaskCompleted: history.TaskScheduled, history.TaskFailed: history.TaskScheduled,
			history.SubOrchestrationInstanceCompleted: history.SubOrchestrationInstanceCreated,
			history.SubOrchestrationInstanceFailed:    history.SubOrchestrationInstanceCreated,
			history.TimerFired:                        history.TimerCreated,
		}[e.Type]
		if k, ok := kinds[id]; ok && k != want {
			return fmt.Errorf("%s #%d answers a %s", e.Type, id, k)
		}
		if done[id] {
			return fmt.Errorf("action #%d has two outcomes", id)
		}
		done[id] = true
	}
	return nil
}

// rewindNode is one instance of a rewind: its plan and what was read.
type rewindNode struct {
	id   string
	hs   *azstore.HistorySnapshot
	plan *rewindPlan
	etag azcore.ETag // after the write
}

// rewind rewinds id and, in place, its failed sub-orchestrations; msg,
// when set, is the rewind message's ID (a bulk rewind's, derived so that a
// repeat is dropped), and a marker holding it is written into the
// rewritten history.
func (c *Client) rewind(ctx context.Context, id, reason string, depth int, msg string) error {
	marker := ""
	if msg != "" {
		marker = rewindMarker(msg)
	}
	var nodes []*rewindNode
	if err := c.planTree(ctx, id, depth, marker, &nodes, map[string]bool{}); err != nil {
		return err
	}
	// Parents are written before their children: a child rewound first
	// could finish and send its result to a parent still Failed, which
	// drops it. Writing a whole execution with the sentinel's ETag both
	// rewrites the rows and invalidates any copy a worker holds.
	for i, n := range nodes {
		etag, err := c.hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: n.id, ExecutionID: n.hs.ExecutionID,
			Events: n.plan.events, ETag: n.hs.ETag, Rewrite: true})
		if err != nil {
			err = fmt.Errorf("rewind %q: write history of %q: %w", id, n.id, err)
			if errors.Is(err, azstore.ErrConflict) {
				err = fmt.Errorf("%w: instance %q changed during rewind; try again (%w)", ErrWrongState, n.id, err)
			}
			return errors.Join(err, c.unwrite(ctx, nodes[:i]))
		}
		n.etag = etag
	}
	now := time.Now().UTC()
	for _, n := range nodes {
		pending, empty := history.StatusPending, ""
		if err := c.hub.PatchInstance(ctx, n.id, layout.InstancePatch{RuntimeStatus: &pending, Output: &empty, LastUpdatedTime: &now}, nil); err != nil {
			return fmt.Errorf("rewind %q: mark %q pending: %w", id, n.id, err)
		}
	}
	for i, n := range nodes {
		for _, ev := range n.plan.deliver {
			ev.Timestamp = now
			if err := c.hub.SendToInstance(ctx, history.MessageTo(n.id, ev), time.Time{}); err != nil {
				return fmt.Errorf("rewind %q: deliver the result of #%d to %q: %w", id, ev.TaskScheduledID, n.id, err)
			}
		}
		ev := history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: now, Data: "Rewind: " + reason}
		if i == 0 {
			ev.MessageID = msg
		}
		if err := c.signal(ctx, n.id, ev, "rewind"); err != nil {
			return fmt.Errorf("rewind %q: %w", id, err)
		}
	}
	return nil
}

// planTree plans the rewind of id and of the children it rewinds in place,
// appending them parent first; nothing is written.
func (c *Client) planTree(ctx context.Context, id string, depth int, marker string, out *[]*rewindNode, seen map[string]bool) error {
	if depth > 32 {
		return fmt.Errorf("rewind %q: sub-orchestrations nest too deep", id)
	}
	if seen[id] {
		return fmt.Errorf("rewind %q: the instance is its own sub-orchestration", id)
	}
	seen[id] = true
	hs, err := c.hub.LoadHistory(ctx, id)
	if err != nil {
		return fmt.Errorf("rewind %q: %w", id, err)
	}
	children, err := c.childStates(ctx, id, hs)
	if err != nil {
		return fmt.Errorf("rewind %q: %w", id, err)
	}
	plan, err := planRewind(hs.Events, children, marker)
	if err != nil {
		return fmt.Errorf("rewind %q: %w; nothing was changed", id, err)
	}
	*out = append(*out, &rewindNode{id: id, hs: hs, plan: plan})
	for _, child := range plan.rewind {
		if err := c.planTree(ctx, child, depth+1, "", out, seen); err != nil {
			return err
		}
	}
	return nil
}

// childStates reads the state of every sub-orchestration that hs does not
// record as completed.
func (c *Client) childStates(ctx context.Context, id string, hs *azstore.HistorySnapshot) (map[int]childState, error) {
	completed := map[int]bool{}
	for _, e := range hs.Events {
		if e.Type == history.SubOrchestrationInstanceCompleted {
			completed[e.TaskScheduledID] = true
		}
	}
	out := map[int]childState{}
	for _, e := range hs.Events {
		if e.Type != history.SubOrchestrationInstanceCreated || completed[e.EventID] {
			continue
		}
		row, err := c.hub.GetInstance(ctx, e.InstanceID)
		if errors.Is(err, azstore.ErrNotFound) {
			out[e.EventID] = childState{}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read sub-orchestration %q: %w", e.InstanceID, err)
		}
		chs, err := c.hub.LoadHistory(ctx, e.InstanceID)
		if err != nil {
			return nil, fmt.Errorf("read history of sub-orchestration %q: %w", e.InstanceID, err)
		}
		s := childState{found: true, status: row.RuntimeStatus, output: row.Output}
		for _, ce := range chs.Events {
			if ce.Type == history.ExecutionStarted {
				p := ce.ParentInstance
				s.ours = p != nil && p.OrchestrationInstance.InstanceID == id &&
					p.OrchestrationInstance.ExecutionID == hs.ExecutionID && p.TaskScheduleID == e.EventID
				break
			}
		}
		out[e.EventID] = s
	}
	return out, nil
}

// unwrite puts back the histories of nodes already rewritten when a later
// write fails, so that a failed rewind leaves every instance as it was.
func (c *Client) unwrite(ctx context.Context, nodes []*rewindNode) error {
	var errs []error
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		if _, err := c.hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: n.id, ExecutionID: n.hs.ExecutionID,
			Events: n.hs.Events, ETag: n.etag, Rewrite: true}); err != nil {
			errs = append(errs, fmt.Errorf("put back the history of %q: %w", n.id, err))
		}
	}
	return errors.Join(errs...)
}
