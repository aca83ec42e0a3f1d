package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/httpapi"
	"github.com/durable-go/durable/internal/testutil"
)

// retryBroken makes RetryFlaky fail while it is set: the "bad deployment"
// that a rewind recovers from once it is fixed. Only
// TestRewindAfterRetries uses it.
var retryBroken atomic.Bool

// registerRetryShapes adds issue 18's two failing shapes: an activity
// with a retry policy, and a sub-orchestration with a retry policy whose
// child itself retries an activity.
func registerRetryShapes(reg *durable.Registry) error {
	retry := func(n int) durable.CallOption {
		return durable.WithRetry(durable.RetryPolicy{MaxAttempts: n, FirstRetryInterval: 100 * time.Millisecond})
	}
	return errors.Join(
		reg.AddActivity("RetryFlaky", func(ctx *durable.ActivityContext) (any, error) {
			var in string
			if err := ctx.GetInput(&in); err != nil {
				return nil, err
			}
			if retryBroken.Load() {
				return nil, fmt.Errorf("ProcessOrder %s: the payment service is down", in)
			}
			return "processed " + in, nil
		}),
		reg.AddOrchestrator("RetryActivity", func(ctx *durable.OrchestrationContext) (any, error) {
			var out string
			if err := ctx.CallActivity("RetryFlaky", ctx.InstanceID(), retry(3)).Await(&out); err != nil {
				return nil, err
			}
			return out, nil
		}),
		reg.AddOrchestrator("RetryChild", func(ctx *durable.OrchestrationContext) (any, error) {
			var in, out string
			if err := ctx.GetInput(&in); err != nil {
				return nil, err
			}
			if err := ctx.CallActivity("RetryFlaky", in, retry(2)).Await(&out); err != nil {
				return nil, err
			}
			return "child " + out, nil
		}),
		reg.AddOrchestrator("RetrySubOrchestration", func(ctx *durable.OrchestrationContext) (any, error) {
			var out string
			if err := ctx.CallSubOrchestrator("RetryChild", ctx.InstanceID(), retry(3)).Await(&out); err != nil {
				return nil, err
			}
			return out, nil
		}),
	)
}

// TestRewindAfterRetries is issue 18's proof: instances whose activity, or
// whose sub-orchestration, failed after every retry are rewound through
// the HTTP API, the CLI and the Go client once the cause is fixed, and
// complete. Before the fix the activity's rewind failed again with
// NonDeterministicOrchestrationError (history kept the retries' timers).
func TestRewindAfterRetries(t *testing.T) {
	conn := testutil.Storage(t)
	f := newFixture(t, buildCLI(t), conn)
	a := apptest.NewApp(t, apptest.AppOptions{Hub: f.name, Register: registerRetryShapes,
		Settings: map[string]string{"AzureWebJobsStorage": conn},
		Durable:  func(d *config.DurableOptions) { d.MaxQueuePollingInterval = 200 * time.Millisecond }})
	api, err := httpapi.New(httpapi.Config{Client: a.Client, HubName: f.name, ConnectionName: "AzureWebJobsStorage", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()

	ctx := context.Background()
	retryBroken.Store(true)
	defer retryBroken.Store(false)
	surfaces := []string{"http", "cli", "go"}
	var ids []string
	for _, s := range surfaces {
		for _, name := range []string{"RetryActivity", "RetrySubOrchestration"} {
			id := name + "-" + s
			if _, err := a.Client.StartNew(ctx, name, nil, client.StartOptions{InstanceID: id}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		st := f.waitStatus(id, history.StatusFailed)
		if !strings.Contains(string(st.Output), "payment service is down") {
			t.Fatalf("%s failed with %s", id, st.Output)
		}
	}
	// Every attempt failed: three of the activity, three children with two
	// attempts each.
	if n := countEvents(t, f, "RetryActivity-http", history.TaskFailed); n != 3 {
		t.Fatalf("RetryActivity-http records %d failed attempts, want 3", n)
	}
	if n := countEvents(t, f, "RetrySubOrchestration-http", history.SubOrchestrationInstanceFailed); n != 3 {
		t.Fatalf("RetrySubOrchestration-http records %d failed children, want 3", n)
	}

	retryBroken.Store(false) // the fix is deployed
	for _, s := range surfaces {
		for _, name := range []string{"RetryActivity", "RetrySubOrchestration"} {
			id := name + "-" + s
			switch s {
			case "http":
				resp, err := http.Post(srv.URL+"/durabletask/instances/"+id+"/rewind?reason=payment+service+fixed", "application/json", nil)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("POST rewind %s: %d %s", id, resp.StatusCode, body)
				}
			case "cli":
				f.ok("rewind", "--id", id, "--reason", "payment service fixed")
			case "go":
				if err := a.Client.Rewind(ctx, id, "payment service fixed"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, s := range surfaces {
		st := f.waitStatus("RetryActivity-"+s, history.StatusCompleted)
		jsonEqual(t, "RetryActivity-"+s, st.Output, `"processed RetryActivity-`+s+`"`)
		st = f.waitStatus("RetrySubOrchestration-"+s, history.StatusCompleted)
		jsonEqual(t, "RetrySubOrchestration-"+s, st.Output, `"child processed RetrySubOrchestration-`+s+`"`)
	}
	// The parent's last attempt was rewound in place: its child is the one
	// that completed, and the earlier attempts' children stay Failed.
	r := f.ok("get-history", "--id", "RetrySubOrchestration-cli")
	if !strings.Contains(r.stdout, "Rewound: SubOrchestrationInstanceFailed") {
		t.Errorf("history after rewind:\n%s", r.stdout)
	}
	var completedChildren int
	for _, e := range loadEvents(t, f, "RetrySubOrchestration-cli") {
		if e.Type == history.SubOrchestrationInstanceCompleted {
			completedChildren++
		}
	}
	if completedChildren != 1 {
		t.Errorf("%d children completed, want 1", completedChildren)
	}
	// A completed instance is not rewound again, on any surface.
	f.fails(exitWrongState, "Completed", "rewind", "--id", "RetryActivity-cli")
	var se *client.StateError
	if err := a.Client.Rewind(ctx, "RetryActivity-go", "again"); !errors.As(err, &se) {
		t.Errorf("second rewind: %v", err)
	}
}

func loadEvents(t *testing.T, f *fixture, id string) []history.Event {
	t.Helper()
	hs, err := f.hub.LoadHistory(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return hs.Events
}

func countEvents(t *testing.T, f *fixture, id string, typ history.EventType) int {
	t.Helper()
	n := 0
	for _, e := range loadEvents(t, f, id) {
		if e.Type == typ {
			n++
		}
	}
	return n
}
