package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

func TestRecursiveTerminate(t *testing.T) {
	cases := []struct {
		name, target string
		err          error
		code         int
		call         string
	}{
		{"recursive", "/durabletask/instances/x/terminate?reason=done&recursive=true", nil, 202, "terminate x done recursive=true"},
		{"case-insensitive name and value", "/durabletask/instances/x/terminate?Recursive=TRUE", nil, 202, "terminate x  recursive=true"},
		{"false is the plain terminate", "/durabletask/instances/x/terminate?reason=r&recursive=false", nil, 202, "terminate x r"},
		{"empty is the default", "/durabletask/instances/x/terminate?reason=r&recursive=", nil, 202, "terminate x r"},
		{"bad value", "/durabletask/instances/x/terminate?recursive=yes", nil, 400, ""},
		{"finished", "/durabletask/instances/x/terminate?recursive=true", fmt.Errorf("%w: finished", client.ErrWrongState), 410, "terminate x  recursive=true"},
		{"unknown", "/durabletask/instances/x/terminate?recursive=true", client.ErrNotFound, 404, "terminate x  recursive=true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeClient{err: c.err}
			rec := do(t, newAPI(t, fc, ""), "POST", c.target, "")
			if rec.Code != c.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			if c.code >= 400 {
				errorBodyOf(t, rec)
			}
			if c.call == "" && len(fc.calls) != 0 {
				t.Fatalf("calls %q, want none", fc.calls)
			}
			if c.call != "" && (len(fc.calls) != 1 || fc.calls[0] != c.call) {
				t.Fatalf("calls %q, want %q", fc.calls, c.call)
			}
		})
	}
}

func TestRecursivePurge(t *testing.T) {
	fc := &fakeClient{purged: 7}
	a := newAPI(t, fc, "")
	rec := do(t, a, "DELETE", "/durabletask/instances/x?recursive=true", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"instancesDeleted":7}` {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if fc.calls[0] != "purge x recursive=true" {
		t.Fatalf("calls %q", fc.calls)
	}
	fc.calls = nil
	if rec := do(t, a, "DELETE", "/durabletask/instances/x?recursive=false", ""); rec.Code != 200 ||
		strings.TrimSpace(rec.Body.String()) != `{"instancesDeleted":1}` || fc.calls[0] != "purge x" {
		t.Fatalf("non-recursive: %d %s %q", rec.Code, rec.Body, fc.calls)
	}
	fc.calls = nil
	if rec := do(t, a, "DELETE", "/durabletask/instances/x?recursive=maybe", ""); rec.Code != 400 || len(fc.calls) != 0 {
		t.Fatalf("bad recursive: %d %q", rec.Code, fc.calls)
	}

	fc.err = &client.StateError{InstanceID: "x", Status: history.StatusRunning, Op: "purge"}
	if rec := do(t, a, "DELETE", "/durabletask/instances/x?recursive=true", ""); rec.Code != 412 {
		t.Fatalf("running root: %d", rec.Code)
	}
	fc.err = &client.PurgeIncompleteError{InstanceID: "x", Deleted: 3, Unfinished: []string{"x:1"}}
	rec = do(t, a, "DELETE", "/durabletask/instances/x?recursive=true", "")
	if rec.Code != 412 {
		t.Fatalf("running child: %d %s", rec.Code, rec.Body)
	}
	if body := errorBodyOf(t, rec); !strings.Contains(body.ExceptionMessage, "deleted 3") || !strings.Contains(body.ExceptionMessage, "x:1") {
		t.Fatalf("running child: the error %q should count the deleted and name the unfinished", body.ExceptionMessage)
	}
	fc.err = client.ErrNotFound
	if rec := do(t, a, "DELETE", "/durabletask/instances/x?recursive=true", ""); rec.Code != 404 {
		t.Fatalf("unknown: %d", rec.Code)
	}
}
