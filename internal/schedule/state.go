package schedule

import (
	"fmt"
	"slices"
	"time"
)

// State is a schedule: its spec and where it stands. It is the schedule
// entity's state.
type State struct {
	ID   string `json:"id"`
	Spec Spec   `json:"spec"`
	// Paused stops ticks from starting runs; Note says why.
	Paused bool   `json:"paused,omitempty"`
	Note   string `json:"note,omitempty"`
	// Next is the next tick; zero when there is none (paused, or past the
	// end). The tick signal in flight names it, and a tick signal that
	// names another time is stale and does nothing.
	Next time.Time `json:"next,omitzero"`
	// Running are the runs started and not known to have ended.
	Running []Run `json:"running,omitempty"`
	// Buffered is the tick OverlapBufferOne keeps for when Running ends.
	Buffered *Run `json:"buffered,omitempty"`
	// Recent are the last runs started, skipped or ended, newest last.
	Recent []Run `json:"recent,omitempty"`
	// Started, Skipped and Missed count runs started, ticks skipped by the
	// overlap policy, and ticks missed beyond the catch-up window.
	Started int       `json:"started"`
	Skipped int       `json:"skipped"`
	Missed  int       `json:"missed"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Run is one run of a schedule.
type Run struct {
	InstanceID string `json:"instanceId,omitempty"`
	// Tick is the tick it is for; Reason says how it came: "tick",
	// "catchup", "trigger" or "backfill".
	Tick   time.Time `json:"tick,omitzero"`
	Reason string    `json:"reason"`
	// Status is its last known status: Running, Completed, Failed,
	// Terminated, or Skipped (never started).
	Status  string    `json:"status"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
}

// Effects is what a decision asks the entity to do, beyond its new state:
// runs to start, runs to terminate, and the tick to wake up for.
type Effects struct {
	Start     []Run
	Terminate []string
	// Wake is when to send the next tick signal (for tick Next); zero for
	// none.
	Wake time.Time
}

// RunID is the instance ID of the run of tick for reason: the schedule's ID
// and the tick, so that a tick's run has one ID whoever starts it; n
// tells triggers of one moment apart.
func RunID(id string, tick time.Time, reason string, n int) string {
	stamp := tick.UTC().Format("20060102T150405Z")
	switch reason {
	case "trigger":
		return fmt.Sprintf("%s-%s-trigger%d", id, stamp, n)
	case "backfill":
		return fmt.Sprintf("%s-%s-backfill", id, stamp)
	}
	return id + "-" + stamp
}

// Create makes a new schedule, or changes an existing one's spec (nothing
// when it is the same), at now.
func Create(st *State, id string, spec Spec, now time.Time) (*State, Effects, error) {
	if err := spec.Validate(); err != nil {
		return st, Effects{}, err
	}
	if st != nil && specEqual(st.Spec, spec) {
		return st, Effects{}, nil
	}
	if st == nil {
		st = &State{ID: id, Created: now}
	}
	st.Spec = spec
	st.Updated = now
	return st, st.reschedule(now), nil
}

// reschedule sets Next to the first tick after now (none while paused) and
// asks to be woken for it.
func (st *State) reschedule(now time.Time) Effects {
	st.Next = time.Time{}
	if st.Paused {
		return Effects{}
	}
	st.Next = st.Spec.Next(now)
	if st.Next.IsZero() {
		return Effects{}
	}
	return Effects{Wake: st.Spec.FireAt(st.ID, st.Next)}
}

// Pause stops the schedule's ticks; runs under way go on.
func (st *State) Pause(note string, now time.Time) Effects {
	st.Paused, st.Note, st.Updated = true, note, now
	return st.reschedule(now)
}

// Resume restarts the schedule's ticks from now: ticks while it was paused
// are not caught up.
func (st *State) Resume(note string, now time.Time) Effects {
	st.Paused, st.Note, st.Updated = false, note, now
	return st.reschedule(now)
}

// Tick handles the tick signal for tick, which arrives at now (late after
// downtime): it starts the run of tick and of the ticks missed since, as the
// catch-up window and the overlap policy allow, and asks to be woken for
// the next. A tick that is not Next (the schedule changed since it was
// sent) does nothing.
func (st *State) Tick(tick, now time.Time) Effects {
	if st.Paused || st.Next.IsZero() || !tick.Equal(st.Next) {
		return Effects{}
	}
	// The ticks due: this one and those after it up to now. Those too old
	// to start (before the catch-up window) are counted as missed, up to a
	// bound past which the count jumps; of the rest, the latest maxCatchup.
	// A scheduled signal may come a moment early: its tick is due then.
	until := now
	if tick.After(until) {
		until = tick
	}
	window := st.Spec.catchupWindow()
	horizon := now.Add(-window - time.Duration(st.Spec.Jitter))
	t := tick
	for n := 0; !t.IsZero() && t.Before(horizon); n++ {
		if n == 10*MaxBackfill {
			t = st.Spec.Next(horizon.Add(-time.Second))
			break
		}
		st.Missed++
		t = st.Spec.Next(t)
	}
	// Due: the ticks up to now whose (jittered) time has come; the first
	// one that has not is the next.
	var due []time.Time
	for ; !t.IsZero(); t = st.Spec.Next(t) {
		if t.After(until) || !t.Equal(tick) && st.Spec.FireAt(st.ID, t).After(now) {
			break
		}
		if len(due) == st.Spec.maxCatchup() {
			st.Missed++
			due = append(due[:0], due[1:]...)
		}
		due = append(due, t)
	}
	next := t
	var runs []Run
	for _, t := range due {
		reason := "tick"
		if !t.Equal(tick) || now.Sub(t) > time.Minute {
			reason = "catchup"
		}
		if now.Sub(st.Spec.FireAt(st.ID, t)) > window {
			st.Missed++
			continue
		}
		runs = append(runs, Run{Tick: t, Reason: reason})
	}
	var eff Effects
	st.admitAll(runs, now, &eff)
	st.Next = next
	if !st.Next.IsZero() {
		eff.Wake = st.Spec.FireAt(st.ID, st.Next)
	}
	return eff
}

