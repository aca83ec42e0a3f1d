package tasktest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func greet(ctx *task.ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	return "Hello " + name + "!", nil
}

// sequenceRegistry has the function-chaining pattern: Greet for each city.
func sequenceRegistry(t *testing.T) *task.Registry {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Greet", greet))
	must(t, reg.AddOrchestrator("Sequence", func(ctx *task.OrchestrationContext) (any, error) {
		var out []string
		for _, c := range []string{"Tokyo", "Seattle", "London"} {
			var s string
			if err := ctx.CallActivity("Greet", c).Await(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}))
	return reg
}

func output[T any](t *testing.T, res *tasktest.Result) T {
	t.Helper()
	var v T
	if err := res.Output(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRealActivities(t *testing.T) {
	res := tasktest.NewEnv(sequenceRegistry(t)).Run("Sequence", nil)
	got := output[[]string](t, res)
	if want := []string{"Hello Tokyo!", "Hello Seattle!", "Hello London!"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("output %v, want %v", got, want)
	}
	acts := res.Activities()
	if len(acts) != 3 || acts[0].Name != "Greet" || acts[0].Input != `"Tokyo"` || acts[2].Output != `"Hello London!"` ||
		acts[1].Attempt != 1 || acts[1].TaskID != 1 || acts[0].InstanceID != tasktest.DefaultInstanceID {
		t.Fatalf("activities %+v", acts)
	}
	if res.Executions != 1 || res.Elapsed != 0 || res.Err != nil || res.Episodes != 4 {
		t.Fatalf("executions %d elapsed %s err %v episodes %d", res.Executions, res.Elapsed, res.Err, res.Episodes)
	}
	var types []string
	for _, e := range res.History {
		types = append(types, e.Type.String())
	}
	if got := strings.Join(types, " "); !strings.HasPrefix(got, "OrchestratorStarted ExecutionStarted TaskScheduled OrchestratorCompleted") ||
		!strings.HasSuffix(got, "TaskCompleted ExecutionCompleted OrchestratorCompleted") {
		t.Fatalf("history %s", got)
	}
}

func TestMockedActivityReplacesRegisteredCode(t *testing.T) {
	env := tasktest.NewEnv(sequenceRegistry(t))
	var ids []int
	env.OnActivity("Greet", func(ctx *task.ActivityContext) (any, error) {
		ids = append(ids, ctx.TaskID())
		var city string
		if err := ctx.GetInput(&city); err != nil {
			return nil, err
		}
		return strings.ToUpper(city), nil
	})
	got := output[[]string](t, env.Run("Sequence", nil))
	if !reflect.DeepEqual(got, []string{"TOKYO", "SEATTLE", "LONDON"}) || !reflect.DeepEqual(ids, []int{0, 1, 2}) {
		t.Fatalf("output %v task IDs %v", got, ids)
	}
}

func TestMockOfUnregisteredActivityAndMissingActivity(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("O", func(ctx *task.OrchestrationContext) (any, error) {
		var s string
		err := ctx.CallActivity("Remote", nil).Await(&s)
		return s, err
	}))
	env := tasktest.NewEnv(reg)
	res := env.Run("O", nil)
	if res.Status != tasktest.StatusFailed || res.Failure.InnerFailure == nil || res.Failure.InnerFailure.ErrorType != "ActivityNotFound" {
		t.Fatalf("unregistered activity: status %s failure %+v", res.Status, res.Failure)
	}
	env.OnActivity("Remote", func(*task.ActivityContext) (any, error) { return "mocked", nil })
	if got := output[string](t, env.Run("O", nil)); got != "mocked" {
		t.Fatalf("output %q", got)
	}
}

func TestRetriesUseVirtualTime(t *testing.T) {
	reg := task.NewRegistry()
	calls := 0
	must(t, reg.AddActivity("Flaky", func(ctx *task.ActivityContext) (any, error) {
		calls++
		if calls < 3 {
			return nil, fmt.Errorf("transient failure %d", calls)
		}
		return calls, nil
	}))
	must(t, reg.AddOrchestrator("Retry", func(ctx *task.OrchestrationContext) (any, error) {
		var n int
		err := ctx.CallActivity("Flaky", "x", task.WithRetry(task.RetryPolicy{MaxAttempts: 5,
			FirstRetryInterval: time.Minute, BackoffCoefficient: 2})).Await(&n)
		return n, err
	}))
	start := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	env := tasktest.NewEnv(reg)
	env.SetStartTime(start)
	res := env.Run("Retry", nil)
	if got := output[int](t, res); got != 3 {
		t.Fatalf("output %d", got)
	}
	if res.Elapsed != 3*time.Minute {
		t.Fatalf("elapsed %s, want 3m (1m then 2m of back-off)", res.Elapsed)
	}
	acts := res.Activities()
	if len(acts) != 3 {
		t.Fatalf("%d activity calls", len(acts))
	}
	for i, a := range acts {
		if a.Attempt != i+1 {
			t.Errorf("call %d: attempt %d", i, a.Attempt)
		}
	}
	if acts[0].Failure == nil || !strings.Contains(acts[0].Failure.ErrorMessage, "transient failure 1") || acts[2].Output != "3" {
		t.Errorf("outcomes %+v", acts)
	}
	var fires []time.Time
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindTimer {
			fires = append(fires, a.FireAt)
		}
	}
	if want := []time.Time{start.Add(time.Minute), start.Add(3 * time.Minute)}; !reflect.DeepEqual(fires, want) {
		t.Fatalf("timers fire at %v, want %v", fires, want)
	}
}

func TestRetriesGiveUp(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Down", func(*task.ActivityContext) (any, error) { return nil, errors.New("down") }))
	must(t, reg.AddOrchestrator("O", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("Down", nil, task.WithRetry(task.RetryPolicy{MaxAttempts: 3,
			FirstRetryInterval: time.Hour})).Await(nil)
	}))
	res := tasktest.NewEnv(reg).Run("O", nil)
	if res.Status != tasktest.StatusFailed || len(res.Activities()) != 3 || res.Elapsed != 2*time.Hour {
		t.Fatalf("status %s, %d calls, elapsed %s", res.Status, len(res.Activities()), res.Elapsed)
	}
	if err := res.Output(nil); err == nil || !strings.Contains(err.Error(), "down") {
		t.Fatalf("Output of a failed run: %v", err)
	}
}

func TestLongTimerTakesNoTime(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Sleeper", func(ctx *task.OrchestrationContext) (any, error) {
		before := ctx.CurrentUTCDateTime()
		if err := ctx.Sleep(90 * 24 * time.Hour); err != nil {
			return nil, err
		}
		return ctx.CurrentUTCDateTime().Sub(before).String(), nil
	}))
	begun := time.Now()
	res := tasktest.NewEnv(reg).Run("Sleeper", nil)
	if got := output[string](t, res); got != "2160h0m0s" || res.Elapsed != 90*24*time.Hour {
		t.Fatalf("output %s elapsed %s", got, res.Elapsed)
	}
	if time.Since(begun) > 10*time.Second {
		t.Fatal("a virtual timer took real time")
	}
}

