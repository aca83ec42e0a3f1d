package samples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// registry registers the samples with the given app settings.
func registry(t *testing.T, settings map[string]string) *task.Registry {
	t.Helper()
	reg := task.NewRegistry()
	lookup := func(name string) (string, bool) {
		v, ok := settings[name]
		return v, ok
	}
	if err := samples.Register(reg, lookup); err != nil {
		t.Fatal(err)
	}
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

func greetings(cities ...string) []string {
	out := make([]string, len(cities))
	for i, c := range cities {
		out[i] = "Hello " + c + "!"
	}
	return out
}

func TestHelloWorld(t *testing.T) {
	env := tasktest.NewEnv(registry(t, nil))
	if got := output[string](t, env.Run("HelloWorld", "Tokyo")); got != "Hello Tokyo!" {
		t.Fatalf("string input: %q", got)
	}
	// Any JSON input is greeted as its text, as the end-to-end tests expect.
	if got := output[string](t, env.Run("HelloWorld", map[string]string{"city": "Tokyo"})); got != `Hello {"city":"Tokyo"}!` {
		t.Fatalf("object input: %q", got)
	}
	res := env.Run("HelloWorld", nil)
	if got := output[string](t, res); got != "Hello !" || len(res.Activities()) != 1 || res.Activities()[0].Input != "null" {
		t.Fatalf("no input: %q, activities %+v", got, res.Activities())
	}
}

func TestCitySequences(t *testing.T) {
	for name, cities := range map[string][]string{
		"E1_HelloSequence": {"Tokyo", "Seattle", "London"},
		"HelloCities5":     {"Tokyo", "Seattle", "London", "Cairo", "Lima"},
	} {
		t.Run(name, func(t *testing.T) {
			res := tasktest.NewEnv(registry(t, nil)).Run(name, nil)
			if got := output[[]string](t, res); !reflect.DeepEqual(got, greetings(cities...)) {
				t.Fatalf("output %v", got)
			}
			// Function chaining: one activity per episode, in order.
			acts := res.Activities()
			if len(acts) != len(cities) || res.Episodes != len(cities)+1 {
				t.Fatalf("%d activities in %d episodes", len(acts), res.Episodes)
			}
			for i, a := range acts {
				if a.Name != "SayHello" || a.Input != fmt.Sprintf("%q", cities[i]) || a.TaskID != i {
					t.Errorf("activity %d: %+v", i, a)
				}
			}
		})
	}
}

func TestFanOutFanIn(t *testing.T) {
	env := tasktest.NewEnv(registry(t, nil))
	res := env.Run("FanOutFanIn", 20)
	got := output[[]string](t, res)
	if len(got) != 20 || got[0] != "Hello 0!" || got[19] != "Hello 19!" {
		t.Fatalf("output %v", got)
	}
	// Fan-out: all twenty are scheduled by the first episode; fan-in: the
	// second episode takes all results at once.
	if res.Episodes != 2 || len(res.Activities()) != 20 {
		t.Fatalf("%d episodes, %d activities", res.Episodes, len(res.Activities()))
	}
	if got := output[[]string](t, env.Run("FanOutFanIn", 0)); len(got) != 0 {
		t.Fatalf("N=0: %v", got)
	}
	res = env.Run("FanOutFanIn", -1)
	if res.Status != tasktest.StatusFailed || !strings.Contains(res.Failure.ErrorMessage, "out of range") {
		t.Fatalf("N=-1: status %s failure %+v", res.Status, res.Failure)
	}
	res = env.Run("FanOutFanIn", "ten")
	if res.Status != tasktest.StatusFailed || !strings.Contains(res.Failure.ErrorMessage, "integer input") {
		t.Fatalf("N=ten: status %s failure %+v", res.Status, res.Failure)
	}
}

func TestApprovalWorkflow(t *testing.T) {
	approval := json.RawMessage(`{"by":"ann"}`)
	t.Run("with DatabaseConnection", func(t *testing.T) {
		env := tasktest.NewEnv(registry(t, map[string]string{"DatabaseConnection": "Server=db"}))
		env.RaiseEventAfter(4*time.Hour, "Approval", approval)
		res := env.Run("ApprovalWorkflow", nil)
		got := output[map[string]any](t, res)
		if !reflect.DeepEqual(got, map[string]any{"approved": map[string]any{"by": "ann"}, "saved": true}) || res.Elapsed != 4*time.Hour {
			t.Fatalf("output %v after %s", got, res.Elapsed)
		}
		if acts := res.Activities(); len(acts) != 1 || acts[0].Name != "SaveToDatabase" || acts[0].Input != string(approval) {
			t.Fatalf("activities %+v", acts)
		}
	})
	for name, settings := range map[string]map[string]string{
		"without DatabaseConnection":    nil,
		"with an invalid connection":    {"DatabaseConnection": "invalid:x"},
		"with an empty connection text": {"DatabaseConnection": ""},
	} {
		t.Run(name, func(t *testing.T) {
			env := tasktest.NewEnv(registry(t, settings))
			env.RaiseEvent("Approval", approval)
			res := env.Run("ApprovalWorkflow", nil)
			if res.Status != tasktest.StatusFailed || res.Err != nil {
				t.Fatalf("status %s err %v", res.Status, res.Err)
			}
			inner := res.Failure.InnerFailure
			if inner == nil || inner.ErrorType != "DatabaseError" || !strings.Contains(inner.ErrorMessage, "DatabaseConnection") {
				t.Fatalf("failure %+v", res.Failure)
			}
		})
	}
	t.Run("mocked save", func(t *testing.T) {
		env := tasktest.NewEnv(registry(t, nil))
		env.OnActivity("SaveToDatabase", func(*task.ActivityContext) (any, error) { return true, nil })
		env.RaiseEvent("Approval", true)
		if got := output[map[string]any](t, env.Run("ApprovalWorkflow", nil)); got["approved"] != true {
			t.Fatalf("output %v", got)
		}
	})
	t.Run("no approval", func(t *testing.T) {
		res := tasktest.NewEnv(registry(t, nil)).Run("ApprovalWorkflow", nil)
		if res.Status != tasktest.StatusRunning || !errors.Is(res.Err, tasktest.ErrBlocked) || len(res.Actions) != 0 {
			t.Fatalf("status %s err %v actions %d", res.Status, res.Err, len(res.Actions))
		}
	})
}

func TestCounter(t *testing.T) {
	env := tasktest.NewEnv(registry(t, nil))
	env.RaiseEvent("Add", 5)
	env.RaiseEventAfter(time.Minute, "Add", 10)
	env.RaiseEventAfter(2*time.Minute, "Add", -3)
	env.RaiseEventAfter(time.Hour, "Stop", nil)
	res := env.Run("Counter", 100)
	if got := output[int](t, res); got != 112 {
		t.Fatalf("total %d, want 112", got)
	}
	if res.Executions != 4 || res.Elapsed != time.Hour {
		t.Fatalf("executions %d elapsed %s", res.Executions, res.Elapsed)
	}
	var status int
	if err := res.CustomStatus(&status); err != nil || status != 112 {
		t.Fatalf("custom status %d (%v)", status, err)
	}

	// Adds raised together are carried over from execution to execution.
	env = tasktest.NewEnv(registry(t, nil))
	for range 5 {
		env.RaiseEvent("Add", 1)
	}
	env.RaiseEvent("Stop", nil)
	if res := env.Run("Counter", 0); output[int](t, res) != 5 || res.Executions != 6 {
		t.Fatalf("carried-over Adds: output %s executions %d", res.RawOutput(), res.Executions)
	}

	// Between events it shows the running total and waits.
	env = tasktest.NewEnv(registry(t, nil))
	env.RaiseEvent("Add", 2)
	res = env.Run("Counter", 1)
	if err := res.CustomStatus(&status); err != nil || status != 3 || !errors.Is(res.Err, tasktest.ErrBlocked) {
		t.Fatalf("custom status %d (%v), err %v", status, err, res.Err)
	}

	env = tasktest.NewEnv(registry(t, nil))
	env.RaiseEvent("Add", "two")
	if res := env.Run("Counter", 0); res.Status != tasktest.StatusFailed || !strings.Contains(res.Failure.ErrorMessage, "Add wants an integer") {
		t.Fatalf("bad Add: status %s failure %+v", res.Status, res.Failure)
	}
}

func TestTimerDemo(t *testing.T) {
	const month = 30 * 24 * time.Hour
	begun := time.Now()
	res := tasktest.NewEnv(registry(t, nil)).Run("TimerDemo", month.Seconds())
	if got := output[string](t, res); got != "done" || res.Elapsed != month {
		t.Fatalf("output %q elapsed %s", got, res.Elapsed)
	}
	if time.Since(begun) > 10*time.Second {
		t.Fatal("the timer took real time")
	}
	var fires []time.Time
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindTimer {
			fires = append(fires, a.FireAt)
		}
	}
	if len(fires) != 1 || !fires[0].Equal(res.History[0].Timestamp.Add(month)) {
		t.Fatalf("timers %v", fires)
	}
	res = tasktest.NewEnv(registry(t, nil)).Run("TimerDemo", 1.5)
	if output[string](t, res) != "done" || res.Elapsed != 1500*time.Millisecond {
		t.Fatalf("fractional seconds: elapsed %s", res.Elapsed)
	}
}

