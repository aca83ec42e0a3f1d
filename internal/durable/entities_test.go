package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// world runs instances in memory as the worker would, one episode at a
// time, with a queue that may reorder and repeat messages: entities start
// on their first message, every execution's outbound messages go to the
// queue, and a continue-as-new starts the next execution at once.
type world struct {
	t     *testing.T
	reg   *Registry
	now   time.Time
	rng   *rand.Rand
	dup   float64 // chance that a delivered message is delivered again later
	insts map[string]*worldInstance
	queue []worldMessage
	seq   int
}

type worldInstance struct {
	past []history.Event
	exec int
	last *Result
	// sess runs every episode again on the parked orchestration, which
	// must give what replay gives.
	sess *Session
}

type worldMessage struct {
	to string
	ev history.Event
}

func newWorld(t *testing.T, reg *Registry, seed uint64) *world {
	w := &world{t: t, reg: reg, now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(seed, 1)),
		insts: map[string]*worldInstance{}}
	t.Cleanup(func() {
		for _, inst := range w.insts {
			inst.sess.Close()
		}
	})
	return w
}

func (w *world) messageID() string {
	w.seq++
	return fmt.Sprintf("m%d", w.seq)
}

func (w *world) start(id, name string, input any) {
	in, _ := json.Marshal(input)
	w.queue = append(w.queue, worldMessage{to: id, ev: history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: w.now,
		Name: name, Input: string(in), MessageID: w.messageID(),
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: id, ExecutionID: id + "-1"}}})
}

// signal sends a client's signal, as the client writes it.
func (w *world) signal(target entity.ID, op string, input any) {
	in, _ := json.Marshal(input)
	b, _ := json.Marshal(entity.Request{Operation: op, IsSignal: true, Input: string(in), ID: w.messageID()})
	w.queue = append(w.queue, worldMessage{to: target.String(), ev: history.Event{Type: history.EventRaised, EventID: -1,
		Timestamp: w.now, Name: entity.EventOperation, Input: string(b), MessageID: w.messageID()}})
}

// run delivers messages until none is left: each round takes one
// instance's messages from a random place in the queue, in a random
// order, some of them kept to come again.
func (w *world) run() {
	for rounds := 0; len(w.queue) > 0; rounds++ {
		if rounds > 200000 {
			w.t.Fatal("the world did not settle")
		}
		w.now = w.now.Add(time.Millisecond)
		to := w.queue[w.rng.IntN(len(w.queue))].to
		var batch []history.Event
		rest := w.queue[:0:0]
		for _, m := range w.queue {
			if m.to == to && w.rng.Float64() < 0.7 {
				batch = append(batch, m.ev)
				if w.rng.Float64() < w.dup {
					rest = append(rest, m) // delivered again later
				}
				continue
			}
			rest = append(rest, m)
		}
		w.queue = rest
		if len(batch) == 0 {
			continue
		}
		w.rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		w.episode(to, batch)
	}
}

func (w *world) episode(id string, batch []history.Event) {
	for _, e := range batch {
		if entity.IsEntity(id) && (e.Type == history.SubOrchestrationInstanceCompleted || e.Type == history.SubOrchestrationInstanceFailed) {
			w.t.Fatalf("entity %s was told of the end of an orchestration it started: %+v", id, e)
		}
	}
	inst := w.insts[id]
	if inst == nil {
		inst = &worldInstance{}
		w.insts[id] = inst
	}
	if len(inst.past) == 0 {
		started := false
		for i, e := range batch {
			if e.Type == history.ExecutionStarted {
				batch[0], batch[i] = batch[i], batch[0]
				started = true
				break
			}
		}
		if !started {
			if !entity.IsEntity(id) {
				w.t.Fatalf("a message for %s came before its start", id)
			}
			// An entity starts on its first message, as the Durable Task
			// Framework's auto-start does.
			batch = append([]history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: w.now, Name: id,
				OrchestrationInstance: &history.OrchestrationInstance{InstanceID: id, ExecutionID: id + "-1"}}}, batch...)
		}
		inst.exec = 1
	}
	for {
		ep := Episode{InstanceID: id, Past: inst.past, New: batch, Now: w.now}
		res := Execute(w.reg, ep, nil)
		// As the worker does: a session behind the history (an episode of
		// only duplicates is not recorded) gives way to a replay.
		var parked *Result
		if inst.sess.Live() {
			parked = inst.sess.Next(ep)
		}
		if parked == nil {
			inst.sess.Close()
			parked, inst.sess = Begin(w.reg, ep, nil)
		}
		if a, b := resultJSON(res), resultJSON(parked); a != b {
			w.t.Fatalf("%s: a parked episode differs from its replay:\nreplay %s\nparked %s", id, a, b)
		}
		if len(batch) > 0 && res.Dropped == len(batch) {
			return
		}
		inst.past = append(inst.past, res.Appended...)
		inst.last = res
		for _, o := range res.Outbound {
			w.queue = append(w.queue, worldMessage{to: o.Message.OrchestrationInstance.InstanceID, ev: o.Message.Received()})
		}
		if res.ContinueAsNew == nil {
			return
		}
		inst.exec++
		batch = NewExecutionEvents(res, id, fmt.Sprintf("%s-%d", id, inst.exec), w.now)
		inst.past = nil
	}
}

