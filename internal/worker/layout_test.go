package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
)

// tableRows reads every row of a table with aztables, the way an outside
// tool would.
func tableRows(t *testing.T, svc *aztables.ServiceClient, table, filter string) []map[string]any {
	t.Helper()
	opts := &aztables.ListEntitiesOptions{}
	if filter != "" {
		opts.Filter = &filter
	}
	pager := svc.NewClient(table).NewListEntitiesPager(opts)
	var rows []map[string]any
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", table, err)
		}
		for _, raw := range page.Entities {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, m)
		}
	}
	return rows
}

func TestTaskHubLayoutIsReadableByOtherTools(t *testing.T) {
	a := startApp(t)
	st := a.run(t, "HelloWorld", "Tokyo", client.StartOptions{InstanceID: "layout^1"})
	expectCompleted(t, st, `"Hello Tokyo!"`)

	storage, err := config.OpenStorage(a.settings, "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, lower := a.hub, strings.ToLower(a.hub)

	tables := map[string]bool{}
	pager := storage.Tables.NewListTablesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range page.Tables {
			tables[*tb.Name] = true
		}
	}
	for _, want := range []string{h + "Instances", h + "History", h + "Partitions"} {
		if !tables[want] {
			t.Errorf("table %s missing", want)
		}
	}
	queues := map[string]bool{}
	qp := storage.Queues.NewListQueuesPager(&azqueue.ListQueuesOptions{Prefix: &lower})
	for qp.More() {
		page, err := qp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range page.Queues {
			queues[*q.Name] = true
		}
	}
	for _, want := range []string{lower + "-control-00", lower + "-control-01", lower + "-control-02", lower + "-control-03", lower + "-workitems"} {
		if !queues[want] {
			t.Errorf("queue %s missing (have %v)", want, queues)
		}
	}
	for _, c := range []string{lower + "-largemessages", lower + "-leases"} {
		if _, err := storage.Blobs.ServiceClient().NewContainerClient(c).GetProperties(ctx, nil); err != nil {
			t.Errorf("container %s: %v", c, err)
		}
	}

	// The instance row.
	inst := tableRows(t, storage.Tables, h+"Instances", "PartitionKey eq 'layout^^1'")
	if len(inst) != 1 {
		t.Fatalf("instance rows: %d", len(inst))
	}
	row := inst[0]
	if row["RowKey"] != "" || row["Name"] != "HelloWorld" || row["RuntimeStatus"] != "Completed" ||
		row["Input"] != `"Tokyo"` || row["Output"] != `"Hello Tokyo!"` || row["CustomStatus"] != "null" ||
		row["TaskHubName"] != h || row["ExecutionId"] == nil {
		t.Errorf("instance row %v", row)
	}
	for _, col := range []string{"CreatedTime", "LastUpdatedTime", "CompletedTime"} {
		if row[col+"@odata.type"] != "Edm.DateTime" {
			t.Errorf("%s is not a DateTime: %v", col, row[col+"@odata.type"])
		}
	}

	// The history rows.
	hist := tableRows(t, storage.Tables, h+"History", "PartitionKey eq 'layout^^1'")
	rowKey := regexp.MustCompile(`^[0-9A-F]{16}$`)
	byType := map[string]map[string]any{}
	var sentinel map[string]any
	for _, r := range hist {
		if r["RowKey"] == "sentinel" {
			sentinel = r
			continue
		}
		if !rowKey.MatchString(fmt.Sprint(r["RowKey"])) {
			t.Errorf("RowKey %v is not 16 upper-case hex digits", r["RowKey"])
		}
		for _, col := range []string{"ExecutionId", "EventId", "IsPlayed", "_Timestamp", "EventType"} {
			if _, ok := r[col]; !ok {
				t.Errorf("row %v lacks %s", r["RowKey"], col)
			}
		}
		if r["ExecutionId"] != row["ExecutionId"] {
			t.Errorf("row %v has ExecutionId %v", r["RowKey"], r["ExecutionId"])
		}
		byType[fmt.Sprint(r["EventType"])] = r
	}
	if sentinel == nil || sentinel["ExecutionId"] != row["ExecutionId"] || sentinel["IsCheckpointComplete"] != true {
		t.Errorf("sentinel %v", sentinel)
	}
	checks := map[string]map[string]any{
		"ExecutionStarted":   {"Name": "HelloWorld", "Input": `"Tokyo"`},
		"TaskScheduled":      {"Name": "SayHello", "Input": `"Tokyo"`, "EventId": float64(0)},
		"TaskCompleted":      {"TaskScheduledId": float64(0), "Result": `"Hello Tokyo!"`},
		"ExecutionCompleted": {"OrchestrationStatus": "Completed", "Result": `"Hello Tokyo!"`},
	}
	for typ, cols := range checks {
		r := byType[typ]
		if r == nil {
			t.Errorf("no %s row", typ)
			continue
		}
		for k, v := range cols {
			if r[k] != v {
				t.Errorf("%s.%s = %#v, want %#v", typ, k, r[k], v)
			}
		}
	}
	var oi map[string]string
	if s, _ := byType["ExecutionStarted"]["OrchestrationInstance"].(string); json.Unmarshal([]byte(s), &oi) != nil || oi["InstanceId"] != "layout^1" {
		t.Errorf("OrchestrationInstance = %v", byType["ExecutionStarted"]["OrchestrationInstance"])
	}
	for _, typ := range []string{"OrchestratorStarted", "OrchestratorCompleted"} {
		if byType[typ] == nil {
			t.Errorf("no %s row", typ)
		}
	}
}

func TestKnownInstanceGoesToItsPartition(t *testing.T) {
	a := startApp(t)
	// Stop the worker so the message stays in its queue to be looked at.
	ctx := context.Background()
	if err := a.Worker.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	const id = "34ce9a28a6834d8492ce6a295f1a80e2"
	if _, err := a.Client.StartNew(ctx, "HelloWorld", "x", client.StartOptions{InstanceID: id}); err != nil {
		t.Fatal(err)
	}
	storage, err := config.OpenStorage(a.settings, "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 4; p++ {
		q := storage.Queues.NewQueueClient(fmt.Sprintf("%s-control-%02d", strings.ToLower(a.hub), p))
		n := int32(32)
		resp, err := q.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range resp.Messages {
			found = found || strings.Contains(*m.MessageText, id)
		}
		if found != (p == 1) {
			t.Errorf("partition %d holds the start message: %v", p, found)
		}
	}
}

func TestUnreadableControlMessageIsPoisoned(t *testing.T) {
	a := startApp(t)
	storage, err := config.OpenStorage(a.settings, "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lower := strings.ToLower(a.hub)
	for p := 0; p < 4; p++ {
		q := storage.Queues.NewQueueClient(fmt.Sprintf("%s-control-%02d", lower, p))
		if _, err := q.EnqueueMessage(ctx, "this is not a task message", nil); err != nil {
			t.Fatal(err)
		}
		a.Worker.Notify(fmt.Sprintf("any-%d", p))
	}
	// The engine keeps working beside the garbage.
	expectCompleted(t, a.run(t, "HelloWorld", "Lima", client.StartOptions{}), `"Hello Lima!"`)
	poison := storage.Queues.NewQueueClient(lower + "-poison")
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := int32(32)
		resp, err := poison.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Messages) == 4 {
			if !strings.Contains(*resp.Messages[0].MessageText, "this is not a task message") ||
				!strings.Contains(*resp.Messages[0].MessageText, "Reason") {
				t.Fatalf("poison message %s", *resp.Messages[0].MessageText)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d poison messages, want 4", len(resp.Messages))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
