package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durable-go/durable/client"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/task"
)

// The public client's own types carry what the internal client reads:
// statuses, history, failure details, pages and counts, against an app
// running the samples on Azurite.
func TestClientTypesOverStorage(t *testing.T) {
	storage := testutil.Storage(t)
	a := apptest.NewApp(t, apptest.AppOptions{Settings: map[string]string{"AzureWebJobsStorage": storage},
		Register: func(reg *durable.Registry) error {
			treg := taskbridge.Public(reg).(*task.Registry)
			if err := treg.AddActivity("Refuse", func(*task.ActivityContext) (any, error) {
				return nil, errors.New("refused")
			}); err != nil {
				return err
			}
			return treg.AddOrchestrator("Refusing", func(ctx *task.OrchestrationContext) (any, error) {
				return nil, ctx.CallActivity("Refuse", nil).Await(nil)
			})
		}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Open(ctx, client.Config{ConnectionString: storage, HubName: a.Hub.Name()})
	if err != nil {
		t.Fatal(err)
	}

	id, err := c.StartNew(ctx, "HelloWorld", "Tokyo", client.StartOptions{InstanceID: "hello-1"})
	if err != nil || id != "hello-1" {
		t.Fatalf("StartNew: %q, %v", id, err)
	}
	st, err := c.WaitForCompletion(ctx, id, 100*time.Millisecond)
	if err != nil || st.RuntimeStatus != client.StatusCompleted || string(st.Output) != `"Hello Tokyo!"` || st.Name != "HelloWorld" {
		t.Fatalf("WaitForCompletion: %+v, %v", st, err)
	}
	st, err = c.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true, ShowHistoryOutput: true})
	if err != nil || len(st.History) == 0 || string(st.Input) != `"Tokyo"` || st.CreatedTime.IsZero() {
		t.Fatalf("GetStatus with history: %+v, %v", st, err)
	}

	failed, err := c.StartNew(ctx, "Refusing", nil, client.StartOptions{InstanceID: "refusing-1"})
	if err != nil {
		t.Fatal(err)
	}
	st, err = c.WaitForCompletion(ctx, failed, 100*time.Millisecond)
	if err != nil || st.RuntimeStatus != client.StatusFailed || st.FailureDetails == nil ||
		st.FailureDetails.ErrorType != "TaskFailedError" || st.FailureDetails.InnerFailure == nil ||
		st.FailureDetails.InnerFailure.ErrorMessage != "refused" || st.FailureDetails.InnerFailure.ErrorType != "error" {
		t.Fatalf("failed instance: %+v (failure %+v), %v", st, st.FailureDetails, err)
	}

	page, err := c.ListInstances(ctx, client.Query{Statuses: []client.RuntimeStatus{client.StatusFailed}, PageSize: 10})
	if err != nil || len(page.Instances) != 1 || page.Instances[0].InstanceID != failed {
		t.Fatalf("ListInstances: %+v, %v", page, err)
	}
	counts, err := c.CountInstances(ctx, client.Query{})
	if err != nil || counts[client.StatusCompleted] != 1 || counts[client.StatusFailed] != 1 {
		t.Fatalf("CountInstances: %v, %v", counts, err)
	}
	if err := c.TerminateWithOptions(ctx, id, client.TerminateOptions{Reason: "done"}); !errors.Is(err, client.ErrWrongState) {
		t.Fatalf("terminating a finished instance: %v", err)
	}
	err = c.Rewind(ctx, id, "why not")
	var stateErr *client.StateError
	if !errors.Is(err, client.ErrWrongState) || !errors.As(err, &stateErr) || stateErr.Status != client.StatusCompleted ||
		stateErr.Op != "rewind" {
		t.Fatalf("rewinding a completed instance: %v", err)
	}
	if n, err := c.PurgeWithOptions(ctx, id, client.PurgeOptions{Recursive: true}); err != nil || n != 1 {
		t.Fatalf("PurgeWithOptions: %d, %v", n, err)
	}
}