// entityState reads an entity's scheduler state from its current
// execution's input.
func (w *world) entityState(id entity.ID) *entity.SchedulerState {
	inst := w.insts[id.String()]
	if inst == nil {
		return &entity.SchedulerState{}
	}
	for _, e := range inst.past {
		if e.Type == history.ExecutionStarted {
			st, err := entity.DecodeState(e.Input)
			if err != nil {
				w.t.Fatal(err)
			}
			return st
		}
	}
	w.t.Fatalf("%s has no start", id)
	return nil
}

func accountEntity(ctx *entity.Context) (any, error) {
	var balance, amount int
	if err := ctx.State(&balance); err != nil {
		return nil, err
	}
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
	return nil, entity.ErrUnknownOperation
}

type transferInput struct {
	From, To string
	Amount   int
}

// transfer is the sample: it locks two accounts and moves an
// amount between them when the first holds it.
func transfer(ctx *OrchestrationContext) (any, error) {
	var in transferInput
	if err := ctx.GetInput(&in); err != nil {
		return nil, err
	}
	from, to := entity.ID{Name: "account", Key: in.From}, entity.ID{Name: "account", Key: in.To}
	release, err := ctx.LockEntities(from, to)
	if err != nil {
		return nil, err
	}
	defer release()
	var balance int
	if err := ctx.CallEntity(from, "balance", nil).Await(&balance); err != nil {
		return nil, err
	}
	if balance < in.Amount {
		return false, nil
	}
	if err := ctx.CallEntity(from, "withdraw", in.Amount).Await(nil); err != nil {
		return nil, err
	}
	if err := ctx.CallEntity(to, "deposit", in.Amount).Await(nil); err != nil {
		return nil, err
	}
	return true, nil
}

func bankRegistry(t *testing.T) *Registry {
	reg := NewRegistry()
	if err := reg.AddEntity("Account", accountEntity); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddOrchestrator("Transfer", transfer); err != nil {
		t.Fatal(err)
	}
	return reg
}

// Signals from many clients, through a queue that reorders and repeats
// messages, each apply exactly once; transfers between accounts under
// locks keep the total and leave no lock held; all of it with the state
// carried from execution to execution as the worker carries it.
func TestEntitiesThroughAReorderingRepeatingQueue(t *testing.T) {
	for seed := range uint64(8) {
		w := newWorld(t, bankRegistry(t), seed)
		w.dup = 0.2
		const accounts, deposits = 10, 30
		ids := make([]entity.ID, accounts)
		for i := range ids {
			ids[i] = entity.ID{Name: "account", Key: fmt.Sprint(i)}
			for range deposits {
				w.signal(ids[i], "deposit", 1)
			}
		}
		for i := range 25 {
			from, to := w.rng.IntN(accounts), w.rng.IntN(accounts)
			if to == from {
				to = (to + 1) % accounts
			}
			w.start(fmt.Sprint("transfer-", i), "Transfer", transferInput{From: fmt.Sprint(from), To: fmt.Sprint(to), Amount: 1 + w.rng.IntN(40)})
		}
		w.run()
		total, moved := 0, 0
		for _, id := range ids {
			st := w.entityState(id)
			if st.LockedBy != "" || len(st.Queue) > 0 {
				t.Fatalf("seed %d: %s still locked by %q with %d queued", seed, id, st.LockedBy, len(st.Queue))
			}
			var balance int
			if st.State != nil {
				_ = json.Unmarshal([]byte(*st.State), &balance)
			}
			total += balance
		}
		for i := range 25 {
			last := w.insts[fmt.Sprint("transfer-", i)].last
			if last == nil || last.Status != history.StatusCompleted {
				t.Fatalf("seed %d: transfer-%d ended %+v", seed, i, last)
			}
			if last.Output == "true" {
				moved++
			}
		}
		if total != accounts*deposits {
			t.Fatalf("seed %d: the accounts hold %d, want %d", seed, total, accounts*deposits)
		}
		if moved == 0 {
			t.Fatalf("seed %d: no transfer moved anything; the test proves little", seed)
		}
	}
}

