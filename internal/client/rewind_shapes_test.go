package client_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// brokenKeys holds the keys for which the Flaky activity and the
// CodeFails orchestrator fail: each shape breaks and fixes its own.
var brokenKeys sync.Map

func broken(key string) bool { _, ok := brokenKeys.Load(key); return ok }

// registerShapes adds one orchestrator for each failed shape the engine
// can produce. Each gets its instance ID as the key that Flaky checks;
// children get it as their input.
func registerShapes(reg *durable.Registry) error {
	retry := func(n int) durable.CallOption {
		return durable.WithRetry(durable.RetryPolicy{MaxAttempts: n, FirstRetryInterval: 50 * time.Millisecond})
	}
	flaky := func(ctx *durable.OrchestrationContext, key string, opts ...durable.CallOption) (string, error) {
		var out string
		err := ctx.CallActivity("Flaky", key, opts...).Await(&out)
		return out, err
	}
	keyOf := func(ctx *durable.OrchestrationContext) (string, error) {
		var key string
		err := ctx.GetInput(&key)
		return key, err
	}
	sub := func(ctx *durable.OrchestrationContext, name string, opts ...durable.CallOption) (any, error) {
		var out string
		err := ctx.CallSubOrchestrator(name, ctx.InstanceID(), opts...).Await(&out)
		return "parent of " + out, err
	}
	orchestrators := map[string]durable.OrchestratorFunc{
		"Activity": func(ctx *durable.OrchestrationContext) (any, error) { return flaky(ctx, ctx.InstanceID()) },
		"ActivityRetry": func(ctx *durable.OrchestrationContext) (any, error) {
			return flaky(ctx, ctx.InstanceID(), retry(3))
		},
		"Child": func(ctx *durable.OrchestrationContext) (any, error) {
			key, err := keyOf(ctx)
			if err != nil {
				return nil, err
			}
			out, err := flaky(ctx, key)
			return "child " + out, err
		},
		"Middle": func(ctx *durable.OrchestrationContext) (any, error) {
			key, err := keyOf(ctx)
			if err != nil {
				return nil, err
			}
			var out string
			err = ctx.CallSubOrchestrator("Child", key).Await(&out)
			return "middle " + out, err
		},
		"SubOrchestration": func(ctx *durable.OrchestrationContext) (any, error) { return sub(ctx, "Child") },
		"Nested":           func(ctx *durable.OrchestrationContext) (any, error) { return sub(ctx, "Middle") },
		"SubOrchestrationFixedIDRetry": func(ctx *durable.OrchestrationContext) (any, error) {
			return sub(ctx, "Child", durable.WithInstanceID(ctx.InstanceID()+"-c"), retry(3))
		},
		"SubOrchestrationOwnID": func(ctx *durable.OrchestrationContext) (any, error) {
			return sub(ctx, "Child", durable.WithInstanceID(ctx.InstanceID()+"-c"))
		},
		"FanOut": func(ctx *durable.OrchestrationContext) (any, error) {
			ts := []durable.Task{ctx.CallActivity("Fine", 1), ctx.CallActivity("Flaky", ctx.InstanceID()), ctx.CallActivity("Fine", 3)}
			if err := ctx.WhenAll(ts...).Await(nil); err != nil {
				return nil, err
			}
			var a, c int
			var b string
			if err := errors.Join(ts[0].Await(&a), ts[1].Await(&b), ts[2].Await(&c)); err != nil {
				return nil, err
			}
			return fmt.Sprintf("%d %s %d", a, b, c), nil
		},
		"TimerBefore": func(ctx *durable.OrchestrationContext) (any, error) {
			if err := ctx.Sleep(50 * time.Millisecond); err != nil {
				return nil, err
			}
			return flaky(ctx, ctx.InstanceID())
		},
		// The timer is still waiting when the activity fails, and fires
		// while the instance is Failed, which drops it.
		"TimerInFlight": func(ctx *durable.OrchestrationContext) (any, error) {
			timer := ctx.CreateTimer(ctx.CurrentUTCDateTime().Add(time.Second))
			out, err := flaky(ctx, ctx.InstanceID())
			if err != nil {
				return nil, err
			}
			return out + " after the timer", timer.Await(nil)
		},
		"EventReceived": func(ctx *durable.OrchestrationContext) (any, error) {
			var v string
			if err := ctx.WaitForExternalEvent("Go").Await(&v); err != nil {
				return nil, err
			}
			out, err := flaky(ctx, ctx.InstanceID())
			return v + " " + out, err
		},
		"EventTimedOut": func(ctx *durable.OrchestrationContext) (any, error) {
			err := ctx.WaitForExternalEvent("Never", durable.WithTimeout(50*time.Millisecond)).Await(nil)
			if !errors.Is(err, durable.ErrTimedOut) {
				return nil, fmt.Errorf("the wait ended with %v", err)
			}
			out, err := flaky(ctx, ctx.InstanceID())
			return "timed out, " + out, err
		},
		"ContinueAsNew": func(ctx *durable.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.GetInput(&n); err != nil {
				return nil, err
			}
			if n < 2 {
				return nil, ctx.ContinueAsNew(n + 1)
			}
			out, err := flaky(ctx, ctx.InstanceID())
			return fmt.Sprintf("generation %d %s", n, out), err
		},
		// Fails in its own code, with no failed step: a rewind replays it.
		"CodeFails": func(ctx *durable.OrchestrationContext) (any, error) {
			if _, err := flaky(ctx, "never broken"); err != nil {
				return nil, err
			}
			if broken(ctx.InstanceID()) {
				return nil, errors.New("a setting is wrong")
			}
			return "code fixed", nil
		},
		// Its child waits for "Finish"; it fails while the child runs.
		"ChildInFlight": func(ctx *durable.OrchestrationContext) (any, error) {
			child := ctx.CallSubOrchestrator("WaitChild", nil, durable.WithInstanceID(ctx.InstanceID()+"-c"))
			if _, err := flaky(ctx, ctx.InstanceID()); err != nil {
				return nil, err
			}
			var out string
			err := child.Await(&out)
			return "parent of " + out, err
		},
		"WaitChild": func(ctx *durable.OrchestrationContext) (any, error) {
			var v string
			err := ctx.WaitForExternalEvent("Finish").Await(&v)
			return "child " + v, err
		},
	}
	var errs []error
	for name, fn := range orchestrators {
		errs = append(errs, reg.AddOrchestrator(name, fn))
	}
	errs = append(errs,
		reg.AddActivity("Flaky", func(ctx *durable.ActivityContext) (any, error) {
			var key string
			if err := ctx.GetInput(&key); err != nil {
				return nil, err
			}
			if broken(key) {
				return nil, fmt.Errorf("%s is broken", key)
			}
			return "ok", nil
		}),
		reg.AddActivity("Fine", func(ctx *durable.ActivityContext) (any, error) {
			var n int
			err := ctx.GetInput(&n)
			return n, err
		}))
	return errors.Join(errs...)
}

