package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

type testApp struct {
	*app.App
	settings *config.Settings
	hub      string
	conn     string
}

type appOption func(*app.Config, map[string]string)

func withSetting(k, v string) appOption {
	return func(_ *app.Config, s map[string]string) { s[k] = v }
}

func withRegistry(fn func(*durable.Registry)) appOption {
	return func(c *app.Config, _ map[string]string) { fn(c.Registry) }
}

func withDurable(fn func(*config.DurableOptions)) appOption {
	return func(c *app.Config, _ map[string]string) { fn(&c.Durable) }
}

func withPolicy(p policy.Policy) appOption {
	return func(c *app.Config, _ map[string]string) { c.Policies = append(c.Policies, p) }
}

func startApp(t *testing.T, opts ...appOption) *testApp {
	t.Helper()
	conn := testutil.Storage(t)
	values := map[string]string{"AzureWebJobsStorage": conn, "DatabaseConnection": "Server=db;Database=orders"}
	// The settings options must act before the app reads its settings;
	// they all act again, on the real configuration, in Configure.
	scratch := app.Config{Registry: durable.NewRegistry()}
	for _, o := range opts {
		o(&scratch, values)
	}
	ownHub := testutil.UniqueHubName(t)
	hub := ownHub
	a := apptest.NewApp(t, apptest.AppOptions{Hub: ownHub, Settings: values, Manual: true,
		Durable: func(d *config.DurableOptions) { d.MaxQueuePollingInterval = time.Second },
		Configure: func(c *app.Config) {
			// Logs show what the worker did when a test fails.
			c.Logger = nil
			for _, o := range opts {
				o(c, map[string]string{})
			}
			hub = c.Durable.HubName
		}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		// An app joining another test app's hub leaves it to that app.
		if os.Getenv("KEEP_HUBS") == "" && hub == ownHub {
			_ = a.Hub.Delete(ctx)
		}
	})
	return &testApp{App: a, settings: config.NewSettings(values, false), hub: hub, conn: conn}
}

func (a *testApp) run(t *testing.T, name string, input any, o client.StartOptions) *client.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := a.Client.StartNew(ctx, name, input, o)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return a.wait(t, ctx, id)
}

func (a *testApp) wait(t *testing.T, ctx context.Context, id string) *client.Status {
	t.Helper()
	st, err := a.Client.WaitForCompletion(ctx, id, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("wait for %s: %v", id, err)
	}
	return st
}

func expectCompleted(t *testing.T, st *client.Status, want string) {
	t.Helper()
	if st.RuntimeStatus != history.StatusCompleted {
		t.Fatalf("%s: status %s, output %s", st.InstanceID, st.RuntimeStatus, st.Output)
	}
	if string(st.Output) != want {
		t.Fatalf("%s: output %s, want %s", st.InstanceID, st.Output, want)
	}
}