// The rules of a critical section, and its locks released when the
// orchestration fails inside it.
func TestCriticalSectionRules(t *testing.T) {
	a, b, c := entity.ID{Name: "account", Key: "a"}, entity.ID{Name: "account", Key: "b"}, entity.ID{Name: "account", Key: "c"}
	reg := bankRegistry(t)
	var broken []string
	_ = reg.AddOrchestrator("Rules", func(ctx *OrchestrationContext) (any, error) {
		bad := entity.ID{Name: "acc@unt", Key: "x"}
		if err := ctx.SignalEntity(bad, "deposit", 1); !errors.Is(err, ErrBadEntityID) {
			broken = append(broken, "signalled a malformed entity ID")
		}
		if err := ctx.CallEntity(bad, "balance", nil).Await(nil); !errors.Is(err, ErrBadEntityID) {
			broken = append(broken, "called a malformed entity ID")
		}
		if _, err := ctx.LockEntities(a, bad); !errors.Is(err, ErrBadEntityID) {
			broken = append(broken, "locked a malformed entity ID")
		}
		// Names are not case sensitive.
		release, err := ctx.LockEntities(entity.ID{Name: "Account", Key: "a"}, b)
		if err != nil {
			return nil, err
		}
		if err := ctx.SignalEntity(a, "deposit", 1); !errors.Is(err, ErrCriticalSection) {
			broken = append(broken, "signalled a locked entity")
		}
		if err := ctx.CallEntity(c, "balance", nil).Await(nil); !errors.Is(err, ErrCriticalSection) {
			broken = append(broken, "called an entity it had not locked")
		}
		if _, err := ctx.LockEntities(c); !errors.Is(err, ErrCriticalSection) {
			broken = append(broken, "nested a critical section")
		}
		if err := ctx.CallSubOrchestrator("Transfer", nil).Await(nil); !errors.Is(err, ErrCriticalSection) {
			broken = append(broken, "started a sub-orchestration")
		}
		if err := ctx.CallEntity(a, "withdraw", 5).Await(nil); err == nil {
			broken = append(broken, "withdrew from an empty account")
		} else if fe := (*EntityOperationFailedError)(nil); !errors.As(err, &fe) || fe.Operation != "withdraw" {
			broken = append(broken, "a failed operation's error: "+err.Error())
		}
		release()
		release() // a second release does nothing
		if err := ctx.SignalEntity(a, "deposit", 2); err != nil {
			broken = append(broken, "could not signal after the release")
		}
		return nil, nil
	})
	_ = reg.AddOrchestrator("FailsInside", func(ctx *OrchestrationContext) (any, error) {
		if _, err := ctx.LockEntities(c); err != nil {
			return nil, err
		}
		return nil, errors.New("gave up")
	})
	w := newWorld(t, reg, 1)
	w.start("rules", "Rules", nil)
	w.start("fails", "FailsInside", nil)
	w.run()
	if len(broken) > 0 {
		t.Fatalf("broken rules: %v", broken)
	}
	if st := w.insts["rules"].last; st.Status != history.StatusCompleted {
		t.Fatalf("rules: %s %s", st.Status, st.Output)
	}
	if st := w.insts["fails"].last; st.Status != history.StatusFailed {
		t.Fatalf("fails: %s", st.Status)
	}
	for _, id := range []entity.ID{a, b, c} {
		if st := w.entityState(id); st.LockedBy != "" {
			t.Fatalf("%s still locked by %s", id, st.LockedBy)
		}
	}
	if st := w.entityState(a); st.State == nil || *st.State != "2" {
		t.Fatalf("a holds %v, want the deposit after the release", st.State)
	}
	// An entity's status, as its custom status shows it to readers.
	if cs := w.insts[a.String()].last.CustomStatus; cs != `{"entityExists":true}` {
		t.Fatalf("custom status %s", cs)
	}
}

