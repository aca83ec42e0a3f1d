// Package schedule holds schedules: orchestrations started on a calendar
// (an NCRONTAB expression in a time zone) or at an interval, with start
// and end times, jitter, an overlap policy and bounded catch-up after
// downtime. A schedule is a durable entity (Entity, registered under
// EntityName): its operations create, change, pause, resume, trigger,
// backfill and delete it, and a signal it sends itself for the next tick
// fires it, so that each tick starts its orchestration exactly once under
// crashes and scale-out. The arithmetic (Spec.Next, Spec.FireAt) and the
// decisions (State's methods) are plain functions of the state and the
// time, tested apart from the entity that runs them.
package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/cron"
	"github.com/durable-go/durable/internal/layout"
)

// EntityName is the entity name schedules are registered under: schedule
// ID is entity ID "@durable-schedule@{id}".
const EntityName = "durable-schedule"

// Overlap says what a tick does while runs it started earlier are still
// running.
type Overlap string

// The overlap policies, as Temporal names them.
const (
	// OverlapSkip starts nothing while a run is running (the default).
	OverlapSkip Overlap = "skip"
	// OverlapBufferOne keeps one tick to start when the running runs end;
	// further ticks meanwhile are skipped.
	OverlapBufferOne Overlap = "bufferOne"
	// OverlapAllowAll starts every tick's run.
	OverlapAllowAll Overlap = "allowAll"
	// OverlapTerminate terminates the running runs and starts the tick's.
	OverlapTerminate Overlap = "terminateOther"
)

// Defaults and bounds.
const (
	// DefaultCatchupWindow is how late a tick may still start after
	// downtime, unless the spec says otherwise.
	DefaultCatchupWindow = time.Hour
	// DefaultMaxCatchup is how many missed ticks one catch-up starts (the
	// latest), unless the spec says otherwise; the earlier ones are counted
	// as missed. MaxCatchup bounds what a spec may say.
	DefaultMaxCatchup = 10
	MaxCatchup        = 1000
	// MaxBackfill is how many ticks one backfill may start.
	MaxBackfill = 1000
	// MinInterval is the shortest interval and the closest two cron ticks
	// may be.
	MinInterval = time.Second
	// recentRuns is how many runs a schedule remembers.
	recentRuns = 20
	// maxRunning is how many running runs a schedule follows.
	maxRunning = 100
)

// Duration is a time.Duration written in JSON as Go writes durations
// ("90s", "1h30m"); a JSON number is read as seconds.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("a duration is a string such as \"90s\" or a number of seconds, not %s", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Spec is what a schedule starts and when.
type Spec struct {
	// Orchestrator is the orchestration each run starts, with Input, at
	// Version ("" for the app's default version).
	Orchestrator string          `json:"orchestrator"`
	Input        json.RawMessage `json:"input,omitempty"`
	Version      string          `json:"version,omitempty"`
	// Cron is an NCRONTAB expression, with seconds, evaluated in TimeZone
	// (an IANA name; UTC when empty). Every is an interval instead, counted
	// from StartAt, or from the Unix epoch, so that "every 1h" ticks on the
	// hour. Exactly one of the two.
	Cron     string   `json:"cron,omitempty"`
	TimeZone string   `json:"timeZone,omitempty"`
	Every    Duration `json:"every,omitempty"`
	// StartAt and EndAt bound the ticks (inclusive); zero does not bound.
	StartAt time.Time `json:"startAt,omitzero"`
	EndAt   time.Time `json:"endAt,omitzero"`
	// Jitter delays each tick's start by up to this much, the same amount
	// for the same tick whoever computes it.
	Jitter Duration `json:"jitter,omitempty"`
	// Overlap is the overlap policy; "" is OverlapSkip.
	Overlap Overlap `json:"overlap,omitempty"`
	// CatchupWindow is how late a tick missed while the app was down may
	// still start, and MaxCatchup how many such ticks at most (the latest),
	// the overlap policy applying; 0 is DefaultCatchupWindow and
	// DefaultMaxCatchup.
	CatchupWindow Duration `json:"catchupWindow,omitempty"`
	MaxCatchup    int      `json:"maxCatchup,omitempty"`

	// compiled is what Next derives from Cron and TimeZone, kept with the
	// values it came from: a catch-up or a backfill asks for many ticks,
	// and loading a time zone reads its file each time.
	compiled *compiledCron
}

type compiledCron struct {
	cron, timeZone string
	expr           *cron.Expr
	loc            *time.Location
	err            error
}

// cronSchedule returns the parsed Cron and the TimeZone's location.
func (s *Spec) cronSchedule() (*cron.Expr, *time.Location, error) {
	if c := s.compiled; c != nil && c.cron == s.Cron && c.timeZone == s.TimeZone {
		return c.expr, c.loc, c.err
	}
	c := &compiledCron{cron: s.Cron, timeZone: s.TimeZone}
	if c.expr, c.err = cron.Parse(s.Cron); c.err == nil {
		c.loc, c.err = s.location()
	}
	s.compiled = c
	return c.expr, c.loc, c.err
}

