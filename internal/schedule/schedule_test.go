package schedule

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func every(d time.Duration) Spec { return Spec{Orchestrator: "Job", Every: Duration(d)} }

func TestIntervalsTickOnTheirGrid(t *testing.T) {
	s := every(2 * time.Second)
	if got := s.Next(t0.Add(500 * time.Millisecond)); !got.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("every 2s after 12:00:00.5: %s", got)
	}
	if got := s.Next(t0); !got.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("strictly after a tick: %s", got)
	}
	h := every(time.Hour)
	if got := h.Next(t0.Add(time.Minute)); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("every 1h ticks on the hour: %s", got)
	}
	// From StartAt, which is itself a tick; none after EndAt.
	s.StartAt, s.EndAt = t0.Add(3*time.Second), t0.Add(7*time.Second)
	var got []string
	for at := t0; ; {
		if at = s.Next(at); at.IsZero() {
			break
		}
		got = append(got, at.Format("05"))
	}
	if strings.Join(got, ",") != "03,05,07" {
		t.Fatalf("ticks %v", got)
	}
}

func TestCronSchedulesInATimeZone(t *testing.T) {
	s := Spec{Orchestrator: "Job", Cron: "0 30 9 * * MON-FRI", TimeZone: "Asia/Tokyo"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// 2026-12-06 is a Sunday; Monday 09:30 in Tokyo is 00:30 UTC.
	if got := s.Next(t0); !got.Equal(time.Date(2026, 12, 7, 0, 30, 0, 0, time.UTC)) {
		t.Fatalf("next %s", got)
	}
	// Across New York's spring change: 02:30 does not exist that day.
	ny := Spec{Orchestrator: "Job", Cron: "0 30 2 * * *", TimeZone: "America/New_York"}
	from := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	first := ny.Next(from)
	second := ny.Next(first)
	if first.Day() != 8 && first.Day() != 9 || !second.Equal(time.Date(2026, 3, 10, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("ticks %s, %s", first, second)
	}
	if first.Day() != 9 || first.Hour() != 6 {
		t.Fatalf("the tick after the spring change: %s", first)
	}
}

func TestSpecsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Every: Duration(time.Second)}, "orchestrator"},
		{Spec{Orchestrator: "J"}, "give cron or every"},
		{Spec{Orchestrator: "J", Cron: "* * * * * *", Every: Duration(time.Minute)}, "not both"},
		{Spec{Orchestrator: "J", Cron: "61 * * * * *"}, "out of range"},
		{Spec{Orchestrator: "J", Every: Duration(time.Millisecond)}, "shorter than"},
		{Spec{Orchestrator: "J", Cron: "0 * * * * *", TimeZone: "Mars/Olympus"}, "timeZone"},
		{Spec{Orchestrator: "J", Every: Duration(time.Minute), TimeZone: "UTC"}, "cron schedules only"},
		{Spec{Orchestrator: "J", Every: Duration(time.Minute), Overlap: "sometimes"}, "overlap"},
		{Spec{Orchestrator: "J", Every: Duration(time.Minute), StartAt: t0, EndAt: t0.Add(-time.Hour)}, "before startAt"},
		{Spec{Orchestrator: "J", Every: Duration(time.Minute), Input: json.RawMessage("{")}, "not valid JSON"},
	} {
		if err := tc.spec.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.spec, err, tc.want)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"1h30m"`), &d); err != nil || time.Duration(d) != 90*time.Minute {
		t.Fatal(d, err)
	}
	if err := json.Unmarshal([]byte(`2.5`), &d); err != nil || time.Duration(d) != 2500*time.Millisecond {
		t.Fatal(d, err)
	}
}

func TestJitterIsBoundedAndRepeatable(t *testing.T) {
	s := every(time.Minute)
	s.Jitter = Duration(10 * time.Second)
	spread := map[time.Duration]bool{}
	for i := range 200 {
		tick := t0.Add(time.Duration(i) * time.Minute)
		at := s.FireAt("nightly", tick)
		if d := at.Sub(tick); d < 0 || d >= 10*time.Second {
			t.Fatalf("jitter %s out of [0, 10s)", d)
		}
		if !at.Equal(s.FireAt("nightly", tick)) {
			t.Fatal("the same tick fired at two times")
		}
		spread[at.Sub(tick).Truncate(time.Second)] = true
	}
	if len(spread) < 8 {
		t.Fatalf("jitter hardly varies: %v", spread)
	}
}

// newState is a schedule created at t0.
func newState(t *testing.T, spec Spec) (*State, Effects) {
	t.Helper()
	st, eff, err := Create(nil, "s", spec, t0)
	if err != nil {
		t.Fatal(err)
	}
	return st, eff
}

func ids(runs []Run) string {
	var out []string
	for _, r := range runs {
		out = append(out, strings.TrimPrefix(r.InstanceID, "s-"))
	}
	return strings.Join(out, ",")
}

func TestTicksStartRunsAndWakeForTheNext(t *testing.T) {
	st, eff := newState(t, every(10*time.Second))
	if !eff.Wake.Equal(t0.Add(10*time.Second)) || !st.Next.Equal(eff.Wake) {
		t.Fatalf("created: wake %s, next %s", eff.Wake, st.Next)
	}
	eff = st.Tick(st.Next, st.Next.Add(20*time.Millisecond))
	if ids(eff.Start) != "20261206T120010Z" || !eff.Wake.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("tick: %+v", eff)
	}
	// The same tick again (a stale signal) does nothing.
	if eff := st.Tick(t0.Add(10*time.Second), t0.Add(11*time.Second)); len(eff.Start) > 0 || !eff.Wake.IsZero() {
		t.Fatalf("a stale tick: %+v", eff)
	}
	// Created again with the same spec: nothing changes; with another,
	// the next tick follows the new spec.
	st2, eff, _ := Create(st, "s", every(10*time.Second), t0.Add(12*time.Second))
	if st2 != st || !eff.Wake.IsZero() {
		t.Fatalf("the same spec again: %+v", eff)
	}
	_, eff, _ = Create(st, "s", every(time.Minute), t0.Add(12*time.Second))
	if !eff.Wake.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a new spec: %+v", eff)
	}
}

func TestOverlapPolicies(t *testing.T) {
	for _, tc := range []struct {
		overlap           Overlap
		started, skipped  string
		terminated        string
		afterEnd          string
		buffered, running int
	}{
		{OverlapSkip, "A", "B,C", "", "", 0, 0},
		{OverlapAllowAll, "A,B,C", "", "", "", 0, 2},
		{OverlapBufferOne, "A", "C", "", "B", 1, 1},
		{OverlapTerminate, "A,B,C", "", "A,B", "", 0, 0},
	} {
		spec := every(10 * time.Second)
		spec.Overlap = tc.overlap
		st, _ := newState(t, spec)
		var started, terminated []string
		names := map[string]string{}
		for i, name := range []string{"A", "B", "C"} {
			eff := st.Tick(st.Next, st.Next)
			for _, r := range eff.Start {
				names[r.InstanceID] = name
				started = append(started, name)
			}
			for _, id := range eff.Terminate {
				terminated = append(terminated, names[id])
				st.Ended(id, "Terminated", st.Next)
			}
			_ = i
		}
		var skipped []string
		for _, r := range st.Recent {
			if r.Status == "Skipped" {
				skipped = append(skipped, string(rune('A'+r.Tick.Sub(t0)/(10*time.Second)-1)))
			}
		}
		if strings.Join(started, ",") != tc.started || strings.Join(skipped, ",") != tc.skipped ||
			strings.Join(terminated, ",") != tc.terminated {
			t.Errorf("%s: started %v, skipped %v, terminated %v", tc.overlap, started, skipped, terminated)
			continue
		}
		// The first run ends: a buffered tick starts then.
		eff := st.Ended(st.Running[0].InstanceID, "Completed", st.Next)
		var after []string
		for _, r := range eff.Start {
			after = append(after, string(rune('A'+r.Tick.Sub(t0)/(10*time.Second)-1)))
		}
		if strings.Join(after, ",") != tc.afterEnd || len(st.Running) != tc.running {
			t.Errorf("%s: after the end, started %v with %d running", tc.overlap, after, len(st.Running))
		}
		// An end it does not know, or a copy, changes nothing.
		if eff := st.Ended("nobody", "Completed", st.Next); len(eff.Start) > 0 {
			t.Errorf("%s: an unknown end started %+v", tc.overlap, eff.Start)
		}
	}
}

func TestCatchUpAfterDowntime(t *testing.T) {
	spec := every(time.Minute)
	spec.Overlap = OverlapAllowAll
	spec.CatchupWindow = Duration(5 * time.Minute)
	st, _ := newState(t, spec)
	first := st.Next
	// Down for an hour: the tick signal comes 60 minutes late. The ticks
	// of the last five minutes start; the rest are missed.
	now := first.Add(time.Hour + 30*time.Second)
	eff := st.Tick(first, now)
	if len(eff.Start) != 5 || st.Missed != 56 {
		t.Fatalf("started %d (%s), missed %d", len(eff.Start), ids(eff.Start), st.Missed)
	}
	for _, r := range eff.Start {
		if r.Reason != "catchup" || now.Sub(r.Tick) > 5*time.Minute {
			t.Fatalf("caught up %+v", r)
		}
	}
	if !st.Next.Equal(first.Add(61*time.Minute)) || !eff.Wake.Equal(st.Next) {
		t.Fatalf("next %s, wake %s", st.Next, eff.Wake)
	}
	// At most maxCatchup, whatever the window: 10 unless the spec says.
	spec.CatchupWindow = Duration(24 * time.Hour)
	st, _ = newState(t, spec)
	eff = st.Tick(st.Next, st.Next.Add(3*time.Hour))
	if len(eff.Start) != DefaultMaxCatchup || st.Missed != 181-DefaultMaxCatchup {
		t.Fatalf("started %d, missed %d", len(eff.Start), st.Missed)
	}
	spec.MaxCatchup = 100
	st, _ = newState(t, spec)
	if eff = st.Tick(st.Next, st.Next.Add(3*time.Hour)); len(eff.Start) != 100 || st.Missed != 81 {
		t.Fatalf("maxCatchup 100: started %d, missed %d", len(eff.Start), st.Missed)
	}
	spec.MaxCatchup = MaxCatchup + 1
	if err := spec.Validate(); err == nil {
		t.Fatal("a maxCatchup over the bound")
	}
	spec.MaxCatchup = 0
	// Skip (the default) runs one of them.
	spec.Overlap = ""
	st, _ = newState(t, spec)
	if eff = st.Tick(st.Next, st.Next.Add(5*time.Minute)); len(eff.Start) != 1 || st.Skipped != 5 {
		t.Fatalf("skip: started %d, skipped %d", len(eff.Start), st.Skipped)
	}
	// A second-by-second schedule down for a week costs bounded work.
	st, _ = newState(t, every(time.Second))
	begin := time.Now()
	eff = st.Tick(st.Next, st.Next.Add(7*24*time.Hour))
	if len(eff.Start) != 1 || time.Since(begin) > 5*time.Second || st.Missed < 10*MaxBackfill {
		t.Fatalf("a week of seconds: started %d, missed %d in %s", len(eff.Start), st.Missed, time.Since(begin))
	}
}

func TestPauseResumeTriggerBackfill(t *testing.T) {
	st, _ := newState(t, every(10*time.Second))
	tick := st.Next
	if eff := st.Pause("maintenance", t0.Add(time.Second)); !eff.Wake.IsZero() || !st.Next.IsZero() {
		t.Fatalf("pause: %+v", eff)
	}
	if eff := st.Tick(tick, tick); len(eff.Start) > 0 {
		t.Fatal("a paused schedule started a run")
	}
	// Resumed later: the ticks while paused are not caught up.
	eff := st.Resume("", t0.Add(35*time.Second))
	if !eff.Wake.Equal(t0.Add(40*time.Second)) || st.Paused || st.Note != "" {
		t.Fatalf("resume: %+v %+v", eff, st)
	}
	eff = st.Trigger(t0.Add(36 * time.Second))
	if ids(eff.Start) != "20261206T120036Z-trigger0" {
		t.Fatalf("trigger: %s", ids(eff.Start))
	}
	st.Ended(eff.Start[0].InstanceID, "Completed", t0.Add(37*time.Second))
	st.Spec.Overlap = OverlapAllowAll
	eff, err := st.Backfill(t0.Add(-30*time.Second), t0, t0.Add(38*time.Second))
	if err != nil || ids(eff.Start) != "20261206T115930Z-backfill,20261206T115940Z-backfill,20261206T115950Z-backfill,20261206T120000Z-backfill" {
		t.Fatalf("backfill: %s %v", ids(eff.Start), err)
	}
	if _, err := st.Backfill(t0, t0.Add(-time.Second), t0); err == nil {
		t.Fatal("a backwards backfill")
	}
	if _, err := st.Backfill(t0, t0.Add(24*time.Hour), t0); err == nil || !strings.Contains(err.Error(), fmt.Sprint(MaxBackfill)) {
		t.Fatalf("a backfill of 8,640 ticks: %v", err)
	}
}

// With a jitter longer than the interval, a tick never starts before its
// own jittered time, and each starts once.
func TestJitterLongerThanTheInterval(t *testing.T) {
	spec := every(2 * time.Second)
	spec.Jitter = Duration(5 * time.Second)
	spec.Overlap = OverlapAllowAll
	st, eff := newState(t, spec)
	started := map[time.Time]bool{}
	for range 50 {
		now := eff.Wake
		eff = st.Tick(st.Next, now)
		for _, r := range eff.Start {
			if started[r.Tick] {
				t.Fatalf("tick %s started twice", r.Tick)
			}
			started[r.Tick] = true
			if at := spec.FireAt("s", r.Tick); at.After(now) {
				t.Fatalf("tick %s started at %s, before its time %s", r.Tick, now, at)
			}
		}
		if eff.Wake.IsZero() {
			t.Fatal("no next wake")
		}
	}
	first := t0.Add(2 * time.Second)
	for i := range 40 {
		if tick := first.Add(time.Duration(i) * 2 * time.Second); !started[tick] {
			t.Fatalf("tick %s never started (%d started)", tick, len(started))
		}
	}
}

// An allowAll schedule whose runs never end follows at most maxRunning.
func TestRunningRunsAreBounded(t *testing.T) {
	spec := every(time.Second)
	spec.Overlap = OverlapAllowAll
	st, _ := newState(t, spec)
	for range 3 * maxRunning {
		st.Tick(st.Next, st.Next)
	}
	if len(st.Running) != maxRunning || st.Started != 3*maxRunning || len(st.Recent) != recentRuns {
		t.Fatalf("running %d, started %d, recent %d", len(st.Running), st.Started, len(st.Recent))
	}
	b, _ := json.Marshal(st)
	if len(b) > 32<<10 {
		t.Fatalf("the state takes %d bytes", len(b))
	}
}

// Under terminateOther, ticks due at once start only the last: the others
// would be started and terminated together.
func TestTerminateOtherCatchesUpTheLastTickOnly(t *testing.T) {
	spec := every(time.Second)
	spec.Overlap = OverlapTerminate
	st, _ := newState(t, spec)
	first := st.Tick(st.Next, st.Next)
	eff := st.Tick(st.Next, st.Next.Add(2*time.Second))
	if len(eff.Start) != 1 || !eff.Start[0].Tick.Equal(t0.Add(4*time.Second)) || st.Skipped != 2 ||
		len(eff.Terminate) != 1 || eff.Terminate[0] != first.Start[0].InstanceID {
		t.Fatalf("started %s, terminated %v, skipped %d", ids(eff.Start), eff.Terminate, st.Skipped)
	}
}

// What Next derives from Cron and TimeZone follows a change of either.
func TestNextFollowsAChangedCron(t *testing.T) {
	s := Spec{Orchestrator: "Job", Cron: "0 0 9 * * *"}
	if got := s.Next(t0); got.Hour() != 9 {
		t.Fatalf("next %s", got)
	}
	s.Cron, s.TimeZone = "0 0 10 * * *", "Asia/Tokyo"
	if got := s.Next(t0); !got.Equal(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("after the change, next %s", got)
	}
}