// Deferred code that runs while the engine unwinds an orchestration at a
// wait records nothing: only when the code really gets past the wait does
// what it defers happen, once.
func TestDeferredActionsRunOnlyWhenTheCodeReturns(t *testing.T) {
	reg := NewRegistry()
	_ = reg.AddOrchestrator("Defers", func(ctx *OrchestrationContext) (any, error) {
		defer func() { _ = ctx.SendEvent("other", "bye", nil) }()
		return nil, ctx.WaitForExternalEvent("go").Await(nil)
	})
	d := newDriver(t, reg, "Defers", nil)
	if res := d.episode(); len(res.Outbound) != 0 || res.Status != history.StatusRunning {
		t.Fatalf("while waiting: %s, sent %+v", res.Status, res.Outbound)
	}
	d.inbox = append(d.inbox, history.Event{Type: history.EventRaised, EventID: -1, Name: "go", Timestamp: d.now})
	res := d.episode()
	if res.Status != history.StatusCompleted || len(res.Outbound) != 1 || res.Outbound[0].Message.Event.Name != "bye" {
		t.Fatalf("after the event: %s %s, sent %+v", res.Status, res.Output, res.Outbound)
	}
}

// An episode that sent entity requests and was lost (a crash before its
// checkpoint) is redone later, at another time: the requests it sends again
// must be the very same (request IDs, sorter labels and message IDs), since
// the entity keeps the first copy and drops the second by its message ID.
func TestEntityRequestsOfARedoneEpisodeAreTheSame(t *testing.T) {
	reg := bankRegistry(t)
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	in, _ := json.Marshal(transferInput{From: "a", To: "b", Amount: 1})
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Transfer", Input: string(in),
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "t", ExecutionID: "e1"}}
	first := Execute(reg, Episode{InstanceID: "t", New: []history.Event{start}, Now: t0.Add(time.Second)}, nil)
	if len(first.Outbound) != 1 {
		t.Fatalf("first episode sent %d messages", len(first.Outbound))
	}
	var lock entity.Request
	if err := json.Unmarshal([]byte(first.Outbound[0].Message.Event.Input), &lock); err != nil {
		t.Fatal(err)
	}
	grant := history.Event{Type: history.EventRaised, EventID: -1, Timestamp: t0.Add(2 * time.Second), Name: lock.ID,
		Input: `{"result":"Lock Acquisition Completed"}`, MessageID: "grant"}
	sent := func(now time.Time) []string {
		res := Execute(reg, Episode{InstanceID: "t", Past: first.Appended, New: []history.Event{grant}, Now: now}, nil)
		var out []string
		for _, o := range res.Outbound {
			out = append(out, o.Message.Event.MessageID+" "+o.Message.Event.Input)
		}
		return out
	}
	a, b := sent(t0.Add(3*time.Second)), sent(t0.Add(time.Hour))
	if len(a) != 1 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("the redone episode sent\n%s\nthe first attempt\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	// And the same lock request, were the first episode redone.
	again := Execute(reg, Episode{InstanceID: "t", New: []history.Event{start}, Now: t0.Add(time.Minute)}, nil)
	if again.Outbound[0].Message.Event.Input != first.Outbound[0].Message.Event.Input {
		t.Fatalf("a redone first episode locks with\n%s\nthe first attempt with\n%s", again.Outbound[0].Message.Event.Input, first.Outbound[0].Message.Event.Input)
	}
}