// ErrInvalid reports a spec (or a request) that cannot be used.
var ErrInvalid = errors.New("invalid schedule")

// MaxIDChars bounds a schedule's ID: it leaves room, within an instance
// ID's 100 characters, for what a run's ID adds to it.
const MaxIDChars = 60

// ValidateID checks a schedule's ID, saying what is wrong with it: an
// instance ID's rules, and at most MaxIDChars.
func ValidateID(id string) error {
	if err := layout.ValidateInstanceID(id); err != nil {
		return fmt.Errorf("schedule ID: %s", strings.TrimPrefix(err.Error(), "invalid instance ID "))
	}
	if len(id) > MaxIDChars {
		return fmt.Errorf("schedule ID %.20q…: at most %d characters", id, MaxIDChars)
	}
	return nil
}

// DecodeSpec reads a spec from its JSON (the HTTP API's and host.json's),
// refusing fields it does not know, so that a misspelt one is not ignored.
// It does not validate the spec.
func DecodeSpec(b []byte) (Spec, error) {
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return Spec{}, err
	}
	return spec, nil
}

// Validate checks the spec, saying what is wrong with it.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(s.Orchestrator) == "" || strings.HasPrefix(s.Orchestrator, "@") {
		bad("orchestrator %q: name the orchestration to start", s.Orchestrator)
	}
	if len(s.Input) > 0 && !json.Valid(s.Input) {
		bad("input is not valid JSON")
	}
	switch {
	case s.Cron == "" && s.Every == 0:
		bad("give cron or every")
	case s.Cron != "" && s.Every != 0:
		bad("give cron or every, not both")
	case s.Cron != "":
		if _, err := cron.Parse(s.Cron); err != nil {
			bad("cron: %v", err)
		}
	case time.Duration(s.Every) < MinInterval:
		bad("every %s is shorter than %s", time.Duration(s.Every), MinInterval)
	}
	if _, err := s.location(); err != nil {
		bad("timeZone %q: %v", s.TimeZone, err)
	}
	if s.TimeZone != "" && s.Every != 0 {
		bad("timeZone applies to cron schedules only")
	}
	if !s.EndAt.IsZero() && !s.StartAt.IsZero() && s.EndAt.Before(s.StartAt) {
		bad("endAt is before startAt")
	}
	if s.Jitter < 0 || s.CatchupWindow < 0 {
		bad("jitter and catchupWindow may not be negative")
	}
	if s.MaxCatchup < 0 || s.MaxCatchup > MaxCatchup {
		bad("maxCatchup %d is not in 0..%d", s.MaxCatchup, MaxCatchup)
	}
	switch s.Overlap {
	case "", OverlapSkip, OverlapBufferOne, OverlapAllowAll, OverlapTerminate:
	default:
		bad("overlap %q: one of %s, %s, %s, %s", s.Overlap, OverlapSkip, OverlapBufferOne, OverlapAllowAll, OverlapTerminate)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (s *Spec) location() (*time.Location, error) {
	if s.TimeZone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(s.TimeZone)
}

func (s *Spec) overlap() Overlap {
	if s.Overlap == "" {
		return OverlapSkip
	}
	return s.Overlap
}

func (s *Spec) maxCatchup() int {
	if s.MaxCatchup == 0 {
		return DefaultMaxCatchup
	}
	return s.MaxCatchup
}

func (s *Spec) catchupWindow() time.Duration {
	if s.CatchupWindow == 0 {
		return DefaultCatchupWindow
	}
	return time.Duration(s.CatchupWindow)
}

// Next returns the first tick strictly after t, or the zero time when
// there is none (past EndAt, or a cron expression that no longer fires).
// Ticks are whole seconds.
func (s *Spec) Next(t time.Time) time.Time {
	if !s.StartAt.IsZero() && t.Before(s.StartAt) {
		// The first tick may be StartAt itself.
		t = s.StartAt.Add(-time.Nanosecond)
	}
	var next time.Time
	if s.Every != 0 {
		every := time.Duration(s.Every)
		anchor := time.Unix(0, 0).UTC()
		if !s.StartAt.IsZero() {
			anchor = s.StartAt
		}
		n := t.Sub(anchor)/every + 1
		if t.Before(anchor) {
			n = 0
		}
		next = anchor.Add(n * every)
		for !next.After(t) {
			next = next.Add(every)
		}
	} else {
		expr, loc, err := s.cronSchedule()
		if err != nil {
			return time.Time{}
		}
		next = expr.Next(t, loc)
	}
	if next.IsZero() || (!s.EndAt.IsZero() && next.After(s.EndAt)) {
		return time.Time{}
	}
	return next.UTC()
}

// FireAt is when the run of tick starts: the tick, delayed by a jitter in
// [0, Jitter) that is a function of the schedule and the tick, so that a
// tick computed twice fires at the same time.
func (s *Spec) FireAt(id string, tick time.Time) time.Time {
	if s.Jitter <= 0 {
		return tick
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", id, tick.UnixNano())
	return tick.Add(time.Duration(h.Sum64() % uint64(s.Jitter)))
}
