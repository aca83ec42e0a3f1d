package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

// TestBatchBadInput checks that a wrong bulk command line is exit 2 with a
// message, before any storage is opened (none is configured here).
func TestBatchBadInput(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"batch"}, "the operation is required"},
		{[]string{"batch", "--reason", "x"}, "the operation is required"},
		{[]string{"batch", "explode"}, `unknown operation "explode"`},
		{[]string{"batch", "raiseEvent"}, "needs --event-name"},
		{[]string{"batch", "raiseEvent", "--event-name", "E", "--event-data", "{"}, "not valid JSON"},
		{[]string{"batch", "terminate", "--event-name", "E"}, "only for raiseEvent"},
		{[]string{"batch", "suspend", "--restart-with-new-instance-id=false"}, "only for restart"},
		{[]string{"batch", "purge", "--runtime-status", "Running"}, "only finished instances"},
		{[]string{"batch", "terminate", "--batch-size", "0"}, "--batch-size must be"},
		{[]string{"batch", "terminate", "--created-after", "2020-01-02", "--created-before", "2020-01-01"}, "created"},
		{[]string{"batch", "terminate", "--instance-id-prefix", "a/b"}, "prefix"},
		{[]string{"batch", "terminate", "extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		_, errOut, code := runCLI(t, append(c.args, "--app-root", t.TempDir())...)
		if code != exitBadArgs || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 with %q", c.args, code, errOut, c.msg)
		}
	}
}

// testBatch runs bulk operations from the CLI against the test worker: a
// dry run, one that waits for its summary, and one that does not wait.
func testBatch(t *testing.T, f *fixture) {
	ctx := context.Background()
	// Before any app runs, the bulk operation stays Pending.
	for i := range 6 {
		f.startNew("Counter", fmt.Sprintf("bulk-%d", i), "0")
	}
	f.startNew("Counter", "other-0", "0")
	r := f.ok("batch", "raiseEvent", "--instance-id-prefix", "bulk-", "--event-name", "Add", "--event-data", "2", "--dry-run")
	if !strings.Contains(r.stdout, "6 instances match") || !strings.Contains(r.stdout, "Pending") {
		t.Fatalf("dry run printed %q", r.stdout)
	}
	r = f.ok("batch", "raiseEvent", "--instance-id-prefix", "bulk-", "--event-name", "Add", "--event-data", "2", "--no-wait", "--json")
	var started struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &started); err != nil || started.ID == "" {
		t.Fatalf("--no-wait --json printed %q: %v", r.stdout, err)
	}
	if st, err := f.client.GetStatus(ctx, started.ID, client.StatusOptions{}); err != nil || st.RuntimeStatus != history.StatusPending ||
		st.Name != client.BatchOrchestrator {
		t.Fatalf("bulk operation before the app runs: %+v %v", st, err)
	}

	f.startWorker("Server=db")
	f.waitStatus(started.ID, history.StatusCompleted)
	r = f.ok("batch", "terminate", "--instance-id-prefix", "bulk-", "--reason", "bulk", "--batch-size", "4")
	if !strings.Contains(r.stdout, "Bulk terminate: 6 matched, 6 succeeded, 0 failed.") {
		t.Fatalf("terminate printed %q (stderr %q)", r.stdout, r.stderr)
	}
	for i := range 6 {
		st := f.waitStatus(fmt.Sprintf("bulk-%d", i), history.StatusTerminated)
		// The raised Add reached every counter once.
		if string(st.CustomStatus) != "2" {
			t.Errorf("bulk-%d: total %s, want 2", i, st.CustomStatus)
		}
	}
	if st, _ := f.client.GetStatus(ctx, "other-0", client.StatusOptions{}); st.RuntimeStatus != history.StatusRunning {
		t.Errorf("other-0 is %s", st.RuntimeStatus)
	}
	// Terminating them again: each refuses, and the exit code says so.
	r = f.fails(exitWrongState, "6 of 6 instances failed", "batch", "terminate", "--instance-id-prefix", "bulk-", "--runtime-status", "Terminated")
	if !strings.Contains(r.stdout, "bulk-0: ") {
		t.Errorf("failures printed %q", r.stdout)
	}
	r = f.ok("batch", "purge", "--instance-id-prefix", "bulk-", "--json")
	var sum client.BatchSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Matched != 6 || sum.Succeeded != 6 {
		t.Fatalf("purge --json printed %q: %v", r.stdout, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := f.client.GetStatus(ctx, "bulk-0", client.StatusOptions{}); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error("bulk-0 was not purged")
}

// TestCLIInternalHidden: get-instances, its counts and a bulk dry run
// leave the bulk operations' own instances out, and --show-internal (or
// naming them) brings them back. It is a test of its own, not a TestCLI
// scenario, so that it can run alone.
func TestCLIInternalHidden(t *testing.T) {
	f := newFixture(t, buildCLI(t), testutil.Storage(t))
	f.startNew("HelloWorld", "user-0", `"x"`)
	f.startWorker("Server=db")
	f.waitStatus("user-0", history.StatusCompleted)
	// A finished bulk operation: a purge that matches nothing.
	f.ok("batch", "purge", "--instance-id-prefix", "none-")

	r := f.ok("get-instances")
	if ids := tableIDs(t, r.stdout); len(ids) != 1 || ids[0] != "user-0" || strings.Contains(r.stdout, client.BatchOrchestrator) {
		t.Errorf("get-instances:\n%s", r.stdout)
	}
	r = f.ok("get-instances", "--count", "--json")
	if got := completed(t, r.stdout); got != 1 {
		t.Errorf("get-instances --count: Completed %d, want 1\n%s", got, r.stdout)
	}
	r = f.ok("batch", "purge", "--dry-run")
	if !strings.Contains(r.stdout, "1 instances match") {
		t.Errorf("batch purge --dry-run:\n%s", r.stdout)
	}

	r = f.ok("get-instances", "--show-internal")
	if ids := tableIDs(t, r.stdout); len(ids) != 2 || !strings.Contains(r.stdout, client.BatchOrchestrator) {
		t.Errorf("get-instances --show-internal:\n%s", r.stdout)
	}
	r = f.ok("get-instances", "--name", client.BatchOrchestrator)
	if ids := tableIDs(t, r.stdout); len(ids) != 1 || !strings.Contains(r.stdout, client.BatchOrchestrator) {
		t.Errorf("get-instances --name %s:\n%s", client.BatchOrchestrator, r.stdout)
	}
	r = f.ok("get-instances", "--count", "--json", "--show-internal")
	if got := completed(t, r.stdout); got != 2 {
		t.Errorf("get-instances --count --show-internal: Completed %d, want 2\n%s", got, r.stdout)
	}
	r = f.ok("batch", "purge", "--dry-run", "--show-internal")
	if !strings.Contains(r.stdout, "2 instances match") {
		t.Errorf("batch purge --dry-run --show-internal:\n%s", r.stdout)
	}
}

// completed reads the Completed count of get-instances --count --json.
func completed(t *testing.T, out string) int {
	t.Helper()
	var counts map[string]int
	if err := json.Unmarshal([]byte(out), &counts); err != nil {
		t.Fatalf("counts: %v\n%s", err, out)
	}
	return counts["Completed"]
}
