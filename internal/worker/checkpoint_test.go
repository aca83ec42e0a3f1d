package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// failNthBatch fails the n-th entity-group batch sent to the History table
// while armed, as a crash between two batches of one checkpoint would
// leave it: the batches before it landed, the rest never will.
type failNthBatch struct {
	armed atomic.Bool
	seen  atomic.Int32
	n     int32
}

func (p *failNthBatch) Do(req *policy.Request) (*http.Response, error) {
	if p.armed.Load() && strings.HasSuffix(req.Raw().URL.Path, "$batch") {
		if p.seen.Add(1) == p.n {
			return nil, errors.New("injected: connection reset before the batch")
		}
	}
	return req.Next()
}

// A checkpoint too large for one batch is committed one batch at a time:
// cut between its batches, what a reader sees is a prefix of it, never
// rows past the last batch that landed and never a gap.
func TestCutCheckpointLeavesAPrefix(t *testing.T) {
	fail := &failNthBatch{n: 2}
	a := startApp(t, withPolicy(fail))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := func(exec string, from, n int) []history.Event {
		out := make([]history.Event, n)
		for i := range out {
			out[i] = history.Event{Type: history.EventRaised, EventID: -1, Name: fmt.Sprint("e", from+i), Timestamp: time.Now().UTC()}
		}
		if from == 0 {
			out[0] = history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "X", Timestamp: time.Now().UTC(),
				OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "cut", ExecutionID: exec}}
		}
		return out
	}
	etag, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: "cut", ExecutionID: "e1", Events: events("e1", 0, 10)})
	if err != nil {
		t.Fatal(err)
	}
	fail.armed.Store(true)
	_, committed, err := a.Hub.WriteHistoryCounted(ctx, azstore.Checkpoint{InstanceID: "cut", ExecutionID: "e1", FirstSeq: 10,
		Events: events("e1", 10, 250), ETag: etag})
	if err == nil || committed != 99 {
		t.Fatalf("cut checkpoint: committed %d, err %v; want 99 and the injected error", committed, err)
	}
	fail.armed.Store(false)
	hs, err := a.Hub.LoadHistory(ctx, "cut")
	if err != nil {
		t.Fatal(err)
	}
	if len(hs.Events) != 10+99 || hs.Events[len(hs.Events)-1].Name != "e108" {
		t.Fatalf("loaded %d events, want the 109 of the landed batches", len(hs.Events))
	}
	// The rest is written later, on the sentinel's new ETag, and counts.
	if _, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: "cut", ExecutionID: "e1", FirstSeq: 109,
		Events: events("e1", 109, 151), ETag: hs.ETag}); err != nil {
		t.Fatal(err)
	}
	hs, err = a.Hub.LoadHistory(ctx, "cut")
	if err != nil || len(hs.Events) != 260 {
		t.Fatalf("after the rest: %d events, %v; want 260", len(hs.Events), err)
	}
	// A rewrite in place (a rewind) cut short keeps the execution's length:
	// some rows rewritten, none hidden.
	rewritten := events("e1", 0, 260)
	for i := range rewritten[1:] {
		rewritten[i+1].Name = fmt.Sprint("r", i+1)
	}
	fail.seen.Store(0)
	fail.armed.Store(true)
	if _, committed, err := a.Hub.WriteHistoryCounted(ctx, azstore.Checkpoint{InstanceID: "cut", ExecutionID: "e1",
		Events: rewritten, ETag: hs.ETag, Rewrite: true}); err == nil || committed != 99 {
		t.Fatalf("cut rewrite: committed %d, err %v", committed, err)
	}
	fail.armed.Store(false)
	hs, err = a.Hub.LoadHistory(ctx, "cut")
	if err != nil || len(hs.Events) != 260 || hs.Events[1].Name != "r1" || hs.Events[200].Name != "e200" {
		t.Fatalf("after a cut rewrite: %d events, %v", len(hs.Events), err)
	}
	// A new execution written over it in one batch hides every old row.
	if _, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: "cut", ExecutionID: "e2", Events: events("e2", 0, 5), ETag: hs.ETag}); err != nil {
		t.Fatal(err)
	}
	hs, err = a.Hub.LoadHistory(ctx, "cut")
	if err != nil || hs.ExecutionID != "e2" || len(hs.Events) != 5 {
		t.Fatalf("new execution: %s with %d events, %v", hs.ExecutionID, len(hs.Events), err)
	}
}

// failEveryNthBatch fails every n-th entity-group batch to the History
// table while armed: checkpoints fail at every stage of an episode.
type failEveryNthBatch struct {
	armed atomic.Bool
	seen  atomic.Int32
	n     int32
}

