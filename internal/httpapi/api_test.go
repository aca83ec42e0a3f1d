package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// fakeClient answers from its fields; the zero value succeeds.
type fakeClient struct {
	mu       sync.Mutex
	calls    []string
	status   map[string]*client.Status
	err      error // returned by every operation when set
	startErr error
	waitFor  time.Duration // WaitForCompletion blocks this long (or until ctx ends)
	page     *client.Page
	query    client.Query
	purged   int
	// started are the options of the last start.
	started client.StartOptions
}

func (f *fakeClient) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeClient) StartNew(_ context.Context, name string, input any, o client.StartOptions) (string, error) {
	in, _ := input.(json.RawMessage)
	f.record("start %s %s %s", name, o.InstanceID, in)
	f.mu.Lock()
	f.started = o
	f.mu.Unlock()
	if f.startErr != nil {
		return "", f.startErr
	}
	if o.InstanceID == "" {
		return "newid", nil
	}
	return o.InstanceID, nil
}

func (f *fakeClient) GetStatus(_ context.Context, id string, o client.StatusOptions) (*client.Status, error) {
	f.record("status %s %+v", id, o)
	if f.err != nil {
		return nil, f.err
	}
	st, ok := f.status[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", client.ErrNotFound, id)
	}
	cp := *st
	if o.HideInput {
		cp.Input = nil
	}
	return &cp, nil
}

func (f *fakeClient) WaitForCompletion(ctx context.Context, id string, _ time.Duration) (*client.Status, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(f.waitFor):
	}
	return f.GetStatus(ctx, id, client.StatusOptions{})
}

func (f *fakeClient) ListInstances(_ context.Context, q client.Query) (*client.Page, error) {
	f.mu.Lock()
	f.query = q
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return f.page, nil
}

func (f *fakeClient) CountByVersion(_ context.Context, q client.Query) ([]client.VersionCounts, error) {
	f.mu.Lock()
	f.query = q
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return []client.VersionCounts{{Name: "Flow", Version: "1.0", Counts: client.Counts{"Running": 2}}}, nil
}

func (f *fakeClient) CountInstances(_ context.Context, q client.Query) (client.Counts, error) {
	f.mu.Lock()
	f.query = q
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := client.Counts{}
	if f.page != nil {
		for _, st := range f.page.Instances {
			out[st.RuntimeStatus]++
		}
	}
	return out, nil
}

func (f *fakeClient) op(format string, args ...any) error {
	f.record(format, args...)
	return f.err
}

func (f *fakeClient) RaiseEvent(_ context.Context, id, name string, data any) error {
	return f.op("raise %s %s %s", id, name, data)
}
func (f *fakeClient) Terminate(_ context.Context, id, reason string) error {
	return f.op("terminate %s %s", id, reason)
}
func (f *fakeClient) Suspend(_ context.Context, id, reason string) error {
	return f.op("suspend %s %s", id, reason)
}
func (f *fakeClient) Resume(_ context.Context, id, reason string) error {
	return f.op("resume %s %s", id, reason)
}
func (f *fakeClient) Rewind(_ context.Context, id, reason string) error {
	return f.op("rewind %s %s", id, reason)
}
func (f *fakeClient) Restart(_ context.Context, id string, newID bool) (string, error) {
	if err := f.op("restart %s %v", id, newID); err != nil {
		return "", err
	}
	if newID {
		return "restarted", nil
	}
	return id, nil
}
func (f *fakeClient) Purge(_ context.Context, id string) error { return f.op("purge %s", id) }
func (f *fakeClient) TerminateWithOptions(_ context.Context, id string, o client.TerminateOptions) error {
	return f.op("terminate %s %s recursive=%v", id, o.Reason, o.Recursive)
}
func (f *fakeClient) PurgeWithOptions(_ context.Context, id string, o client.PurgeOptions) (int, error) {
	return f.purged, f.op("purge %s recursive=%v", id, o.Recursive)
}
func (f *fakeClient) PurgeRange(_ context.Context, q client.PurgeQuery, _ client.Progress) (int, error) {
	if err := f.op("purgeRange %s %s %v", q.CreatedFrom.Format(time.RFC3339), q.CreatedTo.Format(time.RFC3339), q.Statuses); err != nil {
		return 0, err
	}
	return f.purged, nil
}

