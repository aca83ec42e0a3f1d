package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/samples"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// env is a function app in the test process: the samples, a Flaky
// orchestration whose activity fails while failing is set, and (as in
// every app) the bulk operations.
type env struct {
	t       *testing.T
	c       *client.Client
	failing atomic.Bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t}
	e.failing.Store(true)
	a := apptest.NewApp(t, apptest.AppOptions{Register: func(reg *durable.Registry) error {
		return errors.Join(
			reg.AddActivity("FlakyStep", func(*durable.ActivityContext) (any, error) {
				if e.failing.Load() {
					return nil, errors.New("not yet")
				}
				return "ok", nil
			}),
			reg.AddOrchestrator("Flaky", func(ctx *durable.OrchestrationContext) (any, error) {
				var s string
				err := ctx.CallActivity("FlakyStep", nil).Await(&s)
				return s, err
			}))
	}})
	e.c = a.Client
	return e
}

// start starts n instances of name with IDs prefix0, prefix1, … and input.
func (e *env) start(name, prefix string, n int, input any) []string {
	e.t.Helper()
	var ids []string
	for i := range n {
		id, err := e.c.StartNew(context.Background(), name, input, client.StartOptions{InstanceID: fmt.Sprintf("%s%02d", prefix, i)})
		if err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// wait waits until every instance has the status.
func (e *env) wait(ids []string, want history.RuntimeStatus) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			st, err := e.c.GetStatus(context.Background(), id, client.StatusOptions{})
			if err == nil && st.RuntimeStatus == want {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("%s: %v %v, want %s", id, st, err, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (e *env) status(id string) *client.Status {
	e.t.Helper()
	st, err := e.c.GetStatus(context.Background(), id, client.StatusOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// run runs a bulk operation to its end and returns its summary and last
// progress.
func (e *env) run(req client.BatchRequest) (client.BatchSummary, client.BatchProgress) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	id, err := e.c.StartBatch(ctx, req)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := e.c.WaitForCompletion(ctx, id, 200*time.Millisecond)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.RuntimeStatus != history.StatusCompleted {
		e.t.Fatalf("bulk %s: %s %s", req.Operation, st.RuntimeStatus, st.Output)
	}
	var sum client.BatchSummary
	var prog client.BatchProgress
	if err := json.Unmarshal(st.Output, &sum); err != nil {
		e.t.Fatalf("summary %s: %v", st.Output, err)
	}
	if err := json.Unmarshal(e.status(id).CustomStatus, &prog); err != nil || !prog.Done {
		e.t.Fatalf("progress %s: %v", e.status(id).CustomStatus, err)
	}
	return sum, prog
}

func wantSummary(t *testing.T, sum client.BatchSummary, matched, failed int) {
	t.Helper()
	if sum.Matched != matched || sum.Succeeded != matched-failed || sum.Failed != failed {
		t.Fatalf("summary %+v, want matched %d, failed %d", sum, matched, failed)
	}
}

// counterTotals stops the counters and returns their totals.
func (e *env) counterTotals(ids []string) []int {
	e.t.Helper()
	for _, id := range ids {
		if err := e.c.RaiseEvent(context.Background(), id, "Stop", nil); err != nil {
			e.t.Fatal(err)
		}
	}
	e.wait(ids, history.StatusCompleted)
	var out []int
	for _, id := range ids {
		var n int
		if err := json.Unmarshal(e.status(id).Output, &n); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func allEqual(got []int, want int) bool {
	for _, n := range got {
		if n != want {
			return false
		}
	}
	return true
}

func prefixed(p string) client.Query { return client.Query{InstanceIDPrefix: p} }

// TestOperations runs each bulk operation over a prefix, next to instances
// that do not match and must stay untouched. The batch size is small so
// that every operation takes several pages and a continue-as-new.
func TestOperations(t *testing.T) {
	e := newEnv(t)
	const size = 2 // 12 matches: 6 pages, more than one execution's worth is not needed here

	t.Run("raiseEvent", func(t *testing.T) {
		in, out := e.start("Counter", "re-a-", 12, 0), e.start("Counter", "re-b-", 3, 0)
		sum, prog := e.run(client.BatchRequest{Operation: client.BatchRaiseEvent, Filter: prefixed("re-a-"),
			EventName: "Add", EventData: 1, BatchSize: size})
		wantSummary(t, sum, 12, 0)
		if prog.Total != 12 || prog.Matched != 12 || prog.Pages < 6 {
			t.Fatalf("progress %+v", prog)
		}
		if got := e.counterTotals(in); !allEqual(got, 1) {
			t.Fatalf("matching counters %v, want 1 each", got)
		}
		if got := e.counterTotals(out); !allEqual(got, 0) {
			t.Fatalf("other counters %v, want 0 each", got)
		}
	})

	t.Run("terminate", func(t *testing.T) {
		in, out := e.start("Counter", "te-a-", 12, 0), e.start("Counter", "te-b-", 3, 0)
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchTerminate, Filter: prefixed("te-a-"), Reason: "bulk", BatchSize: size})
		wantSummary(t, sum, 12, 0)
		e.wait(in, history.StatusTerminated)
		if out := e.status(in[0]).Output; string(out) != `"bulk"` {
			t.Fatalf("output %s", out)
		}
		e.wait(out, history.StatusRunning)
		// A terminate over finished instances refuses each of them.
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchTerminate,
			Filter: client.Query{InstanceIDPrefix: "te-a-", Statuses: []history.RuntimeStatus{history.StatusTerminated}}, BatchSize: 5})
		wantSummary(t, sum, 12, 12)
		// In the order the filter pages in, which depends on how it is
		// read (instance IDs, or the instance index's keys).
		seen := map[string]bool{}
		for _, e := range sum.Errors {
			seen[e.InstanceID] = strings.HasPrefix(e.InstanceID, "te-a-")
		}
		if len(sum.Errors) != 12 || len(seen) != 12 || slices.Contains(slices.Collect(maps.Values(seen)), false) {
			t.Fatalf("errors %+v", sum.Errors)
		}
	})

	t.Run("suspend and resume", func(t *testing.T) {
		in, out := e.start("Counter", "su-a-", 12, 0), e.start("Counter", "su-b-", 3, 0)
		e.wait(append(in, out...), history.StatusRunning)
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchSuspend, Filter: prefixed("su-a-"), Reason: "pause", BatchSize: size})
		wantSummary(t, sum, 12, 0)
		e.wait(in, history.StatusSuspended)
		e.wait(out, history.StatusRunning)
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchResume, Filter: prefixed("su-"), BatchSize: size})
		wantSummary(t, sum, 12, 0) // resume targets Suspended instances only
		e.wait(in, history.StatusRunning)
		if got := e.counterTotals(append(in, out...)); !allEqual(got, 0) {
			t.Fatalf("totals %v", got)
		}
	})

	t.Run("rewind", func(t *testing.T) {
		in, out := e.start("Flaky", "rw-a-", 12, nil), e.start("Flaky", "rw-b-", 3, nil)
		e.wait(append(in, out...), history.StatusFailed)
		e.failing.Store(false)
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchRewind, Filter: prefixed("rw-a-"), Reason: "fixed", BatchSize: size})
		wantSummary(t, sum, 12, 0)
		e.wait(in, history.StatusCompleted)
		e.wait(out, history.StatusFailed)
	})

	t.Run("restart", func(t *testing.T) {
		in, out := e.start("HelloWorld", "rs-a-", 12, "x"), e.start("HelloWorld", "rs-b-", 3, "x")
		e.wait(append(in, out...), history.StatusCompleted)
		before := e.status(in[0]).ExecutionID
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchRestart, Filter: prefixed("rs-a-"), BatchSize: size})
		wantSummary(t, sum, 12, 0)
		e.wait(in, history.StatusCompleted)
		if e.status(in[0]).ExecutionID == before {
			t.Fatal("restart in place kept the execution")
		}
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchRestart, Filter: prefixed("rs-a-"),
			RestartWithNewInstanceID: true, BatchSize: size})
		wantSummary(t, sum, 12, 0)
		counts, err := e.c.CountInstances(context.Background(), client.Query{Names: []string{"HelloWorld"}})
		if err != nil {
			t.Fatal(err)
		}
		if n := counts[history.StatusCompleted] + counts[history.StatusRunning] + counts[history.StatusPending]; n != 12+3+12 {
			t.Fatalf("HelloWorld instances %v, want 27", counts)
		}
		if e.status(out[0]).ExecutionID == "" {
			t.Fatal("no execution")
		}
	})

	t.Run("purge", func(t *testing.T) {
		in, out := e.start("HelloWorld", "pu-a-", 12, "x"), e.start("HelloWorld", "pu-b-", 3, "x")
		e.wait(append(in, out...), history.StatusCompleted)
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchPurge, Filter: prefixed("pu-a-"), BatchSize: size})
		wantSummary(t, sum, 12, 0)
		for _, id := range in {
			if _, err := e.c.GetStatus(context.Background(), id, client.StatusOptions{}); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("%s: %v, want not found", id, err)
			}
		}
		e.wait(out, history.StatusCompleted)
	})

	t.Run("recursive terminate and purge", func(t *testing.T) {
		// Delayed starts: the roots' rows are created now, their children
		// only once they run, so a created-time filter selects the roots.
		created := time.Now().UTC()
		var all []string
		for i := range 3 {
			id := fmt.Sprintf("rt-%02d", i)
			if _, err := e.c.StartNew(context.Background(), "ApprovalTree", samples.ApprovalTreeInput{Depth: 1, Width: 2},
				client.StartOptions{InstanceID: id, StartAt: created.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			all = append(all, id, id+"-0", id+"-1")
		}
		filter := client.Query{InstanceIDPrefix: "rt-", CreatedFrom: created.Add(-time.Minute), CreatedTo: created.Add(500 * time.Millisecond)}
		e.wait(all, history.StatusRunning)
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchTerminate, Filter: filter, Reason: "tree", Recursive: true, BatchSize: size})
		wantSummary(t, sum, 3, 0)
		e.wait(all, history.StatusTerminated)
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchPurge, Filter: filter, Recursive: true, BatchSize: size})
		wantSummary(t, sum, 3, 0)
		for _, id := range all {
			if _, err := e.c.GetStatus(context.Background(), id, client.StatusOptions{}); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("%s: %v, want purged with its root", id, err)
			}
		}
		if _, err := e.c.StartBatch(context.Background(), client.BatchRequest{Operation: client.BatchSuspend, Recursive: true}); !errors.Is(err, client.ErrBadArgument) {
			t.Fatalf("a recursive suspend: %v, want ErrBadArgument", err)
		}
	})

	t.Run("bulk operations are targets only when asked for", func(t *testing.T) {
		// A finished instance and a finished bulk operation of its own,
		// for when this runs alone.
		e.wait(e.start("HelloWorld", "bt-", 1, "x"), history.StatusCompleted)
		e.run(client.BatchRequest{Operation: client.BatchPurge, Filter: prefixed("none-")})
		page, err := e.c.ListInstances(context.Background(), client.Query{Names: []string{client.BatchOrchestrator}})
		if err != nil || len(page.Instances) == 0 {
			t.Fatalf("%v %v", page, err)
		}
		// Every finished instance but the bulk operations' own.
		sum, _ := e.run(client.BatchRequest{Operation: client.BatchPurge})
		if sum.Failed != 0 || sum.Matched == 0 {
			t.Fatalf("summary %+v", sum)
		}
		for _, st := range page.Instances {
			e.status(st.InstanceID)
		}
		// Named, running bulk operations are asked for; the only one is
		// the terminate itself, which never targets itself (or it would
		// end Terminated, and run would fail).
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchTerminate, Filter: client.Query{Names: []string{client.BatchOrchestrator}}})
		wantSummary(t, sum, 0, 0)
		// With ShowInternal, the finished bulk operations are purged.
		sum, _ = e.run(client.BatchRequest{Operation: client.BatchPurge, Filter: client.Query{ShowInternal: true}})
		if sum.Failed != 0 || sum.Matched < len(page.Instances) {
			t.Fatalf("summary %+v, want at least the %d bulk operations", sum, len(page.Instances))
		}
		for _, st := range page.Instances {
			if _, err := e.c.GetStatus(context.Background(), st.InstanceID, client.StatusOptions{}); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("bulk operation %s: %v, want purged", st.InstanceID, err)
			}
		}
	})
}