func TestSubOrchestrationDemo(t *testing.T) {
	res := tasktest.NewEnv(registry(t, nil)).Run("SubOrchestrationDemo", nil)
	if got := output[[]string](t, res); !reflect.DeepEqual(got, greetings("Tokyo", "Seattle", "London", "Cairo", "Lima")) {
		t.Fatalf("output %v", got)
	}
	var child tasktest.Action
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindSubOrchestration {
			child = a
		}
	}
	// The Durable Task Framework's default child ID: "{parent execution}:{task}".
	if child.Name != "HelloCities5" || child.Target != res.History[1].OrchestrationInstance.ExecutionID+":0" {
		t.Fatalf("child %+v", child)
	}
	for _, a := range res.Activities() {
		if a.InstanceID != child.Target {
			t.Fatalf("activity run by %q, want the child %q", a.InstanceID, child.Target)
		}
	}

	env := tasktest.NewEnv(registry(t, nil))
	env.OnSubOrchestrator("HelloCities5", func(ctx *task.OrchestrationContext) (any, error) {
		return []string{"mocked"}, nil
	})
	res = env.Run("SubOrchestrationDemo", nil)
	if got := output[[]string](t, res); !reflect.DeepEqual(got, []string{"mocked"}) || len(res.Activities()) != 0 {
		t.Fatalf("mocked child: %v, %d activities", got, len(res.Activities()))
	}
}

