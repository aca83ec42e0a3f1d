package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

// appDir is a function app root for handler processes: a host.json with
// the test's hub and timings short enough for a test.
func appDir(t *testing.T, hub string, concurrency int) string {
	t.Helper()
	dir := t.TempDir()
	host := fmt.Sprintf(`{"version":"2.0","extensions":{"durableTask":{"hubName":%q,
	  "storageProvider":{"partitionCount":4,"maxQueuePollingInterval":"00:00:01",
	    "controlQueueVisibilityTimeout":"00:00:05","workItemQueueVisibilityTimeout":"00:00:05",
	    "partitionLeaseDuration":"00:00:04","partitionLeaseRenewInterval":"00:00:01"},
	  "maxConcurrentOrchestratorFunctions":%d,"maxConcurrentActivityFunctions":%d}}}`, hub, concurrency, concurrency)
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type handlerProc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startHandler(t *testing.T, dir, conn string) *handlerProc {
	t.Helper()
	bin, err := apptest.HandlerBinary()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AzureWebJobsStorage="+conn, fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port),
		app.WakeQueueSetting+"=none", "DatabaseConnection=Server=db", "DURABLE_LOG_LEVEL="+os.Getenv("HANDLER_LOG_LEVEL"))
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &handlerProc{cmd: cmd, out: out}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			if dump := os.Getenv("HANDLER_LOG_DUMP"); dump != "" {
				_ = os.WriteFile(fmt.Sprintf("%s.%d", dump, p.cmd.Process.Pid), out.Bytes(), 0o644)
			}
			t.Logf("handler output:\n%s", lastLines(out.String(), 40))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("handler did not answer GET /: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// externalClient is a client in the test process with no worker, like the
// CLI: it sees only storage.
func externalClient(t *testing.T, hub, conn string) (*client.Client, *azstore.Hub) {
	t.Helper()
	h := apptest.OpenHub(t, hub, conn, 0)
	return client.New(h, client.Options{}), h
}

func countStatus(t *testing.T, c *client.Client, status history.RuntimeStatus) int {
	t.Helper()
	n := 0
	q := client.Query{Statuses: []history.RuntimeStatus{status}, PageSize: 1000}
	for {
		page, err := c.ListInstances(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Instances)
		if page.ContinuationToken == "" {
			return n
		}
		q.ContinuationToken = page.ContinuationToken
	}
}

func waitAllCompleted(t *testing.T, c *client.Client, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for countStatus(t, c, history.StatusCompleted) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d completed within %s", countStatus(t, c, history.StatusCompleted), len(ids), within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`
	for _, id := range ids {
		st, err := c.GetStatus(context.Background(), id, client.StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.RuntimeStatus != history.StatusCompleted || string(st.Output) != want {
			t.Fatalf("%s: %s %s", id, st.RuntimeStatus, st.Output)
		}
	}
}

func startMany(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := c.StartNew(context.Background(), "HelloCities5", nil, client.StartOptions{InstanceID: fmt.Sprintf("city-%03d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func TestKilledWorkerLosesNothingAndCompletesNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts handler processes")
	}
	conn := testutil.Storage(t)
	hub := testutil.UniqueHubName(t)
	// One orchestration and one activity at a time, so that the kill lands
	// with most instances in the middle of their five steps.
	dir := appDir(t, hub, 1)
	c, h := externalClient(t, hub, conn)

	first := startHandler(t, dir, conn)
	ids := startMany(t, c, 50)
	deadline := time.Now().Add(60 * time.Second)
	// Kill as soon as orchestrations are under way, so that most are caught
	// mid-run: between checkpoints, with activities in memory.
	for countStatus(t, c, history.StatusRunning)+countStatus(t, c, history.StatusCompleted) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("nothing started before the kill")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	done := countStatus(t, c, history.StatusCompleted)
	t.Logf("killed the worker with %d of 50 completed", done)
	if done == len(ids) {
		t.Fatal("the kill came after everything completed; the test proves nothing")
	}

	startHandler(t, dir, conn)
	waitAllCompleted(t, c, ids, 90*time.Second)
	for _, id := range ids {
		hs, err := h.LoadHistory(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		completed := 0
		for _, e := range hs.Events {
			if e.Type == history.ExecutionCompleted {
				completed++
			}
		}
		if completed != 1 {
			t.Fatalf("%s has %d ExecutionCompleted events", id, completed)
		}
	}
}

func TestTwoWorkersSplitThePartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts handler processes")
	}
	conn := testutil.Storage(t)
	hub := testutil.UniqueHubName(t)
	dir := appDir(t, hub, 10)
	c, h := externalClient(t, hub, conn)
	startHandler(t, dir, conn)
	startHandler(t, dir, conn)

	deadline := time.Now().Add(45 * time.Second)
	for {
		leases, err := h.ReadLeases(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]int{}
		for _, l := range leases {
			if l.CurrentOwner != "" && time.Now().Before(l.ExpiresAt) {
				owners[l.CurrentOwner]++
			}
		}
		if len(owners) == 2 && func() bool {
			for _, n := range owners {
				if n != 2 {
					return false
				}
			}
			return true
		}() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions not split: %v", owners)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ids := startMany(t, c, 100)
	waitAllCompleted(t, c, ids, 90*time.Second)
	// Both workers did work: each owns partitions that held instances.
	counts := map[int]int{}
	for _, id := range ids {
		counts[h.PartitionOf(id)]++
	}
	if len(counts) != 4 {
		b, _ := json.Marshal(counts)
		t.Fatalf("instances did not spread over the partitions: %s", b)
	}
}