// TestRepeatedApply calls the per-instance step twice for each operation,
// as an activity that runs again after a crash does, both before and
// after the first call took effect: the second call must succeed and add
// nothing.
func TestRepeatedApply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	asOf := time.Now().UTC()
	in := func(op client.BatchOperation) *client.BatchInput {
		b, err := client.BatchRequest{Operation: op, EventName: map[bool]string{true: "Add"}[op == client.BatchRaiseEvent],
			EventData: map[bool]any{true: 1}[op == client.BatchRaiseEvent]}.BatchInput()
		if err != nil {
			t.Fatal(err)
		}
		b.AsOf = asOf
		return b
	}
	twice := func(b *client.BatchInput, id string, between func()) string {
		t.Helper()
		first, err := e.c.ApplyBatch(ctx, b, "batch-1", id)
		if err != nil {
			t.Fatalf("%s %s: %v", b.Operation, id, err)
		}
		if between != nil {
			between()
		}
		second, err := e.c.ApplyBatch(ctx, b, "batch-1", id)
		if err != nil {
			t.Fatalf("%s %s again: %v", b.Operation, id, err)
		}
		if first != second {
			t.Fatalf("%s %s: started %q, then %q", b.Operation, id, first, second)
		}
		return first
	}

	counters := e.start("Counter", "c-", 4, 0)
	e.wait(counters, history.StatusRunning)
	raise := in(client.BatchRaiseEvent)
	twice(raise, counters[0], nil) // the copy is dropped as a duplicate
	twice(raise, counters[1], func() {
		// Processed, and the counter continued as new since.
		for string(e.status(counters[1]).CustomStatus) != "1" {
			time.Sleep(50 * time.Millisecond)
		}
	})
	if got := e.counterTotals(counters[:2]); !allEqual(got, 1) {
		t.Fatalf("totals %v, want 1 each", got)
	}

	// A repeated suspend that arrives after someone resumed the instance
	// must not suspend it again.
	suspend := in(client.BatchSuspend)
	twice(suspend, counters[2], func() {
		e.wait(counters[2:3], history.StatusSuspended)
		if err := e.c.Resume(ctx, counters[2], "go on"); err != nil {
			t.Fatal(err)
		}
		e.wait(counters[2:3], history.StatusRunning)
	})
	time.Sleep(time.Second)
	if st := e.status(counters[2]); st.RuntimeStatus != history.StatusRunning {
		t.Fatalf("the repeated suspend was applied: %s", st.RuntimeStatus)
	}

	term := in(client.BatchTerminate)
	twice(term, counters[2], nil)
	twice(term, counters[3], func() { e.wait(counters[3:], history.StatusTerminated) })
	// Another bulk operation's terminate is refused: the instance finished.
	if _, err := e.c.ApplyBatch(ctx, term, "batch-2", counters[3]); !errors.Is(err, client.ErrWrongState) {
		t.Fatalf("terminate by another bulk operation: %v", err)
	}

	flaky := e.start("Flaky", "f-", 3, nil)
	e.wait(flaky, history.StatusFailed)
	// Rewound, then failed again: the repeat must not rewind it a second
	// time (which would also leave it Pending, its message dropped).
	twice(in(client.BatchRewind), flaky[2], func() { e.wait(flaky[2:], history.StatusFailed) })
	time.Sleep(500 * time.Millisecond)
	if st := e.status(flaky[2]); st.RuntimeStatus != history.StatusFailed {
		t.Fatalf("repeated rewind of an instance that failed again: %s", st.RuntimeStatus)
	}
	flaky = flaky[:2]
	e.failing.Store(false)
	rewind := in(client.BatchRewind)
	twice(rewind, flaky[0], nil)
	twice(rewind, flaky[1], func() { e.wait(flaky[1:], history.StatusCompleted) })
	e.wait(flaky, history.StatusCompleted)

	hello := e.start("HelloWorld", "h-", 3, "x")
	e.wait(hello, history.StatusCompleted)
	restart := in(client.BatchRestart)
	twice(restart, hello[0], func() { e.wait(hello[:1], history.StatusCompleted) })
	restart.RestartWithNewInstanceID = true
	newID := twice(restart, hello[1], func() { e.wait(hello[1:2], history.StatusCompleted) })
	if newID == hello[1] {
		t.Fatal("restart with a new ID kept the ID")
	}
	e.wait([]string{newID}, history.StatusCompleted)
	counts, err := e.c.CountInstances(ctx, client.Query{Names: []string{"HelloWorld"}})
	if err != nil || counts[history.StatusCompleted] != 4 {
		t.Fatalf("HelloWorld instances %v (%v), want 4 completed", counts, err)
	}

	twice(in(client.BatchPurge), hello[2], nil)
}
