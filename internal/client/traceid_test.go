package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/testutil"
)

// TestTraceIDOfTheCurrentExecution: the status's trace ID (without the
// history) is the current execution's, read from its start: at the
// beginning of its history, after a continue-as-new that left longer rows
// of the last execution behind, and from further on when a writer put the
// start past the first rows.
func TestTraceIDOfTheCurrentExecution(t *testing.T) {
	a := newApp(t, testutil.UniqueHubName(t), nil, false)
	defer stop(t, a, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	trace := func(n int) string { return fmt.Sprintf("%032x", 0xa0+n) }
	start := func(id, exec string, n int) history.Event {
		return history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "X", Timestamp: now,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: id, ExecutionID: exec},
			ParentTraceContext:    &history.TraceContext{TraceParent: "00-" + trace(n) + "-b7ad6b7169203331-01"}}
	}
	others := func(n int) []history.Event {
		out := make([]history.Event, n)
		for i := range out {
			out[i] = history.Event{Type: history.EventRaised, EventID: -1, Name: fmt.Sprint("e", i), Timestamp: now}
		}
		return out
	}
	opening := history.Event{Type: history.OrchestratorStarted, EventID: -1, Timestamp: now}
	write := func(id, exec string, etag string, events []history.Event) string {
		t.Helper()
		tag, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: exec, Events: events, ETag: azcore.ETag(etag)})
		if err != nil {
			t.Fatal(err)
		}
		return string(tag)
	}
	for _, c := range []struct {
		id    string
		write func(id string)
		want  int
	}{
		{"at-the-start", func(id string) {
			write(id, "e1", "", append([]history.Event{opening, start(id, "e1", 1)}, others(10)...))
		}, 1},
		{"continued", func(id string) {
			tag := write(id, "e1", "", append([]history.Event{opening, start(id, "e1", 2)}, others(10)...))
			write(id, "e2", tag, []history.Event{opening, start(id, "e2", 3)})
		}, 3},
		{"further-on", func(id string) { write(id, "e1", "", append(others(6), start(id, "e1", 4))) }, 4},
	} {
		c.write(c.id)
		if err := a.Hub.InsertInstance(ctx, &layout.InstanceRow{InstanceID: c.id, Name: "X", ExecutionID: "e1",
			RuntimeStatus: history.StatusRunning, CreatedTime: now, LastUpdatedTime: now}); err != nil {
			t.Fatal(err)
		}
		st, err := a.Client.GetStatus(ctx, c.id, client.StatusOptions{ShowTraceID: true})
		if err != nil {
			t.Fatal(err)
		}
		if st.TraceID != trace(c.want) {
			t.Errorf("%s: trace ID %q, want %q", c.id, st.TraceID, trace(c.want))
		}
	}
}
