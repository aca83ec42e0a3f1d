package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// fakeStatuses answers GetStatus from a map.
type fakeStatuses map[string]*client.Status

func (f fakeStatuses) GetStatus(_ context.Context, id string, _ client.StatusOptions) (*client.Status, error) {
	if st, ok := f[id]; ok {
		return st, nil
	}
	return nil, client.ErrNotFound
}

// echoAPI stands in for the management API: it reports what reached it.
func echoAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path, "raw": r.URL.EscapedPath(), "query": r.URL.RawQuery})
	})
}

func newTestHandler(t *testing.T, allowed ...string) *Handler {
	t.Helper()
	h, err := New(Config{API: echoAPI(), ManagementBase: "/durabletask", HubName: "TestHub", AllowedHosts: allowed,
		Statuses: fakeStatuses{
			"child": {History: []history.Event{{Type: history.ExecutionStarted, Name: "Child",
				ParentInstance: &history.ParentInstance{Name: "Parent", OrchestrationInstance: history.OrchestrationInstance{InstanceID: "parent"}}}}},
			"parent": {History: []history.Event{
				{Type: history.ExecutionStarted, Name: "Parent"},
				{Type: history.SubOrchestrationInstanceCreated, Name: "Child", InstanceID: "child"},
			}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, r *http.Request) (*http.Response, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

// page loads the dashboard and returns its CSRF cookie.
func page(t *testing.T, h http.Handler) *http.Cookie {
	t.Helper()
	res, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/?code=k%22ey", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `name="csrf-token"`) {
		t.Fatalf("page: %d %s", res.StatusCode, body)
	}
	// The function key reaches the asset URLs, escaped.
	if !strings.Contains(body, `static/app.js?code=k%22ey`) {
		t.Errorf("the page's script URL lacks the function key: %s", body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, c := range res.Cookies() {
		if c.Name == csrfCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || !strings.Contains(body, c.Value) {
				t.Errorf("CSRF cookie %+v", c)
			}
			return c
		}
	}
	t.Fatal("no CSRF cookie")
	return nil
}

func TestActionsNeedTheTokenAndTheSameOrigin(t *testing.T) {
	h := newTestHandler(t)
	c := page(t, h)
	post := func(token string, hdr map[string]string) int {
		r := httptest.NewRequest("POST", "/durabletask/dashboard/api/instances/a%2Fb/terminate?reason=x", nil)
		r.AddCookie(c)
		if token != "" {
			r.Header.Set(CSRFHeader, token)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		res, _ := do(h, r)
		return res.StatusCode
	}
	if got := post("", nil); got != 403 {
		t.Errorf("without the token: %d", got)
	}
	if got := post("wrong", nil); got != 403 {
		t.Errorf("with a wrong token: %d", got)
	}
	if got := post(c.Value, map[string]string{"Sec-Fetch-Site": "cross-site"}); got != 403 {
		t.Errorf("cross-site: %d", got)
	}
	if got := post(c.Value, map[string]string{"Origin": "https://evil.example"}); got != 403 {
		t.Errorf("foreign origin: %d", got)
	}
	if got := post(c.Value, map[string]string{"Sec-Fetch-Site": "same-origin"}); got != 200 {
		t.Errorf("same origin with the token: %d", got)
	}
}

func TestProxyKeepsThePathAndRefusesOtherHubs(t *testing.T) {
	h := newTestHandler(t)
	res, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/api/instances/a%2Fb?showHistory=true&code=k", nil))
	var got map[string]string
	_ = json.Unmarshal([]byte(body), &got)
	if res.StatusCode != 200 || got["raw"] != "/durabletask/instances/a%2Fb" || got["query"] != "showHistory=true&code=k" {
		t.Errorf("forwarded as %d %v", res.StatusCode, got)
	}
	for _, q := range []string{"taskHub=Other", "TASKHUB=Other", "connection=Other"} {
		res, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/api/instances?"+q, nil))
		if res.StatusCode != 400 || !strings.Contains(body, "TestHub") {
			t.Errorf("%s: %d %s", q, res.StatusCode, body)
		}
	}
}

func TestPagesAssetsAndErrors(t *testing.T) {
	h := newTestHandler(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/durabletask/dashboard/static/app.js", 200},
		{"GET", "/durabletask/dashboard/static/app.css", 200},
		{"GET", "/durabletask/dashboard/static/nope.js", 404},
		{"GET", "/durabletask/dashboard/static/../dashboard.go", 404},
		{"GET", "/durabletask/dashboard/other", 404},
		{"POST", "/durabletask/dashboard/", 405},
		{"GET", "/durabletask/dashboard/links/nobody", 404},
		{"GET", "/durabletask/dashboard/links/", 400},
	} {
		if res, body := do(h, httptest.NewRequest(c.method, c.path, nil)); res.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.path, res.StatusCode, c.want, body)
		}
	}
	res, _ := do(h, httptest.NewRequest("GET", "/durabletask/dashboard?code=k", nil))
	if loc := res.Header.Get("Location"); res.StatusCode != 301 || loc != "/durabletask/dashboard/?code=k" {
		t.Errorf("without the slash: %d to %q", res.StatusCode, loc)
	}
}

func TestLinks(t *testing.T) {
	h := newTestHandler(t)
	for id, want := range map[string]string{
		"child":  `{"parent":{"instanceId":"parent","name":"Parent"},"children":[]}`,
		"parent": `{"parent":null,"children":[{"instanceId":"child","name":"Child"}]}`,
	} {
		res, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/links/"+id, nil))
		if res.StatusCode != 200 || strings.TrimSpace(body) != want {
			t.Errorf("links of %s: %d %s, want %s", id, res.StatusCode, body, want)
		}
	}
}

func TestAllowedHosts(t *testing.T) {
	h := newTestHandler(t, "127.0.0.1:7072")
	r := httptest.NewRequest("GET", "/durabletask/dashboard/", nil)
	r.Host = "rebound.example:7072"
	if res, _ := do(h, r); res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("a foreign Host got %d", res.StatusCode)
	}
	r.Host = "127.0.0.1:7072"
	if res, _ := do(h, r); res.StatusCode != 200 {
		t.Errorf("the loopback Host got %d", res.StatusCode)
	}
}

// TestTraceURL: the tracing UI's URL template reaches the page, and only
// an http(s) one holding {traceId} is accepted, since the page makes a link
// of it.
func TestTraceURL(t *testing.T) {
	const tmpl = "http://localhost:16686/trace/{traceId}"
	h, err := New(Config{API: echoAPI(), ManagementBase: "/durabletask", HubName: "TestHub", Statuses: fakeStatuses{}, TraceURL: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/", nil)); !strings.Contains(body, `<meta name="trace-url" content="`+tmpl+`">`) {
		t.Errorf("the page lacks the trace URL template: %s", body)
	}
	for _, bad := range []string{"javascript:alert(1)//{traceId}", "http://jaeger/trace/", "/trace/{traceId}", "ftp://x/{traceId}"} {
		if err := ValidateTraceURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidateTraceURL("https://portal.azure.com/#blade/AppInsightsExtension/DetailsV2Blade/DataModel/{\"eventId\":\"{traceId}\"}"); err != nil {
		t.Errorf("an Application Insights link: %v", err)
	}
}
