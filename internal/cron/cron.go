// Package cron parses NCRONTAB expressions, the Azure Functions timer
// trigger's "{second} {minute} {hour} {day} {month} {day-of-week}", and
// finds their next occurrence in a time zone. It is its own parser, not a
// cron module's: the well-kept Go ones (robfig/cron v3) fire when either
// the day of month or the day of week matches, where NCrontab needs both.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Expr is a parsed NCRONTAB expression. Each field is a bit set of the
// values it allows. As in NCrontab (and unlike Vixie cron) a time must
// match both the day-of-month and the day-of-week field.
type Expr struct {
	second, minute, hour, day, month, weekday uint64
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = [6]cronField{
	{name: "second", min: 0, max: 59},
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	// 7 is accepted as Sunday, as most cron dialects do, and folded onto 0.
	{name: "day-of-week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// Parse parses a six-field NCRONTAB expression. Five fields (no seconds)
// are accepted too and fire at second 0, as NCrontab's classic format does.
func Parse(expr string) (*Expr, error) {
	fields := strings.Fields(expr)
	switch len(fields) {
	case 6:
	case 5:
		fields = append([]string{"0"}, fields...)
	default:
		return nil, fmt.Errorf("schedule %q: want six fields {second} {minute} {hour} {day} {month} {day-of-week}, got %d", expr, len(fields))
	}
	var sets [6]uint64
	for i, f := range fields {
		set, err := parseCronField(f, cronFields[i])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		sets[i] = set
	}
	if sets[5]&(1<<7) != 0 {
		sets[5] = sets[5]&^(1<<7) | 1
	}
	s := &Expr{second: sets[0], minute: sets[1], hour: sets[2], day: sets[3], month: sets[4], weekday: sets[5]}
	// Catch schedules that can never fire (30 February) here rather than with a timer that
	// silently never runs.
	if s.nextWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", expr)
	}
	return s, nil
}

func parseCronField(s string, f cronField) (uint64, error) {
	var set uint64
	for item := range strings.SplitSeq(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s field %q: bad step %q", f.name, s, stepText)
			}
			step = n
		}
		// '*' and open-ended steps stop at Saturday (6) so that Sunday is not counted twice.
		top := f.max
		if f.name == "day-of-week" {
			top = 6
		}
		lo, hi := f.min, top
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(a, f); err != nil {
				return 0, fmt.Errorf("%s field %q: %w", f.name, s, err)
			}
			switch {
			case isRange:
				if hi, err = cronValue(b, f); err != nil {
					return 0, fmt.Errorf("%s field %q: %w", f.name, s, err)
				}
				if hi < lo {
					return 0, fmt.Errorf("%s field %q: range %d-%d is backwards", f.name, s, lo, hi)
				}
			case hasStep:
				hi = top // "5/15" means from 5 to the end in steps of 15
			default:
				hi = lo
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func cronValue(s string, f cronField) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("value %d out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

// Next returns the first instant strictly after t whose wall-clock time in
// loc the expression allows, or the zero time when there is none within
// five years. Across daylight-saving changes: a wall-clock time that does
// not exist that day (the hour skipped in spring) is skipped, and one that
// occurs twice (the hour repeated in autumn) fires once, at its first
// occurrence.
func (s *Expr) Next(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t = t.Truncate(time.Second)
	// Search wall-clock times, held as UTC times with the same fields, and
	// map each match to the instants that show it in loc.
	w := wall(t, loc)
	for range 10000 {
		if w = s.nextWall(w); w.IsZero() {
			return w
		}
		if at, ok := instantOf(w, loc); ok && at.After(t) {
			return at
		}
		// A time skipped that day, or one whose first occurrence is not
		// after t (it fired then): the next wall-clock time.
	}
	return time.Time{}
}

// wall is t's wall-clock time in loc, as a UTC time with those fields.
func wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, sec := l.Clock()
	return time.Date(y, mo, d, h, mi, sec, 0, time.UTC)
}

// instantOf returns the first instant whose wall-clock time in loc is w (a
// UTC time holding the wall-clock fields); false when w does not exist in
// loc (skipped by a change of offset).
func instantOf(w time.Time, loc *time.Location) (time.Time, bool) {
	guess := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	var best time.Time
	// Offsets change by at most two hours at once, in steps of at least a
	// quarter hour.
	for d := -2 * time.Hour; d <= 2*time.Hour; d += 15 * time.Minute {
		c := guess.Add(d)
		if wall(c, loc).Equal(w) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	return best, !best.IsZero()
}

// nextWall returns the first wall-clock time strictly after w (to the
// second; both are UTC times holding wall-clock fields) that the
// expression allows, or the zero time if there is none within five years.
func (s *Expr) nextWall(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	// Skip whole months, days, hours and minutes that cannot match instead of stepping
	// second by second; each step either returns or moves t forward.
	for t.Before(limit) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		switch {
		case !has(s.month, int(mo)):
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
		case !has(s.day, d) || !has(s.weekday, int(t.Weekday())):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case !has(s.hour, h):
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
		case !has(s.minute, mi):
			t = time.Date(y, mo, d, h, mi+1, 0, 0, time.UTC)
		case !has(s.second, sec):
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}