func (f *fakeClient) StartBatch(_ context.Context, req client.BatchRequest) (string, error) {
	data, _ := req.EventData.(json.RawMessage)
	if err := f.op("batch %s %+v reason=%s event=%s data=%s newID=%v size=%d", req.Operation, req.Filter, req.Reason,
		req.EventName, data, req.RestartWithNewInstanceID, req.BatchSize); err != nil {
		return "", err
	}
	if _, err := req.BatchInput(); err != nil {
		return "", err
	}
	return "batch1", nil
}

var created = time.Date(2018, 6, 4, 10, 46, 39, 0, time.UTC)

func newAPI(t *testing.T, fc *fakeClient, prefix string) *API {
	t.Helper()
	a, err := New(Config{Client: fc, HubName: "TestHub", ConnectionName: "AzureWebJobsStorage", RoutePrefix: prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return created.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func do(t *testing.T, h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = "localhost:7071"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorBodyOf(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Message == "" || eb.ExceptionMessage == "" {
		t.Fatalf("error body %q is not {Message, ExceptionMessage}: %v", rec.Body, err)
	}
	return eb
}

func TestStartAnswersCheckStatus(t *testing.T) {
	fc := &fakeClient{}
	a := newAPI(t, fc, "")
	rec := do(t, a, "POST", "/orchestrators/E1_HelloSequence/my%20id?code=k%2B1", `{"city":"Tokyo"}`)
	if rec.Code != 202 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	base := "http://localhost:7071/durabletask/instances/my%20id"
	qs := "taskHub=TestHub&connection=AzureWebJobsStorage&code=k%2B1"
	want := `{"id":"my id","statusQueryGetUri":"` + base + `?` + qs + `",` +
		`"sendEventPostUri":"` + base + `/raiseEvent/{eventName}?` + qs + `",` +
		`"terminatePostUri":"` + base + `/terminate?reason={text}&` + qs + `",` +
		`"purgeHistoryDeleteUri":"` + base + `?` + qs + `",` +
		`"restartPostUri":"` + base + `/restart?` + qs + `",` +
		`"suspendPostUri":"` + base + `/suspend?reason={text}&` + qs + `",` +
		`"resumePostUri":"` + base + `/resume?reason={text}&` + qs + `"}`
	if got := strings.TrimSpace(rec.Body.String()); got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	if rec.Header().Get("Location") != base+"?"+qs || rec.Header().Get("Retry-After") != "10" {
		t.Fatalf("headers %v", rec.Header())
	}
	if fc.calls[0] != `start E1_HelloSequence my id {"city":"Tokyo"}` {
		t.Fatalf("calls %q", fc.calls)
	}
}

func TestStartURLsFollowForwardedHostAndPrefix(t *testing.T) {
	a := newAPI(t, &fakeClient{}, "api")
	rec := do(t, a, "POST", "/api/orchestrators/E1", "", "X-Forwarded-Host", "myapp.azurewebsites.net", "X-Forwarded-Proto", "https, http")
	var cs CheckStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &cs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cs.StatusQueryGetURI, "https://myapp.azurewebsites.net/api/durabletask/instances/newid?taskHub=TestHub&connection=AzureWebJobsStorage") ||
		strings.Contains(cs.StatusQueryGetURI, "code=") {
		t.Fatalf("status URI %s", cs.StatusQueryGetURI)
	}
	if rec := do(t, a, "POST", "/orchestrators/E1", ""); rec.Code != 404 {
		t.Fatalf("unprefixed route served under prefix api: %d", rec.Code)
	}
}

func TestStartErrors(t *testing.T) {
	cases := []struct {
		name, target, body string
		startErr           error
		code               int
	}{
		{"invalid JSON", "/orchestrators/E1", `{"a":`, nil, 400},
		{"bad instance ID", "/orchestrators/E1/%40entity", ``, nil, 400},
		{"unknown orchestrator", "/orchestrators/Nope", ``, fmt.Errorf("%w: orchestrator %q is not registered", client.ErrBadArgument, "Nope"), 400},
		{"active instance", "/orchestrators/E1/x", ``, fmt.Errorf("%w: already exists", client.ErrWrongState), 409},
		{"storage down", "/orchestrators/E1", ``, errors.New("dial tcp: refused"), 500},
		{"other task hub", "/orchestrators/E1?taskHub=Other", ``, nil, 400},
		{"retry over timeout", "/orchestrators/E1/wait?timeout=1&retryInterval=2", ``, nil, 400},
		{"bad timeout", "/orchestrators/E1/wait?timeout=abc", ``, nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAPI(t, &fakeClient{startErr: c.startErr}, "")
			rec := do(t, a, "POST", c.target, c.body)
			if rec.Code != c.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			errorBodyOf(t, rec)
		})
	}
}

func TestWait(t *testing.T) {
	done := &client.Status{Name: "E1", InstanceID: "newid", RuntimeStatus: history.StatusCompleted,
		Output: json.RawMessage(`["Hello Tokyo!","Hello Seattle!","Hello London!"]`), CreatedTime: created, LastUpdatedTime: created}
	fc := &fakeClient{status: map[string]*client.Status{"newid": done}}
	a := newAPI(t, fc, "")
	rec := do(t, a, "POST", "/orchestrators/E1/wait?timeout=2&retryInterval=0.5", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `["Hello Tokyo!","Hello Seattle!","Hello London!"]` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}

	failed := *done
	failed.RuntimeStatus = history.StatusFailed
	failed.Output = json.RawMessage(`{"ErrorType":"x"}`)
	fc.status["newid"] = &failed
	rec = do(t, a, "POST", "/orchestrators/E1?timeout=2&pollingInterval=0.5", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"runtimeStatus":"Failed"`) {
		t.Fatalf("failed instance: %d %s", rec.Code, rec.Body)
	}

	fc.waitFor = time.Minute
	start := time.Now()
	rec = do(t, a, "POST", "/orchestrators/E1/wait?timeout=0.2&retryInterval=0.1", "")
	if rec.Code != 202 || rec.Header().Get("Location") == "" || rec.Header().Get("Retry-After") != "10" || time.Since(start) > 5*time.Second {
		t.Fatalf("timed-out wait: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestStatusCodes(t *testing.T) {
	mk := func(s history.RuntimeStatus) *client.Status {
		return &client.Status{Name: "E1", InstanceID: string(s), RuntimeStatus: s, Input: json.RawMessage(`"in"`),
			CreatedTime: created, LastUpdatedTime: created}
	}
	fc := &fakeClient{status: map[string]*client.Status{}}
	for _, s := range history.AllStatuses() {
		fc.status[string(s)] = mk(s)
	}
	a := newAPI(t, fc, "")
	for s, code := range map[history.RuntimeStatus]int{history.StatusPending: 202, history.StatusRunning: 202,
		history.StatusContinuedAsNew: 202, history.StatusSuspended: 202, history.StatusCompleted: 200,
		history.StatusTerminated: 200, history.StatusCanceled: 200, history.StatusFailed: 200} {
		rec := do(t, a, "GET", "/durabletask/instances/"+string(s), "")
		if rec.Code != code {
			t.Errorf("%s: %d, want %d", s, rec.Code, code)
		}
		if code == 202 && (rec.Header().Get("Location") != "http://localhost:7071/durabletask/instances/"+string(s) || rec.Header().Get("Retry-After") != "5") {
			t.Errorf("%s: headers %v", s, rec.Header())
		}
	}
	if rec := do(t, a, "GET", "/durabletask/instances/Failed?returnInternalServerErrorOnFailure=true", ""); rec.Code != 500 {
		t.Errorf("failed with flag: %d", rec.Code)
	}
	if rec := do(t, a, "GET", "/durabletask/instances/nope", ""); rec.Code != 404 {
		t.Errorf("unknown: %d", rec.Code)
	}
	rec := do(t, a, "GET", "/durabletask/instances/Completed?showInput=false", "")
	if !strings.Contains(rec.Body.String(), `"input":null`) {
		t.Errorf("showInput=false: %s", rec.Body)
	}
	if rec := do(t, a, "GET", "/durabletask/instances/Completed?showHistory=maybe", ""); rec.Code != 400 {
		t.Errorf("bad boolean: %d", rec.Code)
	}
	if rec := do(t, a, "GET", "/durabletask/instances/Completed?TASKHUB=testhub&Connection=AzureWebJobsStorage", ""); rec.Code != 200 {
		t.Errorf("own hub named in any case: %d %s", rec.Code, rec.Body)
	}
}

func TestList(t *testing.T) {
	fc := &fakeClient{page: &client.Page{Instances: []*client.Status{{InstanceID: "a", CreatedTime: created, LastUpdatedTime: created}},
		ContinuationToken: "next"}}
	a := newAPI(t, fc, "")
	rec := do(t, a, "GET", "/durabletask/instances?top=5&runtimeStatus=Running,completed&runtimeStatus=Failed&instanceIdPrefix=a&createdTimeFrom=2018-06-04T10:00:00Z&createdTimeTo=2018-06-04T11:00:00&showInput=false",
		"", "x-ms-continuation-token", "tok")
	if rec.Code != 200 || rec.Header().Get(ContinuationHeader) != "next" || !strings.HasPrefix(rec.Body.String(), `[{"name":"","instanceId":"a"`) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	q := fc.query
	if q.PageSize != 5 || q.ContinuationToken != "tok" || q.InstanceIDPrefix != "a" || q.ShowInput || len(q.Statuses) != 3 ||
		!q.CreatedFrom.Equal(created.Add(-46*time.Minute-39*time.Second)) || !q.CreatedTo.Equal(created.Add(13*time.Minute+21*time.Second)) {
		t.Fatalf("query %+v", q)
	}
	fc.page = &client.Page{}
	rec = do(t, a, "GET", "/durabletask/instances/", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" || rec.Header().Get(ContinuationHeader) != "" || fc.query.PageSize != 100 || !fc.query.ShowInput {
		t.Fatalf("last page: %d %v %s %+v", rec.Code, rec.Header(), rec.Body, fc.query)
	}
	for _, bad := range []string{"runtimeStatus=Bogus", "top=0", "createdTimeFrom=yesterday"} {
		if rec := do(t, a, "GET", "/durabletask/instances?"+bad, ""); rec.Code != 400 {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
}

func TestNameFilterAndCounts(t *testing.T) {
	fc := &fakeClient{page: &client.Page{Instances: []*client.Status{
		{InstanceID: "a", RuntimeStatus: history.StatusRunning}, {InstanceID: "b", RuntimeStatus: history.StatusRunning},
		{InstanceID: "c", RuntimeStatus: history.StatusFailed}}}}
	a := newAPI(t, fc, "")
	if rec := do(t, a, "GET", "/durabletask/instances?name=Counter&NAME=HelloCities5,%20Other", ""); rec.Code != 200 ||
		!slices.Equal(slices.Sorted(slices.Values(fc.query.Names)), []string{"Counter", "HelloCities5", "Other"}) {
		t.Fatalf("list by name: %d %s %+v", rec.Code, rec.Body, fc.query)
	}
	rec := do(t, a, "GET", "/durabletask/counts?name=Counter&runtimeStatus=Running,Failed&createdTimeFrom=2018-06-04T10:00:00Z", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"Failed":1,"Running":2}` {
		t.Fatalf("counts: %d %s", rec.Code, rec.Body)
	}
	if q := fc.query; len(q.Names) != 1 || len(q.Statuses) != 2 || q.CreatedFrom.IsZero() {
		t.Fatalf("counts query %+v", q)
	}
	for _, bad := range []string{"runtimeStatus=Bogus", "createdTimeFrom=2020-01-02&createdTimeTo=2020-01-01", "instanceIdPrefix=a/b", "taskHub=Other"} {
		if rec := do(t, a, "GET", "/durabletask/counts?"+bad, ""); rec.Code != 400 {
			t.Errorf("counts?%s: %d %s", bad, rec.Code, rec.Body)
		}
	}
	if rec := do(t, a, "POST", "/durabletask/counts", ""); rec.Code != 405 {
		t.Errorf("POST counts: %d", rec.Code)
	}
}

func TestPurge(t *testing.T) {
	fc := &fakeClient{}
	a := newAPI(t, fc, "")
	rec := do(t, a, "DELETE", "/durabletask/instances/x", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"instancesDeleted":1}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	fc.err = &client.StateError{InstanceID: "x", Status: history.StatusRunning, Op: "purge"}
	if rec := do(t, a, "DELETE", "/durabletask/instances/x", ""); rec.Code != 412 {
		t.Fatalf("running: %d", rec.Code)
	}
	fc.err = client.ErrNotFound
	if rec := do(t, a, "DELETE", "/durabletask/instances/x", ""); rec.Code != 404 {
		t.Fatalf("unknown: %d", rec.Code)
	}

	fc.err = nil
	if rec := do(t, a, "DELETE", "/durabletask/instances?runtimeStatus=Completed", ""); rec.Code != 400 {
		t.Fatalf("no createdTimeFrom: %d", rec.Code)
	}
	if rec := do(t, a, "DELETE", "/durabletask/instances?createdTimeFrom=2018-06-04T00:00:00Z", ""); rec.Code != 404 {
		t.Fatalf("nothing purged: %d", rec.Code)
	}
	fc.purged = 7
	rec = do(t, a, "DELETE", "/durabletask/instances?createdTimeFrom=2018-06-04T00:00:00Z&runtimeStatus=Completed,Failed", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"instancesDeleted":7}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if last := fc.calls[len(fc.calls)-1]; last != "purgeRange 2018-06-04T00:00:00Z 2018-06-04T11:46:39Z [Completed Failed]" {
		t.Fatalf("call %q", last)
	}
}

func TestOperations(t *testing.T) {
	cases := []struct {
		name, target, body, ctype string
		err                       error
		code                      int
		call                      string
	}{
		{"terminate", "/durabletask/instances/x/terminate?reason=done", "", "", nil, 202, "terminate x done"},
		{"terminate finished", "/durabletask/instances/x/terminate", "", "", fmt.Errorf("%w: finished", client.ErrWrongState), 410, ""},
		{"terminate unknown", "/durabletask/instances/x/terminate", "", "", client.ErrNotFound, 404, ""},
		{"suspend", "/durabletask/instances/x/Suspend?reason=r", "", "", nil, 202, "suspend x r"},
		{"resume", "/durabletask/instances/x/resume", "", "", nil, 202, "resume x "},
		{"rewind", "/durabletask/instances/x/rewind?reason=fix", "", "", nil, 202, "rewind x fix"},
		{"unknown operation", "/durabletask/instances/x/explode", "", "", nil, 404, ""},
		{"raise", "/durabletask/instances/x/raiseEvent/Approval", `{"ok":true}`, "application/json", nil, 202, `raise x Approval {"ok":true}`},
		{"raise without body", "/durabletask/instances/x/raiseEvent/Approval", ``, "", nil, 202, `raise x Approval null`},
		{"raise bad JSON", "/durabletask/instances/x/raiseEvent/Approval", `{`, "application/json", nil, 400, ""},
		{"raise form data", "/durabletask/instances/x/raiseEvent/Approval", `a=1`, "application/x-www-form-urlencoded", nil, 400, ""},
		{"raise JSON without content type", "/durabletask/instances/x/raiseEvent/Approval", `{"ok":true}`, "", nil, 202, `raise x Approval {"ok":true}`},
		{"raise JSON as text/plain", "/durabletask/instances/x/raiseEvent/Approval", `[1,2]`, "text/plain;charset=UTF-8", nil, 202, `raise x Approval [1,2]`},
		{"raise invalid UTF-8", "/durabletask/instances/x/raiseEvent/Approval", "\"\xff\xfe\"", "application/json", nil, 400, ""},
		{"raise event name with raw slash", "/durabletask/instances/x/raiseEvent/a/b", `1`, "application/json", nil, 400, ""},
		{"raise event name with escaped slash", "/durabletask/instances/x/raiseEvent/a%2Fb", `1`, "application/json", nil, 400, ""},
		{"raise event name too long", "/durabletask/instances/x/raiseEvent/" + strings.Repeat("e", MaxEventNameChars+1), `1`, "application/json", nil, 400, ""},
		{"raise event name at the limit", "/durabletask/instances/x/raiseEvent/" + strings.Repeat("e", MaxEventNameChars), `1`, "application/json", nil, 202, ""},
		{"raise event name with control character", "/durabletask/instances/x/raiseEvent/a%0Ab", `1`, "application/json", nil, 400, ""},
		{"raise finished", "/durabletask/instances/x/raiseEvent/E", `1`, "application/json", fmt.Errorf("%w: done", client.ErrWrongState), 410, ""},
		{"raise unknown", "/durabletask/instances/x/raiseEvent/E", `1`, "application/json", client.ErrNotFound, 404, ""},
		{"bad ID", "/durabletask/instances/%40x/terminate", "", "", nil, 400, ""},
		{"wrong verb", "/durabletask/instances/x/terminate/now", "", "", nil, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeClient{err: c.err}
			rec := do(t, newAPI(t, fc, ""), "POST", c.target, c.body, "Content-Type", c.ctype)
			if rec.Code != c.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			if c.code >= 400 {
				errorBodyOf(t, rec)
			}
			if c.call != "" && (len(fc.calls) != 1 || fc.calls[0] != c.call) {
				t.Fatalf("calls %q, want %q", fc.calls, c.call)
			}
		})
	}
}

func TestRestart(t *testing.T) {
	fc := &fakeClient{}
	a := newAPI(t, fc, "")
	rec := do(t, a, "POST", "/durabletask/instances/x/restart", "")
	if rec.Code != 202 || !strings.Contains(rec.Body.String(), `"id":"restarted"`) || fc.calls[0] != "restart x true" {
		t.Fatalf("%d %s %q", rec.Code, rec.Body, fc.calls)
	}
	rec = do(t, a, "POST", "/durabletask/instances/x/restart?restartWithNewInstanceId=false", "")
	if rec.Code != 202 || !strings.Contains(rec.Body.String(), `"id":"x"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	fc.err = fmt.Errorf("%w: still running", client.ErrWrongState)
	if rec := do(t, a, "POST", "/durabletask/instances/x/restart?restartWithNewInstanceId=false", ""); rec.Code != 409 {
		t.Fatalf("restart over active instance: %d", rec.Code)
	}
}

func TestUnknownRoutes(t *testing.T) {
	a := newAPI(t, &fakeClient{}, "")
	if rec := do(t, a, "PUT", "/durabletask/instances/x", ""); rec.Code != 405 || rec.Header().Get("Allow") == "" {
		t.Fatalf("wrong method: %d %v", rec.Code, rec.Header())
	}
	if rec := do(t, a, "GET", "/durabletask/nothing", ""); rec.Code != 404 {
		t.Fatalf("unknown path: %d", rec.Code)
	}
	if !a.Handles("/durabletask/instances") || !a.Handles("/orchestrators/E1") || a.Handles("/StartNew") {
		t.Fatal("Handles")
	}
}

func TestPayloadMode(t *testing.T) {
	fc := &fakeClient{}
	h := PayloadHandler(newAPI(t, fc, ""))
	payload := `{"Data":{"req":{"Url":"http://localhost:7071/orchestrators/E1?code=abc","Method":"POST","Query":{"code":"abc"},` +
		`"Headers":{"Content-Type":["application/json"]},"Params":{"functionName":"E1"},"Body":"{\"n\":1}"}},"Metadata":{}}`
	rec := do(t, h, "POST", "/HttpStart", payload)
	var resp struct {
		ReturnValue httpOutput
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s: %v", rec.Body, err)
	}
	out := resp.ReturnValue
	var cs CheckStatus
	if out.StatusCode != 202 || json.Unmarshal(out.Body, &cs) != nil || cs.ID != "newid" || !strings.HasSuffix(cs.StatusQueryGetURI, "&code=abc") {
		t.Fatalf("output %+v", out)
	}
	if out.Headers["Location"] != cs.StatusQueryGetURI || fc.calls[0] != `start E1  {"n":1}` {
		t.Fatalf("headers %v calls %q", out.Headers, fc.calls)
	}
	rec = do(t, h, "POST", "/HttpStart", `{"Data":{}}`)
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ReturnValue.StatusCode != 400 {
		t.Fatalf("bad payload: %s", rec.Body)
	}
}

// Storage that does not answer is the app's problem, not the request's:
// 503 with a message that says what to do, not 500.
func TestUnreachableStorageIs503(t *testing.T) {
	err := fmt.Errorf("start %q: %w", "x", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})
	if got := errorStatus(err); got != http.StatusServiceUnavailable {
		t.Fatalf("errorStatus = %d", got)
	}
	a := &API{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	rec := httptest.NewRecorder()
	a.fail(rec, httptest.NewRequest("POST", "/orchestrators/Hello", nil), errorStatus(err), err)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "Azurite") || !strings.Contains(rec.Body.String(), "connection refused") {
		t.Errorf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// POST /orchestrators/{name} waits when asked with timeout or
// pollingInterval alone, taking Durable Functions' default for the other,
// instead of ignoring a lone timeout.
func TestStartWaitsWithTimeoutOrIntervalAlone(t *testing.T) {
	done := &client.Status{Name: "E1", InstanceID: "newid", RuntimeStatus: history.StatusCompleted,
		Output: json.RawMessage(`"done"`), CreatedTime: created, LastUpdatedTime: created}
	fc := &fakeClient{status: map[string]*client.Status{"newid": done, "restarted": done}}
	a := newAPI(t, fc, "")
	for _, target := range []string{
		"/orchestrators/E1?timeout=5",
		"/orchestrators/E1?pollingInterval=0.5",
		"/durabletask/orchestrators/E1?timeout=5",
		"/durabletask/instances/newid/restart?timeout=5",
	} {
		if rec := do(t, a, "POST", target, ""); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `"done"` {
			t.Errorf("POST %s: %d %s, want 200 with the output", target, rec.Code, rec.Body)
		}
	}
	if rec := do(t, a, "POST", "/orchestrators/E1", ""); rec.Code != 202 {
		t.Errorf("POST without either: %d, want 202", rec.Code)
	}
	// The default timeout is 10 s: a longer interval alone cannot work.
	if rec := do(t, a, "POST", "/orchestrators/E1?pollingInterval=20", ""); rec.Code != 400 || !strings.Contains(rec.Body.String(), "10s") {
		t.Errorf("pollingInterval over the default timeout: %d %s, want 400", rec.Code, rec.Body)
	}
}