func approvalRegistry(t *testing.T) *task.Registry {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("SleepThenWait", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.Sleep(time.Hour); err != nil {
			return nil, err
		}
		var v string
		err := ctx.WaitForExternalEvent("Approval").Await(&v)
		return v, err
	}))
	must(t, reg.AddOrchestrator("WaitWithTimeout", func(ctx *task.OrchestrationContext) (any, error) {
		var v string
		err := ctx.WaitForExternalEvent("Approval", task.WithTimeout(time.Hour)).Await(&v)
		if errors.Is(err, task.ErrTimedOut) {
			return "timed out", nil
		}
		return v, err
	}))
	return reg
}

func TestEventRaisedBeforeTheWaitIsKept(t *testing.T) {
	env := tasktest.NewEnv(approvalRegistry(t))
	env.RaiseEvent("approval", "yes") // names are case-insensitive
	res := env.Run("SleepThenWait", nil)
	if got := output[string](t, res); got != "yes" || res.Elapsed != time.Hour {
		t.Fatalf("output %q elapsed %s", got, res.Elapsed)
	}
}

func TestEventRaisedAfterTheWaitBegins(t *testing.T) {
	env := tasktest.NewEnv(approvalRegistry(t))
	env.RaiseEventAfter(3*time.Hour, "Approval", "later")
	res := env.Run("SleepThenWait", nil)
	if got := output[string](t, res); got != "later" || res.Elapsed != 3*time.Hour {
		t.Fatalf("output %q elapsed %s", got, res.Elapsed)
	}
}

func TestWaitForExternalEventWithTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		after   time.Duration // 0: no event
		want    string
		elapsed time.Duration
	}{
		{"no event", 0, "timed out", time.Hour},
		{"event in time", 30 * time.Minute, "ok", 30 * time.Minute},
		{"event too late", 2 * time.Hour, "timed out", time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tasktest.NewEnv(approvalRegistry(t))
			if tc.after > 0 {
				env.RaiseEventAfter(tc.after, "Approval", "ok")
			}
			res := env.Run("WaitWithTimeout", nil)
			if got := output[string](t, res); got != tc.want || res.Elapsed != tc.elapsed {
				t.Fatalf("output %q elapsed %s, want %q after %s", got, res.Elapsed, tc.want, tc.elapsed)
			}
		})
	}
}

func parentRegistry(t *testing.T) *task.Registry {
	reg := sequenceRegistry(t)
	must(t, reg.AddOrchestrator("Parent", func(ctx *task.OrchestrationContext) (any, error) {
		var out []string
		if err := ctx.CallSubOrchestrator("Sequence", nil).Await(&out); err != nil {
			return nil, err
		}
		return len(out), nil
	}))
	return reg
}

func TestRealSubOrchestration(t *testing.T) {
	res := tasktest.NewEnv(parentRegistry(t)).Run("Parent", nil)
	if got := output[int](t, res); got != 3 {
		t.Fatalf("output %d", got)
	}
	var sub tasktest.Action
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindSubOrchestration {
			sub = a
		}
	}
	if sub.Name != "Sequence" || sub.Target == "" || sub.Target == res.InstanceID || sub.Attempt != 1 ||
		!strings.Contains(sub.Output, "Hello London!") {
		t.Fatalf("sub-orchestration action %+v", sub)
	}
	acts := res.Activities()
	if len(acts) != 3 || acts[0].InstanceID != sub.Target {
		t.Fatalf("the child's activities %+v", acts)
	}
}

func TestMockedSubOrchestration(t *testing.T) {
	env := tasktest.NewEnv(parentRegistry(t))
	env.OnSubOrchestrator("Sequence", func(ctx *task.OrchestrationContext) (any, error) {
		return []string{"a", "b"}, nil
	})
	res := env.Run("Parent", nil)
	if got := output[int](t, res); got != 2 || len(res.Activities()) != 0 {
		t.Fatalf("output %d, %d activities", got, len(res.Activities()))
	}

	env.OnSubOrchestrator("Sequence", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, errors.New("child broke")
	})
	res = env.Run("Parent", nil)
	if res.Status != tasktest.StatusFailed || res.Failure.InnerFailure == nil ||
		!strings.Contains(res.Failure.InnerFailure.ErrorMessage, "child broke") {
		t.Fatalf("status %s failure %+v", res.Status, res.Failure)
	}
	if !strings.Contains(res.Failure.ErrorMessage, `sub-orchestration "Sequence"`) {
		t.Fatalf("the parent sees %q", res.Failure.ErrorMessage)
	}
}

func counterRegistry(t *testing.T) *task.Registry {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Counter", func(ctx *task.OrchestrationContext) (any, error) {
		var total int
		if err := ctx.GetInput(&total); err != nil {
			return nil, err
		}
		if err := ctx.SetCustomStatus(map[string]int{"total": total}); err != nil {
			return nil, err
		}
		add := ctx.WaitForExternalEvent("Add")
		stop := ctx.WaitForExternalEvent("Stop")
		var which int
		if err := ctx.WhenAny(add, stop).Await(&which); err != nil {
			return nil, err
		}
		if which == 1 {
			return total, nil
		}
		var n int
		if err := add.Await(&n); err != nil {
			return nil, err
		}
		return nil, ctx.ContinueAsNew(total + n)
	}))
	return reg
}