func TestApprovalTree(t *testing.T) {
	env := tasktest.NewEnv(registry(t, nil))
	var inputs []string
	env.OnSubOrchestrator("ApprovalTree", func(ctx *task.OrchestrationContext) (any, error) {
		inputs = append(inputs, ctx.RawInput())
		return 3, nil // a subtree of three, approved
	})
	env.RaiseEvent("Approval", true)
	res := env.RunWithID("tree", "ApprovalTree", nil)
	if got := output[int](t, res); got != 7 {
		t.Fatalf("approved %d, want 7", got)
	}
	var targets []string
	for _, a := range res.Actions {
		if a.Kind == tasktest.KindSubOrchestration {
			targets = append(targets, a.Target)
		}
	}
	if !reflect.DeepEqual(targets, []string{"tree-0", "tree-1"}) {
		t.Fatalf("children %v, want tree-0 and tree-1", targets)
	}
	for _, in := range inputs {
		if in != `{"depth":1,"width":2}` {
			t.Fatalf("child input %s", in)
		}
	}

	leaf := tasktest.NewEnv(registry(t, nil))
	leaf.RaiseEvent("Approval", true)
	if got := output[int](t, leaf.Run("ApprovalTree", samples.ApprovalTreeInput{Depth: 0, Width: 2})); got != 1 {
		t.Fatalf("leaf approved %d, want 1", got)
	}
	if res := tasktest.NewEnv(registry(t, nil)).Run("ApprovalTree", samples.ApprovalTreeInput{Depth: 9, Width: 2}); res.Failure == nil || !strings.Contains(res.Failure.ErrorMessage, "depth must be") {
		t.Fatal("a tree nine deep was accepted")
	}
}

// changedApproval is ApprovalWorkflow as a careless change might leave it:
// it now notifies a manager before saving.
func changedApproval(ctx *task.OrchestrationContext) (any, error) {
	var approval json.RawMessage
	if err := ctx.WaitForExternalEvent("Approval").Await(&approval); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity("NotifyManager", approval).Await(nil); err != nil {
		return nil, err
	}
	return nil, ctx.CallActivity("SaveToDatabase", approval).Await(nil)
}

func TestReplayDetectsAChangedSample(t *testing.T) {
	settings := map[string]string{"DatabaseConnection": "Server=db"}
	env := tasktest.NewEnv(registry(t, settings))
	env.RaiseEvent("Approval", true)
	recorded := env.Run("ApprovalWorkflow", nil)
	if recorded.Status != tasktest.StatusCompleted {
		t.Fatalf("recording: %v", recorded.Output(nil))
	}
	if err := tasktest.Replay(registry(t, settings), recorded.History); err != nil {
		t.Fatalf("unchanged samples: %v", err)
	}

	changed := task.NewRegistry()
	if err := changed.AddOrchestrator("ApprovalWorkflow", changedApproval); err != nil {
		t.Fatal(err)
	}
	err := tasktest.Replay(changed, recorded.History)
	var nd *task.NonDeterminismError
	if !errors.As(err, &nd) || !strings.Contains(nd.Message, `"SaveToDatabase"`) || !strings.Contains(nd.Message, `"NotifyManager"`) {
		t.Fatalf("got %v, want a NonDeterminismError naming both activities", err)
	}
}