// Orchestrations an entity starts start once each, whatever the queue
// repeats or reorders, with the ID given or one the batch fixed; they
// report their end to no one; a failed operation starts nothing.
func TestEntityStartsOrchestrationsOnce(t *testing.T) {
	reg := NewRegistry()
	tally := entity.ID{Name: "tally", Key: "t"}
	if err := reg.AddEntity("Launcher", func(ctx *entity.Context) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		var started []string
		if err := ctx.State(&started); err != nil {
			return nil, err
		}
		id := ""
		if ctx.Operation() == "launch" {
			id = fmt.Sprint("child-", n)
		}
		got, err := ctx.StartNewOrchestration("Child", n, id)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, errors.New("negative: this start must not happen")
		}
		return got, ctx.SetState(append(started, got))
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddEntity("Tally", accountEntity); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddOrchestrator("Child", func(ctx *OrchestrationContext) (any, error) {
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, err
		}
		return n, ctx.SignalEntity(tally, "deposit", n)
	}); err != nil {
		t.Fatal(err)
	}
	launcher := entity.ID{Name: "launcher", Key: "l"}
	for seed := range uint64(8) {
		w := newWorld(t, reg, seed)
		w.dup = 0.3
		want := 0
		for n := 1; n <= 20; n++ {
			op := "launch"
			if n%2 == 0 {
				op = "launch-auto"
			}
			w.signal(launcher, op, n)
			want += n
		}
		w.signal(launcher, "launch", -1)
		w.run()
		var started []string
		if st := w.entityState(launcher); st.State != nil {
			_ = json.Unmarshal([]byte(*st.State), &started)
		}
		if len(started) != 20 {
			t.Fatalf("seed %d: the launcher started %d orchestrations, want 20: %v", seed, len(started), started)
		}
		for _, id := range started {
			inst := w.insts[id]
			if inst == nil || inst.last == nil || inst.last.Status != history.StatusCompleted || inst.exec != 1 {
				t.Fatalf("seed %d: %s ended %+v", seed, id, inst)
			}
		}
		if _, ok := w.insts["child--1"]; ok {
			t.Fatalf("seed %d: a failed operation's start happened", seed)
		}
		var total int
		if st := w.entityState(tally); st.State != nil {
			_ = json.Unmarshal([]byte(*st.State), &total)
		}
		if total != want {
			t.Fatalf("seed %d: the children deposited %d, want %d", seed, total, want)
		}
	}
}

// An entity that asks to be told when what it started ends is told once
// per orchestration, with how it ended; one it terminates ends Terminated.
func TestEntityIsToldWhenItsOrchestrationsEnd(t *testing.T) {
	reg := NewRegistry()
	if err := reg.AddEntity("Keeper", func(ctx *entity.Context) (any, error) {
		var ended []string
		if err := ctx.State(&ended); err != nil {
			return nil, err
		}
		switch ctx.Operation() {
		case "start", "stop":
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			id := fmt.Sprint("w-", n)
			if ctx.Operation() == "stop" {
				return nil, ctx.Terminate(id, "enough")
			}
			_, err := ctx.StartOrchestration(entity.StartOptions{Name: "Waiter", Input: n, InstanceID: id, OnEnd: "ended"})
			return nil, err
		case "ended":
			var e entity.OrchestrationEnded
			if err := ctx.Input(&e); err != nil {
				return nil, err
			}
			return nil, ctx.SetState(append(ended, fmt.Sprintf("%s %s %s", e.InstanceID, e.Status, e.Output)))
		}
		return nil, entity.ErrUnknownOperation
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddOrchestrator("Waiter", func(ctx *OrchestrationContext) (any, error) {
		var n int
		if err := ctx.GetInput(&n); err != nil {
			return nil, err
		}
		return n, ctx.WaitForExternalEvent("go").Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	keeper := entity.ID{Name: "keeper", Key: "k"}
	for seed := range uint64(8) {
		w := newWorld(t, reg, seed)
		w.dup = 0.3
		for n := 1; n <= 3; n++ {
			w.signal(keeper, "start", n)
		}
		w.run()
		w.queue = append(w.queue, worldMessage{to: "w-1", ev: history.Event{Type: history.EventRaised, EventID: -1, Timestamp: w.now,
			Name: "go", MessageID: w.messageID()}})
		w.signal(keeper, "stop", 2)
		w.run()
		var ended []string
		if st := w.entityState(keeper); st.State != nil {
			_ = json.Unmarshal([]byte(*st.State), &ended)
		}
		slices.Sort(ended)
		if got := strings.Join(ended, "; "); got != "w-1 Completed 1; w-2 Terminated " {
			t.Fatalf("seed %d: the keeper was told %q", seed, got)
		}
		if last := w.insts["w-3"].last; last == nil || last.Status != history.StatusRunning {
			t.Fatalf("seed %d: w-3 %+v", seed, last)
		}
	}
}