func TestContinueAsNewCarriesOverEvents(t *testing.T) {
	env := tasktest.NewEnv(counterRegistry(t))
	// All at once: each execution consumes one Add and carries the rest.
	for _, n := range []int{1, 2, 3} {
		env.RaiseEvent("Add", n)
	}
	env.RaiseEventAfter(time.Minute, "Add", 10)
	env.RaiseEventAfter(2*time.Minute, "Stop", nil)
	res := env.Run("Counter", 0)
	if got := output[int](t, res); got != 16 {
		t.Fatalf("total %d, want 16", got)
	}
	if res.Executions != 5 || res.Elapsed != 2*time.Minute {
		t.Fatalf("executions %d elapsed %s", res.Executions, res.Elapsed)
	}
	var inputs []string
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindContinueAsNew {
			inputs = append(inputs, a.Input)
		}
	}
	if got := strings.Join(inputs, ","); got != "1,3,6,16" {
		t.Fatalf("continue-as-new inputs %s", got)
	}
	var status map[string]int
	must(t, res.CustomStatus(&status))
	if status["total"] != 16 {
		t.Fatalf("custom status %v", status)
	}
	if res.History[1].Type.String() != "ExecutionStarted" || res.History[1].Input != "16" {
		t.Fatalf("final execution starts with %+v", res.History[1])
	}
}

func TestCustomStatusWhileBlocked(t *testing.T) {
	env := tasktest.NewEnv(counterRegistry(t))
	env.RaiseEvent("Add", 5)
	res := env.Run("Counter", 1)
	if res.Status != tasktest.StatusRunning || !errors.Is(res.Err, tasktest.ErrBlocked) {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	var status map[string]int
	must(t, res.CustomStatus(&status))
	if status["total"] != 6 || res.Executions != 2 {
		t.Fatalf("custom status %v after %d executions", status, res.Executions)
	}
}

type dbError struct{}

func (dbError) Error() string     { return "database is unreachable" }
func (dbError) ErrorType() string { return "DatabaseError" }

func TestFailurePropagates(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Save", func(*task.ActivityContext) (any, error) { return nil, dbError{} }))
	must(t, reg.AddOrchestrator("Handles", func(ctx *task.OrchestrationContext) (any, error) {
		err := ctx.CallActivity("Save", nil).Await(nil)
		var tf *task.TaskFailedError
		if errors.As(err, &tf) {
			return "handled " + tf.Details.ErrorType, nil
		}
		return "no error", err
	}))
	must(t, reg.AddOrchestrator("Returns", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("Save", nil).Await(nil)
	}))
	must(t, reg.AddOrchestrator("Panics", func(ctx *task.OrchestrationContext) (any, error) { panic("boom") }))
	env := tasktest.NewEnv(reg)
	if got := output[string](t, env.Run("Handles", nil)); got != "handled DatabaseError" {
		t.Fatalf("Handles: %q", got)
	}
	res := env.Run("Returns", nil)
	if res.Status != tasktest.StatusFailed || res.Err != nil || res.Failure.ErrorType != "TaskFailedError" ||
		res.Failure.InnerFailure.ErrorType != "DatabaseError" || !strings.Contains(res.RawOutput(), "database is unreachable") {
		t.Fatalf("Returns: status %s err %v failure %+v", res.Status, res.Err, res.Failure)
	}
	res = env.Run("Panics", nil)
	if res.Status != tasktest.StatusFailed || res.Failure.ErrorMessage != "boom" || res.Failure.StackTrace == "" {
		t.Fatalf("Panics: status %s failure %+v", res.Status, res.Failure)
	}
	if res := env.Run("Missing", nil); res.Status != tasktest.StatusFailed || res.Failure.ErrorType != "OrchestratorNotFound" {
		t.Fatalf("Missing: status %s failure %+v", res.Status, res.Failure)
	}
}