// rewindShape is one failed shape: the orchestrator to start, what
// happens before it fails and while it is Failed, and how the rewind ends.
type rewindShape struct {
	name  string
	orch  string
	input any
	// running runs once the instance runs, before it fails.
	running func(t *testing.T, c *client.Client, id string)
	// failed runs while the instance is Failed, before the rewind.
	failed func(t *testing.T, c *client.Client, id string)
	// rewound runs after the rewind.
	rewound func(t *testing.T, c *client.Client, id string)
	// refused, when set, is the error the rewind must return (leaving the
	// instance as it was); else it must complete with output want.
	refused error
	want    string
}

// TestRewindEveryFailedShape rewinds one instance of every failed shape
// the engine can produce and checks that each completes (or, for a child
// that can never answer, that the rewind is refused and changes nothing),
// and that the rewound history replays deterministically.
func TestRewindEveryFailedShape(t *testing.T) {
	ctx := context.Background()
	a := apptest.NewApp(t, apptest.AppOptions{Register: registerShapes,
		Durable: func(d *config.DurableOptions) { d.MaxQueuePollingInterval = 200 * time.Millisecond }})
	raise := func(target, event, data string) func(t *testing.T, c *client.Client, id string) {
		return func(t *testing.T, c *client.Client, id string) {
			if target != "" {
				id += target
			}
			waitStatus(t, c, id, history.StatusRunning)
			if err := c.RaiseEvent(ctx, id, event, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	shapes := []rewindShape{
		{name: "activity", orch: "Activity", want: `"ok"`},
		{name: "activity with retries", orch: "ActivityRetry", want: `"ok"`},
		{name: "sub-orchestration", orch: "SubOrchestration", want: `"parent of child ok"`},
		{name: "nested sub-orchestrations", orch: "Nested", want: `"parent of middle child ok"`},
		{name: "sub-orchestration with its own ID and retries", orch: "SubOrchestrationFixedIDRetry", want: `"parent of child ok"`},
		{name: "purged sub-orchestration", orch: "SubOrchestrationOwnID", want: `"parent of child ok"`,
			failed: func(t *testing.T, c *client.Client, id string) {
				if err := c.Purge(ctx, id+"-c"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "fan-out", orch: "FanOut", want: `"1 ok 3"`},
		{name: "timer before the failure", orch: "TimerBefore", want: `"ok"`},
		{name: "timer in flight", orch: "TimerInFlight", want: `"ok after the timer"`},
		{name: "event received", orch: "EventReceived", want: `"go ok"`, running: raise("", "Go", "go")},
		{name: "event timed out", orch: "EventTimedOut", want: `"timed out, ok"`},
		{name: "after continue-as-new", orch: "ContinueAsNew", input: 0, want: `"generation 2 ok"`},
		{name: "orchestrator code", orch: "CodeFails", want: `"code fixed"`},
		{name: "child still running", orch: "ChildInFlight", want: `"parent of child late"`,
			rewound: raise("-c", "Finish", "late")},
		{name: "child completed while the parent was failed", orch: "ChildInFlight", want: `"parent of child early"`,
			failed: func(t *testing.T, c *client.Client, id string) {
				raise("-c", "Finish", "early")(t, c, id)
				waitStatus(t, c, id+"-c", history.StatusCompleted)
			}},
		{name: "child terminated while the parent was failed", orch: "ChildInFlight", refused: client.ErrWrongState,
			failed: func(t *testing.T, c *client.Client, id string) {
				waitStatus(t, c, id+"-c", history.StatusRunning)
				if err := c.Terminate(ctx, id+"-c", "not needed"); err != nil {
					t.Fatal(err)
				}
				waitStatus(t, c, id+"-c", history.StatusTerminated)
			}},
	}
	ids := make([]string, len(shapes))
	for i, s := range shapes {
		ids[i] = fmt.Sprintf("shape-%02d", i)
		brokenKeys.Store(ids[i], true)
		if _, err := a.Client.StartNew(ctx, s.orch, s.input, client.StartOptions{InstanceID: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range shapes {
		if s.running != nil {
			s.running(t, a.Client, ids[i])
		}
	}
	for _, id := range ids {
		waitStatus(t, a.Client, id, history.StatusFailed)
	}
	// Let TimerInFlight's timer fire (and be dropped) while it is Failed.
	time.Sleep(1500 * time.Millisecond)
	for i, s := range shapes {
		brokenKeys.Delete(ids[i])
		if s.failed != nil {
			s.failed(t, a.Client, ids[i])
		}
	}
	reg := durable.NewRegistry()
	if err := registerShapes(reg); err != nil {
		t.Fatal(err)
	}
	for i, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			id := ids[i]
			before, err := a.Hub.LoadHistory(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			err = a.Client.Rewind(ctx, id, "fixed")
			if s.refused != nil {
				if !errors.Is(err, s.refused) {
					t.Fatalf("rewind: %v, want %v", err, s.refused)
				}
				after, err := a.Hub.LoadHistory(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(before.Events, after.Events) || before.ETag != after.ETag {
					t.Errorf("a refused rewind changed the history")
				}
				waitStatus(t, a.Client, id, history.StatusFailed)
				return
			}
			if err != nil {
				t.Fatalf("rewind: %v", err)
			}
			if s.rewound != nil {
				s.rewound(t, a.Client, id)
			}
		})
	}
	for i, s := range shapes {
		if s.refused != nil {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			st := waitStatus(t, a.Client, ids[i], history.StatusCompleted)
			if string(st.Output) != s.want {
				t.Errorf("output %s, want %s", st.Output, s.want)
			}
			hs, err := a.Hub.LoadHistory(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := tasktest.Replay(taskbridge.Public(reg).(*task.Registry), hs.Events); err != nil {
				t.Errorf("the rewound history does not replay: %v", err)
			}
		})
	}
}

// TestRewindRepairsAnEarlierBrokenRewind rebuilds issue 18's instance as
// the earlier rewind left it (failed attempts removed, back-off timers
// kept, then Failed with NonDeterministicOrchestrationError on replay) and
// checks that a rewind now brings it to completion.
func TestRewindRepairsAnEarlierBrokenRewind(t *testing.T) {
	ctx := context.Background()
	a := apptest.NewApp(t, apptest.AppOptions{Register: registerShapes,
		Durable: func(d *config.DurableOptions) { d.MaxQueuePollingInterval = 200 * time.Millisecond }})
	id := "broken-by-old-rewind"
	brokenKeys.Store(id, true)
	defer brokenKeys.Delete(id)
	if _, err := a.Client.StartNew(ctx, "ActivityRetry", nil, client.StartOptions{InstanceID: id}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, id, history.StatusFailed)
	brokenKeys.Delete(id)

	// The earlier rewind, as it was: failed attempts, their failures and
	// the failed end become GenericEvents; everything else stays.
	hs, err := a.Hub.LoadHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	failedTasks := map[int]bool{}
	for _, e := range hs.Events {
		if e.Type == history.TaskFailed {
			failedTasks[e.TaskScheduledID] = true
		}
	}
	events := append([]history.Event(nil), hs.Events...)
	for i, e := range events {
		if e.Type == history.TaskFailed || (e.Type == history.TaskScheduled && failedTasks[e.EventID]) ||
			(e.Type == history.ExecutionCompleted && e.OrchestrationStatus == history.StatusFailed) {
			events[i] = history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: e.Timestamp, IsPlayed: true,
				Data: "Rewound: " + e.Type.String()}
		}
	}
	if _, err := a.Hub.WriteHistory(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: hs.ExecutionID, Events: events, ETag: hs.ETag}); err != nil {
		t.Fatal(err)
	}
	pending := history.StatusPending
	if err := a.Hub.PatchInstance(ctx, id, layout.InstancePatch{RuntimeStatus: &pending}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.SendToInstance(ctx, history.MessageTo(id, history.Event{Type: history.GenericEvent, EventID: -1,
		Timestamp: time.Now().UTC(), Data: "Rewind: old"}), time.Time{}); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, a.Client, id, history.StatusFailed)
	if !strings.Contains(string(st.Output), "TimerCreated #1") {
		t.Fatalf("the earlier rewind's replay failed with %s", st.Output)
	}

	if err := a.Client.Rewind(ctx, id, "again, with the fix"); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, a.Client, id, history.StatusCompleted)
	if string(st.Output) != `"ok"` {
		t.Errorf("output %s", st.Output)
	}
}
