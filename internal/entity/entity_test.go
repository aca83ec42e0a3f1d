package entity

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIDs(t *testing.T) {
	id, err := NewID("Counter", "Key@With@Ats")
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != "@counter@Key@With@Ats" {
		t.Fatalf("instance ID %q: the name is lower-cased, the key kept", id.String())
	}
	back, ok := Parse(id.String())
	if !ok || back != id {
		t.Fatalf("Parse(%q) = %+v, %v", id.String(), back, ok)
	}
	for _, bad := range [][2]string{{"", "k"}, {"a@b", "k"}, {"n", "a/b"}, {"n", "a#b"}, {"n", "a\x01"}} {
		if _, err := NewID(bad[0], bad[1]); err == nil {
			t.Errorf("NewID(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, ok := Parse("order-1"); ok {
		t.Error("an orchestration's ID parsed as an entity")
	}
	if Prefix("Counter") != "@counter@" || Prefix("") != "@" {
		t.Error("prefixes")
	}
}

func TestTimesAreWrittenAsDotNetWritesThem(t *testing.T) {
	b, _ := json.Marshal(Time{})
	if string(b) != `"0001-01-01T00:00:00"` {
		t.Fatalf("zero time: %s", b)
	}
	tm := at(time.Date(2026, 12, 6, 10, 11, 12, 123456789, time.UTC))
	b, _ = json.Marshal(tm)
	if string(b) != `"2026-12-06T10:11:12.1234567Z"` {
		t.Fatalf("time: %s", b)
	}
	var back Time
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tm.Time) {
		t.Fatalf("read back %v, %v", back, err)
	}
	for _, s := range []string{`"0001-01-01T00:00:00"`, `"2026-12-06T10:11:12.1234567"`, `"2026-12-06T10:11:12.1234567+00:00"`} {
		if err := json.Unmarshal([]byte(s), &back); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	at, ok := ScheduledAt(ScheduledEventName(tm.Time))
	if !ok || !at.Equal(tm.Time) {
		t.Fatalf("scheduled event name round trip: %v %v", at, ok)
	}
}

// The formats a .NET reader of the hub reads: the core format's state and
// status, with "exists" for readers of the earlier one.
func TestStateAndStatusFormats(t *testing.T) {
	v := `{"value":5}`
	st := &SchedulerState{State: &v}
	if got := st.Encode(); got != `{"exists":true,"state":"{\"value\":5}","sorter":{}}` {
		t.Fatalf("state: %s", got)
	}
	if got := st.Status().Encode(); got != `{"entityExists":true}` {
		t.Fatalf("status: %s", got)
	}
	st.LockedBy = "myorch-1"
	if got := st.Status().Encode(); got != `{"entityExists":true,"lockedBy":"myorch-1"}` {
		t.Fatalf("status: %s", got)
	}
	back, err := DecodeState(`{"state":"{\"value\":5}","sorter":{},"lockedBy":"myorch-1"}`)
	if err != nil || back.State == nil || *back.State != v || back.LockedBy != "myorch-1" || !back.Exists {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	if empty, err := DecodeState(""); err != nil || empty.State != nil {
		t.Fatalf("an entity's first input: %+v, %v", empty, err)
	}
	if _, err := DecodeState("{"); err == nil {
		t.Fatal("a broken state read")
	}
}

// sender is an orchestration or entity sending requests to entities, as
// the engine would: labelled by its sorter.
type sender struct {
	id, execution string
	sorter        Sorter
	n             int
}

func (s *sender) request(to ID, op string, input any, signal bool, now time.Time) Event {
	s.n++
	in, _ := encodeInput(input)
	r := Request{Operation: op, Input: in, ID: fmt.Sprintf("%s-%d", s.id, s.n), Parent: s.id, ParentExecution: s.execution, IsSignal: signal}
	s.sorter.Label(&r, to.String(), now)
	b, _ := json.Marshal(r)
	return Event{Name: EventOperation, Input: string(b)}
}

func clientSignal(op string, input any, id string) Event {
	in, _ := encodeInput(input)
	b, _ := json.Marshal(Request{Operation: op, Input: in, ID: id, IsSignal: true})
	return Event{Name: EventOperation, Input: string(b)}
}

// account is the sample entity: a balance, deposit, withdraw.
func account(ctx *Context) (any, error) {
	var balance int
	if err := ctx.State(&balance); err != nil {
		return nil, err
	}
	var amount int
	if err := ctx.Input(&amount); err != nil {
		return nil, err
	}
	switch ctx.Operation() {
	case "deposit":
		return nil, ctx.SetState(balance + amount)
	case "withdraw":
		if amount > balance {
			return nil, fmt.Errorf("balance %d is less than %d", balance, amount)
		}
		return nil, ctx.SetState(balance - amount)
	case "balance":
		return balance, nil
	}
	return nil, ErrUnknownOperation
}

func ids(prefix string) func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
}

func response(t *testing.T, step *Step, requestID string) Response {
	t.Helper()
	for _, m := range step.Messages {
		if m.Name == requestID {
			var r Response
			if err := json.Unmarshal([]byte(m.Input), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no response to %s among %+v", requestID, step.Messages)
	return Response{}
}

func TestOperationsRunInOrderAndFailuresChangeNothing(t *testing.T) {
	id, _ := NewID("Account", "a")
	orch := &sender{id: "transfer-1", execution: "e1"}
	now := time.Now()
	st := &SchedulerState{}
	step := Process(id, st, []Event{
		clientSignal("deposit", 10, "c1"),
		orch.request(id, "withdraw", 25, false, now),
		orch.request(id, "balance", nil, false, now),
		orch.request(id, "withdraw", 4, true, now),
		orch.request(id, "balance", nil, false, now),
	}, account, now, ids("x"), 0)
	if step.Ran != 5 || step.Failed != 1 {
		t.Fatalf("ran %d, failed %d", step.Ran, step.Failed)
	}
	if r := response(t, step, "transfer-1-1"); !r.Failed() || !strings.Contains(r.ErrorMessage, "less than 25") {
		t.Fatalf("the failing withdraw's response: %+v", r)
	}
	if r := response(t, step, "transfer-1-2"); r.Result == nil || *r.Result != "10" {
		t.Fatalf("balance after a failed withdraw: %+v", r)
	}
	if r := response(t, step, "transfer-1-4"); r.Result == nil || *r.Result != "6" {
		t.Fatalf("balance after a signalled withdraw: %+v", r)
	}
	for _, m := range step.Messages {
		if m.Name == "transfer-1-3" || m.Name == "c1" {
			t.Fatalf("a signal was answered: %+v", m)
		}
		if m.To == "transfer-1" && m.ToExecution != "e1" {
			t.Fatalf("a response to the wrong execution: %+v", m)
		}
	}
	if st.State == nil || *st.State != "6" {
		t.Fatalf("state %v", st.State)
	}
	// An unknown delete deletes the state; another unknown operation fails.
	step = Process(id, st, []Event{orch.request(id, "frobnicate", nil, false, now), orch.request(id, "delete", nil, true, now)}, account, now, ids("x"), 0)
	if step.Failed != 1 || st.State != nil || st.Status().EntityExists {
		t.Fatalf("after delete: failed %d, state %v", step.Failed, st.State)
	}
}

// A failed or panicking operation's state changes and signals are undone.
func TestFailedOperationSendsNothing(t *testing.T) {
	id, _ := NewID("Fanout", "f")
	other, _ := NewID("Account", "b")
	fn := func(ctx *Context) (any, error) {
		_ = ctx.SetState(ctx.Operation())
		_ = ctx.SignalEntity(other, "deposit", 1)
		switch ctx.Operation() {
		case "fail":
			return nil, errors.New("no")
		case "panic":
			panic("boom")
		}
		return nil, nil
	}
	st := &SchedulerState{}
	now := time.Now()
	step := Process(id, st, []Event{clientSignal("ok", nil, "1"), clientSignal("fail", nil, "2"), clientSignal("panic", nil, "3")}, fn, now, ids("f"), 0)
	if step.Failed != 2 || st.State == nil || *st.State != `"ok"` {
		t.Fatalf("failed %d, state %v", step.Failed, st.State)
	}
	signals := 0
	for _, m := range step.Messages {
		if m.To == other.String() {
			signals++
			var r Request
			_ = json.Unmarshal([]byte(m.Input), &r)
			if r.Parent != id.String() || r.Timestamp.IsZero() || r.ID != "f-1" {
				t.Fatalf("a signal between entities is labelled by its sender: %+v", r)
			}
		}
	}
	if signals != 1 {
		t.Fatalf("%d signals sent, want only the successful operation's", signals)
	}
}

func TestLocks(t *testing.T) {
	a, _ := NewID("Account", "a")
	b, _ := NewID("Account", "b")
	now := time.Now()
	target, lock, err := LockRequest("lock-1", "transfer-1", "e1", []ID{b, a, b})
	if err != nil || target != a.String() || len(lock.LockSet) != 2 || lock.LockSet[0] != a {
		t.Fatalf("lock request to %s: %+v, %v", target, lock, err)
	}
	lb, _ := json.Marshal(lock)
	st := &SchedulerState{}
	// The lock passes from a to b, and b grants it.
	step := Process(a, st, []Event{{Name: EventOperation, Input: string(lb)}}, account, now, ids("a"), 0)
	if st.LockedBy != "transfer-1" || len(step.Messages) != 1 || step.Messages[0].To != b.String() {
		t.Fatalf("a: locked by %q, sent %+v", st.LockedBy, step.Messages)
	}
	stB := &SchedulerState{}
	step = Process(b, stB, []Event{{Name: EventOperation, Input: step.Messages[0].Input}}, account, now, ids("b"), 0)
	if stB.LockedBy != "transfer-1" || len(step.Messages) != 1 || step.Messages[0].To != "transfer-1" || step.Messages[0].Name != "lock-1" ||
		step.Messages[0].ToExecution != "e1" {
		t.Fatalf("b: locked by %q, sent %+v", stB.LockedBy, step.Messages)
	}
	if r := response(t, step, "lock-1"); r.Result == nil || *r.Result != LockGranted {
		t.Fatalf("grant %+v", r)
	}
	// While a is locked, others' requests wait and the holder's run first.
	holder := &sender{id: "transfer-1", execution: "e1"}
	intruder := &sender{id: "other", execution: "x"}
	step = Process(a, st, []Event{intruder.request(a, "deposit", 100, false, now), clientSignal("deposit", 7, "c1"),
		holder.request(a, "deposit", 5, false, now)}, account, now, ids("a"), 0)
	if step.Ran != 1 || st.State == nil || *st.State != "5" || len(st.Queue) != 2 || st.Status().QueueSize != 2 {
		t.Fatalf("while locked: ran %d, state %v, queue %d", step.Ran, st.State, len(st.Queue))
	}
	// A release from someone else changes nothing; the holder's frees it.
	rel := func(parent string) Event {
		b, _ := json.Marshal(Release{Parent: parent, ID: "lock-1"})
		return Event{Name: EventRelease, Input: string(b)}
	}
	step = Process(a, st, []Event{rel("other")}, account, now, ids("a"), 0)
	if st.LockedBy != "transfer-1" || step.Ran != 0 {
		t.Fatal("a release by another instance freed the lock")
	}
	step = Process(a, st, []Event{rel("transfer-1")}, account, now, ids("a"), 0)
	if st.LockedBy != "" || step.Ran != 2 || *st.State != "112" || st.Queue != nil {
		t.Fatalf("after the release: locked by %q, ran %d, state %v", st.LockedBy, step.Ran, *st.State)
	}
}

func TestLongBacklogContinues(t *testing.T) {
	id, _ := NewID("Account", "a")
	var events []Event
	for i := range 7 {
		events = append(events, clientSignal("deposit", 1, fmt.Sprint(i)))
	}
	st := &SchedulerState{}
	now := time.Now()
	step := Process(id, st, events, account, now, ids("a"), 3)
	if step.Ran != 3 || !st.Suspended || len(st.Queue) != 4 {
		t.Fatalf("ran %d, suspended %v, queue %d", step.Ran, st.Suspended, len(st.Queue))
	}
	cont := step.Messages[len(step.Messages)-1]
	if cont.To != id.String() || cont.Name != EventContinue {
		t.Fatalf("no continue sent: %+v", step.Messages)
	}
	if step = Process(id, st, nil, account, now, ids("a"), 3); step.Ran != 0 {
		t.Fatal("a suspended entity ran without its continue")
	}
	Process(id, st, []Event{{Name: EventContinue}}, account, now, ids("a"), 3)
	Process(id, st, []Event{{Name: EventContinue}}, account, now, ids("a"), 3)
	if *st.State != "7" || st.Suspended {
		t.Fatalf("state %s, suspended %v", *st.State, st.Suspended)
	}
}

func TestScheduledSignals(t *testing.T) {
	id, _ := NewID("Account", "a")
	now := time.Now().UTC()
	due := at(now.Add(time.Hour))
	b, _ := json.Marshal(Request{Operation: "deposit", Input: "3", ID: "s1", IsSignal: true, Due: &due})
	st := &SchedulerState{}
	step := Process(id, st, []Event{{Name: ScheduledEventName(now.Add(time.Hour)), Input: string(b)}}, account, now, ids("a"), 0)
	if step.Ran != 0 || len(step.Messages) != 1 || !step.Messages[0].At.Equal(due.Time) || step.Messages[0].To != id.String() {
		t.Fatalf("an early scheduled signal: ran %d, sent %+v", step.Ran, step.Messages)
	}
	step = Process(id, st, []Event{{Name: step.Messages[0].Name, Input: step.Messages[0].Input}}, account, due.Add(time.Millisecond), ids("a"), 0)
	if step.Ran != 1 || *st.State != "3" {
		t.Fatalf("a due scheduled signal: ran %d", step.Ran)
	}
	if step = Process(id, st, []Event{{Name: EventOperation, Input: "{"}}, account, now, ids("a"), 0); step.Unreadable != 1 {
		t.Fatal("an unreadable request was not counted")
	}
}

// Each sender's requests apply exactly once and in the order it sent them,
// however the queue reorders and repeats their messages and however they
// fall into batches, with the state carried from batch to batch as the
// entity's executions carry it (written and read back).
func TestEachSendersRequestsApplyOnceInOrder(t *testing.T) {
	id, _ := NewID("Log", "k")
	appendOp := func(ctx *Context) (any, error) {
		var log []string
		if err := ctx.State(&log); err != nil {
			return nil, err
		}
		var item string
		if err := ctx.Input(&item); err != nil {
			return nil, err
		}
		return nil, ctx.SetState(append(log, item))
	}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 7))
		now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		var sent []Event
		senders := 1 + rng.IntN(4)
		const perSender = 12
		for s := range senders {
			snd := &sender{id: fmt.Sprint("orch-", s), execution: "e"}
			for i := range perSender {
				now = now.Add(time.Duration(rng.IntN(3)) * time.Millisecond) // clocks that stand still too
				sent = append(sent, snd.request(id, "append", fmt.Sprintf("%d:%02d", s, i), true, now))
			}
		}
		// Reorder, and repeat some messages (a redelivery).
		delivered := slices.Clone(sent)
		for range len(sent) / 3 {
			delivered = append(delivered, sent[rng.IntN(len(sent))])
		}
		rng.Shuffle(len(delivered), func(i, j int) { delivered[i], delivered[j] = delivered[j], delivered[i] })
		input := ""
		for len(delivered) > 0 {
			n := 1 + rng.IntN(min(len(delivered), 6))
			st, err := DecodeState(input)
			if err != nil {
				t.Fatal(err)
			}
			Process(id, st, delivered[:n], appendOp, now, ids("x"), 0)
			input = st.Encode()
			delivered = delivered[n:]
		}
		st, _ := DecodeState(input)
		var log []string
		if st.State != nil {
			_ = json.Unmarshal([]byte(*st.State), &log)
		}
		if len(log) != senders*perSender {
			t.Fatalf("seed %d: %d operations applied, want %d: %v", seed, len(log), senders*perSender, log)
		}
		last := map[string]string{}
		for _, item := range log {
			s, _, _ := strings.Cut(item, ":")
			if item <= last[s] {
				t.Fatalf("seed %d: %s applied after %s", seed, item, last[s])
			}
			last[s] = item
		}
	}
}

// An entity remembers its last operations, failures and locks included,
// and no more than RecentOperations of them.
func TestRecentOperations(t *testing.T) {
	id, _ := NewID("Account", "a")
	orch := &sender{id: "transfer-1", execution: "e1"}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	st := &SchedulerState{}
	var events []Event
	for i := range RecentOperations + 2 {
		events = append(events, clientSignal("deposit", 1, fmt.Sprint("c", i)))
	}
	Process(id, st, events, account, now, ids("x"), 0)
	if len(st.Recent) != RecentOperations {
		t.Fatalf("remembers %d operations, want %d", len(st.Recent), RecentOperations)
	}
	later := now.Add(time.Second)
	lockTarget, lock, err := LockRequest("lock-1", "transfer-1", "e1", []ID{id})
	if err != nil || lockTarget != id.String() {
		t.Fatal(lockTarget, err)
	}
	b, _ := json.Marshal(lock)
	Process(id, st, []Event{orch.request(id, "withdraw", 100, false, later), {Name: EventOperation, Input: string(b)}}, account, later, ids("y"), 0)
	n := len(st.Recent)
	failed, locked := st.Recent[n-2], st.Recent[n-1]
	if failed.Operation != "withdraw" || failed.From != "transfer-1" || failed.Signal || !strings.Contains(failed.Error, "less than 100") ||
		!failed.At.Equal(later) {
		t.Fatalf("the failed withdraw is remembered as %+v", failed)
	}
	if locked.Operation != "" || locked.From != "transfer-1" {
		t.Fatalf("the lock is remembered as %+v", locked)
	}
	if first := st.Recent[0]; first.Operation != "deposit" || !first.Signal || first.From != "" || !first.At.Equal(now) {
		t.Fatalf("the oldest remembered is %+v", first)
	}
	round, err := DecodeState(st.Encode())
	if err != nil || len(round.Recent) != RecentOperations || !round.Recent[0].At.Equal(now) {
		t.Fatalf("decoded %+v: %v", round.Recent, err)
	}
}