func (p *failEveryNthBatch) Do(req *policy.Request) (*http.Response, error) {
	if p.armed.Load() && strings.HasSuffix(req.Raw().URL.Path, "$batch") && p.seen.Add(1)%p.n == 0 {
		return nil, errors.New("injected: connection reset before the batch")
	}
	return req.Next()
}

// A continue-as-new that carries more events than one batch holds keeps
// every one of them, exactly once, even while checkpoints keep failing:
// the first checkpoint of the new execution overwrites the only stored
// copy of what it carries, so what does not fit its first batch goes back
// through the control queue instead.
func TestContinueAsNewCarriesManyEventsOnce(t *testing.T) {
	const adds = 250
	fail := &failEveryNthBatch{n: 3}
	a := startApp(t, withPolicy(fail), withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("Accumulate", func(ctx *durable.OrchestrationContext) (any, error) {
			var phase string
			if err := ctx.GetInput(&phase); err != nil {
				return nil, err
			}
			if phase == "wait" {
				// The adds arrive meanwhile, unconsumed, and are carried over.
				if err := ctx.WaitForExternalEvent("go").Await(nil); err != nil {
					return nil, err
				}
				return nil, ctx.ContinueAsNew("sum")
			}
			sum := 0
			for range adds {
				var n int
				if err := ctx.WaitForExternalEvent("add").Await(&n); err != nil {
					return nil, err
				}
				sum += n
			}
			return sum, nil
		})
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := a.Client.StartNew(ctx, "Accumulate", "wait", client.StartOptions{InstanceID: "acc"})
	if err != nil {
		t.Fatal(err)
	}
	for range adds {
		if err := a.Client.RaiseEvent(ctx, id, "add", 1); err != nil {
			t.Fatal(err)
		}
	}
	fail.armed.Store(true)
	if err := a.Client.RaiseEvent(ctx, id, "go", nil); err != nil {
		t.Fatal(err)
	}
	st := a.wait(t, ctx, id)
	fail.armed.Store(false)
	expectCompleted(t, st, fmt.Sprint(adds))
}

// failRowWrites fails every write of an instance row while armed.
type failRowWrites struct{ armed atomic.Bool }

func (p *failRowWrites) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if p.armed.Load() && (raw.Method == "PATCH" || raw.Method == "MERGE" || raw.Method == "PUT") && strings.Contains(raw.URL.Path, "Instances(") {
		return nil, errors.New("injected: instance row write refused")
	}
	return req.Next()
}

