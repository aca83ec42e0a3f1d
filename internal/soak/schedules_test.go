package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"testing"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

// TestScheduleUnderKills runs an every-2-seconds schedule (overlap allowAll, so that
// every tick must start a run) while the handler serving it is killed again and again,
// then while the app scales out to two handlers and back in to one. Each tick must start
// exactly one run: the runs' IDs, which name their ticks, must cover every tick from the
// first after the schedule's creation to the last, none twice, no run may start before
// its tick, the schedule must count as many starts, and every run must complete exactly
// once. A kill delays the ticks until the partition is taken over and the dead worker's
// messages come back; the schedule's catch-up (maxCatchup 100: 200 s of ticks) starts
// them then, so none may be missed.
func TestScheduleUnderKills(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	kills := 3
	if sz.full {
		kills = 10
	}
	sz.forSeeds(t, "schedule under kills and scale-out", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 1)
		ctx := context.Background()
		const id, every = "tick", 2 * time.Second
		spec := schedule.Spec{Orchestrator: "HelloWorld", Input: json.RawMessage(`"tick"`), Every: schedule.Duration(every),
			Overlap: schedule.OverlapAllowAll, MaxCatchup: 100}
		if err := s.c.CreateSchedule(ctx, id, spec); err != nil {
			t.Fatal(err)
		}
		// Kills, then 1 → 2 → 1 handlers.
		if err := <-c.chaos(r, kills, minKillGap, maxKillGap); err != nil {
			t.Fatal(err)
		}
		time.Sleep(sz.scalePhase / 2)
		c.mustStart()
		time.Sleep(sz.scalePhase)
		live := c.handlers()
		c.terminate(live[r.IntN(len(live))])
		time.Sleep(sz.scalePhase)
		if err := s.c.PauseSchedule(ctx, id, "end of the soak"); err != nil {
			t.Fatal(err)
		}
		var st *schedule.State
		for deadline := time.Now().Add(sz.deadline); ; time.Sleep(250 * time.Millisecond) {
			var err error
			if st, err = s.c.GetSchedule(ctx, id); err == nil && st.Paused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the schedule did not pause: %+v %v", st, err)
			}
		}
		// A tick in flight when the pause came may have started its run just before.
		time.Sleep(every)
		if st, _ = s.c.GetSchedule(ctx, id); st == nil {
			t.Fatal("the schedule is gone")
		}
		runs, err := s.c.ListInstances(ctx, client.Query{InstanceIDPrefix: id + "-", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var wants []want
		var ticks []time.Time
		var problems []string
		for _, in := range runs.Instances {
			wants = append(wants, wantJSON(in.InstanceID, "HelloWorld", `"Hello tick!"`))
			tick, err := time.Parse("20060102T150405Z", strings.TrimPrefix(in.InstanceID, id+"-"))
			if err != nil {
				problems = append(problems, fmt.Sprintf("run %s names no tick", in.InstanceID))
				continue
			}
			ticks = append(ticks, tick)
			// A scheduled signal may come up to 100 ms early; nothing earlier.
			if in.CreatedTime.Before(tick.Add(-200 * time.Millisecond)) {
				problems = append(problems, fmt.Sprintf("run %s started at %s, before its tick", in.InstanceID, in.CreatedTime))
			}
		}
		slices.SortFunc(ticks, time.Time.Compare)
		if first := st.Spec.Next(st.Created); len(ticks) == 0 || !ticks[0].Equal(first) {
			problems = append(problems, fmt.Sprintf("the first tick after the creation, %s, has no run", first.Format(time.TimeOnly)))
		}
		for i := 1; i < len(ticks); i++ {
			if gap := ticks[i].Sub(ticks[i-1]); gap != every {
				problems = append(problems, fmt.Sprintf("ticks %s and %s are %s apart", ticks[i-1].Format(time.TimeOnly),
					ticks[i].Format(time.TimeOnly), gap))
			}
		}
		if len(ticks) != st.Started || st.Missed != 0 || st.Skipped != 0 {
			problems = append(problems, fmt.Sprintf("%d runs, the schedule counts %d started, %d missed, %d skipped",
				len(ticks), st.Started, st.Missed, st.Skipped))
		}
		tr := s.track(len(wants))
		x := finish(t, s, c, tr, wants, sz.deadline)
		if len(ticks) > 0 {
			x.notes = fmt.Sprintf("%d ticks from %s to %s", len(ticks), ticks[0].Format(time.TimeOnly), ticks[len(ticks)-1].Format(time.TimeOnly))
		}
		if len(problems) > 0 {
			x.verdict.wrong++
			t.Errorf("schedule: %s", strings.Join(problems, "\n"))
		}
		return x
	})
}