func TestBlockedForever(t *testing.T) {
	env := tasktest.NewEnv(approvalRegistry(t))
	env.RaiseEvent("Aproval", "typo")
	res := env.Run("SleepThenWait", nil)
	if res.Status != tasktest.StatusRunning || !errors.Is(res.Err, tasktest.ErrBlocked) {
		t.Fatalf("status %s err %v", res.Status, res.Err)
	}
	msg := res.Err.Error()
	if !strings.Contains(msg, `waits for external event "Approval"`) || !strings.Contains(msg, `received in this execution: "Aproval"`) ||
		!strings.Contains(msg, "SleepThenWait") {
		t.Fatalf("the error does not say what it waits for: %s", msg)
	}
	if err := res.Output(nil); !errors.Is(err, tasktest.ErrBlocked) {
		t.Fatalf("Output: %v", err)
	}
	if res.Elapsed != time.Hour {
		t.Fatalf("elapsed %s", res.Elapsed)
	}
}

func TestBlockedSubOrchestrationIsNamed(t *testing.T) {
	reg := approvalRegistry(t)
	must(t, reg.AddOrchestrator("Parent", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.CallSubOrchestrator("WaitWithTimeout", nil, task.WithInstanceID("child-1")).Await(nil)
	}))
	env := tasktest.NewEnv(reg)
	env.OnSubOrchestrator("WaitWithTimeout", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.WaitForExternalEvent("Never").Await(nil)
	})
	res := env.Run("Parent", nil)
	if !errors.Is(res.Err, tasktest.ErrBlocked) || !strings.Contains(res.Err.Error(), `sub-orchestration "WaitWithTimeout" (instance "child-1"`) ||
		!strings.Contains(res.Err.Error(), `instance "child-1" (WaitWithTimeout, Running) waits for external event "Never"`) {
		t.Fatalf("err %v", res.Err)
	}
}

// A blocked run names every event the code awaits, as the code spelt it,
// next to what it already has: here a WhenAny of two events after an
// activity, then a second wait in a fan-in.
func TestBlockedNamesTheAwaitedEvents(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Notify", func(*task.ActivityContext) (any, error) { return nil, nil }))
	must(t, reg.AddOrchestrator("Review", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("Notify", nil).Await(nil); err != nil {
			return nil, err
		}
		return nil, ctx.WhenAny(ctx.WaitForExternalEvent("Rejected"), ctx.WaitForExternalEvent("Approved")).Await(nil)
	}))
	res := tasktest.NewEnv(reg).Run("Review", nil)
	want := `tasktest: orchestration is blocked: instance "tasktest-instance" (Review, Running) waits for ` +
		`external event "Approved", external event "Rejected" (events it received in this execution: none)`
	if res.Err == nil || res.Err.Error() != want {
		t.Fatalf("err\n %v\nwant\n %s", res.Err, want)
	}
}

func TestEternalOrchestrationHitsTheEpisodeCap(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Eternal", func(ctx *task.OrchestrationContext) (any, error) {
		var n int
		_ = ctx.GetInput(&n)
		if err := ctx.Sleep(time.Hour); err != nil {
			return nil, err
		}
		return nil, ctx.ContinueAsNew(n + 1)
	}))
	res := tasktest.NewEnv(reg).Run("Eternal", 0)
	if !errors.Is(res.Err, tasktest.ErrTooManyEpisodes) || res.Episodes != tasktest.MaxEpisodes || res.Status == tasktest.StatusCompleted {
		t.Fatalf("status %s episodes %d err %v", res.Status, res.Episodes, res.Err)
	}
}

