package devhost_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/durable-go/durable/internal/devhost"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// testApp is a function app written to a temp dir and run by devhost.Run.
type testApp struct {
	base string               // http://127.0.0.1:port
	logs *testutil.SyncBuffer // the dev host's and the handler's output
}

type appSpec struct {
	host      map[string]any    // host.json without customHandler.description (added)
	functions map[string]string // folder name -> function.json
	settings  map[string]string // local.settings.json Values
	env       []string          // extra environment, wins over settings
}

// buildHandler compiles testdata/handler. The build cache makes repeat builds cheap.
func buildHandler(t *testing.T) string {
	t.Helper()
	return testutil.BuildBinary(t, "./testdata/handler", "handler")
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func startApp(t *testing.T, spec appSpec) *testApp {
	t.Helper()
	handler := buildHandler(t)
	dir := t.TempDir()

	hostJSON := map[string]any{"version": "2.0"}
	for k, v := range spec.host {
		hostJSON[k] = v
	}
	ch, _ := hostJSON["customHandler"].(map[string]any)
	if ch == nil {
		ch = map[string]any{}
	}
	ch["description"] = map[string]any{"defaultExecutablePath": handler}
	hostJSON["customHandler"] = ch
	writeJSON(t, filepath.Join(dir, "host.json"), hostJSON)
	for name, fj := range spec.functions {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(fj), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	values := map[string]string{"FUNCTIONS_WORKER_RUNTIME": "custom"}
	for k, v := range spec.settings {
		values[k] = v
	}
	writeJSON(t, filepath.Join(dir, "local.settings.json"), map[string]any{"IsEncrypted": false, "Values": values})

	logs := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- devhost.Run(ctx, devhost.Options{
			AppRoot:         dir,
			Addr:            "127.0.0.1:0",
			Env:             append(os.Environ(), spec.env...),
			Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Stdout:          logs,
			Stderr:          logs,
			StartupTimeout:  20 * time.Second,
			ShutdownTimeout: 5 * time.Second,
			QueuePollMin:    20 * time.Millisecond,
			QueuePollMax:    200 * time.Millisecond,
			Ready:           func(addr string) { ready <- addr },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("devhost.Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("devhost.Run did not return within 15 s of cancellation")
		}
		if t.Failed() {
			t.Logf("dev host output:\n%s", logs.String())
		}
	})
	select {
	case addr := <-ready:
		return &testApp{base: "http://" + addr, logs: logs}
	case err := <-done:
		t.Fatalf("devhost.Run returned before ready: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("dev host not ready within 30 s\n%s", logs.String())
	}
	return nil
}

func (a *testApp) do(t *testing.T, method, path string, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// invocation is what the test handler recorded for one invocation.
type invocation struct {
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
}

// inspect returns the invocations the handler recorded under key (a function name, or
// "probe"), through the forwarded Inspect function.
func (a *testApp) inspect(t *testing.T, key string) []invocation {
	t.Helper()
	resp, body := a.do(t, http.MethodGet, "/api/inspect/"+key, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("inspect %s: HTTP %d: %s", key, resp.StatusCode, body)
	}
	var out []invocation
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("inspect %s: %v: %s", key, err, body)
	}
	return out
}

// waitInvocations polls until the handler has recorded at least n invocations under key.
func (a *testApp) waitInvocations(t *testing.T, key string, n int, within time.Duration) []invocation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := a.inspect(t, key)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d invocations after %v, want %d", key, len(got), within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const inspectFunction = `{"bindings":[
	{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get"],"route":"inspect/{key}"},
	{"type":"http","direction":"out","name":"res"}]}`

var forwarding = map[string]any{"customHandler": map[string]any{"enableForwardingHttpRequest": true}}

func TestEndToEndHTTPForwarded(t *testing.T) {
	app := startApp(t, appSpec{
		host: forwarding,
		functions: map[string]string{
			"Inspect": inspectFunction,
			"Echo": `{"bindings":[
				{"type":"httpTrigger","direction":"in","name":"req","authLevel":"function","methods":["get","post"],"route":"echo/{id:int}/{*rest}"},
				{"type":"http","direction":"out","name":"res"}]}`,
		},
		settings: map[string]string{"TEST_SETTING": "from-local-settings", "TEST_OVERRIDE": "from-local-settings"},
		env:      []string{"TEST_OVERRIDE=from-env"},
	})

	if probes := app.inspect(t, "probe"); len(probes) == 0 {
		t.Errorf("the handler never saw the GET / start-up probe")
	}

	resp, body := app.do(t, http.MethodPost, "/api/echo/42/a/b?x=1&y=2", "hello", map[string]string{"X-Custom": "v"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST echo: HTTP %d: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Handler"); got != "forwarded" {
		t.Errorf("X-Handler = %q, want the handler's header copied back", got)
	}
	var echo map[string]string
	if err := json.Unmarshal(body, &echo); err != nil {
		t.Fatalf("echo answer: %v: %s", err, body)
	}
	want := map[string]string{
		"method":   "POST",
		"path":     "/api/echo/42/a/b",
		"query":    "x=1&y=2",
		"body":     "hello",
		"custom":   "v",
		"host":     strings.TrimPrefix(app.base, "http://"),
		"setting":  "from-local-settings",
		"override": "from-env",
	}
	for k, v := range want {
		if echo[k] != v {
			t.Errorf("handler saw %s = %q, want %q", k, echo[k], v)
		}
	}

	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "/api/echo/42/a"},  // method not allowed by function.json
		{http.MethodGet, "/api/echo/abc/a"}, // fails the int constraint
		{http.MethodGet, "/api/nothing"},    // no route
		{http.MethodGet, "/echo/42/a"},      // missing route prefix
		{http.MethodPost, "/admin/functions/Nope"},
	} {
		if resp, _ := app.do(t, tc.method, tc.path, "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: HTTP %d, want 404", tc.method, tc.path, resp.StatusCode)
		}
	}
	if resp, _ := app.do(t, http.MethodGet, "/admin/host/status", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /admin/host/status: HTTP %d, want 200", resp.StatusCode)
	}
}

func TestEndToEndHTTPPayload(t *testing.T) {
	app := startApp(t, appSpec{
		functions: map[string]string{
			"Hello": `{"bindings":[
				{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":["get","post"],"route":"hello/{name}"},
				{"type":"http","direction":"out","name":"res"}]}`,
			"Ret": `{"bindings":[
				{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous"},
				{"type":"http","direction":"out","name":"$return"}]}`,
			"FailHTTP": `{"bindings":[
				{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","route":"fail"},
				{"type":"http","direction":"out","name":"res"}]}`,
		},
	})

	resp, body := app.do(t, http.MethodPost, "/api/hello/bob?q=1&q=2", "payload body", map[string]string{"X-Custom": "v"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST hello: HTTP %d, want the handler's 201: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Handler"); got != "payload" {
		t.Errorf("X-Handler = %q, want %q from the output's headers", got, "payload")
	}
	// The handler answers with the invocation body it received.
	var inv invocation
	if err := json.Unmarshal(body, &inv); err != nil {
		t.Fatalf("payload echoed by handler: %v: %s", err, body)
	}
	var req struct {
		URL        string `json:"Url"`
		Method     string
		Query      map[string]string
		Headers    map[string][]string
		Params     map[string]string
		Body       string
		Identities []any
	}
	if err := json.Unmarshal(inv.Data["req"], &req); err != nil {
		t.Fatalf("Data.req: %v: %s", err, inv.Data["req"])
	}
	if want := app.base + "/api/hello/bob?q=1&q=2"; req.URL != want {
		t.Errorf("Url = %q, want %q", req.URL, want)
	}
	if req.Method != "POST" || req.Body != "payload body" {
		t.Errorf("Method, Body = %q, %q; want POST, %q", req.Method, req.Body, "payload body")
	}
	if req.Query["q"] != "1,2" {
		t.Errorf("Query = %v, want q=1,2", req.Query)
	}
	if got := req.Headers["X-Custom"]; len(got) != 1 || got[0] != "v" {
		t.Errorf("Headers[X-Custom] = %v, want [v]", got)
	}
	if req.Params["name"] != "bob" {
		t.Errorf("Params = %v, want name=bob", req.Params)
	}
	if req.Identities == nil {
		t.Errorf("Identities missing, want []")
	}
	var sys map[string]string
	if err := json.Unmarshal(inv.Metadata["sys"], &sys); err != nil || sys["MethodName"] != "Hello" {
		t.Errorf("Metadata.sys = %s, want MethodName Hello", inv.Metadata["sys"])
	}
	if !strings.Contains(app.logs.String(), "hello from handler") {
		t.Errorf("the handler's Logs line was not logged")
	}

	resp, body = app.do(t, http.MethodGet, "/api/Ret", "", nil)
	if resp.StatusCode != http.StatusAccepted || strings.TrimSpace(string(body)) != `{"ok":true}` {
		t.Errorf("GET Ret: HTTP %d %s, want 202 {\"ok\":true} from ReturnValue", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET Ret: Content-Type %q, want application/json for an object body", ct)
	}
	if resp, _ := app.do(t, http.MethodGet, "/api/fail", "", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET fail: HTTP %d, want 500 when the handler fails", resp.StatusCode)
	}
}

func queueClient(t *testing.T, cs, name string) *azqueue.QueueClient {
	t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(cs, name, nil)
	if err != nil {
		t.Fatalf("queue client: %v", err)
	}
	return q
}

// waitQueueLen polls until the queue holds exactly n visible messages.
func waitQueueLen(t *testing.T, q *azqueue.QueueClient, n int, within time.Duration) []*azqueue.PeekedMessage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		max := int32(32)
		resp, err := q.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: &max})
		if err == nil && len(resp.Messages) == n {
			return resp.Messages
		}
		if time.Now().After(deadline) {
			got := -1
			if err == nil {
				got = len(resp.Messages)
			}
			t.Fatalf("queue %s: %d messages (err %v) after %v, want %d", q.URL(), got, err, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	return s
}

func TestEndToEndQueue(t *testing.T) {
	cs := testutil.Storage(t)
	queue := strings.ToLower(testutil.UniqueHubName(t))
	app := startApp(t, appSpec{
		host: forwarding,
		functions: map[string]string{
			"Inspect": inspectFunction,
			"QueueOK": `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"%OK_QUEUE%","connection":"MyStorage"}]}`,
		},
		settings: map[string]string{"MyStorage": cs, "OK_QUEUE": queue},
	})

	q := queueClient(t, cs, queue)
	ctx := context.Background()
	sent := map[string]string{} // message ID -> the Data value the handler must get
	for text, want := range map[string]string{
		base64.StdEncoding.EncodeToString([]byte("hello world")): `"\"hello world\""`, // Functions' default encoding
		"plain text!": `"\"plain text!\""`, // not base64: passed as is
		`{"a":1}`:     `{"a":1}`,           // JSON object: passed as JSON
	} {
		resp, err := q.EnqueueMessage(ctx, text, nil)
		for try := 0; err != nil && queueerror.HasCode(err, queueerror.QueueNotFound) && try < 20; try++ {
			// The dev host created the queue at start-up, and re-creates it
			// when it finds it gone. Azurite 3.35 has once answered
			// QueueNotFound for such a queue while the whole suite ran.
			t.Logf("enqueue %q: queue not found; retrying", text)
			time.Sleep(100 * time.Millisecond)
			resp, err = q.EnqueueMessage(ctx, text, nil)
		}
		if err != nil {
			t.Fatalf("enqueue %q: %v", text, err)
		}
		sent[*resp.Messages[0].MessageID] = want
	}

	got := app.waitInvocations(t, "QueueOK", len(sent), 10*time.Second)
	for _, inv := range got {
		id := jsonString(t, inv.Metadata["Id"])
		var idText string
		if err := json.Unmarshal([]byte(id), &idText); err != nil {
			t.Errorf("Metadata.Id = %s, want a JSON-encoded string inside a string", inv.Metadata["Id"])
			continue
		}
		want, ok := sent[idText]
		if !ok {
			t.Errorf("invocation for unknown message %q", idText)
			continue
		}
		if string(inv.Data["msg"]) != want {
			t.Errorf("message %s: Data.msg = %s, want %s", idText, inv.Data["msg"], want)
		}
		if dc := jsonString(t, inv.Metadata["DequeueCount"]); dc != "1" {
			t.Errorf("Metadata.DequeueCount = %q, want \"1\"", dc)
		}
		for _, k := range []string{"InsertionTime", "ExpirationTime", "NextVisibleTime", "PopReceipt"} {
			if len(inv.Metadata[k]) == 0 {
				t.Errorf("Metadata.%s missing", k)
			}
		}
		var sys map[string]string
		if err := json.Unmarshal(inv.Metadata["sys"], &sys); err != nil || sys["MethodName"] != "QueueOK" || sys["UtcNow"] == "" || sys["RandGuid"] == "" {
			t.Errorf("Metadata.sys = %s", inv.Metadata["sys"])
		}
	}
	waitQueueLen(t, q, 0, 5*time.Second) // deleted after success

	// Core Tools' admin endpoint fires a non-HTTP function once with the given input.
	resp, body := app.do(t, http.MethodPost, "/admin/functions/QueueOK", `{"input":"from admin"}`, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin invoke: HTTP %d: %s", resp.StatusCode, body)
	}
	got = app.waitInvocations(t, "QueueOK", len(sent)+1, 5*time.Second)
	if last := string(got[len(got)-1].Data["msg"]); last != `"\"from admin\""` {
		t.Errorf("admin invocation Data.msg = %s, want %s", last, `"\"from admin\""`)
	}
}

func TestEndToEndQueuePoison(t *testing.T) {
	cs := testutil.Storage(t)
	queue := strings.ToLower(testutil.UniqueHubName(t))
	app := startApp(t, appSpec{
		// visibilityTimeout 0 retries at once, keeping five attempts fast.
		host: map[string]any{
			"customHandler": map[string]any{"enableForwardingHttpRequest": true},
			"extensions":    map[string]any{"queues": map[string]any{"visibilityTimeout": "00:00:00"}},
		},
		functions: map[string]string{
			"Inspect":   inspectFunction,
			"FailQueue": fmt.Sprintf(`{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":%q}]}`, queue),
		},
		settings: map[string]string{"AzureWebJobsStorage": cs},
	})

	q := queueClient(t, cs, queue)
	text := base64.StdEncoding.EncodeToString([]byte("doomed"))
	if _, err := q.EnqueueMessage(context.Background(), text, nil); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	poison := waitQueueLen(t, queueClient(t, cs, queue+"-poison"), 1, 15*time.Second)
	if got := *poison[0].MessageText; got != text {
		t.Errorf("poison message text = %q, want the original %q", got, text)
	}
	waitQueueLen(t, q, 0, 5*time.Second)

	attempts := app.inspect(t, "FailQueue")
	if len(attempts) != 5 {
		t.Fatalf("handler got %d attempts, want 5 (maxDequeueCount)", len(attempts))
	}
	for i, inv := range attempts {
		if dc := jsonString(t, inv.Metadata["DequeueCount"]); dc != fmt.Sprint(i+1) {
			t.Errorf("attempt %d: DequeueCount %q, want %d", i+1, dc, i+1)
		}
	}
}

