package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// fakeClient records calls and answers with err when set.
type fakeClient struct {
	mu    sync.Mutex
	calls []string
	err   error
	purge client.PurgeQuery
}

func (f *fakeClient) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeClient) StartNew(ctx context.Context, name string, input any, o client.StartOptions) (string, error) {
	in, _ := input.(json.RawMessage)
	call := fmt.Sprintf("start %s %s %s", name, o.InstanceID, in)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		call += " under " + sc.TraceID().String() + "/" + sc.SpanID().String()
	}
	if err := f.record("%s", call); err != nil {
		return "", err
	}
	if o.InstanceID == "" {
		return "generated", nil
	}
	return o.InstanceID, nil
}

func (f *fakeClient) GetStatus(_ context.Context, id string, _ client.StatusOptions) (*client.Status, error) {
	if err := f.record("status %s", id); err != nil {
		return nil, err
	}
	return &client.Status{Name: "HelloWorld", InstanceID: id, RuntimeStatus: history.StatusCompleted,
		Output: json.RawMessage(`"Hello Tokyo!"`)}, nil
}

func (f *fakeClient) Terminate(_ context.Context, id, reason string) error {
	return f.record("terminate %s %s", id, reason)
}

func (f *fakeClient) RaiseEvent(_ context.Context, id, name string, data any) error {
	return f.record("raise %s %s %s", id, name, data)
}

func (f *fakeClient) Rewind(_ context.Context, id, reason string) error {
	return f.record("rewind %s %s", id, reason)
}

func (f *fakeClient) Purge(_ context.Context, id string) error { return f.record("purge %s", id) }

func (f *fakeClient) PurgeRange(_ context.Context, q client.PurgeQuery, _ client.Progress) (int, error) {
	f.mu.Lock()
	f.purge = q
	f.mu.Unlock()
	return 3, f.record("purgeRange")
}

type fakeEngine struct {
	mu       sync.Mutex
	notified []string
}

func (e *fakeEngine) Notify(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notified = append(e.notified, id)
}

type harness struct {
	t      *testing.T
	client *fakeClient
	engine *fakeEngine
	fns    *Functions
}

func newHarness(t *testing.T, settings map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, client: &fakeClient{}, engine: &fakeEngine{}}
	fns, err := New(Config{Client: h.client, Engine: h.engine, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Setting: func(n string) (string, bool) { v, ok := settings[n]; return v, ok },
		Now:     func() time.Time { return time.Date(2024, 5, 31, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	h.fns = fns
	return h
}

// invoke POSTs a queue message (already host-encoded) to function fn.
func (h *harness) invoke(fn, binding string, data json.RawMessage) (int, *Response) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"Data": map[string]json.RawMessage{binding: data},
		"Metadata": map[string]any{"DequeueCount": "1"}})
	rec := httptest.NewRecorder()
	h.fns.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+fn, bytes.NewReader(body)))
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		h.t.Fatalf("%s answered %d with a body that is not a response: %v\n%s", fn, rec.Code, err, rec.Body)
	}
	if resp.Outputs == nil || resp.Logs == nil {
		h.t.Fatalf("%s response lacks Outputs or Logs: %s", fn, rec.Body)
	}
	return rec.Code, &resp
}

func (h *harness) calls() string {
	h.client.mu.Lock()
	defer h.client.mu.Unlock()
	return strings.Join(h.client.calls, "\n")
}

