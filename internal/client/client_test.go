package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// newApp builds an app on hub; start says whether its worker runs. The
// test stops it (stop).
func newApp(t *testing.T, hub string, values map[string]string, start bool) *app.App {
	t.Helper()
	return apptest.NewApp(t, apptest.AppOptions{Hub: hub, Settings: values, NoStart: !start, Manual: true,
		Durable: func(d *config.DurableOptions) {
			d.PartitionLeaseDuration, d.PartitionLeaseRenewInterval = 3*time.Second, time.Second
		}})
}

func stop(t *testing.T, a *app.App, deleteHub bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	if deleteHub && os.Getenv("KEEP_HUBS") == "" {
		_ = a.Hub.Delete(ctx)
	}
}

func waitStatus(t *testing.T, c *client.Client, id string, want history.RuntimeStatus) *client.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.GetStatus(context.Background(), id, client.StatusOptions{})
		if err == nil && st.RuntimeStatus == want {
			return st
		}
		if time.Now().After(deadline) {
			if st != nil {
				t.Fatalf("%s: status %s (output %s), want %s", id, st.RuntimeStatus, st.Output, want)
			}
			t.Fatalf("%s: %v, want status %s", id, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRewindAfterFixingTheSetting(t *testing.T) {
	ctx := context.Background()
	hub := testutil.UniqueHubName(t)
	bad := newApp(t, hub, map[string]string{"DatabaseConnection": "invalid"}, true)
	id, err := bad.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Client.RaiseEvent(ctx, id, "Approval", "ok"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, bad.Client, id, history.StatusFailed)
	if err := bad.Client.Rewind(ctx, "no-such-instance", "x"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("rewind of unknown: %v", err)
	}
	stop(t, bad, false)

	good := newApp(t, hub, map[string]string{"DatabaseConnection": "Server=db"}, true)
	defer stop(t, good, true)
	if err := good.Client.Rewind(ctx, id, "fixed the connection"); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, good.Client, id, history.StatusCompleted)
	if string(st.Output) != `{"approved":"ok","saved":true}` {
		t.Fatalf("output %s", st.Output)
	}
	var se *client.StateError
	if err := good.Client.Rewind(ctx, id, "again"); !errors.As(err, &se) || se.Status != history.StatusCompleted {
		t.Fatalf("rewind of a completed instance: %v", err)
	}
}

func TestSuspendResumeTerminate(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{"DatabaseConnection": "Server=db"}, true)
	defer stop(t, a, true)
	id, err := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, id, history.StatusRunning)
	if err := a.Client.Suspend(ctx, id, "hold on"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, id, history.StatusSuspended)
	if err := a.Client.RaiseEvent(ctx, id, "Approval", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	waitStatus(t, a.Client, id, history.StatusSuspended)
	if err := a.Client.Resume(ctx, id, "go"); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, a.Client, id, history.StatusCompleted)
	if string(st.Output) != `{"approved":1,"saved":true}` {
		t.Fatalf("output %s", st.Output)
	}
	if err := a.Client.Terminate(ctx, id, "late"); !errors.Is(err, client.ErrWrongState) {
		t.Fatalf("terminate of a completed instance: %v", err)
	}

	id2, _ := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{})
	waitStatus(t, a.Client, id2, history.StatusRunning)
	if err := a.Client.Terminate(ctx, id2, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, a.Client, id2, history.StatusTerminated)
	if string(st.Output) != `"no longer needed"` {
		t.Fatalf("output %s", st.Output)
	}
	if err := a.Client.Purge(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.GetStatus(ctx, id2, client.StatusOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("after purge: %v", err)
	}
	restarted, err := a.Client.Restart(ctx, id, true)
	if err != nil || restarted == id {
		t.Fatalf("restart: %q, %v", restarted, err)
	}
}

func TestListPagingAndFilters(t *testing.T) {
	ctx := context.Background()
	// No worker: every instance stays Pending, and listing must still work.
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, false)
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Hub.Delete(ctx) }()
	const n = 250
	var mid time.Time
	for i := 0; i < n; i++ {
		if i == n/2 {
			time.Sleep(20 * time.Millisecond)
			mid = time.Now().UTC()
			time.Sleep(20 * time.Millisecond)
		}
		prefix := "even"
		if i%2 == 1 {
			prefix = "odd"
		}
		if _, err := a.Client.StartNew(ctx, "HelloWorld", i, client.StartOptions{InstanceID: fmt.Sprintf("%s-%03d", prefix, i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	pages := 0
	q := client.Query{PageSize: 100}
	for {
		page, err := a.Client.ListInstances(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, st := range page.Instances {
			seen[st.InstanceID]++
			if st.Input != nil {
				t.Fatalf("input shown without ShowInput")
			}
		}
		if page.ContinuationToken == "" {
			break
		}
		q.ContinuationToken = page.ContinuationToken
	}
	if pages != 3 || len(seen) != n {
		t.Fatalf("pages %d, distinct %d", pages, len(seen))
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("%s seen %d times", id, c)
		}
	}
	page, err := a.Client.ListInstances(ctx, client.Query{InstanceIDPrefix: "odd-", PageSize: 1000, CreatedFrom: mid,
		Statuses: []history.RuntimeStatus{history.StatusPending}})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := n / 2; i < n; i++ {
		want += i % 2
	}
	if len(page.Instances) != want {
		t.Fatalf("filtered %d, want %d", len(page.Instances), want)
	}
	for _, st := range page.Instances {
		var i int
		fmt.Sscanf(st.InstanceID, "odd-%d", &i)
		if i < n/2 || i%2 != 1 {
			t.Fatalf("unexpected %s", st.InstanceID)
		}
	}
	if _, err := a.Client.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: mid, Statuses: []history.RuntimeStatus{history.StatusRunning}}, nil); !errors.Is(err, client.ErrBadArgument) {
		t.Fatalf("purge of Running: %v", err)
	}
	if got, err := a.Client.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: time.Now().Add(-time.Hour)}, nil); err != nil || got != 0 {
		t.Fatalf("purge of pending instances removed %d, %v", got, err)
	}
}

func TestPayloadLimit(t *testing.T) {
	big := json.RawMessage(`"` + strings.Repeat("x", client.MaxPayloadBytes) + `"`)
	if _, err := client.EncodeInput(big); !errors.Is(err, client.ErrBadArgument) {
		t.Fatalf("a %d-byte payload: %v, want ErrBadArgument", len(big), err)
	}
	ok := json.RawMessage(`"` + strings.Repeat("x", client.MaxPayloadBytes-2) + `"`)
	if _, err := client.EncodeInput(ok); err != nil {
		t.Fatalf("a payload of exactly the limit: %v", err)
	}
}
