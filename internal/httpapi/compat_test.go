package httpapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// Rules that the JS clients (durable-functions v2 and v3) depend on, as the
// extension's HttpApiHandler answers them.

func TestStatusOfUnknownInstanceHasEmptyBody(t *testing.T) {
	a := newAPI(t, &fakeClient{status: map[string]*client.Status{}}, "")
	rec := do(t, a, "GET", "/durabletask/instances/nope?showHistory=true", "")
	// v2's getStatus returns a 404's body as the status: it must be empty.
	if rec.Code != 404 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "0" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
	}
	// Other failures keep the JSON error body.
	a = newAPI(t, &fakeClient{err: fmt.Errorf("%w: bad", client.ErrBadArgument)}, "")
	rec = do(t, a, "GET", "/durabletask/instances/x", "")
	if rec.Code != 400 {
		t.Fatalf("%d", rec.Code)
	}
	errorBodyOf(t, rec)
}

func TestRewindAnswers(t *testing.T) {
	// Unknown: 404 whose body is the plain-text message v3 shows.
	fc := &fakeClient{err: fmt.Errorf("%w: %q", client.ErrNotFound, "gone-id")}
	rec := do(t, newAPI(t, fc, ""), "POST", "/durabletask/instances/gone-id/rewind?reason=r", "")
	if rec.Code != 404 || rec.Body.String() != "No orchestration with instance ID 'gone-id' found." ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("unknown: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	// Any status but Failed: 412, plain text starting with v3's message.
	for _, s := range history.AllStatuses() {
		if s == history.StatusFailed {
			continue
		}
		fc := &fakeClient{err: &client.StateError{InstanceID: "x", Status: s, Op: "rewind"}}
		rec := do(t, newAPI(t, fc, ""), "POST", "/durabletask/instances/x/rewind", "")
		want := msgRewindNotFailed + " Instance 'x' is " + string(s) + "."
		if rec.Code != 412 || rec.Body.String() != want || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q", s, rec.Code, rec.Body)
		}
	}
	// Failed: 202.
	fc = &fakeClient{}
	if rec := do(t, newAPI(t, fc, ""), "POST", "/durabletask/instances/x/rewind?reason=fix", ""); rec.Code != 202 || fc.calls[0] != "rewind x fix" {
		t.Fatalf("failed: %d %q", rec.Code, fc.calls)
	}
	// The instance changed under the rewind: 409, worth a retry.
	fc = &fakeClient{err: fmt.Errorf("%w: history changed", client.ErrWrongState)}
	rec = do(t, newAPI(t, fc, ""), "POST", "/durabletask/instances/x/rewind", "")
	if rec.Code != 409 {
		t.Fatalf("race: %d", rec.Code)
	}
	errorBodyOf(t, rec)
	// Storage failing: 500 with the JSON error body.
	fc = &fakeClient{err: fmt.Errorf("dial tcp: refused")}
	if rec := do(t, newAPI(t, fc, ""), "POST", "/durabletask/instances/x/rewind", ""); rec.Code != 500 {
		t.Fatalf("storage: %d", rec.Code)
	}
}

