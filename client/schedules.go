package client

import (
	"context"
	"encoding/json"
	"time"

	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

// ErrScheduleNotFound: no schedule has that ID.
var ErrScheduleNotFound = iclient.ErrScheduleNotFound

// ScheduleOverlap says what a schedule's tick does while runs it started
// earlier still run.
type ScheduleOverlap string

// The overlap policies, as Temporal names them.
const (
	// OverlapSkip starts nothing while a run is running (the default).
	OverlapSkip ScheduleOverlap = ScheduleOverlap(schedule.OverlapSkip)
	// OverlapBufferOne keeps one tick to start when the running runs end;
	// further ticks meanwhile are skipped.
	OverlapBufferOne ScheduleOverlap = ScheduleOverlap(schedule.OverlapBufferOne)
	// OverlapAllowAll starts every tick's run.
	OverlapAllowAll ScheduleOverlap = ScheduleOverlap(schedule.OverlapAllowAll)
	// OverlapTerminateOther terminates the running runs and starts the
	// tick's.
	OverlapTerminateOther ScheduleOverlap = ScheduleOverlap(schedule.OverlapTerminate)
)

// Schedule is what a schedule starts, and when.
type Schedule struct {
	// Orchestrator is the orchestration each run starts, with Input (any
	// JSON-encodable value) at Version ("" for the app's default).
	Orchestrator string
	Input        any
	Version      string
	// Cron is an NCRONTAB expression with seconds ("0 30 9 * * MON-FRI"),
	// evaluated in TimeZone (an IANA name such as "Europe/Paris"; UTC when
	// empty). Every is an interval instead, counted from StartAt or else
	// from the Unix epoch (so "every hour" ticks on the hour). Give one.
	Cron     string
	TimeZone string
	Every    time.Duration
	// StartAt and EndAt bound the ticks (inclusive); zero does not bound.
	StartAt, EndAt time.Time
	// Jitter delays each run by up to this much, by an amount fixed for
	// each tick.
	Jitter time.Duration
	// Overlap is the overlap policy ("" is OverlapSkip).
	Overlap ScheduleOverlap
	// CatchupWindow is how late a tick missed while the app was down may
	// still start (0 is one hour), and MaxCatchup how many missed ticks at
	// most (the latest; 0 is 10, at most 1,000), as the overlap policy
	// allows.
	CatchupWindow time.Duration
	MaxCatchup    int
}

// MarshalJSON writes the schedule as the HTTP API's PUT
// /durabletask/schedules/{id} takes it, and as host.json's
// extensions.durableTask.schedules holds it.
func (s Schedule) MarshalJSON() ([]byte, error) {
	spec, err := s.engine()
	if err != nil {
		return nil, err
	}
	return json.Marshal(spec)
}

func (s Schedule) engine() (schedule.Spec, error) {
	in, err := iclient.EncodeInput(s.Input)
	if err != nil {
		return schedule.Spec{}, err
	}
	spec := schedule.Spec{Orchestrator: s.Orchestrator, Version: s.Version, Cron: s.Cron, TimeZone: s.TimeZone,
		Every: schedule.Duration(s.Every), StartAt: s.StartAt.UTC(), EndAt: s.EndAt.UTC(), Jitter: schedule.Duration(s.Jitter),
		Overlap: schedule.Overlap(s.Overlap), CatchupWindow: schedule.Duration(s.CatchupWindow), MaxCatchup: s.MaxCatchup}
	if s.StartAt.IsZero() {
		spec.StartAt = time.Time{}
	}
	if s.EndAt.IsZero() {
		spec.EndAt = time.Time{}
	}
	if in != "" {
		spec.Input = json.RawMessage(in)
	}
	return spec, nil
}

// ScheduleRun is a run of a schedule.
type ScheduleRun struct {
	// InstanceID is the run's orchestration: the schedule's ID and the
	// tick, as "{id}-20261206T120000Z" ("" for a skipped tick).
	InstanceID string
	// Tick is the tick it is for; Reason is "tick", "catchup", "trigger"
	// or "backfill".
	Tick   time.Time
	Reason string
	// Status is Running, Completed, Failed, Terminated, Buffered or
	// Skipped.
	Status         string
	Started, Ended time.Time
}

// ScheduleDescription is a schedule as it stands.
type ScheduleDescription struct {
	ID       string
	Schedule Schedule
	// Paused stops its ticks; Note says why.
	Paused bool
	Note   string
	// NextRun is its next tick; zero when paused or past its end.
	NextRun time.Time
	// Running are its runs not known to have ended; Recent its last runs
	// (20), skipped ticks included, oldest first.
	Running, Recent []ScheduleRun
	// Started, Skipped and Missed count runs started, ticks skipped by the
	// overlap policy, and ticks missed beyond the catch-up window.
	Started, Skipped, Missed int
	Created, Updated         time.Time
}

func publicSchedule(st *schedule.State) *ScheduleDescription {
	s := st.Spec
	d := &ScheduleDescription{ID: st.ID, Paused: st.Paused, Note: st.Note, NextRun: st.Next, Started: st.Started,
		Skipped: st.Skipped, Missed: st.Missed, Created: st.Created, Updated: st.Updated,
		Schedule: Schedule{Orchestrator: s.Orchestrator, Version: s.Version, Cron: s.Cron, TimeZone: s.TimeZone,
			Every: time.Duration(s.Every), StartAt: s.StartAt, EndAt: s.EndAt, Jitter: time.Duration(s.Jitter),
			Overlap: ScheduleOverlap(s.Overlap), CatchupWindow: time.Duration(s.CatchupWindow), MaxCatchup: s.MaxCatchup}}
	if len(s.Input) > 0 {
		d.Schedule.Input = s.Input
	}
	runs := func(rs []schedule.Run) []ScheduleRun {
		out := make([]ScheduleRun, len(rs))
		for i, r := range rs {
			out[i] = ScheduleRun(r)
		}
		return out
	}
	d.Running, d.Recent = runs(st.Running), runs(st.Recent)
	return d
}

// CreateSchedule creates schedule id (letters, digits and most
// punctuation; at most 60 characters), or changes its Schedule if it
// exists: nothing happens when it is the same, so an app may declare its
// schedules at every start. A schedule is a durable entity: this call, and
// the others that change a schedule, return once the request is stored,
// and the app applies it (GetSchedule shows it then). ErrBadArgument for a
// schedule that cannot run, or names an orchestrator the app lacks.
func (c *Client) CreateSchedule(ctx context.Context, id string, s Schedule) error {
	spec, err := s.engine()
	if err != nil {
		return err
	}
	return publicError(c.c.CreateSchedule(ctx, id, spec))
}

// UpdateSchedule changes schedule id's Schedule; its next tick follows the
// new one. ErrScheduleNotFound when there is no such schedule.
func (c *Client) UpdateSchedule(ctx context.Context, id string, s Schedule) error {
	spec, err := s.engine()
	if err != nil {
		return err
	}
	return publicError(c.c.UpdateSchedule(ctx, id, spec))
}

// GetSchedule describes schedule id; ErrScheduleNotFound when there is
// none.
func (c *Client) GetSchedule(ctx context.Context, id string) (*ScheduleDescription, error) {
	st, err := c.c.GetSchedule(ctx, id)
	if err != nil {
		return nil, publicError(err)
	}
	return publicSchedule(st), nil
}

// SchedulePage is a page of schedules; ContinuationToken is "" on the last.
type SchedulePage struct {
	Schedules         []*ScheduleDescription
	ContinuationToken string
}

// ListSchedules returns a page of schedules in ID order (pageSize 0 is
// 100); pass the page's ContinuationToken for the next.
func (c *Client) ListSchedules(ctx context.Context, pageSize int, continuationToken string) (*SchedulePage, error) {
	p, err := c.c.ListSchedules(ctx, pageSize, continuationToken)
	if err != nil {
		return nil, publicError(err)
	}
	out := &SchedulePage{ContinuationToken: p.ContinuationToken}
	for _, st := range p.Schedules {
		out.Schedules = append(out.Schedules, publicSchedule(st))
	}
	return out, nil
}

// PauseSchedule stops schedule id's ticks; runs under way go on.
func (c *Client) PauseSchedule(ctx context.Context, id, note string) error {
	return publicError(c.c.PauseSchedule(ctx, id, note))
}

// ResumeSchedule restarts schedule id's ticks from now; ticks while it was
// paused do not run.
func (c *Client) ResumeSchedule(ctx context.Context, id, note string) error {
	return publicError(c.c.ResumeSchedule(ctx, id, note))
}

// TriggerSchedule starts a run of schedule id now, as its overlap policy
// allows.
func (c *Client) TriggerSchedule(ctx context.Context, id string) error {
	return publicError(c.c.TriggerSchedule(ctx, id))
}

// BackfillSchedule starts the runs of schedule id's ticks from from to to
// (inclusive, at most 1,000), as its overlap policy allows (use
// OverlapAllowAll to run them all); their IDs end in "-backfill".
func (c *Client) BackfillSchedule(ctx context.Context, id string, from, to time.Time) error {
	return publicError(c.c.BackfillSchedule(ctx, id, from, to))
}

// DeleteSchedule removes schedule id; runs under way go on.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	return publicError(c.c.DeleteSchedule(ctx, id))
}