func TestSamplesComplete(t *testing.T) {
	a := startApp(t)
	fan := make([]string, 100)
	for i := range fan {
		fan[i] = fmt.Sprintf("Hello %d!", i)
	}
	fanJSON, _ := json.Marshal(fan)
	cases := []struct {
		name  string
		input any
		want  string
	}{
		{"HelloWorld", "Tokyo", `"Hello Tokyo!"`},
		{"E1_HelloSequence", nil, `["Hello Tokyo!","Hello Seattle!","Hello London!"]`},
		{"HelloCities5", nil, `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`},
		{"FanOutFanIn", 100, string(fanJSON)},
		{"TimerDemo", 1, `"done"`},
		{"SubOrchestrationDemo", nil, `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			expectCompleted(t, a.run(t, c.name, c.input, client.StartOptions{}), c.want)
		})
	}
	t.Run("ApprovalWorkflow", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Client.RaiseEvent(ctx, id, "Approval", map[string]any{"by": "manager"}); err != nil {
			t.Fatal(err)
		}
		expectCompleted(t, a.wait(t, ctx, id), `{"approved":{"by":"manager"},"saved":true}`)
	})
}

func TestEventRaisedBeforeTheWaitIsDelivered(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The start is scheduled 2 s ahead, so the event surely arrives first.
	id, err := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{StartAt: time.Now().Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Client.RaiseEvent(ctx, id, "Approval", true); err != nil {
		t.Fatal(err)
	}
	st, err := a.Client.GetStatus(ctx, id, client.StatusOptions{})
	if err != nil || st.RuntimeStatus != history.StatusPending {
		t.Fatalf("status before start: %+v, %v", st, err)
	}
	expectCompleted(t, a.wait(t, ctx, id), `{"approved":true,"saved":true}`)
}

// recordingPolicy keeps the bodies of instance-row writes, to see the
// statuses an instance passed through.
type recordingPolicy struct {
	mu     sync.Mutex
	bodies []string
}

func (p *recordingPolicy) Do(req *policy.Request) (*http.Response, error) {
	if raw := req.Raw(); raw.Method == "PATCH" || raw.Method == "MERGE" || raw.Method == "PUT" {
		if strings.Contains(raw.URL.Path, "Instances(") && req.Body() != nil {
			b, _ := io.ReadAll(req.Body())
			_ = req.RewindBody()
			p.mu.Lock()
			p.bodies = append(p.bodies, string(b))
			p.mu.Unlock()
		}
	}
	return req.Next()
}

func (p *recordingPolicy) saw(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bodies {
		if strings.Contains(b, s) {
			return true
		}
	}
	return false
}

func TestCounterContinuesAsNew(t *testing.T) {
	rec := &recordingPolicy{}
	a := startApp(t, withPolicy(rec))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := a.Client.StartNew(ctx, "Counter", 0, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := a.Client.GetStatus(ctx, id, client.StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		if err := a.Client.RaiseEvent(ctx, id, "Add", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Client.RaiseEvent(ctx, id, "Stop", nil); err != nil {
		t.Fatal(err)
	}
	st := a.wait(t, ctx, id)
	expectCompleted(t, st, "6")
	if st.ExecutionID == first.ExecutionID {
		t.Fatalf("execution ID did not change: %s", st.ExecutionID)
	}
	if !rec.saw(`"RuntimeStatus":"ContinuedAsNew"`) {
		t.Fatalf("the instance row never showed ContinuedAsNew")
	}
	full, err := a.Client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true, ShowHistoryOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if full.History[1].Type != history.ExecutionStarted || full.History[1].Input == "0" {
		t.Fatalf("last execution should start from a carried total, got %+v", full.History[1])
	}
}

func TestRetryPolicyRetriesFlakyActivity(t *testing.T) {
	var attempts atomic.Int32
	a := startApp(t, withRegistry(func(r *durable.Registry) {
		_ = r.AddActivity("Flaky", func(ctx *durable.ActivityContext) (any, error) {
			if n := attempts.Add(1); n < 3 {
				return nil, fmt.Errorf("transient failure on attempt %d", n)
			}
			return int(attempts.Load()), nil
		})
		_ = r.AddOrchestrator("RetryFlaky", func(ctx *durable.OrchestrationContext) (any, error) {
			var n int
			err := ctx.CallActivity("Flaky", nil, durable.WithRetry(durable.RetryPolicy{
				MaxAttempts: 5, FirstRetryInterval: 200 * time.Millisecond, BackoffCoefficient: 2})).Await(&n)
			return n, err
		})
	}))
	st := a.run(t, "RetryFlaky", nil, client.StartOptions{})
	expectCompleted(t, st, "3")
	full, err := a.Client.GetStatus(context.Background(), st.InstanceID, client.StatusOptions{ShowHistory: true})
	if err != nil {
		t.Fatal(err)
	}
	scheduled, failed := 0, 0
	for _, e := range full.History {
		switch e.Type {
		case history.TaskScheduled:
			scheduled++
		case history.TaskFailed:
			failed++
		}
	}
	if attempts.Load() != 3 || scheduled != 3 || failed != 2 {
		t.Fatalf("attempts %d, scheduled %d, failed %d; want 3, 3, 2", attempts.Load(), scheduled, failed)
	}
}

func TestUnhandledActivityFailureFailsInstance(t *testing.T) {
	a := startApp(t, withSetting("DatabaseConnection", "invalid-server"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Client.RaiseEvent(ctx, id, "Approval", "yes"); err != nil {
		t.Fatal(err)
	}
	st := a.wait(t, ctx, id)
	if st.RuntimeStatus != history.StatusFailed {
		t.Fatalf("status %s", st.RuntimeStatus)
	}
	var out string
	if err := json.Unmarshal(st.Output, &out); err != nil || !strings.HasPrefix(out, "TaskFailedError: ") {
		t.Fatalf("output %s: want the failure's text form (%v)", st.Output, err)
	}
	fd := st.FailureDetails
	if fd == nil || fd.InnerFailure == nil || fd.InnerFailure.ErrorType != "DatabaseError" ||
		!strings.Contains(fd.InnerFailure.ErrorMessage, "DatabaseConnection is invalid") {
		t.Fatalf("failure details %s", st.Output)
	}
}

func TestNonDeterministicOrchestratorFails(t *testing.T) {
	var changed atomic.Bool
	shifty := withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("Shifty", func(ctx *durable.OrchestrationContext) (any, error) {
			activity := "SayHello"
			if changed.Load() {
				activity = "SaveToDatabase" // a code change between runs
			}
			if err := ctx.CallActivity(activity, "x").Await(nil); err != nil {
				return nil, err
			}
			return nil, ctx.WaitForExternalEvent("Go").Await(nil)
		})
	})
	first := startApp(t, shifty)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := first.Client.StartNew(ctx, "Shifty", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		full, err := first.Client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true})
		if err != nil {
			t.Fatal(err)
		}
		done := false
		for _, e := range full.History {
			done = done || e.Type == history.TaskCompleted
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A code change is a new process: the first app stops (with it, the
	// orchestration it kept parked) and a changed one takes the hub over.
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	changed.Store(true)
	a := startApp(t, shifty, withDurable(func(d *config.DurableOptions) { d.HubName = first.hub }))
	if err := a.Client.RaiseEvent(ctx, id, "Go", nil); err != nil {
		t.Fatal(err)
	}
	st := a.wait(t, ctx, id)
	if st.RuntimeStatus != history.StatusFailed || !strings.Contains(string(st.Output), "non-deterministic") ||
		!strings.Contains(string(st.Output), "SayHello") {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
}

func TestLargeAndNonASCIIPayloadsRoundTrip(t *testing.T) {
	a := startApp(t)
	for _, size := range []int{1 << 20, 10 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			unit := "東京-Zürich-🚀-"
			payload := strings.Repeat(unit, size/len(unit)+1)
			st := a.run(t, "HelloWorld", payload, client.StartOptions{})
			want, _ := json.Marshal("Hello " + payload + "!")
			if st.RuntimeStatus != history.StatusCompleted || string(st.Output) != string(want) {
				t.Fatalf("status %s, output of %d bytes, want %d", st.RuntimeStatus, len(st.Output), len(want))
			}
			if string(st.Input) != string(mustJSON(payload)) {
				t.Fatalf("input did not round-trip (%d bytes)", len(st.Input))
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestInstanceIDNeedingEscapes(t *testing.T) {
	a := startApp(t)
	for _, id := range []string{"a^b", "ünï^^cöde"} {
		st := a.run(t, "HelloWorld", "Tokyo", client.StartOptions{InstanceID: id})
		expectCompleted(t, st, `"Hello Tokyo!"`)
		if st.InstanceID != id {
			t.Fatalf("instance ID %q came back as %q", id, st.InstanceID)
		}
	}
	for _, bad := range []string{"a/b", "a#b", "a?b", "tab\there", "@x", strings.Repeat("x", 257)} {
		_, err := a.Client.StartNew(context.Background(), "HelloWorld", nil, client.StartOptions{InstanceID: bad})
		if !errors.Is(err, client.ErrBadArgument) {
			t.Fatalf("instance ID %q: error %v, want ErrBadArgument", bad, err)
		}
	}
}

func TestUnknownOrchestratorFailsClearly(t *testing.T) {
	a := startApp(t)
	// A client without the app's registry (the CLI, say) can start any name;
	// the engine must fail the instance, not drop or retry the message.
	external := client.New(a.Hub, client.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := external.StartNew(ctx, "NoSuchOrchestrator", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Worker.Notify(id)
	st := a.wait(t, ctx, id)
	if st.RuntimeStatus != history.StatusFailed || !strings.Contains(string(st.Output), "OrchestratorNotFound") ||
		!strings.Contains(string(st.Output), `\"NoSuchOrchestrator\" is not registered`) {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
	// The app's own client refuses the name up front.
	if _, err := a.Client.StartNew(ctx, "NoSuchOrchestrator", nil, client.StartOptions{}); !errors.Is(err, client.ErrBadArgument) {
		t.Fatalf("in-app start of an unknown orchestrator: %v", err)
	}
}

func TestUnknownActivityFailsTheCallingOrchestration(t *testing.T) {
	a := startApp(t, withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("CallsMissing", func(ctx *durable.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("Missing", nil).Await(nil)
		})
	}))
	st := a.run(t, "CallsMissing", nil, client.StartOptions{})
	if st.RuntimeStatus != history.StatusFailed || !strings.Contains(string(st.Output), "ActivityNotFound") {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
}
