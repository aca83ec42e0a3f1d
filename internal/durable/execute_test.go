package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// driver is an in-memory worker for unit tests: it runs episodes, executes
// activities at once and fires timers by advancing a fake clock.
type driver struct {
	t       *testing.T
	reg     *Registry
	id      string
	past    []history.Event
	inbox   []history.Event
	now     time.Time
	last    *Result
	timers  []Outbound
	sent    []Outbound
	calls   map[string]int
	execIDs []string
	// sess runs every episode a second time, on the parked orchestration,
	// and the two results must agree: every test driven by a driver is also
	// a test that a Session gives what replay gives.
	sess    *Session
	sessReg *Registry
	// replayOnly skips the session, for tests that watch the code's runs
	// (a session does not run the code again).
	replayOnly bool
}

func newDriver(t *testing.T, reg *Registry, name string, input any) *driver {
	in, _ := marshalJSON(input)
	d := &driver{t: t, reg: reg, id: "inst1", now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), calls: map[string]int{}}
	d.inbox = append(d.inbox, history.Event{Type: history.ExecutionStarted, EventID: -1, Name: name, Input: in,
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: d.id, ExecutionID: "exec0"}})
	d.execIDs = []string{"exec0"}
	return d
}

func (d *driver) episode() *Result {
	d.t.Helper()
	d.now = d.now.Add(time.Second)
	ep := Episode{InstanceID: d.id, Past: d.past, New: d.inbox, Now: d.now}
	res := Execute(d.reg, ep, nil)
	if d.sessReg != d.reg {
		// New code is a new process: nothing stays parked across it.
		d.sess.Close()
		d.sess, d.sessReg = nil, d.reg
	}
	if !d.replayOnly {
		var parked *Result
		if d.sess.Live() {
			parked = d.sess.Next(ep)
			if parked == nil {
				d.t.Fatalf("the session lost track of the history (%d events)", len(d.past))
			}
		} else {
			parked, d.sess = Begin(d.reg, ep, nil)
		}
		if a, b := resultJSON(res), resultJSON(parked); a != b {
			d.t.Fatalf("a parked orchestration's episode differs from its replay:\nreplay %s\nparked %s", a, b)
		}
		if !d.sess.Live() {
			d.sess = nil
		}
	}
	d.inbox = nil
	d.past = append(d.past, res.Appended...)
	d.last = res
	for _, o := range res.Outbound {
		switch {
		case o.Kind == ToActivity:
			ev := o.Message.Event
			d.calls[ev.Name]++
			fn, ok := d.reg.Activity(ev.Name)
			if !ok {
				d.t.Fatalf("no activity %q", ev.Name)
			}
			out, fd := RunActivity(fn, NewActivityContext(context.Background(), ev.Name, d.id, ev.EventID, ev.Input, nil))
			if fd != nil {
				d.inbox = append(d.inbox, history.Event{Type: history.TaskFailed, EventID: -1, TaskScheduledID: ev.EventID,
					Reason: fd.ErrorMessage, FailureDetails: fd})
			} else {
				d.inbox = append(d.inbox, history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: ev.EventID, Result: out})
			}
		case o.Message.Event.Type == history.TimerFired:
			d.timers = append(d.timers, o)
		default:
			d.sent = append(d.sent, o)
		}
	}
	if res.ContinueAsNew != nil {
		exec := fmt.Sprintf("exec%d", len(d.execIDs))
		d.execIDs = append(d.execIDs, exec)
		d.past = nil
		d.inbox = append(NewExecutionEvents(res, d.id, exec, d.now), d.inbox...)
	}
	return res
}

// run loops episodes until the orchestration is done or stalls, firing due
// timers when nothing else is left.
func (d *driver) run() *Result {
	d.t.Helper()
	for i := 0; i < 1000; i++ {
		res := d.episode()
		if res.Status.IsTerminal() {
			return res
		}
		if len(d.inbox) == 0 {
			if len(d.timers) == 0 {
				return res
			}
			tm := d.timers[0]
			d.timers = d.timers[1:]
			if tm.VisibleAt.After(d.now) {
				d.now = tm.VisibleAt
			}
			d.inbox = append(d.inbox, tm.Message.Event)
		}
	}
	d.t.Fatal("orchestration did not settle")
	return nil
}

// resultJSON is a result as JSON, with the stack traces of panics left
// out (they name goroutines) and the stored-only fields of events put in.
func resultJSON(r *Result) string {
	type stored struct {
		history.Event
		MessageID    string
		CustomStatus *string
	}
	var evs []stored
	for _, e := range r.Appended {
		evs = append(evs, stored{e, e.MessageID, e.CustomStatus})
	}
	var sent []string
	for _, o := range r.Outbound {
		sent = append(sent, o.Message.Event.MessageID)
	}
	b, _ := json.MarshalIndent(struct {
		*Result
		Appended []stored
		SentIDs  []string
	}{r, evs, sent}, "", " ")
	return regexp.MustCompile(`"StackTrace": "[^"]*"`).ReplaceAllString(string(b), `"StackTrace": "…"`)
}

