package httpapi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
)

// ?version= on a start names the version; version= filters the list and
// the counts (repeatable, empty for instances without one); the status
// body has a version field only when the instance has a version.
func TestVersionParameters(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fc := &fakeClient{page: &client.Page{}, status: map[string]*client.Status{
		"v1":    {Name: "Flow", InstanceID: "v1", RuntimeStatus: "Running", Version: "1.2", CreatedTime: now, LastUpdatedTime: now},
		"plain": {Name: "Flow", InstanceID: "plain", RuntimeStatus: "Running", CreatedTime: now, LastUpdatedTime: now},
	}}
	a := newAPI(t, fc, "")
	if rec := do(t, a, "POST", "/orchestrators/Flow?version=%201.2%20", ""); rec.Code != 202 || fc.started.Version != "1.2" {
		t.Fatalf("start with a version: %d %s, options %+v", rec.Code, rec.Body, fc.started)
	}
	if rec := do(t, a, "POST", "/orchestrators/Flow", ""); rec.Code != 202 || fc.started.Version != "" {
		t.Fatalf("start without a version: %d, options %+v", rec.Code, fc.started)
	}
	for target, want := range map[string][]string{
		"/durabletask/instances?version=1.0&version=2": {"1.0", "2"},
		"/durabletask/counts?Version=":                 {""},
		"/durabletask/instances?name=Flow":             nil,
		"/durabletask/instances?version=a,b&name=Flow": {"a,b"},
	} {
		if rec := do(t, a, "GET", target, ""); rec.Code != 200 || !slices.Equal(fc.query.Versions, want) {
			t.Errorf("%s: %d, Versions %q, want %q", target, rec.Code, fc.query.Versions, want)
		}
	}
	rec := do(t, a, "GET", "/durabletask/counts?groupBy=Version&runtimeStatus=Running", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `[{"name":"Flow","version":"1.0","counts":{"Running":2}}]` ||
		len(fc.query.Statuses) != 1 {
		t.Errorf("counts grouped by version: %d %s, query %+v", rec.Code, rec.Body, fc.query)
	}
	if rec := do(t, a, "GET", "/durabletask/counts?groupBy=name", ""); rec.Code != 400 {
		t.Errorf("groupBy=name: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, a, "GET", "/durabletask/instances/v1", ""); !strings.Contains(rec.Body.String(), `"version":"1.2"`) {
		t.Errorf("status of a versioned instance: %s", rec.Body)
	}
	if rec := do(t, a, "GET", "/durabletask/instances/plain", ""); strings.Contains(rec.Body.String(), `"version"`) {
		t.Errorf("status of an instance without a version: %s", rec.Body)
	}
}
