package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// TestRewindStory is the seed's rewind story: ApprovalWorkflow is approved
// while DatabaseConnection is invalid and fails; the handler restarts with
// a valid setting, the instance is rewound through rewind-queue, and it
// completes without a second approval.
func TestRewindStory(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, map[string]string{"DatabaseConnection": "invalid;Server=nowhere"})
	a.start()
	a.warmUp()

	id := "rewind-" + a.suffix
	a.startInstance("ApprovalWorkflow", id, `{"order":1}`)
	a.waitStatus(id, "Running", 20*time.Second)
	a.expect(202, "POST", "/durabletask/instances/"+id+"/raiseEvent/Approval", `{"by":"alice"}`)
	failed := a.waitStatus(id, "Failed", 20*time.Second)
	if !strings.Contains(string(failed.Output), "DatabaseConnection is invalid") {
		t.Fatalf("failure output %s", failed.Output)
	}
	// Rewind is refused for instances that have not failed: 412 whatever
	// the status, as the current extension answers.
	running := a.startInstance("ApprovalWorkflow", "", "")
	a.waitStatus(running, "Running", 20*time.Second)
	a.expect(412, "POST", "/durabletask/instances/"+running+"/rewind?reason=no", "")
	done := a.startInstance("HelloWorld", "", `"x"`)
	a.waitStatus(done, "Completed", 20*time.Second)
	a.expect(412, "POST", "/durabletask/instances/"+done+"/rewind?reason=no", "")
	a.expect(404, "POST", "/durabletask/instances/nobody-"+a.suffix+"/rewind", "")

	// The operator fixes the setting; the handler restarts with it.
	a.stop()
	a.env["DatabaseConnection"] = "Server=db;Database=approvals"
	a.start()
	a.enqueue("rewind-queue", id, false)
	a.waitLog(`Rewound instance '`+id+`': Orchestrator failed and needs to be revived.`, 30*time.Second)
	st := a.waitStatus(id, "Completed", 30*time.Second)
	if string(st.Output) != `{"approved":{"by":"alice"},"saved":true}` {
		t.Fatalf("output after rewind %s", st.Output)
	}
	st, _ = a.status(id, "?showHistory=true")
	raised, rewound := 0, 0
	for _, raw := range st.HistoryEvents {
		var ev map[string]any
		_ = json.Unmarshal(raw, &ev)
		switch ev["EventType"] {
		case "EventRaised":
			raised++
		case "GenericEvent":
			if d, _ := ev["Data"].(string); strings.HasPrefix(d, "Rewound: ") {
				rewound++
			}
		}
	}
	if raised != 1 || rewound == 0 {
		t.Fatalf("history has %d EventRaised (want 1: no second approval) and %d rewound rows:\n%s", raised, rewound, joinRaw(st.HistoryEvents))
	}
}

// TestPurgeRangeTimerAndDeleteHub purges by created-time range and status
// through the HTTP API, lets the dev host fire PurgeTimer, and finally
// deletes the task hub.
func TestPurgeRangeTimerAndDeleteHub(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, map[string]string{"DatabaseConnection": "invalid", "PurgeTimer__OlderThanDays": "0"})
	a.start()
	a.warmUp() // a Completed HelloWorld before the range
	sfx := a.suffix
	pause := func() time.Time {
		time.Sleep(30 * time.Millisecond)
		now := time.Now().UTC()
		time.Sleep(30 * time.Millisecond)
		return now
	}
	failInstance := func(id string) {
		a.startInstance("ApprovalWorkflow", id, "")
		a.waitStatus(id, "Running", 20*time.Second)
		a.expect(202, "POST", "/durabletask/instances/"+id+"/raiseEvent/Approval", `true`)
		a.waitStatus(id, "Failed", 20*time.Second)
	}

	t0 := pause()
	c1, c2 := a.startInstance("HelloWorld", "c1-"+sfx, `"a"`), a.startInstance("HelloWorld", "c2-"+sfx, `"b"`)
	term := a.startInstance("ApprovalWorkflow", "term-"+sfx, "")
	run := a.startInstance("ApprovalWorkflow", "run-"+sfx, "")
	fail1 := "fail1-" + sfx
	failInstance(fail1)
	a.waitStatus(c1, "Completed", 20*time.Second)
	a.waitStatus(c2, "Completed", 20*time.Second)
	a.waitStatus(run, "Running", 20*time.Second)
	a.waitStatus(term, "Running", 20*time.Second)
	a.expect(202, "POST", "/durabletask/instances/"+term+"/terminate", "")
	a.waitStatus(term, "Terminated", 20*time.Second)
	t1 := pause()
	c3 := a.startInstance("HelloWorld", "c3-"+sfx, `"c"`)
	fail2 := "fail2-" + sfx
	failInstance(fail2)
	a.waitStatus(c3, "Completed", 20*time.Second)

	q := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	a.expect(400, "DELETE", "/durabletask/instances?runtimeStatus=Completed", "")
	body := a.expect(200, "DELETE", "/durabletask/instances?createdTimeFrom="+q(t0)+"&createdTimeTo="+q(t1), "")
	if strings.TrimSpace(string(body)) != `{"instancesDeleted":4}` {
		t.Fatalf("range purge: %s", body)
	}
	for _, id := range []string{c1, c2, term, fail1} {
		if _, code := a.status(id, ""); code != 404 {
			t.Errorf("%s survived the range purge: %d", id, code)
		}
	}
	a.waitStatus(run, "Running", time.Second)
	body = a.expect(200, "DELETE", "/durabletask/instances?createdTimeFrom="+q(t1)+"&runtimeStatus=Failed", "")
	if strings.TrimSpace(string(body)) != `{"instancesDeleted":1}` {
		t.Fatalf("status purge: %s", body)
	}
	a.expect(404, "DELETE", "/durabletask/instances?createdTimeFrom="+q(t1)+"&runtimeStatus=Failed", "")
	a.waitStatus(c3, "Completed", time.Second)

	// PurgeTimer as the dev host fires it (through its admin endpoint, as
	// `func` does): Completed instances older than 0 days go; the Running
	// one stays.
	a.expect(202, "POST", "/admin/functions/PurgeTimer", `{"input":""}`)
	a.waitLog(`Purged 2 instance\(s\) with status Completed created before`, 30*time.Second)
	checkSet(t, "after PurgeTimer", a.listIDsPaged("?top=100", nil), []string{run})

	a.stop()
	if err := a.client().DeleteTaskHub(context.Background(), nil); err != nil {
		t.Fatalf("delete task hub: %v", err)
	}
	if left := a.hubArtifacts(); len(left) > 0 {
		t.Fatalf("left behind after deleting the hub: %v", left)
	}
}

