// Package batch runs bulk operations (terminate, suspend, resume, rewind,
// restart, raise an event, purge) over every instance a list filter
// selects, as a built-in orchestration, client.BatchOrchestrator, that every
// app registers. Being an orchestration is what makes a bulk operation
// survive crashes and show progress: its state is its history, its
// progress its custom status (client.BatchProgress) and its result its
// output (client.BatchSummary).
//
// # How it runs
//
// The first execution pins the filter's created-time end to the
// orchestration's own (deterministic) start time, so that instances created
// while it runs, restart's new ones included, never become targets; it also
// counts the matches once, as the progress total. Then it loops: the
// activity DurableTask.BatchListPage returns the next page of target IDs
// and the continuation token after it, and the activity
// DurableTask.BatchApply applies the operation to that page's IDs (a few at
// a time) and returns one result per ID. Every few pages the orchestration
// continues as new, carrying the token and the running totals, so that its
// history stays small however many instances match. Internal instances,
// other bulk operations among them, are targets only when the filter asks
// for them (client.BatchFilter.ShowInternal), and an operation is never
// its own target.
//
// # Exactly once per instance
//
// The orchestration's own state is exactly-once: the engine records each
// activity result once, and replays never list or apply differently from
// what history holds. A page, once recorded, is the page (the continuation
// token is a stable position in instance-ID order, so each instance is
// listed once even while statuses change). Activities, though, run at least
// once: a worker that dies during DurableTask.BatchApply leaves it to run
// again on another worker, over the same IDs. What makes that harmless is
// that every per-instance action is repeatable with the same outcome
// (client.ApplyBatch):
//
//   - terminate, suspend, resume, raiseEvent send their signal with a
//     message ID derived from (bulk operation ID, start time, target,
//     operation). The target's de-duplication drops a second copy: its
//     history holds the IDs of the messages it applied, and a
//     continue-as-new carries them over, including (worker.KeptDeletedIDs)
//     the most recent ones whose messages are already deleted, since it is
//     exactly those that a repeated step sends again. A repeat that finds
//     the target finished checks whether its history holds that message
//     ID; if so the first attempt's signal was applied (the terminate, or
//     the event that ended it) and the repeat succeeds.
//   - rewind sends its message with the derived ID too and marks the
//     rewritten failure with it; a repeat that finds the mark succeeds
//     without rewinding again, even if the target has failed again since
//     (and sends the message again, dropped if a duplicate, while the
//     target is still Pending).
//   - restart derives the new instance's ID (or, in place, the new
//     execution's ID) from the same key; a repeat finds its own start and
//     does not start again.
//   - purge: a repeat finds the instance gone and counts it purged.
//
// So the summary is the same whether or not an apply ran twice, and every
// target is affected once.
//
// # What is only at least once
//
// De-duplication across continue-as-new remembers, of the messages already
// deleted, only the worker.KeptDeletedIDs most recent. A target that
// continued as new after consuming more messages than that between a bulk
// signal and its repeat (which comes seconds or minutes later) would accept
// the repeat, and a finished one would report a failure instead of a
// success.
// Activities that the targets run again after a rewind or restart are
// at-least-once as always. A purge reports success for an instance that
// someone else purged first, and a bulk terminate or purge does not follow
// sub-orchestrations.
package batch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/durable"
)

// Activity names of the bulk operation's steps.
const (
	ActivityCount    = "DurableTask.BatchCount"
	ActivityListPage = "DurableTask.BatchListPage"
	ActivityApply    = "DurableTask.BatchApply"
)

// PagesPerExecution is how many pages one execution handles before it
// continues as new: each page adds a handful of history rows, so this
// bounds the history that every replay reads.
const PagesPerExecution = 10

// parallelism bounds the instances one apply works on at once.
const parallelism = 8