func TestEndToEndTimer(t *testing.T) {
	app := startApp(t, appSpec{
		host: forwarding,
		functions: map[string]string{
			"Inspect": inspectFunction,
			"Tick":    `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"*/1 * * * * *"}]}`,
			// New Year's midnight never comes during the test: only runOnStartup fires it.
			"Startup": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"0 0 0 1 1 *","runOnStartup":true}]}`,
		},
	})

	ticks := app.waitInvocations(t, "Tick", 2, 5*time.Second)
	for _, inv := range ticks {
		// IsPastDue is not compared: a tick delayed by a loaded machine is rightly past due.
		var info map[string]json.RawMessage
		if err := json.Unmarshal(inv.Data["timer"], &info); err != nil {
			t.Fatalf("Data.timer: %v: %s", err, inv.Data["timer"])
		}
		if string(info["Schedule"]) != `{"AdjustForDST":true}` || string(info["ScheduleStatus"]) != "null" ||
			(string(info["IsPastDue"]) != "false" && string(info["IsPastDue"]) != "true") || len(info) != 3 {
			t.Errorf("Data.timer = %s, want {\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":null,\"IsPastDue\":false}", inv.Data["timer"])
		}
	}
	startup := app.waitInvocations(t, "Startup", 1, 5*time.Second)
	if len(startup[0].Data["myTimer"]) == 0 {
		t.Errorf("runOnStartup invocation without Data.myTimer: %v", startup[0].Data)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(app.inspect(t, "Startup")); n != 1 {
		t.Errorf("Startup fired %d times, want once", n)
	}
}

func TestRunFailsWhenHandlerDies(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "host.json"), map[string]any{"customHandler": map[string]any{
		"description": map[string]any{"defaultExecutablePath": "sh", "arguments": []string{"-c", "echo starting; exit 3"}},
	}})
	logs := &testutil.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := devhost.Run(ctx, devhost.Options{
		AppRoot: dir,
		Addr:    "127.0.0.1:0",
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Stdout:  logs,
		Stderr:  logs,
		Ready:   func(string) { t.Errorf("Ready called for a handler that never answered") },
	})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("Run = %v, want an error saying the handler exited", err)
	}
	if !strings.Contains(logs.String(), "starting") {
		t.Errorf("handler output not forwarded; got:\n%s", logs.String())
	}
}

// Started without storage, the dev host says once that queue triggers wait
// for it, naming the endpoint; its queue functions do not each log an error.
func TestQueueTriggersWithoutStorageLogOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ep := fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1", port)
	cs := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=" + ep
	queue := func(name string) string {
		return `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"` + name + `","connection":"AzureWebJobsStorage"}]}`
	}
	a := startApp(t, appSpec{
		functions: map[string]string{"A": queue("a"), "B": queue("b"), "C": queue("c")},
		settings:  map[string]string{"AzureWebJobsStorage": cs},
	})
	time.Sleep(1500 * time.Millisecond)
	out := a.logs.String()
	if n := strings.Count(out, "storage does not answer"); n != 1 || !strings.Contains(out, fmt.Sprintf("endpoint=http://127.0.0.1:%d", port)) {
		t.Errorf("%d lines saying storage does not answer (want 1, naming the endpoint):\n%s", n, out)
	}
	if strings.Contains(out, "level=ERROR msg=\"queue polling failed") {
		t.Errorf("queue functions log their own errors:\n%s", out)
	}
}