// hubArtifacts lists the tables, queues and containers named after the hub.
func (a *e2eApp) hubArtifacts() []string {
	a.t.Helper()
	ctx := context.Background()
	var left []string
	tables, err := aztables.NewServiceClientFromConnectionString(a.conn, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	tp := tables.NewListTablesPager(nil)
	for tp.More() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			a.t.Fatalf("list tables: %v", err)
		}
		for _, tb := range page.Tables {
			if tb.Name != nil && strings.HasPrefix(strings.ToLower(*tb.Name), strings.ToLower(a.hub)) {
				left = append(left, "table "+*tb.Name)
			}
		}
	}
	prefix := strings.ToLower(a.hub)
	queues, err := azqueue.NewServiceClientFromConnectionString(a.conn, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	qp := queues.NewListQueuesPager(&azqueue.ListQueuesOptions{Prefix: &prefix})
	for qp.More() {
		page, err := qp.NextPage(ctx)
		if err != nil {
			a.t.Fatalf("list queues: %v", err)
		}
		for _, q := range page.Queues {
			left = append(left, "queue "+*q.Name)
		}
	}
	blobs, err := azblob.NewClientFromConnectionString(a.conn, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	cp := blobs.NewListContainersPager(&azblob.ListContainersOptions{Prefix: &prefix})
	for cp.More() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			a.t.Fatalf("list containers: %v", err)
		}
		for _, c := range page.ContainerItems {
			left = append(left, "container "+*c.Name)
		}
	}
	return left
}

// TestScaleFromZero stops the app (scaled to zero), then starts an
// orchestration, raises an event and lets a durable timer come due while
// nothing runs. The wake-up queue holds a message for each; when the app
// runs again, the Wake function gets them and the work completes.
func TestScaleFromZero(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()
	sfx := a.suffix

	// A timer longer than the engine's wake-up threshold (30 s).
	timer := a.startInstance("TimerDemo", "sz-timer-"+sfx, "32")
	waiting := a.startInstance("ApprovalWorkflow", "sz-event-"+sfx, "")
	a.waitStatus(waiting, "Running", 20*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := a.status(timer, "?showHistory=true")
		if strings.Contains(joinRaw(st.HistoryEvents), `"TimerCreated"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TimerDemo created no timer: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dueAt := time.Now().Add(32 * time.Second)
	a.stop()

	c := a.client()
	ctx := context.Background()
	started, err := c.StartNew(ctx, "HelloWorld", json.RawMessage(`"zero"`), clientStartAt(time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RaiseEvent(ctx, waiting, "Approval", json.RawMessage(`"while asleep"`)); err != nil {
		t.Fatal(err)
	}
	// Let the timer come due while nothing runs.
	time.Sleep(time.Until(dueAt) + time.Second)

	want := []string{"event " + waiting, "start " + started, "timer " + timer}
	if got := a.peekWake(); !containsAll(got, want) {
		t.Fatalf("wake-up queue holds %v, want at least %v", got, want)
	}

	a.start()
	for _, w := range want {
		reason, id, _ := strings.Cut(w, " ")
		a.waitLog(`Woke the durable engine \(running\) for instance '`+id+`' \(reason: `+reason+`\)`, 30*time.Second)
	}
	if st := a.waitStatus(started, "Completed", 30*time.Second); string(st.Output) != `"Hello zero!"` {
		t.Fatalf("started while stopped: %+v", st)
	}
	if st := a.waitStatus(waiting, "Completed", 30*time.Second); string(st.Output) != `{"approved":"while asleep","saved":true}` {
		t.Fatalf("event raised while stopped: %+v", st)
	}
	if st := a.waitStatus(timer, "Completed", 30*time.Second); string(st.Output) != `"done"` {
		t.Fatalf("timer due while stopped: %+v", st)
	}
}

// peekWake returns "reason instanceId" for each visible wake-up message.
func (a *e2eApp) peekWake() []string {
	a.t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(a.conn, a.queue("durable-wake"), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	n := int32(32)
	resp, err := q.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		a.t.Fatalf("peek wake-up queue: %v", err)
	}
	var out []string
	for _, m := range resp.Messages {
		text := *m.MessageText
		if b, err := base64.StdEncoding.DecodeString(text); err == nil {
			text = string(b)
		}
		var w struct{ InstanceID, Reason string }
		if err := json.Unmarshal([]byte(text), &w); err != nil {
			a.t.Fatalf("wake-up message %q: %v", text, err)
		}
		out = append(out, w.Reason+" "+w.InstanceID)
	}
	sort.Strings(out)
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !contains(have, w) {
			return false
		}
	}
	return true
}

func joinRaw(list []json.RawMessage) string {
	s := make([]string, len(list))
	for i, r := range list {
		s[i] = string(r)
	}
	return "[" + strings.Join(s, ",") + "]"
}