// state is the orchestration's input: the request, plus what earlier
// executions did.
type state struct {
	client.BatchInput
	// Continuation is where the next page starts; Started tells the first
	// execution from one that continued at the first page.
	Continuation string `json:"continuation,omitempty"`
	Started      bool   `json:"started,omitempty"`
	Total        int    `json:"total,omitempty"`
	Pages        int    `json:"pages,omitempty"`
	// Summary is the running total.
	Summary client.BatchSummary `json:"summary"`
}

// listInput and listOutput are DurableTask.BatchListPage's.
type listInput struct {
	Filter       client.BatchFilter `json:"filter"`
	Continuation string             `json:"continuation,omitempty"`
	Size         int                `json:"size"`
}

type listOutput struct {
	IDs  []string `json:"ids"`
	Next string   `json:"next,omitempty"`
}

// applyInput is DurableTask.BatchApply's.
type applyInput struct {
	Batch     client.BatchInput `json:"batch"`
	BatchID   string            `json:"batchId"`
	Instances []string          `json:"instances"`
}

// retry is the policy of every step: storage hiccups should not fail a
// bulk operation, while a step that keeps failing (the hub is gone) must.
var retry = durable.RetryPolicy{MaxAttempts: 5, FirstRetryInterval: time.Second, BackoffCoefficient: 2, MaxRetryInterval: 30 * time.Second}

// Register adds the bulk operation's orchestration and activities to reg;
// the activities work through c.
func Register(reg *durable.Registry, c *client.Client) error {
	return errors.Join(
		reg.AddOrchestrator(client.BatchOrchestrator, orchestrate),
		reg.AddActivity(ActivityCount, func(ctx *durable.ActivityContext) (any, error) {
			var f client.BatchFilter
			if err := ctx.GetInput(&f); err != nil {
				return nil, err
			}
			return count(ctx.Context(), c, f)
		}),
		reg.AddActivity(ActivityListPage, func(ctx *durable.ActivityContext) (any, error) {
			var in listInput
			if err := ctx.GetInput(&in); err != nil {
				return nil, err
			}
			return listPage(ctx.Context(), c, in)
		}),
		reg.AddActivity(ActivityApply, func(ctx *durable.ActivityContext) (any, error) {
			var in applyInput
			if err := ctx.GetInput(&in); err != nil {
				return nil, err
			}
			out := apply(ctx.Context(), c, in)
			if err := ctx.Context().Err(); err != nil {
				// The worker is stopping: the results of instances cut
				// short are no outcome. The step runs again, and the
				// instances already done are recognized as done.
				return nil, fmt.Errorf("apply %s: %w", in.Batch.Operation, err)
			}
			return out, nil
		}),
	)
}

func orchestrate(ctx *durable.OrchestrationContext) (any, error) {
	var st state
	if err := ctx.GetInput(&st); err != nil {
		return nil, fmt.Errorf("bulk operation input: %w", err)
	}
	if !st.Started {
		st.Started = true
		if st.AsOf.IsZero() {
			st.AsOf = ctx.CurrentUTCDateTime()
		}
		st.Filter = st.Filter.Pinned(st.AsOf)
		// Never its own target, even when the filter asks for internal
		// instances (which bulk operations are).
		st.Filter.Self = ctx.InstanceID()
		st.Summary.Operation = st.Operation
		if st.BatchSize <= 0 {
			st.BatchSize = client.DefaultBatchSize
		}
		if err := ctx.CallActivity(ActivityCount, st.Filter, durable.WithRetry(retry)).Await(&st.Total); err != nil {
			return nil, fmt.Errorf("count the instances to %s: %w", st.Operation, err)
		}
	}
	// Every execution starts with its progress, which a continue-as-new
	// would otherwise leave unset until its first page is done.
	publish(ctx, &st, false)
	for range PagesPerExecution {
		var page listOutput
		err := ctx.CallActivity(ActivityListPage, listInput{Filter: st.Filter, Continuation: st.Continuation, Size: st.BatchSize},
			durable.WithRetry(retry)).Await(&page)
		if err != nil {
			return nil, fmt.Errorf("list the instances to %s after %d pages: %w", st.Operation, st.Pages, err)
		}
		if len(page.IDs) > 0 {
			var results []client.BatchItemResult
			err := ctx.CallActivity(ActivityApply, applyInput{Batch: st.BatchInput, BatchID: ctx.InstanceID(), Instances: page.IDs},
				durable.WithRetry(retry)).Await(&results)
			if err != nil {
				return nil, fmt.Errorf("%s page %d: %w", st.Operation, st.Pages+1, err)
			}
			st.Summary.Add(results)
		}
		st.Pages++
		st.Continuation = page.Next
		if page.Next == "" {
			publish(ctx, &st, true)
			return finalSummary(st.Summary), nil
		}
		publish(ctx, &st, false)
	}
	return nil, ctx.ContinueAsNew(st)
}

