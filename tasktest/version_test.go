package tasktest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

func TestSetVersionIsSeenAndInherited(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Parent", func(ctx *task.OrchestrationContext) (any, error) {
		var a, b string
		if err := ctx.CallSubOrchestrator("Child", nil).Await(&a); err != nil {
			return nil, err
		}
		if err := ctx.CallSubOrchestrator("Child", nil, task.WithVersion("9")).Await(&b); err != nil {
			return nil, err
		}
		return []string{ctx.Version(), a, b}, nil
	}))
	must(t, reg.AddOrchestrator("Child", func(ctx *task.OrchestrationContext) (any, error) { return ctx.Version(), nil }))
	env := tasktest.NewEnv(reg)
	env.SetVersion("1.0")
	res := env.Run("Parent", nil)
	if got := res.RawOutput(); res.Err != nil || got != `["1.0","1.0","9"]` {
		t.Fatalf("output %s, err %v", got, res.Err)
	}
}

func TestIsPatchedRecordedAndReplayed(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Step", func(*task.ActivityContext) (any, error) { return "ok", nil }))
	must(t, reg.AddOrchestrator("Flow", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("Step", nil).Await(nil); err != nil {
			return nil, err
		}
		if ctx.IsPatched("second-step") {
			if err := ctx.CallActivity("Step", nil).Await(nil); err != nil {
				return nil, err
			}
		}
		return "done", nil
	}))
	res := tasktest.NewEnv(reg).Run("Flow", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	found := false
	for _, e := range res.History {
		found = found || e.Data == "Patched: second-step"
	}
	if !found {
		t.Fatalf("no patch marker in %+v", res.History)
	}
	if err := tasktest.Replay(reg, res.History); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// A deploy in miniature: histories of instances in flight on build A,
// checked against build B, which adds a step before the first one (fails),
// against B with the step behind IsPatched (passes), and against B with
// the step only for a new version (passes).
func TestCheckReplayGuardsADeploy(t *testing.T) {
	approval := func(extra func(ctx *task.OrchestrationContext) bool) task.OrchestratorFunc {
		return func(ctx *task.OrchestrationContext) (any, error) {
			if extra(ctx) {
				if err := ctx.CallActivity("Audit", nil).Await(nil); err != nil {
					return nil, err
				}
			}
			if err := ctx.CallActivity("Notify", "manager").Await(nil); err != nil {
				return nil, err
			}
			var ok bool
			if err := ctx.WaitForExternalEvent("Approval").Await(&ok); err != nil {
				return nil, err
			}
			return ok, nil
		}
	}
	build := func(extra func(ctx *task.OrchestrationContext) bool) *task.Registry {
		reg := task.NewRegistry()
		must(t, reg.AddActivity("Notify", func(*task.ActivityContext) (any, error) { return nil, nil }))
		must(t, reg.AddActivity("Audit", func(*task.ActivityContext) (any, error) { return nil, nil }))
		must(t, reg.AddOrchestrator("Approval", approval(extra)))
		return reg
	}
	buildA := build(func(*task.OrchestrationContext) bool { return false })
	histories := map[string][]tasktest.HistoryEvent{}
	for _, v := range []string{"1.0", "1.0", "1.1"} {
		env := tasktest.NewEnv(buildA)
		env.SetVersion(v)
		res := env.RunWithID("appr-"+v+"-"+string(rune('a'+len(histories))), "Approval", nil)
		if !errors.Is(res.Err, tasktest.ErrBlocked) {
			t.Fatalf("build A: %v", res.Err)
		}
		histories[res.InstanceID] = res.History
	}

	rep := tasktest.CheckReplay(build(func(*task.OrchestrationContext) bool { return true }), histories)
	if rep.Failed() != 3 || len(rep.Groups) != 2 || rep.Groups[0].Version != "1.0" || rep.Groups[0].Checked != 2 ||
		!rep.Groups[0].Failures[0].NonDeterministic || !strings.Contains(rep.Groups[0].Failures[0].Error, `"Notify"`) {
		t.Fatalf("unguarded change: %+v", rep)
	}
	var out strings.Builder
	must(t, rep.Write(&out))
	if !strings.Contains(out.String(), "3 of 3 instance(s) do not replay") {
		t.Fatalf("report:\n%s", out.String())
	}
	guarded := build(func(ctx *task.OrchestrationContext) bool { return ctx.IsPatched("audit-first") })
	if rep := tasktest.CheckReplay(guarded, histories); rep.Failed() != 0 || rep.Checked() != 3 {
		t.Fatalf("behind IsPatched: %+v", rep)
	}
	versioned := build(func(ctx *task.OrchestrationContext) bool { return task.CompareVersions(ctx.Version(), "2.0") >= 0 })
	if rep := tasktest.CheckReplay(versioned, histories); rep.Failed() != 0 {
		t.Fatalf("for version 2.0 on: %+v", rep)
	}
	// New instances of the guarded build take the new path.
	res := tasktest.NewEnv(guarded).Run("Approval", nil)
	if len(res.History) < 2 || !slices.ContainsFunc(res.History, func(e tasktest.HistoryEvent) bool { return e.Name == "Audit" }) {
		t.Fatalf("a new instance of the guarded build did not audit: %+v", res.History)
	}
}