func TestConnectionParameter(t *testing.T) {
	fc := &fakeClient{status: map[string]*client.Status{"x": {InstanceID: "x", RuntimeStatus: history.StatusCompleted}}}
	a := newAPI(t, fc, "") // connection AzureWebJobsStorage
	for conn, code := range map[string]int{"Storage": 200, "storage": 200, "AzureWebJobsStorage": 200, "": 200,
		"Other": 400, "AzureWebJobsOther": 400, "StorageX": 400} {
		rec := do(t, a, "GET", "/durabletask/instances/x?taskHub=TestHub&connection="+conn, "")
		if rec.Code != code {
			t.Errorf("connection=%s: %d %s, want %d", conn, rec.Code, rec.Body, code)
		}
	}
	// An app on another connection setting: "Storage" names
	// AzureWebJobsStorage, not the app's account.
	b, err := New(Config{Client: fc, HubName: "TestHub", ConnectionName: "MyStorage"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := do(t, b, "GET", "/durabletask/instances/x?connection=Storage", ""); rec.Code != 400 {
		t.Errorf("connection=Storage on MyStorage: %d", rec.Code)
	}
	if rec := do(t, b, "GET", "/durabletask/instances/x?connection=MyStorage", ""); rec.Code != 200 {
		t.Errorf("connection=MyStorage: %d", rec.Code)
	}
}

func TestClientMistakesAre400(t *testing.T) {
	cases := []struct{ name, method, target, body string }{
		{"prefix longer than an ID", "GET", "/durabletask/instances?instanceIdPrefix=" + strings.Repeat("p", 257), ""},
		{"prefix with a slash", "GET", "/durabletask/instances?instanceIdPrefix=a%2Fb", ""},
		{"prefix with a control character", "GET", "/durabletask/instances?instanceIdPrefix=a%01", ""},
		{"start body not UTF-8", "POST", "/orchestrators/E1", "\"\xff\""},
		{"start body not UTF-8 outside strings", "POST", "/durabletask/orchestrators/E1", "[1,\xc3]"},
		{"zero retryInterval", "POST", "/orchestrators/E1/wait?timeout=2&retryInterval=0", ""},
		{"zero pollingInterval on wait", "POST", "/orchestrators/E1/wait?pollingInterval=0", ""},
		{"zero pollingInterval on start", "POST", "/orchestrators/E1?timeout=2&pollingInterval=0", ""},
		{"negative retryInterval", "POST", "/orchestrators/E1/wait?retryInterval=-1", ""},
		{"zero pollingInterval on restart", "POST", "/durabletask/instances/x/restart?timeout=2&pollingInterval=0", ""},
		{"raise body not UTF-8", "POST", "/durabletask/instances/x/raiseEvent/E", "\"\xff\""},
		{"empty event name", "POST", "/durabletask/instances/x/raiseEvent/%20", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeClient{}
			rec := do(t, newAPI(t, fc, ""), c.method, c.target, c.body, "Content-Type", "application/json")
			if rec.Code != 400 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			errorBodyOf(t, rec)
			if len(fc.calls) != 0 {
				t.Fatalf("reached the client: %q", fc.calls)
			}
		})
	}
	// At the limits: a 256-character prefix and a positive interval pass.
	fc := &fakeClient{page: &client.Page{}}
	if rec := do(t, newAPI(t, fc, ""), "GET", "/durabletask/instances?instanceIdPrefix="+strings.Repeat("p", 256), ""); rec.Code != 200 {
		t.Fatalf("256-character prefix: %d %s", rec.Code, rec.Body)
	}
}

func TestPathsNoRouteMatchesAnswerJSON(t *testing.T) {
	a := newAPI(t, &fakeClient{}, "")
	for _, c := range []struct{ method, target string }{
		{"GET", "/durabletask/instances/a/b"},
		{"POST", "/durabletask/instances/a/b/c/terminate"},
		{"DELETE", "/durabletask/instances/a/b"},
		{"GET", "/durabletask/instances//x"},
		{"POST", "/durabletask/instances//terminate"},
		{"POST", "/orchestrators/E1/a/b"},
		{"GET", "/durabletask/instances/./x"},
		{"GET", "/durabletask/"},
	} {
		rec := do(t, a, c.method, c.target, "")
		if rec.Code != 404 && rec.Code != 405 {
			t.Errorf("%s %s: %d %s", c.method, c.target, rec.Code, rec.Body)
			continue
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: content type %q", c.method, c.target, rec.Header().Get("Content-Type"))
		}
		errorBodyOf(t, rec)
	}
	// The trailing slash of GET /instances/ is not taken for an empty segment.
	fc := &fakeClient{page: &client.Page{}}
	if rec := do(t, newAPI(t, fc, ""), "GET", "/durabletask/instances/", ""); rec.Code != 200 {
		t.Fatalf("GET /instances/: %d", rec.Code)
	}
	found := false
	for _, n := range FunctionNames() {
		found = found || n == FuncDurableFallback
	}
	if !found {
		t.Fatal("FunctionNames lacks the fallback function")
	}
}

func TestClientBindingWebhookMode(t *testing.T) {
	b := NewClientBinding(ClientBindingOptions{Origin: "http://localhost:7071/", HubName: "TestHub", Code: "k+1"})
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(buf.String())
	base := "http://localhost:7071/durabletask"
	inst := base + "/instances/INSTANCEID"
	qs := "taskHub=TestHub&connection=Storage&code=k%2B1"
	want := `{"taskHubName":"TestHub","connectionName":"Storage",` +
		`"creationUrls":{"createNewInstancePostUri":"` + base + `/orchestrators/{functionName}[/{instanceId}]?code=k%2B1",` +
		`"createAndWaitOnNewInstancePostUri":"` + base + `/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=k%2B1"},` +
		`"managementUrls":{"id":"INSTANCEID","statusQueryGetUri":"` + inst + `?` + qs + `",` +
		`"sendEventPostUri":"` + inst + `/raiseEvent/{eventName}?` + qs + `",` +
		`"terminatePostUri":"` + inst + `/terminate?reason={text}&` + qs + `",` +
		`"rewindPostUri":"` + inst + `/rewind?reason={text}&` + qs + `",` +
		`"purgeHistoryDeleteUri":"` + inst + `?` + qs + `",` +
		`"restartPostUri":"` + inst + `/restart?` + qs + `",` +
		`"suspendPostUri":"` + inst + `/suspend?reason={text}&` + qs + `",` +
		`"resumePostUri":"` + inst + `/resume?reason={text}&` + qs + `"},` +
		`"baseUrl":"` + base + `","requiredQueryStringParameters":"code=k%2B1"}`
	if got != want {
		t.Fatalf("binding\n got %s\nwant %s", got, want)
	}

	// The templates, filled in as the clients fill them, are routes of the
	// API, connection=Storage included.
	fc := &fakeClient{}
	a := newAPI(t, fc, "")
	fill := func(tmpl string) string {
		u, err := url.Parse(strings.NewReplacer("INSTANCEID", "i1", "{text}", "why", "{eventName}", "Go").Replace(tmpl))
		if err != nil {
			t.Fatal(err)
		}
		return u.RequestURI()
	}
	m := b.ManagementURLs
	for _, c := range []struct{ method, tmpl, call string }{
		{"POST", m.RewindPostURI, "rewind i1 why"},
		{"POST", m.TerminatePostURI, "terminate i1 why"},
		{"POST", m.SuspendPostURI, "suspend i1 why"},
		{"POST", m.ResumePostURI, "resume i1 why"},
		{"POST", m.SendEventPostURI, "raise i1 Go null"},
		{"DELETE", m.PurgeHistoryDeleteURI, "purge i1"},
		{"POST", m.RestartPostURI, "restart i1 true"},
	} {
		fc.calls = nil
		rec := do(t, a, c.method, fill(c.tmpl), "")
		if rec.Code >= 300 || len(fc.calls) != 1 || fc.calls[0] != c.call {
			t.Errorf("%s %s: %d %s %q, want call %q", c.method, c.tmpl, rec.Code, rec.Body, fc.calls, c.call)
		}
	}
	fc.calls = nil
	create := strings.NewReplacer("{functionName}", "E1", "[/{instanceId}]", "/i2").Replace(b.CreationURLs.CreateNewInstancePostURI)
	if rec := do(t, a, "POST", create, `{"n":1}`); rec.Code != 202 || fc.calls[0] != `start E1 i2 {"n":1}` {
		t.Errorf("create: %d %s %q", rec.Code, rec.Body, fc.calls)
	}
}

func TestClientBindingRPCMode(t *testing.T) {
	b := NewClientBinding(ClientBindingOptions{Origin: "http://127.0.0.1:9", RoutePrefix: "/api/", HubName: "H", ConnectionName: "AzureWebJobsStorage", RPC: true})
	if b.RPCBaseURL != "http://127.0.0.1:9/api/durabletask/" || b.BaseURL != "http://127.0.0.1:9/api/durabletask" ||
		b.RequiredQueryStringParameters != "" || !strings.HasSuffix(b.ManagementURLs.StatusQueryGetURI, "?taskHub=H&connection=AzureWebJobsStorage") {
		t.Fatalf("%+v", b)
	}
	// The clients resolve relative paths against rpcBaseUrl.
	base, _ := url.Parse(b.RPCBaseURL)
	ref, _ := url.Parse("instances/x/rewind?reason=r")
	if got := base.ResolveReference(ref).String(); got != "http://127.0.0.1:9/api/durabletask/instances/x/rewind?reason=r" {
		t.Fatal(got)
	}
	if got, _ := json.Marshal(NewClientBinding(ClientBindingOptions{Origin: "http://h"})); strings.Contains(string(got), "rpcBaseUrl") {
		t.Fatalf("webhook mode has rpcBaseUrl: %s", got)
	}
}
