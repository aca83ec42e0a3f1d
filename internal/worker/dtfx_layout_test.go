package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/testutil"
)

// The points where a task hub has to match what the Durable Task
// Framework writes for .NET tools (DTFx itself, Durable Functions Monitor)
// to read it, each checked with the Azure SDK against DTFx's strings.
func TestTaskHubMatchesTheDurableTaskFramework(t *testing.T) {
	a := startApp(t, withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("ParentOfOne", func(ctx *durable.OrchestrationContext) (any, error) {
			var out string
			err := ctx.CallSubOrchestrator("HelloWorld", "child").Await(&out)
			return out, err
		})
		_ = r.AddOrchestrator("Fails", func(ctx *durable.OrchestrationContext) (any, error) {
			return nil, fmt.Errorf("it broke")
		})
	}))
	storage, err := config.OpenStorage(a.settings, "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("sub-orchestration IDs are {parentExecutionId}:{n}", func(t *testing.T) {
		st := a.run(t, "ParentOfOne", nil, client.StartOptions{InstanceID: "parent-1"})
		expectCompleted(t, st, `"Hello child!"`)
		child := st.ExecutionID + ":0"
		if !regexp.MustCompile(`^[0-9a-f]{32}:0$`).MatchString(child) {
			t.Fatalf("child ID %q", child)
		}
		// The child tells its parent before its own row says Completed.
		cst, err := a.Client.WaitForCompletion(ctx, child, 50*time.Millisecond)
		if err != nil || cst.RuntimeStatus != history.StatusCompleted {
			t.Fatalf("child %s: %+v %v", child, cst, err)
		}
	})

	t.Run("a Failed instance's Output is FailureDetails.ToString()", func(t *testing.T) {
		st := a.run(t, "Fails", nil, client.StartOptions{InstanceID: "fails-1"})
		row := tableRows(t, storage.Tables, layout.InstancesTable(a.hub), "PartitionKey eq 'fails-1'")
		if len(row) != 1 || row[0]["Output"] != "error: it broke" {
			t.Fatalf("Output column %q (status %s)", row[0]["Output"], st.RuntimeStatus)
		}
		if st.FailureDetails == nil || st.FailureDetails.ErrorMessage != "it broke" {
			t.Fatalf("failure details %+v", st.FailureDetails)
		}
	})

	t.Run("a Suspended instance's Output is the reason", func(t *testing.T) {
		id, err := a.Client.StartNew(ctx, "ApprovalWorkflow", nil, client.StartOptions{InstanceID: "suspend-layout"})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Client.Suspend(ctx, id, "for maintenance"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			row := tableRows(t, storage.Tables, layout.InstancesTable(a.hub), "PartitionKey eq 'suspend-layout'")
			if len(row) == 1 && row[0]["RuntimeStatus"] == "Suspended" {
				if row[0]["Output"] != "for maintenance" {
					t.Fatalf("Output column %q", row[0]["Output"])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not suspended: %v", row)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = a.Client.Terminate(ctx, id, "done")
	})

	t.Run("large values' blob URLs are escaped per segment", func(t *testing.T) {
		id := "big ^ID 東京"
		big := strings.Repeat("x", 70_000)
		st := a.run(t, "HelloWorld", big, client.StartOptions{InstanceID: id})
		expectCompleted(t, st, `"Hello `+big+`!"`)
		rows := tableRows(t, storage.Tables, layout.InstancesTable(a.hub), "PartitionKey eq '"+layout.EscapePartitionKey(id)+"'")
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		for _, col := range []string{"Input", "Output"} {
			u, _ := rows[0][col].(string)
			parsed, err := url.Parse(u)
			if err != nil || parsed.Scheme != "http" || strings.ContainsAny(u, " ^東") {
				t.Fatalf("%s column %q is not an escaped absolute URL (%v)", col, u, err)
			}
			name, _ := rows[0][col+"BlobName"].(string)
			if !strings.HasSuffix(parsed.EscapedPath(), layout.BlobURLPath(name)) || !strings.HasSuffix(parsed.Path, name) {
				t.Fatalf("%s URL %q does not name blob %q", col, u, name)
			}
		}
	})

	t.Run("queue messages carry Newtonsoft $type names", func(t *testing.T) {
		// A start sent while no worker serves the hub stays in its queue.
		c, other := externalClient(t, testutil.UniqueHubName(t), a.conn)
		id, err := c.StartNew(ctx, "HelloWorld", "x", client.StartOptions{InstanceID: "typed-1"})
		if err != nil {
			t.Fatal(err)
		}
		q := storage.Queues.NewQueueClient(layout.ControlQueue(other.Name(), other.PartitionOf(id)))
		resp, err := q.PeekMessages(ctx, &azqueue.PeekMessagesOptions{})
		if err != nil || len(resp.Messages) != 1 {
			t.Fatalf("peek: %v, %d messages", err, len(resp.Messages))
		}
		text := *resp.Messages[0].MessageText
		for _, want := range []string{`{"$type":"DurableTask.AzureStorage.MessageData",`, `"TaskMessage":{"$type":"DurableTask.Core.TaskMessage",`,
			`"Event":{"$type":"DurableTask.Core.History.ExecutionStartedEvent",`, `"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance",`} {
			if !strings.Contains(text, want) {
				t.Fatalf("message lacks %s:\n%s", want, text)
			}
		}
		var md map[string]any
		if err := json.Unmarshal([]byte(text), &md); err != nil {
			t.Fatal(err)
		}
		if _, err := layout.DecodeMessage(ctx, nil, text); err != nil {
			t.Fatalf("our own decoder: %v", err)
		}

		// DTFx creates the partitions' lease rows with the hub.
		rows := tableRows(t, storage.Tables, layout.PartitionsTable(other.Name()), "")
		if len(rows) != other.PartitionCount() {
			t.Fatalf("%d lease rows in a hub no worker ran, want %d", len(rows), other.PartitionCount())
		}
	})
}
