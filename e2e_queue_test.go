package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQueueFunctions drives the queue-triggered functions through the dev
// host: each acts on the instance its message names, and messages that
// cannot be understood are dropped with a clear error, without retries and
// without touching any instance.
func TestQueueFunctions(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()
	sfx := a.suffix

	// The seed's example: the message is HelloWorld's input.
	a.enqueue("start-queue", "Tokyo", false)
	m := a.waitLog(`Started orchestration with ID = '([0-9a-f]{32})'`, 20*time.Second)
	hello := m[0][1]
	if st := a.waitStatus(hello, "Completed", 20*time.Second); string(st.Output) != `"Hello Tokyo!"` || st.Name != "HelloWorld" {
		t.Fatalf("HelloWorld from start-queue: %+v", st)
	}

	// A start command with a chosen ID, sent as plain (not base64) JSON.
	approve := "q-approve-" + sfx
	a.enqueue("start-queue", `{"functionName":"ApprovalWorkflow","instanceId":"`+approve+`","input":{"order":7}}`, true)
	if st := a.waitStatus(approve, "Running", 20*time.Second); string(st.Input) != `{"order":7}` {
		t.Fatalf("start command: %+v", st)
	}
	a.enqueue("event-queue", `{"instanceId":"`+approve+`","eventName":"Approval","eventData":{"by":"queue"}}`, false)
	if st := a.waitStatus(approve, "Completed", 20*time.Second); string(st.Output) != `{"approved":{"by":"queue"},"saved":true}` {
		t.Fatalf("event from event-queue: %+v", st)
	}

	term := "q-term-" + sfx
	a.enqueue("start-queue", `{"functionName":"ApprovalWorkflow","instanceId":"`+term+`"}`, false)
	a.waitStatus(term, "Running", 20*time.Second)
	a.enqueue("terminate-queue", `{"instanceId":"`+term+`","reason":"stopped by queue"}`, false)
	if st := a.waitStatus(term, "Terminated", 20*time.Second); string(st.Output) != `"stopped by queue"` {
		t.Fatalf("terminate-queue: %+v", st)
	}

	// The seed's bare-ID forms: terminate with the seed's reason, and
	// MyEvent with [1,2,3] (which nothing waits for, so the instance runs on).
	bare := "q-bare-" + sfx
	a.enqueue("start-queue", `{"functionName":"ApprovalWorkflow","instanceId":"`+bare+`"}`, false)
	a.waitStatus(bare, "Running", 20*time.Second)
	a.enqueue("event-queue", bare, false)
	a.waitLog(`Raised event 'MyEvent' on instance '`+bare+`' with data \[1,2,3\]`, 20*time.Second)
	a.enqueue("terminate-queue", bare, false)
	if st := a.waitStatus(bare, "Terminated", 20*time.Second); string(st.Output) != `"It was time to be done."` {
		t.Fatalf("bare terminate: %+v", st)
	}

	a.enqueue("check-status-queue", hello, false)
	a.waitLog(`Instance '`+hello+`' is Completed: \{\\"name\\":\\"HelloWorld\\"`, 20*time.Second)
	a.enqueue("check-status-queue", "q-nobody-"+sfx, false)
	a.waitLog(`No instance with ID 'q-nobody-`+sfx+`' was found`, 20*time.Second)

	a.enqueue("purge-queue", hello, false)
	a.waitLog(`Purged the history of instance '`+hello+`'`, 20*time.Second)
	if _, code := a.status(hello, ""); code != 404 {
		t.Fatalf("purge-queue left the instance: %d", code)
	}

	// Messages that cannot be understood. A running instance must not be
	// touched by any of them.
	keep := "q-keep-" + sfx
	a.enqueue("start-queue", `{"functionName":"ApprovalWorkflow","instanceId":"`+keep+`"}`, false)
	a.waitStatus(keep, "Running", 20*time.Second)
	bad := []struct{ queue, msg, want string }{
		{"terminate-queue", "a/b", `bad instance ID`},
		{"terminate-queue", `{"instanceId":`, `invalid JSON message`},
		{"event-queue", `{"instanceId":"` + keep + `"}`, `eventName is missing`},
		{"rewind-queue", `{"instanceId":"` + keep + `","reson":"typo"}`, `unknown field`},
		{"start-queue", `{"functionName":"NoSuchOrchestrator"}`, `not registered`},
		{"purge-queue", keep, `cannot purge instance`},
		{"rewind-queue", approve, `cannot rewind instance`},
	}
	for _, b := range bad {
		a.enqueue(b.queue, b.msg, false)
	}
	for _, b := range bad {
		a.waitLog(`Error: [^\n]*`+regexp.QuoteMeta(b.want)+`[^\n]*not retried`, 20*time.Second)
	}
	// Let any retry show up before checking there was none.
	time.Sleep(1500 * time.Millisecond)
	if strings.Contains(a.logs.String(), "message will be retried") {
		t.Fatal("a message that cannot be understood was retried")
	}
	for _, q := range []string{"terminate-queue", "event-queue", "rewind-queue", "start-queue", "purge-queue"} {
		if n := a.queueLength(a.queue(q) + "-poison"); n != 0 {
			t.Errorf("%s-poison holds %d messages", q, n)
		}
		if n := a.queueLength(a.queue(q)); n != 0 {
			t.Errorf("%s still holds %d messages", q, n)
		}
	}
	a.waitStatus(keep, "Running", time.Second)
}
