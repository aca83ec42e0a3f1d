package config

import (
	"sort"
	"strings"
	"time"
)

const keyRetention = keyDurable + ".retention"

// DefaultRetentionInterval is how often retention sweeps when host.json
// sets ages but no interval.
const DefaultRetentionInterval = 5 * time.Minute

// MinRetentionInterval keeps a mistyped interval ("00:00:00.001") from
// turning the sweep into a busy loop over the Instances table.
const MinRetentionInterval = time.Second

// Retention is extensions.durableTask.retention, an extension of this
// project: how long finished instances are kept before the app purges them
// by itself (history, payload blobs and row), without a timer function.
// An instance's age counts from its CompletedTime, or its LastUpdatedTime
// when the row has none. A zero age keeps instances of that status
// forever; with every age zero, retention is off.
type Retention struct {
	// Completed, Failed, Terminated and Canceled are the ages after which
	// instances with that runtime status are purged (retention.completed,
	// .failed, .terminated, .canceled).
	Completed, Failed, Terminated, Canceled time.Duration
	// Interval is retention.interval: the time between two sweeps
	// (default 5 minutes, at least 1 second).
	Interval time.Duration
}

// Enabled reports whether any status has an age.
func (r Retention) Enabled() bool {
	return r.Completed > 0 || r.Failed > 0 || r.Terminated > 0 || r.Canceled > 0
}

// fields are the keys of the retention object, lower case, with where
// each goes.
func (r *Retention) fields() map[string]*time.Duration {
	return map[string]*time.Duration{
		"completed": &r.Completed, "failed": &r.Failed, "terminated": &r.Terminated,
		"canceled": &r.Canceled, "interval": &r.Interval,
	}
}

// readRetention reads the retention object. Unlike most of host.json,
// unknown keys are errors here: a misspelt status ("complete") would
// otherwise keep instances forever without a word.
func (r *hostReader) readRetention(obj map[string]any, o *Retention) {
	fields := o.fields()
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	for k := range obj {
		if _, ok := fields[strings.ToLower(k)]; !ok {
			r.fail(joinPath(keyRetention, k), "unknown key; the keys are %s", strings.Join(known, ", "))
		}
	}
	for _, k := range known {
		v, ok := r.duration(obj, keyRetention, k)
		if !ok {
			continue
		}
		if v <= 0 && k != "interval" {
			// Zero could be read as "purge at once" or as "never"; neither
			// should be a guess.
			r.fail(joinPath(keyRetention, k), "%s is not greater than zero; leave the key out to keep these instances forever", v)
			continue
		}
		*fields[k] = v
	}
}

// validate adds retention's errors through add.
func (o Retention) validate(add func(key, format string, args ...any)) {
	fields := o.fields()
	for _, k := range []string{"completed", "failed", "terminated", "canceled"} {
		if d := *fields[k]; d < 0 {
			add(joinPath(keyRetention, k), "%s is negative; leave the key out to keep these instances forever", d)
		}
	}
	if o.Interval < MinRetentionInterval {
		add(joinPath(keyRetention, "interval"), "%s is less than the minimum %s", o.Interval, MinRetentionInterval)
	}
}