// testdata/hellocities5.history.json is HelloCities5's history as
// `durable get-history --id ID --json --raw` prints it. It must keep
// replaying against the sample: a failure here means that instances in
// flight when the app is upgraded would fail.
func TestRecordedHistoryStillReplays(t *testing.T) {
	data, err := os.ReadFile("testdata/hellocities5.history.json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := tasktest.ParseHistory(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := tasktest.Replay(registry(t, nil), events); err != nil {
		t.Fatalf("the current HelloCities5 no longer replays its recorded history: %v", err)
	}
	// A copy that greets the cities in parallel issues the same activities
	// under the same IDs, which replay accepts; one that drops a city does
	// not.
	parallel := func(cities ...string) *task.Registry {
		reg := task.NewRegistry()
		_ = reg.AddOrchestrator("HelloCities5", func(ctx *task.OrchestrationContext) (any, error) {
			tasks := make([]task.Task, len(cities))
			for i, c := range cities {
				tasks[i] = ctx.CallActivity("SayHello", c)
			}
			return nil, ctx.WhenAll(tasks...).Await(nil)
		})
		return reg
	}
	if err := tasktest.Replay(parallel("Tokyo", "Seattle", "London", "Cairo", "Lima"), events); err != nil {
		t.Fatalf("parallel copy: %v", err)
	}
	err = tasktest.Replay(parallel("Tokyo", "Seattle", "London", "Cairo"), events)
	var nd *task.NonDeterminismError
	if !errors.As(err, &nd) || !strings.Contains(nd.Message, "TaskScheduled #4") {
		t.Fatalf("copy without Lima: %v", err)
	}
}

// The entity samples in the test kit: Transfer moves money between two
// Accounts under locks, and refuses when the first holds too little.
func TestTransferBetweenAccounts(t *testing.T) {
	reg := task.NewRegistry()
	if err := samples.Register(reg, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	a, b := task.EntityID{Name: "Account", Key: "alice"}, task.EntityID{Name: "Account", Key: "bob"}
	if err := reg.AddOrchestrator("Bank", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallEntity(a, "deposit", 100).Await(nil); err != nil {
			return nil, err
		}
		var moved, refused bool
		if err := ctx.CallSubOrchestrator("Transfer", samples.TransferInput{From: "alice", To: "bob", Amount: 30}).Await(&moved); err != nil {
			return nil, err
		}
		if err := ctx.CallSubOrchestrator("Transfer", samples.TransferInput{From: "bob", To: "alice", Amount: 31}).Await(&refused); err != nil {
			return nil, err
		}
		var ab, bb int
		if err := ctx.CallEntity(a, "balance", nil).Await(&ab); err != nil {
			return nil, err
		}
		if err := ctx.CallEntity(b, "balance", nil).Await(&bb); err != nil {
			return nil, err
		}
		var failed *task.EntityOperationFailedError
		err := ctx.CallEntity(b, "withdraw", 1000).Await(nil)
		return []any{moved, refused, ab, bb, errors.As(err, &failed)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	res := tasktest.NewEnv(reg).Run("Bank", nil)
	if res.Err != nil || res.Status != tasktest.StatusCompleted {
		t.Fatalf("%v %s %s", res.Err, res.Status, res.RawOutput())
	}
	if got := res.RawOutput(); got != `[true,false,70,30,true]` {
		t.Fatalf("output %s", got)
	}
}

// Starter starts the Deposits it is asked for; each pays into an Account.
func TestStarterStartsDeposits(t *testing.T) {
	reg := task.NewRegistry()
	if err := samples.Register(reg, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	starter, acct := task.EntityID{Name: "Starter", Key: "s"}, task.EntityID{Name: "Account", Key: "paid"}
	if err := reg.AddOrchestrator("Pay", func(ctx *task.OrchestrationContext) (any, error) {
		var ids []string
		for i := range 3 {
			in, _ := json.Marshal(samples.DepositInput{Account: "paid", Amount: 10 + i})
			var id string
			if err := ctx.CallEntity(starter, "start", samples.StartRequest{Orchestrator: "Deposit", InstanceID: fmt.Sprint("pay-", i),
				Input: in}).Await(&id); err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		// The Deposits run on their own; wait until their money is in.
		for {
			var b int
			if err := ctx.CallEntity(acct, "balance", nil).Await(&b); err != nil {
				return nil, err
			}
			if b == 33 {
				break
			}
			if err := ctx.CreateTimer(ctx.CurrentUTCDateTime().Add(time.Second)).Await(nil); err != nil {
				return nil, err
			}
		}
		var n int
		err := ctx.CallEntity(starter, "count", nil).Await(&n)
		return []any{ids, n}, err
	}); err != nil {
		t.Fatal(err)
	}
	res := tasktest.NewEnv(reg).Run("Pay", nil)
	if res.Err != nil || res.Status != tasktest.StatusCompleted {
		t.Fatalf("%v %s %s", res.Err, res.Status, res.RawOutput())
	}
	if got := res.RawOutput(); got != `[["pay-0","pay-1","pay-2"],3]` {
		t.Fatalf("output %s", got)
	}
}