func TestSendEventToAnotherInstance(t *testing.T) {
	reg := approvalRegistry(t)
	must(t, reg.AddOrchestrator("Approver", func(ctx *task.OrchestrationContext) (any, error) {
		child := ctx.CallSubOrchestrator("WaitWithTimeout", nil, task.WithInstanceID("waiter"))
		if err := ctx.SendEvent("waiter", "Approval", "from parent"); err != nil {
			return nil, err
		}
		var v string
		err := child.Await(&v)
		return v, err
	}))
	res := tasktest.NewEnv(reg).Run("Approver", nil)
	if got := output[string](t, res); got != "from parent" {
		t.Fatalf("output %q", got)
	}
	var sent *tasktest.Action
	for i, a := range res.Actions {
		if a.Kind == tasktest.KindEventSent {
			sent = &res.Actions[i]
		}
	}
	if sent == nil || sent.Target != "waiter" || sent.Name != "Approval" || sent.Input != `"from parent"` || sent.TaskID != 1 {
		t.Fatalf("sent %+v", sent)
	}
}

func TestRunsAreDeterministic(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddOrchestrator("Guids", func(ctx *task.OrchestrationContext) (any, error) {
		a := ctx.NewGUID()
		if err := ctx.Sleep(time.Second); err != nil {
			return nil, err
		}
		return []string{a.String(), ctx.NewGUID().String(), ctx.InstanceID(), ctx.ExecutionID()}, nil
	}))
	env := tasktest.NewEnv(reg)
	first, second := env.Run("Guids", nil), env.RunWithID("other", "Guids", nil)
	again := env.Run("Guids", nil)
	if !reflect.DeepEqual(first.History, again.History) || first.RawOutput() != again.RawOutput() {
		t.Fatal("two runs of the same Env differ")
	}
	if first.RawOutput() == second.RawOutput() || !strings.Contains(second.RawOutput(), `"other"`) {
		t.Fatalf("RunWithID: %s vs %s", first.RawOutput(), second.RawOutput())
	}
}

func TestConfigurationErrorsAreReported(t *testing.T) {
	env := tasktest.NewEnv(approvalRegistry(t))
	env.RaiseEvent("Approval", func() {})
	if res := env.Run("SleepThenWait", nil); res.Err == nil || !strings.Contains(res.Err.Error(), `raise event "Approval"`) {
		t.Fatalf("err %v", res.Err)
	}
	if res := tasktest.NewEnv(approvalRegistry(t)).Run("SleepThenWait", make(chan int)); res.Err == nil {
		t.Fatal("an input that cannot be encoded was accepted")
	}
}

func TestReplayAcceptsUnchangedCode(t *testing.T) {
	reg := sequenceRegistry(t)
	res := tasktest.NewEnv(reg).Run("Sequence", nil)
	if err := tasktest.Replay(reg, res.History); err != nil {
		t.Fatalf("complete history: %v", err)
	}
	// Every prefix that ends an episode is a history a running instance
	// can have.
	for i, e := range res.History {
		if e.Type.String() == "OrchestratorCompleted" {
			if err := tasktest.Replay(reg, res.History[:i+1]); err != nil {
				t.Fatalf("history up to event %d: %v", i, err)
			}
		}
	}
}

