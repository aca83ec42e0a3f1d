package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

const cities5 = `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`

// A Pending row whose start message never made it (the client died in
// between): the worker finds it and runs it, and a retry of the same start
// is not refused meanwhile.
func TestLostStartIsRunAndItsRetryIsAccepted(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	now := time.Now().UTC()
	row := &layout.InstanceRow{InstanceID: "lost-start", Name: "HelloCities5", ExecutionID: strings.ReplaceAll(uuid.NewString(), "-", ""),
		RuntimeStatus: history.StatusPending, CreatedTime: now, LastUpdatedTime: now, TaskHubName: a.Hub.Name()}
	// As a client's start does: the index row, then the instance row.
	if err := a.Hub.PutIndex(ctx, row.InstanceID, now); err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.InsertInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	// A different start first: once the retry below runs the instance, it
	// may finish at once and then accept any start.
	if _, err := a.Client.StartNew(ctx, "HelloCities5", "other input", client.StartOptions{InstanceID: "lost-start"}); !errors.Is(err, client.ErrWrongState) {
		t.Fatalf("a different start with the same ID: %v, want ErrWrongState", err)
	}
	if _, err := a.Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: "lost-start"}); err != nil {
		t.Fatalf("retrying the start of a Pending instance: %v", err)
	}
	expectCompleted(t, a.wait(t, ctx, "lost-start"), cities5)

	// Without any retry: the sweep (every 2 × the 6 s lease) finds it.
	row.InstanceID, row.ExecutionID = "lost-start-2", strings.ReplaceAll(uuid.NewString(), "-", "")
	if err := a.Hub.PutIndex(ctx, row.InstanceID, now); err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.InsertInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	expectCompleted(t, a.wait(t, ctx, "lost-start-2"), cities5)
	hs, err := a.Hub.LoadHistory(ctx, "lost-start")
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, e := range hs.Events {
		if e.Type == history.ExecutionStarted {
			starts++
		}
	}
	if starts != 1 {
		t.Fatalf("%d ExecutionStarted events", starts)
	}
}

// The task hub deleted under a running app: the worker creates it again,
// and an instance started afterwards runs at once.
func TestHubDeletedUnderRunningApp(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := a.Client.DeleteTaskHub(ctx, nil); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	var id string
	for {
		var err error
		id, err = a.Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{})
		if err == nil {
			break
		}
		if time.Since(started) > 20*time.Second {
			t.Fatalf("no start accepted within 20 s of deleting the hub: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	expectCompleted(t, a.wait(t, ctx, id), cities5)
	if d := time.Since(started); d > 30*time.Second {
		t.Fatalf("took %s after the hub was deleted", d)
	}
}

// Activities beyond the local backlog go through the shared work-item
// queue when another worker serves the hub, and any worker runs them.
func TestFanOutOverflowsToTheWorkItemQueue(t *testing.T) {
	backlog := withDurable(func(d *config.DurableOptions) { d.MaxLocalActivityBacklog = 2 })
	first := startApp(t, backlog)
	second := startApp(t, backlog, withDurable(func(d *config.DurableOptions) { d.HubName = first.hub }))
	apps := []*testApp{first, second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Both workers must know of each other before the fan-out.
	for deadline := time.Now().Add(20 * time.Second); len(apps[0].Worker.Stats().OwnedPartitions) == 4 || len(apps[1].Worker.Stats().OwnedPartitions) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the partitions were not split")
		}
		time.Sleep(100 * time.Millisecond)
	}
	id, err := apps[0].Client.StartNew(ctx, "FanOutFanIn", 50, client.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := apps[0].Client.WaitForCompletion(ctx, id, 200*time.Millisecond)
	if err != nil || st.RuntimeStatus != history.StatusCompleted {
		t.Fatalf("status %+v, %v", st, err)
	}
	queued := apps[0].Worker.Stats().QueueActivities + apps[1].Worker.Stats().QueueActivities
	if queued == 0 {
		t.Fatal("no activity went through the work-item queue")
	}
}