// Trigger starts a run now, as the overlap policy allows.
func (st *State) Trigger(now time.Time) Effects {
	var eff Effects
	st.admit(Run{Tick: now, Reason: "trigger"}, now, &eff)
	return eff
}

// Backfill starts the runs of the ticks from from to to (inclusive), as if
// they had come, under the overlap policy; at most MaxBackfill.
func (st *State) Backfill(from, to, now time.Time) (Effects, error) {
	if to.Before(from) {
		return Effects{}, fmt.Errorf("%w: backfill to %s is before from %s", ErrInvalid, to, from)
	}
	var ticks []time.Time
	for t := st.Spec.Next(from.Add(-time.Second)); !t.IsZero() && !t.After(to); t = st.Spec.Next(t) {
		if len(ticks) == MaxBackfill {
			return Effects{}, fmt.Errorf("%w: backfill from %s to %s holds more than %d ticks", ErrInvalid, from, to, MaxBackfill)
		}
		ticks = append(ticks, t)
	}
	runs := make([]Run, len(ticks))
	for i, t := range ticks {
		runs[i] = Run{Tick: t, Reason: "backfill"}
	}
	var eff Effects
	st.admitAll(runs, now, &eff)
	return eff, nil
}

// admitAll admits runs that come at once, in order. Under OverlapTerminate
// each would terminate the one before it, so all but the last are skipped
// rather than started and terminated at once.
func (st *State) admitAll(runs []Run, now time.Time, eff *Effects) {
	if st.Spec.overlap() == OverlapTerminate && len(runs) > 1 {
		for _, r := range runs[:len(runs)-1] {
			st.skip(r, now)
		}
		runs = runs[len(runs)-1:]
	}
	for _, r := range runs {
		st.admit(r, now, eff)
	}
}

// admit applies the overlap policy to run r: it starts it, keeps it for
// later, or skips it.
func (st *State) admit(r Run, now time.Time, eff *Effects) {
	running := len(st.Running) > 0
	switch st.Spec.overlap() {
	case OverlapSkip:
		if running {
			st.skip(r, now)
			return
		}
	case OverlapBufferOne:
		if running {
			if st.Buffered != nil {
				st.skip(r, now)
				return
			}
			r.Status = "Buffered"
			st.Buffered = &r
			return
		}
	case OverlapTerminate:
		for _, old := range st.Running {
			eff.Terminate = append(eff.Terminate, old.InstanceID)
		}
	}
	st.start(r, now, eff)
}

func (st *State) skip(r Run, now time.Time) {
	r.Status, r.Ended = "Skipped", now
	st.Skipped++
	st.remember(r)
}

func (st *State) start(r Run, now time.Time, eff *Effects) {
	r.InstanceID = RunID(st.ID, r.Tick, r.Reason, st.Started)
	r.Status, r.Started = "Running", now
	st.Started++
	st.Running = append(st.Running, r)
	if n := len(st.Running) - maxRunning; n > 0 {
		// Only allowAll runs that many at once; the oldest stop being
		// followed, so that the schedule's state stays small.
		st.Running = slices.Clone(st.Running[n:])
	}
	st.remember(r)
	eff.Start = append(eff.Start, r)
}

// Ended records that run instanceID ended with status, and starts the
// buffered tick once nothing runs. An end of a run it does not know (a
// copy, or a run from before the schedule was deleted and made again)
// changes nothing but Recent.
func (st *State) Ended(instanceID, status string, now time.Time) Effects {
	i := slices.IndexFunc(st.Running, func(r Run) bool { return r.InstanceID == instanceID })
	if i < 0 {
		return Effects{}
	}
	r := st.Running[i]
	st.Running = slices.Delete(st.Running, i, i+1)
	r.Status, r.Ended = status, now
	st.remember(r)
	var eff Effects
	if st.Buffered != nil && len(st.Running) == 0 {
		b := *st.Buffered
		st.Buffered = nil
		st.start(b, now, &eff)
	}
	return eff
}

// remember puts r in Recent, replacing the entry of the same run.
func (st *State) remember(r Run) {
	if r.InstanceID != "" {
		if i := slices.IndexFunc(st.Recent, func(o Run) bool { return o.InstanceID == r.InstanceID }); i >= 0 {
			st.Recent = slices.Delete(st.Recent, i, i+1)
		}
	}
	st.Recent = append(st.Recent, r)
	if n := len(st.Recent) - recentRuns; n > 0 {
		st.Recent = slices.Clone(st.Recent[n:])
	}
}

func specEqual(a, b Spec) bool {
	x, _ := jsonOf(a)
	y, _ := jsonOf(b)
	return x == y
}
