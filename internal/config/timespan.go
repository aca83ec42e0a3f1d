package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// maxTimeSpanDays is the largest whole number of days a time.Duration holds.
const maxTimeSpanDays = int64(math.MaxInt64 / int64(24*time.Hour))

// ParseTimeSpan parses a duration written as a .NET TimeSpan, the form
// host.json uses for Durable Functions settings, or as a Go duration.
//
// Accepted .NET forms, each optionally preceded by "-":
//
//	d                  whole days ("2" is two days, as in .NET)
//	[d.]hh:mm          e.g. "00:30", "1.12:00"
//	[d.]hh:mm:ss[.f]   e.g. "00:00:30", "1.02:03:04", "00:00:00.500"
//	d:hh:mm:ss[.f]     the general ("g") form, e.g. "1:02:03:04"
//
// The fraction has 1 to 7 digits (100ns ticks), hours are 0..23 and minutes
// and seconds 0..59, as TimeSpan.Parse requires. Any input containing a
// letter is parsed with time.ParseDuration instead, so "500ms" and "1m30s"
// work too.
func ParseTimeSpan(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if strings.IndexFunc(t, unicode.IsLetter) >= 0 {
		d, err := time.ParseDuration(t)
		if err != nil {
			return 0, fmt.Errorf("parse duration: %w", err)
		}
		return d, nil
	}
	d, err := parseDotNetTimeSpan(t)
	if err != nil {
		return 0, fmt.Errorf("invalid TimeSpan %q: %w", s, err)
	}
	return d, nil
}

func parseDotNetTimeSpan(t string) (time.Duration, error) {
	neg := false
	if rest, ok := strings.CutPrefix(t, "-"); ok {
		neg = true
		t = rest
	}
	parts := strings.Split(t, ":")

	var days, hours, minutes, seconds, ticks int64
	var err error
	switch len(parts) {
	case 1:
		if days, err = parseComponent(parts[0], "days", maxTimeSpanDays); err != nil {
			return 0, err
		}
	case 2, 3:
		// The first component may carry whole days before a dot: "d.hh".
		first := parts[0]
		if d, h, ok := strings.Cut(first, "."); ok {
			if days, err = parseComponent(d, "days", maxTimeSpanDays); err != nil {
				return 0, err
			}
			first = h
		}
		if hours, err = parseComponent(first, "hours", 23); err != nil {
			return 0, err
		}
		if len(parts) == 2 {
			if minutes, err = parseComponent(parts[1], "minutes", 59); err != nil {
				return 0, err
			}
			break
		}
		if minutes, err = parseComponent(parts[1], "minutes", 59); err != nil {
			return 0, err
		}
		if seconds, ticks, err = parseSeconds(parts[2]); err != nil {
			return 0, err
		}
	case 4:
		if days, err = parseComponent(parts[0], "days", maxTimeSpanDays); err != nil {
			return 0, err
		}
		if hours, err = parseComponent(parts[1], "hours", 23); err != nil {
			return 0, err
		}
		if minutes, err = parseComponent(parts[2], "minutes", 59); err != nil {
			return 0, err
		}
		if seconds, ticks, err = parseSeconds(parts[3]); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("too many ':' separators")
	}

	// Sum in a way that cannot overflow silently: days are bounded by
	// maxTimeSpanDays, and the remainder of a day is under 24h.
	dayPart := time.Duration(days) * 24 * time.Hour
	rest := time.Duration(hours)*time.Hour + time.Duration(minutes)*time.Minute +
		time.Duration(seconds)*time.Second + time.Duration(ticks)*100
	if dayPart > math.MaxInt64-rest {
		return 0, errors.New("out of range")
	}
	d := dayPart + rest
	if neg {
		d = -d
	}
	return d, nil
}

// parseComponent parses one all-digit component and checks its upper bound.
func parseComponent(s, what string, limit int64) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("missing %s", what)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%s %q is not a number", what, s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > limit {
		return 0, fmt.Errorf("%s %s is out of range 0..%d", what, s, limit)
	}
	return n, nil
}

// parseSeconds parses "ss" or "ss.fffffff" into seconds and 100ns ticks.
func parseSeconds(s string) (sec, ticks int64, err error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if sec, err = parseComponent(whole, "seconds", 59); err != nil {
		return 0, 0, err
	}
	if !hasFrac {
		return sec, 0, nil
	}
	if frac == "" || len(frac) > 7 {
		return 0, 0, fmt.Errorf("fraction %q must have 1 to 7 digits", frac)
	}
	if ticks, err = parseComponent(frac, "fraction", 9999999); err != nil {
		return 0, 0, err
	}
	// "5" means five tenths: scale up to seven digits of ticks.
	for i := len(frac); i < 7; i++ {
		ticks *= 10
	}
	return sec, ticks, nil
}
