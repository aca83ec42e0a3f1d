package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/schedule"
)

// A schedule on storage: every second it starts one run per tick, whose
// ID names the tick; paused it starts none; resumed it goes on; a trigger
// and a backfill start their runs; the schedule learns how each run ended;
// deleted, it is gone and starts nothing more.
func TestSchedulesOnStorage(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	get := func() *schedule.State {
		t.Helper()
		st, err := a.Client.GetSchedule(ctx, "greet")
		if err != nil && !errors.Is(err, client.ErrScheduleNotFound) {
			t.Fatal(err)
		}
		return st
	}
	spec := schedule.Spec{Orchestrator: "HelloWorld", Input: json.RawMessage(`"schedule"`), Every: schedule.Duration(time.Second),
		Overlap: schedule.OverlapAllowAll}
	if err := a.Client.CreateSchedule(ctx, "greet", spec); err != nil {
		t.Fatal(err)
	}
	until("five runs completed", func() bool {
		st := get()
		if st == nil {
			return false
		}
		done := 0
		for _, r := range st.Recent {
			if r.Status == "Completed" {
				done++
			}
		}
		return done >= 5
	})
	st := get()
	var ticks []time.Time
	for _, r := range st.Recent {
		ticks = append(ticks, r.Tick)
		if r.Status != "Completed" {
			continue
		}
		run, err := a.Client.GetStatus(ctx, r.InstanceID, client.StatusOptions{})
		if err != nil || run.RuntimeStatus != history.StatusCompleted || string(run.Output) != `"Hello schedule!"` ||
			run.InstanceID != schedule.RunID("greet", r.Tick, "tick", 0) {
			t.Fatalf("run %+v: %+v %v", r, run, err)
		}
	}
	slices.SortFunc(ticks, time.Time.Compare)
	for i := 1; i < len(ticks); i++ {
		if ticks[i].Sub(ticks[i-1]) != time.Second {
			t.Fatalf("ticks %v are not every second", ticks)
		}
	}

	if err := a.Client.PauseSchedule(ctx, "greet", "quiet please"); err != nil {
		t.Fatal(err)
	}
	until("paused", func() bool { return get().Paused })
	time.Sleep(1500 * time.Millisecond) // a tick in flight may still land
	started := get().Started
	time.Sleep(2 * time.Second)
	if st := get(); st.Started != started || st.Note != "quiet please" || !st.Next.IsZero() {
		t.Fatalf("a paused schedule started %d runs: %+v", st.Started-started, st)
	}
	if err := a.Client.ResumeSchedule(ctx, "greet", ""); err != nil {
		t.Fatal(err)
	}
	until("runs again", func() bool { return get().Started >= started+2 })
	if err := a.Client.PauseSchedule(ctx, "greet", ""); err != nil {
		t.Fatal(err)
	}
	until("paused again", func() bool { return get().Paused })

	// Trigger and backfill, while paused.
	if err := a.Client.TriggerSchedule(ctx, "greet"); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := a.Client.BackfillSchedule(ctx, "greet", from, from.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	until("the trigger and the backfill ran", func() bool {
		n := 0
		for _, r := range get().Recent {
			if (r.Reason == "trigger" || r.Reason == "backfill") && r.Status == "Completed" {
				n++
			}
		}
		return n == 4
	})
	if _, err := a.Client.GetStatus(ctx, "greet-20260101T000001Z-backfill", client.StatusOptions{}); err != nil {
		t.Fatal(err)
	}

	// Bad requests are refused before anything is sent.
	for _, err := range []error{
		a.Client.CreateSchedule(ctx, "bad/id", spec),
		a.Client.CreateSchedule(ctx, "x", schedule.Spec{Orchestrator: "NoSuchOrchestrator", Every: schedule.Duration(time.Minute)}),
		a.Client.CreateSchedule(ctx, "x", schedule.Spec{Orchestrator: "HelloWorld"}),
		a.Client.BackfillSchedule(ctx, "greet", from, from.Add(-time.Second)),
	} {
		if !errors.Is(err, client.ErrBadArgument) {
			t.Fatalf("a bad request: %v", err)
		}
	}
	if err := a.Client.TriggerSchedule(ctx, "nobody"); !errors.Is(err, client.ErrScheduleNotFound) {
		t.Fatalf("trigger of no schedule: %v", err)
	}

	page, err := a.Client.ListSchedules(ctx, 0, "")
	if err != nil || len(page.Schedules) != 1 || page.Schedules[0].ID != "greet" {
		t.Fatalf("list: %+v %v", page, err)
	}
	if err := a.Client.DeleteSchedule(ctx, "greet"); err != nil {
		t.Fatal(err)
	}
	until("deleted", func() bool { return get() == nil })
	list, err := a.Client.ListInstances(ctx, client.Query{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list.Instances {
		if !strings.HasPrefix(in.InstanceID, "greet-") {
			t.Fatalf("an instance that is no run: %s", in.InstanceID)
		}
	}
}

// A schedule declared in host.json is made at start, and runs; declared
// again by a second app instance, it stays as it is.
func TestDeclaredSchedules(t *testing.T) {
	declare := withDurable(func(d *config.DurableOptions) {
		d.Schedules = map[string]schedule.Spec{"declared": {Orchestrator: "HelloWorld", Every: schedule.Duration(time.Second)}}
	})
	a := startApp(t, declare)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var st *schedule.State
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if st, err = a.Client.GetSchedule(ctx, "declared"); err == nil && st.Started >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the declared schedule: %+v %v", st, err)
		}
	}
	created := st.Updated
	startApp(t, declare, withDurable(func(d *config.DurableOptions) { d.HubName = a.hub }))
	time.Sleep(2 * time.Second)
	if st, err := a.Client.GetSchedule(ctx, "declared"); err != nil || !st.Updated.Equal(created) {
		t.Fatalf("declared again, the schedule changed: %+v %v", st, err)
	}
}

// Overlap on storage: terminateOther terminates the run still waiting when
// the next tick comes, and the schedule hears that it ended; skip starts
// nothing while one waits.
func TestScheduleOverlapOnStorage(t *testing.T) {
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, o := range []schedule.Overlap{schedule.OverlapTerminate, schedule.OverlapSkip} {
		id := "waits-" + string(o)
		spec := schedule.Spec{Orchestrator: "ApprovalWorkflow", Every: schedule.Duration(time.Second), Overlap: o}
		if err := a.Client.CreateSchedule(ctx, id, spec); err != nil {
			t.Fatal(err)
		}
		var st *schedule.State
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var err error
			st, err = a.Client.GetSchedule(ctx, id)
			// A run's termination, and the schedule's hearing of it, come
			// after the next run's start.
			terminated := 0
			if st != nil {
				for _, r := range st.Recent {
					if r.Status == "Terminated" {
						terminated++
					}
				}
			}
			if err == nil && (o == schedule.OverlapTerminate && st.Started >= 3 && terminated >= 2 && len(st.Running) == 1 ||
				o == schedule.OverlapSkip && st.Skipped >= 3) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v %v", o, st, err)
			}
		}
		if err := a.Client.PauseSchedule(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if o == schedule.OverlapSkip {
			if st.Started != 1 || len(st.Running) != 1 {
				t.Fatalf("skip: %d started, %d running", st.Started, len(st.Running))
			}
			continue
		}
		// Every run but the last was terminated, and the schedule knows.
		terminated := 0
		for _, r := range st.Recent {
			if r.Status != "Terminated" {
				continue
			}
			terminated++
			run, err := a.Client.GetStatus(ctx, r.InstanceID, client.StatusOptions{})
			if err != nil || run.RuntimeStatus != history.StatusTerminated {
				t.Fatalf("run %s: %+v %v", r.InstanceID, run, err)
			}
		}
		if terminated == 0 || len(st.Running) != 1 {
			t.Fatalf("terminateOther: %d terminated, %d running: %+v", terminated, len(st.Running), st.Recent)
		}
	}
}
