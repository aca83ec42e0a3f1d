package batch

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// TestOrchestration runs the bulk operation's orchestration with mocked
// steps over 35 instances, 2 a page: 18 pages, so it continues as new,
// and its totals, start time and filter must carry over.
func TestOrchestration(t *testing.T) {
	reg := durable.NewRegistry()
	if err := Register(reg, nil); err != nil { // the mocks never use the client
		t.Fatal(err)
	}
	env := tasktest.NewEnv(taskbridge.Public(reg).(*task.Registry))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	var ids []string
	for i := range 35 {
		ids = append(ids, fmt.Sprintf("i%02d", i))
	}
	var mu sync.Mutex
	var lists []listInput
	var applies []applyInput
	env.OnActivity(ActivityCount, func(ctx *task.ActivityContext) (any, error) { return len(ids), nil })
	env.OnActivity(ActivityListPage, func(ctx *task.ActivityContext) (any, error) {
		var in listInput
		if err := ctx.GetInput(&in); err != nil {
			return nil, err
		}
		mu.Lock()
		lists = append(lists, in)
		mu.Unlock()
		from := 0
		if in.Continuation != "" {
			from, _ = strconv.Atoi(in.Continuation)
		}
		to := min(from+in.Size, len(ids))
		out := listOutput{IDs: ids[from:to]}
		if to < len(ids) {
			out.Next = strconv.Itoa(to)
		}
		return out, nil
	})
	env.OnActivity(ActivityApply, func(ctx *task.ActivityContext) (any, error) {
		var in applyInput
		if err := ctx.GetInput(&in); err != nil {
			return nil, err
		}
		mu.Lock()
		applies = append(applies, in)
		mu.Unlock()
		var out []client.BatchItemResult
		for _, id := range in.Instances {
			r := client.BatchItemResult{InstanceID: id}
			if id[2] == '3' { // i03, i13, i23, i33
				r.Error = "refused"
			}
			out = append(out, r)
		}
		return out, nil
	})
	req := client.BatchRequest{Operation: client.BatchTerminate, Reason: "r", BatchSize: 2,
		Filter: client.Query{InstanceIDPrefix: "i", CreatedTo: start.Add(time.Hour)}}
	in, err := req.BatchInput()
	if err != nil {
		t.Fatal(err)
	}
	res := env.RunWithID("bulk-1", client.BatchOrchestrator, in)
	var sum client.BatchSummary
	if err := res.Output(&sum); err != nil {
		t.Fatal(err)
	}
	if sum.Matched != 35 || sum.Succeeded != 31 || sum.Failed != 4 || len(sum.Errors) != 4 || sum.Errors[1].InstanceID != "i13" {
		t.Fatalf("summary %+v", sum)
	}
	if res.Executions != 2 {
		t.Fatalf("%d executions, want 2 (18 pages, %d per execution)", res.Executions, PagesPerExecution)
	}
	var prog client.BatchProgress
	if err := res.CustomStatus(&prog); err != nil || !prog.Done || prog.Pages != 18 || prog.Total != 35 || prog.Matched != 35 {
		t.Fatalf("progress %+v (%v)", prog, err)
	}
	if len(lists) != 18 || len(applies) != 18 {
		t.Fatalf("%d lists and %d applies, want 18 each", len(lists), len(applies))
	}
	for _, l := range lists {
		// The caller's end (an hour later) is pinned to the start, and the
		// operation's own ID, never a target, is carried by every execution.
		if !l.Filter.CreatedTimeTo.Equal(start) || l.Size != 2 || l.Filter.Self != "bulk-1" {
			t.Fatalf("list input %+v", l)
		}
	}
	for _, a := range applies {
		if a.BatchID != "bulk-1" || !a.Batch.AsOf.Equal(start) || a.Batch.Reason != "r" {
			t.Fatalf("apply input %+v", a)
		}
	}
	b, _ := json.Marshal(sum)
	t.Logf("summary %s", b)
}

func TestProgressTotalNeverBelowMatched(t *testing.T) {
	st := &state{Total: 3}
	st.Summary.Add([]client.BatchItemResult{{InstanceID: "a"}, {InstanceID: "b"}, {InstanceID: "c"}, {InstanceID: "d"}})
	if p := progressOf(st, false); p.Total != 4 || p.Matched != 4 {
		t.Fatalf("progress %+v", p)
	}
}