func logsContain(resp *Response, sub string) bool {
	for _, l := range resp.Logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func TestStartNew(t *testing.T) {
	cases := []struct{ name, msg, call string }{
		{"plain text is HelloWorld's input", "Tokyo", `start HelloWorld  "Tokyo"`},
		{"object is HelloWorld's input", `{"city":"Tokyo"}`, `start HelloWorld  {"city":"Tokyo"}`},
		{"start command", `{"functionName":"E1_HelloSequence","instanceId":"order-42","input":[1]}`, `start E1_HelloSequence order-42 [1]`},
		{"start command without input", `{"functionName":"TimerDemo"}`, `start TimerDemo  `},
		{"start command with a trace context", `{"functionName":"TimerDemo","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`,
			`start TimerDemo   under 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			code, resp := h.invoke(StartNew, "input", hostEncode(c.msg))
			if code != 200 || h.calls() != c.call {
				t.Fatalf("code %d, calls %q, want %q; logs %q", code, h.calls(), c.call, resp.Logs)
			}
			if !logsContain(resp, "Started orchestration with ID = ") {
				t.Fatalf("logs: %q", resp.Logs)
			}
		})
	}
}

func TestBadMessagesAreDroppedWithAClearError(t *testing.T) {
	cases := []struct{ fn, msg, want string }{
		{StartNew, `{"functionName":"E1","instanceid2":"x"}`, "unknown field"},
		{StartNew, `{"functionName":""}`, "functionName must be a non-empty string"},
		{StartNew, `{"functionName":"E1","instanceId":"a/b"}`, "must not contain"},
		{Terminate, `a/b`, "bad instance ID"},
		{Terminate, ``, "the message is empty"},
		{Terminate, `{"reason":"x"}`, "instanceId is missing"},
		{Terminate, `[1]`, "JSON array"},
		{GetStatus, `{"instanceId":"a","reason":"x"}`, `unexpected member "reason"`},
		{RaiseEvent, `{"instanceId":"a"}`, "eventName is missing"},
		{RaiseEvent, `{"instanceId":"a","eventName":"E","eventData":}`, "invalid JSON"},
		{Rewind, "@entity", "must not start with '@'"},
		{Purge, strings.Repeat("x", 300), "at most 256"},
		{Wake, "not json", "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.fn+" "+c.msg, func(t *testing.T) {
			h := newHarness(t, nil)
			code, resp := h.invoke(c.fn, "x", hostEncode(c.msg))
			if code != 200 {
				t.Fatalf("code %d: a message that cannot be understood must not be retried", code)
			}
			if !logsContain(resp, c.want) || !logsContain(resp, "Error: ") || !logsContain(resp, "not retried") {
				t.Fatalf("logs %q lack %q", resp.Logs, c.want)
			}
			if h.calls() != "" {
				t.Fatalf("the client was called: %s", h.calls())
			}
		})
	}
}

func TestMalformedPayload(t *testing.T) {
	h := newHarness(t, nil)
	rec := httptest.NewRecorder()
	h.fns.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/Terminate", strings.NewReader(`{"Data":`)))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "cannot read the invocation payload") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.fns.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/NoSuchFunction", strings.NewReader(`{}`)))
	if rec.Code != 404 {
		t.Fatalf("unknown function: %d", rec.Code)
	}
}

func TestClientOutcomes(t *testing.T) {
	cases := []struct {
		err      error
		code     int
		logged   string
		retrying bool
	}{
		{fmt.Errorf("%w: %q", client.ErrNotFound, "x"), 200, "instance not found", false},
		{&client.StateError{InstanceID: "x", Status: history.StatusCompleted, Op: "terminate"}, 200, "it is Completed", false},
		{fmt.Errorf("%w: nope", client.ErrBadArgument), 200, "bad argument", false},
		{errors.New("storage is down"), 500, "storage is down", true},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			h := newHarness(t, nil)
			h.client.err = c.err
			code, resp := h.invoke(Terminate, "instanceId", hostEncode("x"))
			if code != c.code || !logsContain(resp, c.logged) {
				t.Fatalf("code %d logs %q; want %d with %q", code, resp.Logs, c.code, c.logged)
			}
			if got := logsContain(resp, "will retry"); got != c.retrying {
				t.Fatalf("retry wording = %v, want %v: %q", got, c.retrying, resp.Logs)
			}
		})
	}
}

func TestQueueFunctions(t *testing.T) {
	cases := []struct{ fn, msg, call, logged string }{
		{Terminate, "abc", "terminate abc " + DefaultTerminateReason, "Asked instance 'abc' to terminate"},
		{Terminate, `{"instanceId":"abc","reason":"enough"}`, "terminate abc enough", "enough"},
		{RaiseEvent, "abc", "raise abc MyEvent [1,2,3]", "Raised event 'MyEvent'"},
		{RaiseEvent, `{"instanceId":"abc","eventName":"Approval","eventData":{"ok":true}}`, `raise abc Approval {"ok":true}`, "Approval"},
		{RaiseEvent, `{"instanceId":"abc","eventName":"Approval"}`, `raise abc Approval null`, "Approval"},
		{Rewind, `"abc"`, "rewind abc " + DefaultRewindReason, "Rewound instance 'abc'"},
		{Purge, "abc", "purge abc", "Purged the history of instance 'abc'"},
		{GetStatus, "abc", "status abc", `Instance 'abc' is Completed: {"name":"HelloWorld","instanceId":"abc","runtimeStatus":"Completed"`},
	}
	for _, c := range cases {
		t.Run(c.fn+" "+c.msg, func(t *testing.T) {
			h := newHarness(t, nil)
			code, resp := h.invoke(c.fn, "instanceId", hostEncode(c.msg))
			if code != 200 || h.calls() != c.call || !logsContain(resp, c.logged) {
				t.Fatalf("code %d calls %q logs %q; want call %q and log %q", code, h.calls(), resp.Logs, c.call, c.logged)
			}
		})
	}
}

func TestGetStatusUnknownIsNotAnError(t *testing.T) {
	h := newHarness(t, nil)
	h.client.err = client.ErrNotFound
	code, resp := h.invoke(GetStatus, "instanceId", hostEncode("nope"))
	if code != 200 || !logsContain(resp, "No instance with ID 'nope' was found.") || logsContain(resp, "Error") {
		t.Fatalf("%d %q", code, resp.Logs)
	}
}

func TestPurgeTimer(t *testing.T) {
	timer := json.RawMessage(`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}`)
	h := newHarness(t, nil)
	code, resp := h.invoke(PurgeTimer, "myTimer", timer)
	want := client.PurgeQuery{CreatedFrom: time.Unix(0, 0).UTC(), CreatedTo: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		Statuses: []history.RuntimeStatus{history.StatusCompleted}}
	if code != 200 || fmt.Sprint(h.client.purge) != fmt.Sprint(want) || !logsContain(resp, "Purged 3 instance(s) with status Completed") {
		t.Fatalf("code %d query %+v logs %q", code, h.client.purge, resp.Logs)
	}

	h = newHarness(t, map[string]string{SettingPurgeOlderThanDays: "0.5", SettingPurgeStatuses: "completed, Failed,Terminated"})
	h.invoke(PurgeTimer, "myTimer", timer)
	if got := h.client.purge; !got.CreatedTo.Equal(time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC)) || len(got.Statuses) != 3 {
		t.Fatalf("settings not applied: %+v", got)
	}

	for _, bad := range []map[string]string{{SettingPurgeStatuses: "Running"}, {SettingPurgeStatuses: "Bogus"}, {SettingPurgeOlderThanDays: "-1"}, {SettingPurgeOlderThanDays: "x"}} {
		h = newHarness(t, bad)
		code, resp := h.invoke(PurgeTimer, "myTimer", timer)
		if code != 200 || !logsContain(resp, "app setting PurgeTimer__") || h.calls() != "" {
			t.Fatalf("bad setting %v: %d %q %q", bad, code, resp.Logs, h.calls())
		}
	}
}

func TestWake(t *testing.T) {
	h := newHarness(t, nil)
	calls := 0
	h.fns.cfg.EngineReady = func() bool { calls++; return calls > 2 }
	code, resp := h.invoke(Wake, "message", json.RawMessage(`{"instanceId":"abc","reason":"timer"}`))
	if code != 200 || !logsContain(resp, "Woke the durable engine (running) for instance 'abc' (reason: timer)") {
		t.Fatalf("%d %q", code, resp.Logs)
	}
	if len(h.engine.notified) != 1 || h.engine.notified[0] != "abc" {
		t.Fatalf("notified %v", h.engine.notified)
	}
	code, resp = h.invoke(Wake, "message", json.RawMessage(`""`))
	if code != 200 || !logsContain(resp, "Woke the durable engine") {
		t.Fatalf("empty wake: %d %q", code, resp.Logs)
	}
	h.fns.cfg.EngineReady = func() bool { return false }
	h.fns.cfg.WakeWait = 150 * time.Millisecond
	code, resp = h.invoke(Wake, "message", json.RawMessage(`{"instanceId":"abc","reason":"start"}`))
	if code != 200 || !logsContain(resp, "still starting") {
		t.Fatalf("engine not ready: %d %q", code, resp.Logs)
	}
}