// A row write that failed is retried by itself: an instance that then waits
// for days has no later episode that would write its row.
func TestFailedRowWriteIsRetried(t *testing.T) {
	fail := &failRowWrites{}
	a := startApp(t, withPolicy(fail), withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("WaitsLong", func(ctx *durable.OrchestrationContext) (any, error) {
			ctx.SetCustomStatus("waiting")
			return nil, ctx.WaitForExternalEvent("go").Await(nil)
		})
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail.armed.Store(true)
	id, err := a.Client.StartNew(ctx, "WaitsLong", nil, client.StartOptions{InstanceID: "row-retry"})
	if err != nil {
		t.Fatal(err)
	}
	// The first episode's row write fails while history records it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		hs, err := a.Hub.LoadHistory(ctx, id)
		if err == nil && len(hs.Events) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first episode never checkpointed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if st, err := a.Client.GetStatus(ctx, id, client.StatusOptions{}); err != nil || st.RuntimeStatus != history.StatusPending {
		t.Fatalf("while row writes fail: %+v, %v; want the row still Pending", st, err)
	}
	fail.armed.Store(false)
	for {
		st, err := a.Client.GetStatus(ctx, id, client.StatusOptions{})
		if err == nil && st.RuntimeStatus == history.StatusRunning && string(st.CustomStatus) == `"waiting"` {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the row never caught up with history: %+v, %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitsAndSlow registers WaitsForGo, which waits for the event "go", and
// SlowStep, whose activity runs in the process until release is closed.
func waitsAndSlow(release <-chan struct{}) appOption {
	return withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("WaitsForGo", func(ctx *durable.OrchestrationContext) (any, error) {
			return nil, ctx.WaitForExternalEvent("go").Await(nil)
		})
		_ = r.AddOrchestrator("SlowStep", func(ctx *durable.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("Slow", nil).Await(nil)
		})
		_ = r.AddActivity("Slow", func(ctx *durable.ActivityContext) (any, error) {
			<-release
			return nil, nil
		})
	})
}

// inFlight lists every in-flight row of the hub.
func inFlight(t *testing.T, h *azstore.Hub) []string {
	t.Helper()
	var all []string
	for p := range h.PartitionCount() {
		ids, err := h.ListInFlight(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids...)
	}
	return all
}

// The in-flight table holds the instances with work that storage alone
// does not show, and only while they have it: recovery reads it instead
// of the hub, so it must not fill up with instances that only wait.
func TestInFlightRowsFollowTheWork(t *testing.T) {
	release := make(chan struct{})
	a := startApp(t, waitsAndSlow(release))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var waiting []string
	for i := range 10 {
		id, err := a.Client.StartNew(ctx, "WaitsForGo", nil, client.StartOptions{InstanceID: fmt.Sprint("wait-", i)})
		if err != nil {
			t.Fatal(err)
		}
		waiting = append(waiting, id)
	}
	slow, err := a.Client.StartNew(ctx, "SlowStep", nil, client.StartOptions{InstanceID: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	// Quiet instances lose their rows after journalQuiet (5 s); the one
	// whose activity runs in this process keeps its row.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := inFlight(t, a.Hub)
		if len(rows) == 1 && rows[0] == slow {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in-flight rows %v, want only %q", rows, slow)
		}
		time.Sleep(250 * time.Millisecond)
	}
	close(release)
	expectCompleted(t, a.wait(t, ctx, slow), "")
	for _, id := range waiting {
		if err := a.Client.RaiseEvent(ctx, id, "go", nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range waiting {
		a.wait(t, ctx, id)
	}
	// Finished instances delete their rows at once.
	deadline = time.Now().Add(10 * time.Second)
	for rows := inFlight(t, a.Hub); len(rows) > 0; rows = inFlight(t, a.Hub) {
		if time.Now().After(deadline) {
			t.Fatalf("in-flight rows %v after every instance finished", rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A worker alone on its hub runs a fan-out of any width itself: past the
// backlog's channel the activities wait in memory, not in the work-item
// queue, which would only carry them back at three requests each.
func TestWideFanOutStaysLocalWhenAlone(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := a.Client.StartNew(ctx, "FanOutFanIn", 1500, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Client.WaitForCompletion(ctx, id, 200*time.Millisecond)
	if err != nil || st.RuntimeStatus != history.StatusCompleted {
		t.Fatalf("status %+v, %v", st, err)
	}
	if s := a.Worker.Stats(); s.QueueActivities != 0 || s.LocalActivities < 1500 {
		t.Fatalf("%d activities through the work-item queue and %d local, want 0 and 1,500", s.QueueActivities, s.LocalActivities)
	}
}

// inFlightWrites counts the requests that write an in-flight row, by the
// instance the row names.
type inFlightWrites struct {
	mu sync.Mutex
	by map[string]int
}

func (p *inFlightWrites) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if _, rest, ok := strings.Cut(raw.URL.Path, "InFlight("); ok && raw.Method == http.MethodPut {
		p.mu.Lock()
		if p.by == nil {
			p.by = map[string]int{}
		}
		p.by[rest]++
		p.mu.Unlock()
	}
	return req.Next()
}

func (p *inFlightWrites) named(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.by {
		if strings.Contains(k, "'"+id+"'") {
			n += v
		}
	}
	return n
}

// A start whose first checkpoint finishes it, or leaves it waiting for an
// event, writes no in-flight row (see needsJournal); one that leaves an
// activity running in the process does, and so does any later checkpoint.
func TestRecentStartsNeedNoInFlightRow(t *testing.T) {
	writes := &inFlightWrites{}
	release := make(chan struct{})
	a := startApp(t, withPolicy(writes), waitsAndSlow(release))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	expectCompleted(t, a.run(t, "HelloCities5", nil, client.StartOptions{InstanceID: "hello"}), cities5)
	if _, err := a.Client.StartNew(ctx, "WaitsForGo", nil, client.StartOptions{InstanceID: "waits"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.StartNew(ctx, "SlowStep", nil, client.StartOptions{InstanceID: "slow"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); writes.named("slow") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an instance whose activity runs in the process wrote no in-flight row")
		}
	}
	close(release)
	expectCompleted(t, a.wait(t, ctx, "slow"), "")
	if n, m := writes.named("hello"), writes.named("waits"); n+m > 0 {
		t.Fatalf("in-flight rows written: %d for a start that finished in its first checkpoint, %d for one that waits there", n, m)
	}
	// Its next checkpoint has a row write behind it that only recovery
	// would find: that one writes the row.
	if err := a.Client.RaiseEvent(ctx, "waits", "go", nil); err != nil {
		t.Fatal(err)
	}
	a.wait(t, ctx, "waits")
	if writes.named("waits") == 0 {
		t.Fatal("a later checkpoint wrote no in-flight row")
	}
}

// A crash between the first checkpoint of a start and its row write, which
// has no in-flight row, leaves a Pending row with history: the next owner's
// look for lost starts repairs it, to Completed with the output for a
// finished instance, to Running for a waiting one, which then goes on.
func TestPendingRowBehindItsHistoryIsRepaired(t *testing.T) {
	waits := withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("WaitsForGo", func(ctx *durable.OrchestrationContext) (any, error) {
			var v string
			err := ctx.WaitForExternalEvent("go").Await(&v)
			return v, err
		})
	})
	first := startApp(t, waits)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	expectCompleted(t, first.run(t, "HelloCities5", nil, client.StartOptions{InstanceID: "done"}), cities5)
	if _, err := first.Client.StartNew(ctx, "WaitsForGo", nil, client.StartOptions{InstanceID: "waiting"}); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := first.Client.GetStatus(ctx, "waiting", client.StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.RuntimeStatus == history.StatusRunning {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The worker dies; its row writes never happened.
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	pending := history.StatusPending
	for _, id := range []string{"done", "waiting"} {
		if err := first.Hub.PatchInstance(ctx, id, layout.InstancePatch{RuntimeStatus: &pending}, nil); err != nil {
			t.Fatal(err)
		}
	}
	second := startApp(t, waits, withDurable(func(d *config.DurableOptions) { d.HubName = first.hub }))
	expectCompleted(t, second.wait(t, ctx, "done"), cities5)
	for {
		st, err := second.Client.GetStatus(ctx, "waiting", client.StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.RuntimeStatus == history.StatusRunning {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the waiting instance's row stayed %s", st.RuntimeStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := second.Client.RaiseEvent(ctx, "waiting", "go", "went"); err != nil {
		t.Fatal(err)
	}
	expectCompleted(t, second.wait(t, ctx, "waiting"), `"went"`)
}

// historyBatches counts the entity-group batches written to the History
// table, by the instances they name.
type historyBatches struct {
	mu sync.Mutex
	by map[string]int
}

func (p *historyBatches) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	if raw.Method == http.MethodPost && strings.HasSuffix(raw.URL.Path, "$batch") && raw.Body != nil {
		body, err := io.ReadAll(raw.Body)
		if err != nil {
			return nil, err
		}
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		if _, rest, ok := strings.Cut(string(body), "History(PartitionKey='"); ok {
			id, _, _ := strings.Cut(rest, "'")
			p.mu.Lock()
			if p.by == nil {
				p.by = map[string]int{}
			}
			p.by[id]++
			p.mu.Unlock()
		}
	}
	return req.Next()
}

func (p *historyBatches) of(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.by[id]
}

// A start that comes through the control queue (from another app
// instance, the CLI, a parent) runs as cheaply as one taken in memory: its
// message stays held while the orchestration's first steps stay in
// memory, and one checkpoint at the end holds them all, after which the
// message is deleted. Before, the held message forced a checkpoint (and an
// in-flight row) at the first step, and a second at the end.
func TestQueuedStartIsCheckpointedOnce(t *testing.T) {
	batches, inflight := &historyBatches{}, &inFlightWrites{}
	a := startApp(t, withPolicy(batches), withPolicy(inflight))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A client with no worker of its own: its starts go through the queue.
	queued := client.New(a.Hub, client.Options{})
	const n = 6
	var ids []string
	for i := range n {
		id, err := queued.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: fmt.Sprint("queued-", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	total, rows := 0, 0
	for _, id := range ids {
		expectCompleted(t, a.wait(t, ctx, id), cities5)
		total += batches.of(id)
		rows += inflight.named(id)
	}
	// An orchestration that outlasts maxDefer (a loaded machine) is
	// checkpointed at maxDefer too; most finish well within it.
	if total > n*3/2 || rows > total-n {
		t.Fatalf("%d queued starts wrote %d history batches and %d in-flight rows; want about one batch each and no row", n, total, rows)
	}
	// The deletes go beside the row write: wait for them.
	for p := range a.Hub.PartitionCount() {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			b, err := a.Hub.ControlBacklog(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if b.Messages == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d still has %d messages: the held starts were not deleted", p, b.Messages)
			}
		}
	}
}
