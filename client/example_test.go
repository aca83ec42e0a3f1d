package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/durable-go/durable/client"
)

// A program of its own manages a function app's instances with nothing but
// the storage connection.
func ExampleOpen() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true", HubName: "MyHub"})
	if err != nil {
		log.Fatal(err)
	}
	id, err := c.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: "order-42"})
	if err != nil {
		log.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := c.WaitForCompletion(wctx, id, time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.RuntimeStatus, string(st.Output))
}

// Errors tell apart a missing instance, a wrong state and a bad request.
func ExampleClient_Terminate() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true"})
	if err != nil {
		log.Fatal(err)
	}
	err = c.Terminate(ctx, "order-42", "cancelled by the customer")
	switch {
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("no such order")
	case errors.Is(err, client.ErrWrongState):
		fmt.Println("the order already finished")
	case err != nil:
		log.Fatal(err)
	}
}

// Cancelling an order ends its whole tree of sub-orchestrations; once it
// has ended, purging the order removes the tree's history too.
func ExampleClient_TerminateWithOptions() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.TerminateWithOptions(ctx, "order-42", client.TerminateOptions{
		Reason: "cancelled by the customer", Recursive: true}); err != nil {
		log.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.WaitForCompletion(wctx, "order-42", time.Second); err != nil {
		log.Fatal(err)
	}
	n, err := c.PurgeWithOptions(ctx, "order-42", client.PurgeOptions{Recursive: true})
	var incomplete *client.PurgeIncompleteError
	switch {
	case errors.As(err, &incomplete):
		// A sub-orchestration had not ended yet: try again later.
		fmt.Println("purged", n, "still running:", incomplete.Unfinished)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("purged", n, "instances")
	}
}

// The management URLs of an instance, for an outside system that watches
// or signals it; no storage request is needed.
func ExampleClient_CreateHTTPManagementPayload() {
	c, err := client.Open(context.Background(), client.Config{ConnectionString: "UseDevelopmentStorage=true",
		HubName: "MyHub", PartitionCount: 4, BaseURL: "https://myapp.azurewebsites.net"})
	if err != nil {
		log.Fatal(err)
	}
	p := c.CreateHTTPManagementPayload("order-42")
	fmt.Println(p.StatusQueryGetURI)
	fmt.Println(p.SendEventPostURI)
	// Output:
	// https://myapp.azurewebsites.net/durabletask/instances/order-42?taskHub=MyHub&connection=AzureWebJobsStorage
	// https://myapp.azurewebsites.net/durabletask/instances/order-42/raiseEvent/{eventName}?taskHub=MyHub&connection=AzureWebJobsStorage
}

// A bulk operation terminates every running instance whose ID starts with
// "order-", in the function app, and reports how it went.
func ExampleClient_StartBatch() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true", HubName: "MyHub"})
	if err != nil {
		log.Fatal(err)
	}
	id, err := c.StartBatch(ctx, client.BatchRequest{Operation: client.BatchTerminate, Reason: "shop closed",
		Filter: client.Query{InstanceIDPrefix: "order-", Statuses: []client.RuntimeStatus{client.StatusRunning}}})
	if err != nil {
		log.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, err := c.WaitForCompletion(wctx, id, time.Second); err != nil {
		log.Fatal(err)
	}
	_, _, sum, err := c.BatchStatus(ctx, id)
	if err != nil || sum == nil {
		log.Fatalf("bulk operation %s did not complete: %v", id, err)
	}
	fmt.Printf("terminated %d of %d; failures: %v\n", sum.Succeeded, sum.Matched, sum.Errors)
}

// How did yesterday's orders end? A query with a lower time bound reads
// only the instances created in the range, whatever the hub's size.
func ExampleClient_CountInstances() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true"})
	if err != nil {
		log.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	counts, err := c.CountInstances(ctx, client.Query{Names: []string{"ProcessOrder"},
		CreatedFrom: today.Add(-24 * time.Hour), CreatedTo: today})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counts[client.StatusCompleted], "completed,", counts[client.StatusFailed], "failed")
}

// A report every weekday at 09:30 in Paris, never two at once; paused for
// a holiday, then run once by hand.
func ExampleClient_CreateSchedule() {
	ctx := context.Background()
	c, err := client.Open(ctx, client.Config{ConnectionString: "UseDevelopmentStorage=true"})
	if err != nil {
		log.Fatal(err)
	}
	err = c.CreateSchedule(ctx, "daily-report", client.Schedule{Orchestrator: "Report", Input: map[string]string{"format": "pdf"},
		Cron: "0 30 9 * * MON-FRI", TimeZone: "Europe/Paris", Jitter: time.Minute, Overlap: client.OverlapSkip})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.PauseSchedule(ctx, "daily-report", "office closed"); err != nil {
		log.Fatal(err)
	}
	if err := c.TriggerSchedule(ctx, "daily-report"); err != nil {
		log.Fatal(err)
	}
	d, err := c.GetSchedule(ctx, "daily-report")
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range d.Recent {
		fmt.Println(r.InstanceID, r.Status)
	}
}
