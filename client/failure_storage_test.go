package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durable-go/durable/client"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/httpapi"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/task"
)

var errOutOfStock = errors.New("out of stock")

// Failure details reach the Go client and the HTTP API as a person would
// want to read them, against an app on Azurite: the meaningful error type,
// the causes as inner failures, IsNonRetriable and properties; and a retry
// policy stops at a non-retriable failure while it retries another.
func TestFailureDetailsOverStorage(t *testing.T) {
	var reserves, busies atomic.Int32
	storage := testutil.Storage(t)
	a := apptest.NewApp(t, apptest.AppOptions{Settings: map[string]string{"AzureWebJobsStorage": storage}, Register: func(reg *durable.Registry) error {
		treg := taskbridge.Public(reg).(*task.Registry)
		retry := task.WithRetry(task.RetryPolicy{MaxAttempts: 3, FirstRetryInterval: 100 * time.Millisecond})
		return errors.Join(
			treg.AddActivity("Reserve", func(ctx *task.ActivityContext) (any, error) {
				reserves.Add(1)
				return nil, &task.Error{Type: "OutOfStock", Message: "reserve A-1", Cause: errOutOfStock,
					NonRetriable: true, Properties: map[string]any{"sku": "A-1", "available": 0}}
			}),
			treg.AddActivity("Busy", func(ctx *task.ActivityContext) (any, error) {
				busies.Add(1)
				return nil, fmt.Errorf("busy: %w", context.DeadlineExceeded)
			}),
			treg.AddOrchestrator("Order", func(ctx *task.OrchestrationContext) (any, error) {
				if err := ctx.CallActivity("Reserve", nil, retry).Await(nil); err != nil {
					return nil, fmt.Errorf("order 7: %w", err)
				}
				return "reserved", nil
			}),
			treg.AddOrchestrator("Retrying", func(ctx *task.OrchestrationContext) (any, error) {
				return nil, ctx.CallActivity("Busy", nil, retry).Await(nil)
			}))
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Open(ctx, client.Config{ConnectionString: storage, HubName: a.Hub.Name()})
	if err != nil {
		t.Fatal(err)
	}
	finish := func(name, id string, input any) *client.Status {
		t.Helper()
		if _, err := c.StartNew(ctx, name, input, client.StartOptions{InstanceID: id}); err != nil {
			t.Fatal(err)
		}
		st, err := c.WaitForCompletion(ctx, id, 100*time.Millisecond)
		if err != nil || st.RuntimeStatus != client.StatusFailed || st.FailureDetails == nil {
			t.Fatalf("%s: %+v, %v", id, st, err)
		}
		return st
	}

	// The Go client.
	order := finish("Order", "order-1", nil)
	fd := order.FailureDetails
	wantTop := `order 7: activity "Reserve" (task 0) failed: OutOfStock: reserve A-1: out of stock`
	var output string
	if err := json.Unmarshal(order.Output, &output); err != nil || fd.ErrorType != "TaskFailedError" ||
		fd.ErrorMessage != wantTop || fd.IsNonRetriable || output != "TaskFailedError: "+wantTop {
		t.Errorf("order's failure %s, output %s (%v)", fd.ErrorType, order.Output, err)
	}
	inner := fd.InnerFailure
	if inner == nil || inner.ErrorType != "OutOfStock" || inner.ErrorMessage != "reserve A-1: out of stock" ||
		!inner.IsNonRetriable || inner.Properties["sku"] != "A-1" || inner.Properties["available"] != float64(0) ||
		inner.InnerFailure == nil || inner.InnerFailure.ErrorType != "error" || inner.InnerFailure.ErrorMessage != "out of stock" {
		t.Errorf("the activity's failure: %+v", inner)
	}
	if n := reserves.Load(); n != 1 {
		t.Errorf("a non-retriable failure ran the activity %d times, want once", n)
	}

	retried := finish("Retrying", "retrying-1", nil)
	if n := busies.Load(); n != 3 {
		t.Errorf("a retriable failure ran the activity %d times, want all 3 attempts", n)
	}
	if in := retried.FailureDetails.InnerFailure; in == nil || in.ErrorType != "context.DeadlineExceeded" ||
		in.ErrorMessage != "busy: context deadline exceeded" || in.IsNonRetriable {
		t.Errorf("retried failure %+v", in)
	}

	bad := finish("FanOutFanIn", "bad-input-1", "many")
	if bad.FailureDetails.ErrorType != "*json.UnmarshalTypeError" || !bad.FailureDetails.IsNonRetriable ||
		!strings.HasPrefix(string(bad.Output), `"*json.UnmarshalTypeError: FanOutFanIn wants an integer input: `) {
		t.Errorf("bad input: %+v, output %s", bad.FailureDetails, bad.Output)
	}

	// The HTTP API over the same hub: the output is the failure's text,
	// the history carries the details with the additions.
	api, err := httpapi.New(httpapi.Config{Client: a.Client, HubName: a.Hub.Name(), ConnectionName: "AzureWebJobsStorage"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/durabletask/instances/order-1?showHistory=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		RuntimeStatus string `json:"runtimeStatus"`
		Output        string `json:"output"`
		HistoryEvents []struct {
			EventType      string
			FailureDetails *client.FailureDetails
		} `json:"historyEvents"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status: %d, %v", resp.StatusCode, err)
	}
	if body.RuntimeStatus != "Failed" || body.Output != "TaskFailedError: "+wantTop {
		t.Errorf("HTTP status %+v", body)
	}
	var taskFailed, completed *client.FailureDetails
	for _, e := range body.HistoryEvents {
		switch e.EventType {
		case "TaskFailed":
			taskFailed = e.FailureDetails
		case "ExecutionCompleted":
			completed = e.FailureDetails
		}
	}
	if taskFailed == nil || taskFailed.ErrorType != "OutOfStock" || !taskFailed.IsNonRetriable || taskFailed.Properties["sku"] != "A-1" {
		t.Errorf("TaskFailed's details in the HTTP history: %+v", taskFailed)
	}
	if completed == nil || completed.ErrorType != "TaskFailedError" || completed.InnerFailure == nil ||
		completed.InnerFailure.ErrorType != "OutOfStock" || !completed.InnerFailure.IsNonRetriable {
		t.Errorf("ExecutionCompleted's details in the HTTP history: %+v", completed)
	}
	// The merged rows: one attempt (the failed one), no retry timer.
	attempts, timers := 0, 0
	for _, e := range body.HistoryEvents {
		switch e.EventType {
		case "TaskFailed":
			attempts++
		case "TimerCreated", "TimerFired":
			timers++
		}
	}
	if attempts != 1 || timers != 0 {
		t.Errorf("%d activity attempts and %d timer events in the HTTP history, want 1 and 0", attempts, timers)
	}
}