// finalSummary has an empty error list rather than null, for readers that
// iterate it.
func finalSummary(s client.BatchSummary) client.BatchSummary {
	if s.Errors == nil {
		s.Errors = []client.BatchError{}
	}
	return s
}

func publish(ctx *durable.OrchestrationContext, st *state, done bool) {
	// Only plain values: this cannot fail to encode.
	_ = ctx.SetCustomStatus(progressOf(st, done))
}

func progressOf(st *state, done bool) client.BatchProgress {
	return client.BatchProgress{Operation: st.Operation, Total: max(st.Total, st.Summary.Matched), Matched: st.Summary.Matched,
		Succeeded: st.Summary.Succeeded, Failed: st.Summary.Failed, Pages: st.Pages, Done: done}
}

// count is how many instances the filter's bulk operation would handle.
func count(ctx context.Context, c *client.Client, f client.BatchFilter) (int, error) {
	counts, err := c.CountBatchTargets(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range counts {
		n += k
	}
	return n, nil
}

// listPage reads one page. It may return no IDs and a token (a page of
// bulk operations only, or the table service's short page).
func listPage(ctx context.Context, c *client.Client, in listInput) (listOutput, error) {
	q := in.Filter.Query()
	q.PageSize, q.ContinuationToken = in.Size, in.Continuation
	page, err := c.ListInstances(ctx, q)
	if err != nil {
		return listOutput{}, fmt.Errorf("list instances: %w", err)
	}
	out := listOutput{IDs: []string{}, Next: page.ContinuationToken}
	for _, st := range page.Instances {
		if in.Filter.Targets(st) {
			out.IDs = append(out.IDs, st.InstanceID)
		}
	}
	return out, nil
}

// apply applies the operation to every instance, a few at a time, and
// returns the results in the instances' order. A failure is the
// instance's result, never the activity's: the other instances' outcomes
// must be recorded either way.
func apply(ctx context.Context, c *client.Client, in applyInput) []client.BatchItemResult {
	out := make([]client.BatchItemResult, len(in.Instances))
	var g errgroup.Group
	g.SetLimit(parallelism)
	for i, id := range in.Instances {
		g.Go(func() error {
			out[i] = applyOne(ctx, c, &in.Batch, in.BatchID, id)
			return nil
		})
	}
	_ = g.Wait() // each instance's outcome is in its result
	return out
}

// applyOne retries what looks like a storage or connection failure a few
// times; the client's own refusals (not found, wrong state) are final.
func applyOne(ctx context.Context, c *client.Client, b *client.BatchInput, batchID, id string) client.BatchItemResult {
	r := client.BatchItemResult{InstanceID: id}
	var err error
	for attempt, wait := 1, 200*time.Millisecond; ; attempt, wait = attempt+1, wait*2 {
		r.NewInstanceID, err = c.ApplyBatch(ctx, b, batchID, id)
		if err == nil || final(err) || attempt == 3 || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

func final(err error) bool {
	return errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrWrongState) || errors.Is(err, client.ErrBadArgument)
}
