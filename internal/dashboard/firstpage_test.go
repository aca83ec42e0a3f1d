package dashboard

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var firstPageAttr = regexp.MustCompile(`data-first-page="([^"]*)"`)

// embedded returns the first page a dashboard page carries.
func embedded(t *testing.T, body string) firstPage {
	t.Helper()
	m := firstPageAttr.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no data-first-page in the page:\n%s", body)
	}
	var fp firstPage
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &fp); err != nil {
		t.Fatalf("data-first-page %q: %v", m[1], err)
	}
	return fp
}

// The page carries the answer to the request its script would make first,
// asked of the management API in-process with the page's function key, so
// that the list is drawn before the load event.
func TestPageCarriesTheFirstPage(t *testing.T) {
	h := newTestHandler(t)
	req := httptest.NewRequest("GET", "/durabletask/dashboard/?code=k%22ey", nil)
	req.Header.Set("x-ms-continuation-token", "stale")
	res, body := do(h, req)
	if res.StatusCode != 200 {
		t.Fatalf("page: %d %s", res.StatusCode, body)
	}
	fp := embedded(t, body)
	var echo map[string]string
	if err := json.Unmarshal([]byte(fp.Body), &echo); err != nil || fp.Status != 200 || fp.Top != FirstPageSize {
		t.Fatalf("first page %+v: %v", fp, err)
	}
	q, _ := url.ParseQuery(echo["query"])
	if echo["method"] != "GET" || echo["path"] != "/durabletask/instances" || q.Get("top") != "100" || q.Get("showInput") != "false" ||
		q.Get("code") != `k"ey` || len(q) != 3 {
		t.Errorf("the first page asked the API for %v", echo)
	}

	// A HEAD of the page asks nothing.
	res, _ = do(h, httptest.NewRequest("HEAD", "/durabletask/dashboard/", nil))
	if res.StatusCode != 200 {
		t.Fatalf("HEAD: %d", res.StatusCode)
	}
}

// What the API answers reaches the page as an attribute's text, whatever
// it holds, and an error is carried as such for the script to show.
func TestFirstPageIsEscapedAndKeepsErrors(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
	}{
		{200, `[{"instanceId":"\"><script>alert(1)</script>","name":"<b>x</b>"}]`},
		{404, `{"Message":"Not Found","ExceptionMessage":"task hub \"><img src=x> was not found"}`},
	} {
		api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("x-ms-continuation-token", "next-page")
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		})
		h, err := New(Config{API: api, ManagementBase: "/durabletask", HubName: "TestHub", Statuses: fakeStatuses{}})
		if err != nil {
			t.Fatal(err)
		}
		_, body := do(h, httptest.NewRequest("GET", "/durabletask/dashboard/", nil))
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x>") || strings.Contains(body, "<b>x</b>") {
			t.Fatalf("markup from the API reached the page as markup:\n%s", body)
		}
		fp := embedded(t, body)
		if fp.Status != c.status || fp.Body != c.body || fp.Next != "next-page" {
			t.Errorf("first page %+v, want status %d body %s", fp, c.status, c.body)
		}
	}
}
