package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDashboardInTheApp reaches the dashboard the way a user of the app
// does: through the dev host and the DurableTaskDashboard function, with
// an action that needs the CSRF token. The page itself is tested in a
// browser in internal/dashboard.
func TestDashboardInTheApp(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()

	resp, body := a.do("GET", "/durabletask/dashboard?code=k", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), a.hub) || resp.Request.URL.Path != "/durabletask/dashboard/" {
		t.Fatalf("GET /durabletask/dashboard: %d at %s: %.300s", resp.StatusCode, resp.Request.URL, body)
	}
	var token string
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "csrf") {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("no CSRF cookie")
	}
	start := "/durabletask/dashboard/api/orchestrators/HelloWorld"
	if resp, body := a.do("POST", start, `"dashboard"`); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a start without the token: %d %s", resp.StatusCode, body)
	}
	resp, body = a.do("POST", start, `"dashboard"`, "Cookie", "durable_dashboard_csrf="+token, "X-CSRF-Token", token)
	var cs struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &cs) != nil || cs.ID == "" {
		t.Fatalf("a start with the token: %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := a.do("GET", "/durabletask/dashboard/api/instances/"+cs.ID, "")
		if resp.StatusCode == 200 && strings.Contains(string(body), `"output":"Hello dashboard!"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance started from the dashboard: %d %s", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp, _ := a.do("GET", "/durabletask/dashboard/api/counts?taskHub=Other", ""); resp.StatusCode != 400 {
		t.Errorf("another hub through the dashboard: %d", resp.StatusCode)
	}
}
