package otel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/client"
	"github.com/durable-go/durable/internal/devhost"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// repoRoot is the app's module, two levels up.
const repoRoot = "../.."

// span is what the test checks of a received span.
type span struct {
	traceID, id, parent string
	name, kind          string
	attrs               map[string]string
	errored             bool
	exceptions          int
	start, end          time.Time
}

// freeAddr is a free loopback address to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startReceiver runs the Collector's OTLP receiver (gRPC and HTTP) in this
// process, feeding a sink, and returns its endpoints.
func startReceiver(t *testing.T) (grpcAddr, httpAddr string, sink *consumertest.TracesSink) {
	t.Helper()
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	grpcAddr, httpAddr = freeAddr(t), freeAddr(t)
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = grpcAddr
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = httpAddr
	sink = new(consumertest.TracesSink)
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return grpcAddr, httpAddr, sink
}

// spansOf flattens what the receiver got.
func spansOf(sink *consumertest.TracesSink) []span {
	var out []span
	for _, td := range sink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				ss := sss.At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					out = append(out, spanOf(ss.At(k)))
				}
			}
		}
	}
	return out
}

func spanOf(s ptrace.Span) span {
	sp := span{traceID: s.TraceID().String(), id: s.SpanID().String(), name: s.Name(), kind: s.Kind().String(),
		attrs: map[string]string{}, errored: s.Status().Code() == ptrace.StatusCodeError,
		start: s.StartTimestamp().AsTime(), end: s.EndTimestamp().AsTime()}
	if !s.ParentSpanID().IsEmpty() {
		sp.parent = s.ParentSpanID().String()
	}
	for k, v := range s.Attributes().All() {
		sp.attrs[k] = v.AsString()
	}
	for e := 0; e < s.Events().Len(); e++ {
		if s.Events().At(e).Name() == "exception" {
			sp.exceptions++
		}
	}
	return sp
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// app is the repository's function app (the handler binary under the dev
// host) with tracing on, exporting to the receiver.
type app struct {
	t      *testing.T
	base   string
	hub    string
	logs   *testutil.SyncBuffer // the dev host's and the handler's output
	killed bool                 // the test killed the handler: the dev host's error is expected
	stop   func()
}

func startApp(t *testing.T, otelEnv map[string]string) *app {
	t.Helper()
	return startAppOn(t, otelEnv, "Otel"+randomHex(t, 6), nil)
}

// startAppOn starts the app on the given hub, with storageProvider
// settings of the test's (host.json names) over the repository's.
func startAppOn(t *testing.T, otelEnv map[string]string, hub string, storage map[string]any) *app {
	t.Helper()
	return startAppWith(t, otelEnv, hub, storage, nil)
}

// startAppWith is startAppOn with host.json changed by tweak (nil for no
// change) after the test's own settings.
func startAppWith(t *testing.T, otelEnv map[string]string, hub string, storage map[string]any, tweak func(host map[string]any)) *app {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "handler")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}
	dir, suffix := t.TempDir(), randomHex(t, 4)
	writeHostJSON(t, dir, bin, hub, storage, tweak)
	copyFunctions(t, dir, suffix)
	env := []string{"FUNCTIONS_WORKER_RUNTIME=custom", "AzureWebJobsStorage=" + testutil.Storage(t),
		"DatabaseConnection=Server=localhost", "DurableWakeQueue=none", "DURABLE_LOG_LEVEL=info"}
	for k, v := range otelEnv {
		env = append(env, k+"="+v)
	}
	logs := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- devhost.Run(ctx, devhost.Options{AppRoot: dir, Addr: "127.0.0.1:0", Env: env,
			Logger: slog.New(slog.NewTextHandler(logs, nil)), Stdout: logs, Stderr: logs,
			StartupTimeout: 30 * time.Second, ShutdownTimeout: 20 * time.Second,
			QueuePollMin: 20 * time.Millisecond, QueuePollMax: 200 * time.Millisecond,
			Ready: func(addr string) { ready <- addr }})
	}()
	a := &app{t: t, hub: hub, logs: logs}
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !a.killed {
				t.Errorf("dev host: %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Errorf("dev host did not stop within 45 s")
		}
	}
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("dev host and handler output:\n%s", logs.String())
		}
	})
	select {
	case addr := <-ready:
		a.base = "http://" + addr
	case err := <-done:
		t.Fatalf("dev host ended before it was ready: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dev host not ready within 60 s\n%s", logs.String())
	}
	// The management API answers once the engine has started, and so
	// created the hub: a client that writes to its queues needs them.
	a.do(http.MethodGet, "/durabletask/instances?top=1", "", "", http.StatusOK)
	return a
}