func changedRegistry(t *testing.T, cities ...string) *task.Registry {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Greet", greet))
	must(t, reg.AddActivity("Farewell", greet))
	must(t, reg.AddOrchestrator("Sequence", func(ctx *task.OrchestrationContext) (any, error) {
		for _, c := range cities {
			name := "Greet"
			if strings.HasPrefix(c, "~") {
				name, c = "Farewell", c[1:]
			}
			if err := ctx.CallActivity(name, c).Await(nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}))
	return reg
}

func TestReplayDetectsChangedCode(t *testing.T) {
	res := tasktest.NewEnv(sequenceRegistry(t)).Run("Sequence", nil)
	for _, tc := range []struct {
		name   string
		cities []string
		want   string
	}{
		{"different activity", []string{"Tokyo", "~Seattle", "London"}, `"Greet"`},
		{"step removed", []string{"Tokyo", "Seattle"}, "did not issue it"},
		{"step added at the end", []string{"Tokyo", "Seattle", "London", "Paris"}, "completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tasktest.Replay(changedRegistry(t, tc.cities...), res.History)
			var nd *task.NonDeterminismError
			if !errors.As(err, &nd) || !strings.Contains(nd.Message, tc.want) {
				t.Fatalf("got %v, want a NonDeterminismError mentioning %s", err, tc.want)
			}
		})
	}
	// Inputs are not part of determinism, as in the Durable Task Framework.
	if err := tasktest.Replay(changedRegistry(t, "Osaka", "Seattle", "London"), res.History); err != nil {
		t.Fatalf("changed input: %v", err)
	}
	// A running instance may go on with a step the old code did not have.
	if err := tasktest.Replay(changedRegistry(t, "Tokyo", "Seattle", "London", "Paris"), res.History[:8]); err != nil {
		t.Fatalf("step added beyond a running history: %v", err)
	}
}

func TestReplayOfContinueAsNewAndEvents(t *testing.T) {
	env := tasktest.NewEnv(counterRegistry(t))
	env.RaiseEvent("Add", 2)
	env.RaiseEvent("Add", 3)
	env.RaiseEvent("Stop", nil)
	res := env.Run("Counter", 0)
	if err := tasktest.Replay(counterRegistry(t), res.History); err != nil {
		t.Fatal(err)
	}
	changed := task.NewRegistry()
	must(t, changed.AddOrchestrator("Counter", func(ctx *task.OrchestrationContext) (any, error) {
		return nil, ctx.ContinueAsNew(0) // no longer stops
	}))
	var nd *task.NonDeterminismError
	if err := tasktest.Replay(changed, res.History); !errors.As(err, &nd) {
		t.Fatalf("got %v", err)
	}
}

func TestParseHistory(t *testing.T) {
	reg := sequenceRegistry(t)
	res := tasktest.NewEnv(reg).Run("Sequence", nil)
	raw, err := json.Marshal(res.History)
	must(t, err)
	events, err := tasktest.ParseHistory(raw)
	must(t, err)
	if err := tasktest.Replay(reg, events); err != nil {
		t.Fatal(err)
	}
	var nd *task.NonDeterminismError
	if err := tasktest.Replay(changedRegistry(t, "~Tokyo"), events); !errors.As(err, &nd) {
		t.Fatalf("changed code: %v", err)
	}

	httpShape, err := apijson.HistoryEvents(res.History, true)
	must(t, err)
	if _, err := tasktest.ParseHistory(httpShape); !errors.Is(err, tasktest.ErrNotReplayable) || !strings.Contains(err.Error(), "--raw") {
		t.Fatalf("HTTP shape: %v", err)
	}
	if _, err := tasktest.ParseHistory([]byte(`{"historyEvents": []}`)); !errors.Is(err, tasktest.ErrNotReplayable) {
		t.Fatalf("status body: %v", err)
	}
	if _, err := tasktest.ParseHistory([]byte(`not json`)); err == nil {
		t.Fatal("garbage parsed")
	}
	if err := tasktest.Replay(reg, nil); err == nil {
		t.Fatal("empty history replayed")
	}
	if err := tasktest.Replay(task.NewRegistry(), events); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("unknown orchestrator: %v", err)
	}
}

// An activity left running by an execution that continued as new reports
// to that execution, not to the next one's task of the same ID.
func TestResultOfAnEarlierExecutionIsNotTaken(t *testing.T) {
	reg := task.NewRegistry()
	must(t, reg.AddActivity("Echo", func(ctx *task.ActivityContext) (any, error) {
		var s string
		err := ctx.GetInput(&s)
		return s, err
	}))
	must(t, reg.AddOrchestrator("Gen", func(ctx *task.OrchestrationContext) (any, error) {
		var gen int
		_ = ctx.GetInput(&gen)
		if gen == 0 {
			ctx.CallActivity("Echo", "from old")
			return nil, ctx.ContinueAsNew(1)
		}
		var s string
		err := ctx.CallActivity("Echo", "from new").Await(&s)
		return s, err
	}))
	res := tasktest.NewEnv(reg).Run("Gen", 0)
	var out string
	if err := res.Output(&out); err != nil || out != "from new" {
		t.Fatalf("output %q (%v)", out, err)
	}
}