func sayHello(ctx *ActivityContext) (any, error) {
	var name string
	if err := ctx.GetInput(&name); err != nil {
		return nil, err
	}
	return "Hello " + name + "!", nil
}

func newTestRegistry(t *testing.T) *Registry {
	reg := NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.AddActivity("SayHello", sayHello))
	must(reg.AddOrchestrator("Sequence", func(ctx *OrchestrationContext) (any, error) {
		var out []string
		for _, c := range []string{"Tokyo", "Seattle", "London"} {
			var s string
			if err := ctx.CallActivity("SayHello", c).Await(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}))
	return reg
}

func TestSequenceReplaysToOutput(t *testing.T) {
	d := newDriver(t, newTestRegistry(t), "Sequence", nil)
	res := d.run()
	if res.Status != history.StatusCompleted {
		t.Fatalf("status %s, output %s", res.Status, res.Output)
	}
	if want := `["Hello Tokyo!","Hello Seattle!","Hello London!"]`; res.Output != want {
		t.Fatalf("output %s, want %s", res.Output, want)
	}
	if d.calls["SayHello"] != 3 {
		t.Fatalf("activity ran %d times, want 3", d.calls["SayHello"])
	}
	var types []string
	for _, e := range d.past {
		types = append(types, e.Type.String())
	}
	want := "OrchestratorStarted ExecutionStarted TaskScheduled OrchestratorCompleted " +
		"OrchestratorStarted TaskCompleted TaskScheduled OrchestratorCompleted " +
		"OrchestratorStarted TaskCompleted TaskScheduled OrchestratorCompleted " +
		"OrchestratorStarted TaskCompleted ExecutionCompleted OrchestratorCompleted"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
}

func TestFanOutFanIn(t *testing.T) {
	reg := newTestRegistry(t)
	_ = reg.AddOrchestrator("Fan", func(ctx *OrchestrationContext) (any, error) {
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, err
		}
		tasks := make([]Task, n)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("SayHello", fmt.Sprint(i))
		}
		if err := ctx.WhenAll(tasks...).Await(nil); err != nil {
			return nil, err
		}
		out := make([]string, n)
		for i, tk := range tasks {
			if err := tk.Await(&out[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	d := newDriver(t, reg, "Fan", 100)
	res := d.run()
	var out []string
	if err := json.Unmarshal([]byte(res.Output), &out); err != nil || len(out) != 100 || out[99] != "Hello 99!" {
		t.Fatalf("status %s output %.100s err %v", res.Status, res.Output, err)
	}
}

func TestEventBeforeWaitIsKept(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Wait", func(ctx *OrchestrationContext) (any, error) {
		if err := ctx.Sleep(time.Minute); err != nil {
			return nil, err
		}
		var v any
		err := ctx.WaitForExternalEvent("Approval").Await(&v)
		return v, err
	})
	d := newDriver(t, reg, "Wait", nil)
	d.inbox = append(d.inbox, history.Event{Type: history.EventRaised, EventID: -1, Name: "approval", Input: `true`})
	res := d.run()
	if res.Status != history.StatusCompleted || res.Output != "true" {
		t.Fatalf("status %s output %q", res.Status, res.Output)
	}
}

func TestWaitForEventTimesOut(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Wait", func(ctx *OrchestrationContext) (any, error) {
		err := ctx.WaitForExternalEvent("Approval", WithTimeout(time.Hour)).Await(nil)
		if errors.Is(err, ErrTimedOut) {
			return "timeout", nil
		}
		return "event", err
	})
	d := newDriver(t, reg, "Wait", nil)
	res := d.run()
	if res.Output != `"timeout"` {
		t.Fatalf("output %q", res.Output)
	}
}

func TestRetryPolicyRetriesFlakyActivity(t *testing.T) {
	reg := NewRegistry()
	attempts := 0
	_ = reg.AddActivity("Flaky", func(ctx *ActivityContext) (any, error) {
		attempts++
		if attempts < 3 {
			return nil, fmt.Errorf("transient failure %d", attempts)
		}
		return attempts, nil
	})
	_ = reg.AddOrchestrator("Retry", func(ctx *OrchestrationContext) (any, error) {
		var n int
		err := ctx.CallActivity("Flaky", nil, WithRetry(RetryPolicy{MaxAttempts: 5, FirstRetryInterval: time.Second,
			BackoffCoefficient: 2})).Await(&n)
		return n, err
	})
	d := newDriver(t, reg, "Retry", nil)
	res := d.run()
	if res.Status != history.StatusCompleted || res.Output != "3" {
		t.Fatalf("status %s output %s", res.Status, res.Output)
	}
	var scheduled, timers int
	for _, e := range d.past {
		switch e.Type {
		case history.TaskScheduled:
			scheduled++
		case history.TimerCreated:
			timers++
		}
	}
	if scheduled != 3 || timers != 2 {
		t.Fatalf("scheduled %d timers %d, want 3 and 2", scheduled, timers)
	}
}

type dbError struct{}

func (dbError) Error() string     { return "database is unreachable" }
func (dbError) ErrorType() string { return "DatabaseError" }