func writeHostJSON(t *testing.T, dir, bin, hub string, storage map[string]any, tweak func(host map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	var host map[string]any
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatal(err)
	}
	host["customHandler"].(map[string]any)["description"].(map[string]any)["defaultExecutablePath"] = bin
	dt := host["extensions"].(map[string]any)["durableTask"].(map[string]any)
	dt["hubName"] = hub
	dt["tracing"] = map[string]any{"DistributedTracingEnabled": true, "Version": "V2"}
	sp := dt["storageProvider"].(map[string]any)
	sp["maxQueuePollingInterval"] = "00:00:01"
	for k, v := range storage {
		sp[k] = v
	}
	if tweak != nil {
		tweak(host)
	}
	b, _ := json.MarshalIndent(host, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "host.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyFunctions copies the app's function folders, giving the trigger
// queues names of this test's own.
func copyFunctions(t *testing.T, dir, suffix string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "*", "function.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no function folders: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var fj map[string]any
		if err := json.Unmarshal(raw, &fj); err != nil {
			t.Fatal(err)
		}
		for _, b := range fj["bindings"].([]any) {
			if q, ok := b.(map[string]any)["queueName"].(string); ok {
				b.(map[string]any)["queueName"] = q + "-" + suffix
			}
		}
		out, _ := json.Marshal(fj)
		dst := filepath.Join(dir, filepath.Base(filepath.Dir(p)))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "function.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// do sends a request with the caller's traceparent and returns the body.
func (a *app) do(method, path, body, traceparent string, want int) []byte {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

// waitStatus polls an instance until it has status want.
func (a *app) waitStatus(id, want string, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequest(http.MethodGet, a.base+"/durabletask/instances/"+id+"?showInput=false", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var st struct {
				RuntimeStatus string `json:"runtimeStatus"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.RuntimeStatus == want {
				return
			}
			if time.Now().After(deadline) {
				a.t.Fatalf("instance %s is %q after %s, want %s", id, st.RuntimeStatus, within, want)
			}
		} else if time.Now().After(deadline) {
			a.t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTracesReachAnOTLPReceiver runs the samples with a caller's
// traceparent through the app's HTTP routes and checks the span tree the
// Collector's OTLP receiver got: Durable Functions' names, kinds, parents
// and attributes, one orchestration span per instance however many
// episodes it took, one client and one server span per activity attempt.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			grpcAddr, httpAddr, sink := startReceiver(t)
			endpoint := "http://" + grpcAddr
			if proto != "grpc" {
				endpoint = "http://" + httpAddr
			}
			a := startApp(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": proto,
				"OTEL_SERVICE_NAME": "otel-e2e", "OTEL_BSP_SCHEDULE_DELAY": "100",
			})
			if proto == "grpc" {
				runAll(t, a, sink)
			} else {
				runHello(t, a, sink, endpoint)
			}
		})
	}
}

// caller is a W3C trace context of the test, as a caller's would be.
func caller(t *testing.T) (traceparent, traceID, spanID string) {
	traceID, spanID = randomHex(t, 16), randomHex(t, 8)
	return "00-" + traceID + "-" + spanID + "-01", traceID, spanID
}

// runHello starts one HelloCities5 with the Go client, under a span of
// the caller's in its ctx, and checks its tree and that its status names
// the trace: the short proof that a protocol works.
func runHello(t *testing.T, a *app, sink *consumertest.TracesSink, endpoint string) {
	_, traceID, callerID := caller(t)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	c, err := client.Open(context.Background(), client.Config{ConnectionString: testutil.Storage(t), HubName: a.hub, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := oteltrace.TraceIDFromHex(traceID)
	sid, _ := oteltrace.SpanIDFromHex(callerID)
	ctx := oteltrace.ContextWithRemoteSpanContext(context.Background(), oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: oteltrace.FlagsSampled}))
	id, err := c.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: "hello-" + randomHex(t, 4)})
	if err != nil {
		t.Fatal(err)
	}
	a.waitStatus(id, "Completed", 30*time.Second)
	tr := collect(t, sink, traceID, 1+1+5*2)
	orch := tr.checkStart(t, "HelloCities5", id, callerID)
	tr.checkActivities(t, orch, "SayHello", 5, false)
	tr.checkAllParented(t, callerID)

	// The status names the trace: the Go client on request, the HTTP API
	// with the history (as the dashboard asks for it).
	st, err := c.GetStatus(context.Background(), id, client.StatusOptions{ShowTraceID: true})
	if err != nil || st.TraceID != traceID {
		t.Errorf("client status: trace ID %q (%v), want %s", st.TraceID, err, traceID)
	}
	var body struct {
		TraceID string `json:"traceId"`
	}
	if err := json.Unmarshal(a.do(http.MethodGet, "/durabletask/instances/"+id+"?showHistory=true", "", "", http.StatusOK), &body); err != nil || body.TraceID != traceID {
		t.Errorf("HTTP status: traceId %q (%v), want %s", body.TraceID, err, traceID)
	}
}

// runAll starts every scenario of the issue in one trace.
func runAll(t *testing.T, a *app, sink *consumertest.TracesSink) {
	tp, traceID, callerID := caller(t)
	sfx := randomHex(t, 4)
	hello, fan, sub, appr, retry := "hello-"+sfx, "fan-"+sfx, "sub-"+sfx, "appr-"+sfx, "retry-"+sfx
	// The HTTP starter and the management API's start route.
	a.do(http.MethodPost, "/orchestrators/HelloCities5/"+hello, "", tp, http.StatusAccepted)
	a.do(http.MethodPost, "/durabletask/orchestrators/FanOutFanIn/"+fan, "20", tp, http.StatusAccepted)
	a.do(http.MethodPost, "/orchestrators/SubOrchestrationDemo/"+sub, "", tp, http.StatusAccepted)
	a.do(http.MethodPost, "/orchestrators/ApprovalWorkflow/"+appr, "", tp, http.StatusAccepted)
	a.do(http.MethodPost, "/orchestrators/RetryDemo/"+retry, "", tp, http.StatusAccepted)
	a.waitStatus(appr, "Running", 30*time.Second)
	a.do(http.MethodPost, "/durabletask/instances/"+appr+"/raiseEvent/Approval", `"yes"`, tp, http.StatusAccepted)
	for id, want := range map[string]string{hello: "Completed", fan: "Completed", sub: "Completed", appr: "Completed", retry: "Failed"} {
		a.waitStatus(id, want, 45*time.Second)
	}

	const (
		helloSpans = 1 + 1 + 5*2         // create, orchestration, 5 activities × (client, server)
		fanSpans   = 1 + 1 + 20*2        // the same with 20 activities
		subSpans   = 1 + 1 + 1 + 1 + 5*2 // create, orchestration, its client span of the child, the child's orchestration and activities
		apprSpans  = 1 + 1 + 1 + 1*2     // create, orchestration, the raised event, SaveToDatabase
		retrySpans = 1 + 1 + 3*2 + 2     // create, orchestration, 3 attempts, 2 retry timers
	)
	tr := collect(t, sink, traceID, helloSpans+fanSpans+subSpans+apprSpans+retrySpans)
	t.Logf("the trace (with -v):\n%s", tr)

	orch := tr.checkStart(t, "HelloCities5", hello, callerID)
	tr.checkActivities(t, orch, "SayHello", 5, false)

	orch = tr.checkStart(t, "FanOutFanIn", fan, callerID)
	tr.checkActivities(t, orch, "SayHello", 20, false)

	orch = tr.checkStart(t, "SubOrchestrationDemo", sub, callerID)
	client := tr.one(t, "sub-orchestration client span", func(s span) bool {
		return s.name == "orchestration:HelloCities5" && s.kind == "Client" && s.parent == orch.id
	})
	want(t, client, "durabletask.type", "orchestration")
	want(t, client, "durabletask.task.instance_id", sub)
	want(t, client, "durabletask.task.task_id", "0")
	child := tr.one(t, "the child's orchestration span", func(s span) bool {
		return s.name == "orchestration:HelloCities5" && s.kind == "Server" && s.parent == client.id
	})
	if c := child.attrs["durabletask.task.instance_id"]; c == "" || c == sub || client.attrs["durabletask.event.target_instance_id"] != c {
		t.Errorf("child orchestration span names instance %q, its client span %q", c, client.attrs["durabletask.event.target_instance_id"])
	}
	want(t, child, "durabletask.task.status", "Completed")
	tr.checkActivities(t, child, "SayHello", 5, false)

	orch = tr.checkStart(t, "ApprovalWorkflow", appr, callerID)
	ev := tr.one(t, "the raised event's span", func(s span) bool { return s.name == "orchestration_event:Approval" })
	if ev.kind != "Producer" || ev.parent != callerID {
		t.Errorf("orchestration_event:Approval: kind %s, parent %s; want Producer under the caller %s", ev.kind, ev.parent, callerID)
	}
	want(t, ev, "durabletask.type", "event")
	want(t, ev, "durabletask.event.target_instance_id", appr)
	tr.checkActivities(t, orch, "SaveToDatabase", 1, false)

	orch = tr.checkStart(t, "RetryDemo", retry, callerID)
	if !orch.errored || orch.exceptions != 1 {
		t.Errorf("RetryDemo's orchestration span: error %v, %d exception events; want an error and one", orch.errored, orch.exceptions)
	}
	want(t, orch, "durabletask.task.status", "Failed")
	tr.checkActivities(t, orch, "AlwaysFails", 3, true)
	timers := tr.all(func(s span) bool { return s.name == "orchestration:RetryDemo:timer" })
	if len(timers) != 2 {
		t.Errorf("RetryDemo: %d timer spans, want 2 (one per retry)", len(timers))
	}
	for _, s := range timers {
		if s.parent != orch.id || s.kind != "Internal" || s.attrs["durabletask.type"] != "timer" || s.attrs["durabletask.fire_at"] == "" {
			t.Errorf("timer span %+v", s)
		}
	}
	tr.checkAllParented(t, callerID)
}

// trace is the spans of one trace.
type trace []span

// collect waits until the receiver has n spans of the trace, then a
// moment more to be sure no span comes twice.
func collect(t *testing.T, sink *consumertest.TracesSink, traceID string, n int) trace {
	t.Helper()
	get := func() trace {
		var tr trace
		for _, s := range spansOf(sink) {
			if s.traceID == traceID {
				tr = append(tr, s)
			}
		}
		return tr
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(get()) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // the exporter's batches are 100 ms apart: a duplicate would be here by now
	tr := get()
	if len(tr) != n {
		t.Errorf("%d spans in the trace, want %d:\n%s", len(tr), n, tr)
	}
	return tr
}

func (tr trace) String() string {
	var b strings.Builder
	sorted := append(trace(nil), tr...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, s := range sorted {
		fmt.Fprintf(&b, "  %s %s id=%s parent=%s %v\n", s.kind, s.name, s.id, s.parent, s.attrs)
	}
	return b.String()
}

func (tr trace) all(match func(span) bool) []span {
	var out []span
	for _, s := range tr {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span that matches, failing the test unless there
// is exactly one.
func (tr trace) one(t *testing.T, what string, match func(span) bool) span {
	t.Helper()
	got := tr.all(match)
	if len(got) != 1 {
		t.Fatalf("%s: %d spans, want 1:\n%s", what, len(got), tr)
	}
	return got[0]
}

func want(t *testing.T, s span, key, value string) {
	t.Helper()
	if s.attrs[key] != value {
		t.Errorf("%s (%s): %s = %q, want %q", s.name, s.kind, key, s.attrs[key], value)
	}
}

// checkStart checks an instance's create_orchestration span under the
// caller and its one orchestration span under that, and returns the
// latter.
func (tr trace) checkStart(t *testing.T, name, id, callerID string) span {
	t.Helper()
	create := tr.one(t, "create_orchestration of "+id, func(s span) bool {
		return s.name == "create_orchestration:"+name && s.attrs["durabletask.task.instance_id"] == id
	})
	if create.kind != "Producer" || create.parent != callerID {
		t.Errorf("%s: kind %s, parent %s; want Producer under the caller %s", create.name, create.kind, create.parent, callerID)
	}
	want(t, create, "durabletask.type", "orchestration")
	want(t, create, "durabletask.task.name", name)
	orch := tr.one(t, "orchestration span of "+id, func(s span) bool {
		return s.name == "orchestration:"+name && s.kind == "Server" && s.attrs["durabletask.task.instance_id"] == id
	})
	if orch.parent != create.id {
		t.Errorf("%s of %s: parent %s, want its create_orchestration %s", orch.name, id, orch.parent, create.id)
	}
	want(t, orch, "durabletask.type", "orchestration")
	want(t, orch, "durabletask.task.name", name)
	if orch.attrs["durabletask.task.execution_id"] == "" || orch.end.Before(orch.start) || orch.start.After(create.end) {
		t.Errorf("%s of %s: execution %q, %s to %s (created by %s)", orch.name, id, orch.attrs["durabletask.task.execution_id"],
			orch.start, orch.end, create.end)
	}
	return orch
}

// checkActivities checks n attempts of activity name under orch: a client
// span each, with one server span under it, failed when failed.
func (tr trace) checkActivities(t *testing.T, orch span, name string, n int, failed bool) {
	t.Helper()
	clients := tr.all(func(s span) bool { return s.name == "activity:"+name && s.kind == "Client" && s.parent == orch.id })
	if len(clients) != n {
		t.Errorf("%s: %d activity:%s client spans, want %d", orch.attrs["durabletask.task.instance_id"], len(clients), name, n)
	}
	ids := map[string]bool{}
	for _, c := range clients {
		want(t, c, "durabletask.type", "activity")
		want(t, c, "durabletask.task.name", name)
		want(t, c, "durabletask.task.instance_id", orch.attrs["durabletask.task.instance_id"])
		ids[c.attrs["durabletask.task.task_id"]] = true
		if c.errored != failed || (failed && c.exceptions != 1) {
			t.Errorf("%s client span of task %s: error %v (%d exception events), want %v", c.name, c.attrs["durabletask.task.task_id"], c.errored, c.exceptions, failed)
		}
		server := tr.all(func(s span) bool { return s.parent == c.id })
		if len(server) != 1 || server[0].kind != "Server" || server[0].name != c.name || server[0].errored != failed {
			t.Errorf("%s task %s: spans under the client span: %+v; want one Server span", name, c.attrs["durabletask.task.task_id"], server)
			continue
		}
		want(t, server[0], "durabletask.task.task_id", c.attrs["durabletask.task.task_id"])
		if server[0].start.Before(c.start) {
			t.Errorf("%s task %s ran (%s) before it was scheduled (%s)", name, c.attrs["durabletask.task.task_id"], server[0].start, c.start)
		}
	}
	if len(ids) != len(clients) {
		t.Errorf("%s: task IDs repeat: %v", name, ids)
	}
}

// checkAllParented checks that every span's parent is in the trace, but
// the caller's, which the test made up.
func (tr trace) checkAllParented(t *testing.T, callerID string) {
	t.Helper()
	ids := map[string]bool{}
	for _, s := range tr {
		if ids[s.id] {
			t.Errorf("span ID %s comes twice (%s)", s.id, s.name)
		}
		ids[s.id] = true
	}
	for _, s := range tr {
		if s.parent != callerID && !ids[s.parent] {
			t.Errorf("%s (%s): its parent %s is not in the trace", s.name, s.kind, s.parent)
		}
	}
}