func TestUnhandledActivityFailureFailsInstance(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddActivity("Save", func(ctx *ActivityContext) (any, error) { return nil, dbError{} })
	_ = reg.AddOrchestrator("O", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("Save", nil).Await(nil)
	})
	res := newDriver(t, reg, "O", nil).run()
	if res.Status != history.StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	if res.Failure.InnerFailure == nil || res.Failure.InnerFailure.ErrorType != "DatabaseError" ||
		!strings.Contains(res.Output, "database is unreachable") {
		t.Fatalf("failure %+v output %s", res.Failure, res.Output)
	}
}

func TestPanicFailsInstance(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("P", func(ctx *OrchestrationContext) (any, error) { panic("boom") })
	res := newDriver(t, reg, "P", nil).run()
	if res.Status != history.StatusFailed || res.Failure.ErrorMessage != "boom" || res.Failure.StackTrace == "" {
		t.Fatalf("status %s failure %+v", res.Status, res.Failure)
	}
}

func TestNonDeterminismIsDetected(t *testing.T) {
	d := newDriver(t, newTestRegistry(t), "Sequence", nil)
	d.episode() // schedules SayHello #0
	changed := NewRegistry()
	_ = changed.AddActivity("SayBye", sayHello)
	_ = changed.AddActivity("SayHello", sayHello)
	_ = changed.AddOrchestrator("Sequence", func(ctx *OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("SayBye", "x").Await(nil)
	})
	d.reg = changed
	res := d.episode()
	if res.Status != history.StatusFailed || res.Failure.ErrorType != "NonDeterministicOrchestrationError" ||
		!strings.Contains(res.Failure.ErrorMessage, `"SayHello"`) || len(res.Outbound) != 0 {
		t.Fatalf("status %s failure %+v outbound %d", res.Status, res.Failure, len(res.Outbound))
	}
}

func TestContinueAsNewCarriesEvents(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Counter", func(ctx *OrchestrationContext) (any, error) {
		var total int
		_ = ctx.GetInput(&total)
		_ = ctx.SetCustomStatus(total)
		var n int
		if err := ctx.WaitForExternalEvent("Add").Await(&n); err != nil {
			return nil, err
		}
		if n < 0 {
			return total, nil
		}
		// A waiter left pending must not swallow the events carried over.
		ctx.WaitForExternalEvent("Add")
		return nil, ctx.ContinueAsNew(total + n)
	})
	d := newDriver(t, reg, "Counter", 0)
	for _, v := range []string{"1", "2", "3", "-1"} {
		d.inbox = append(d.inbox, history.Event{Type: history.EventRaised, EventID: -1, Name: "Add", Input: v})
	}
	res := d.run()
	if res.Status != history.StatusCompleted || res.Output != "6" || len(d.execIDs) != 4 {
		t.Fatalf("status %s output %s executions %d", res.Status, res.Output, len(d.execIDs))
	}
}

func TestDuplicateAndStaleMessagesAreDropped(t *testing.T) {
	d := newDriver(t, newTestRegistry(t), "Sequence", nil)
	d.episode()
	dup := d.inbox[0]
	d.inbox = append(d.inbox, dup, history.Event{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: 42, Result: `"x"`})
	res := d.episode()
	if res.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", res.Dropped)
	}
	if res := d.run(); res.Status != history.StatusCompleted {
		t.Fatalf("status %s", res.Status)
	}
}

func TestSubOrchestrationAndGUIDsAreDeterministic(t *testing.T) {
	reg := NewRegistry()
	var guids []string
	var replayFlags []bool
	_ = reg.AddOrchestrator("Parent", func(ctx *OrchestrationContext) (any, error) {
		guids = append(guids, ctx.NewGUID().String())
		replayFlags = append(replayFlags, ctx.IsReplaying())
		var out string
		err := ctx.CallSubOrchestrator("Child", "in").Await(&out)
		return out, err
	})
	d := newDriver(t, reg, "Parent", nil)
	d.replayOnly = true
	d.episode()
	if len(d.sent) != 1 || d.sent[0].Message.Event.Type != history.ExecutionStarted ||
		d.sent[0].Message.OrchestrationInstance.InstanceID != "exec0:0" {
		t.Fatalf("sent %+v", d.sent)
	}
	d.inbox = append(d.inbox, history.Event{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, TaskScheduledID: 0, Result: `"child done"`})
	res := d.episode()
	if res.Output != `"child done"` || guids[0] != guids[1] || replayFlags[0] || !replayFlags[1] {
		t.Fatalf("output %s guids %v replay %v", res.Output, guids, replayFlags)
	}
}

func TestTerminateEndsInstance(t *testing.T) {
	d := newDriver(t, newTestRegistry(t), "Sequence", nil)
	d.episode()
	d.inbox = []history.Event{{Type: history.ExecutionTerminated, EventID: -1, Input: `"stop"`}}
	res := d.episode()
	if res.Status != history.StatusTerminated || res.Output != `"stop"` || len(res.Outbound) != 0 {
		t.Fatalf("status %s output %s", res.Status, res.Output)
	}
}
