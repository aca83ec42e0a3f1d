package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

// --- schedule ---------------------------------------------------------------

// scheduleActions are `durable schedule`'s actions.
var scheduleActions = []string{"create", "update", "get", "list", "pause", "resume", "trigger", "backfill", "delete"}

// scheduleCmd is `durable schedule <action>`.
type scheduleCmd struct {
	action string
	id     string
	// create, update
	orchestrator, input, version, cron, timeZone, overlap string
	every, jitter, catchup                                time.Duration
	maxCatchup                                            int
	startAt, endAt                                        timeValue
	// pause, resume
	reason string
	// backfill
	from, to timeValue
	// list
	top          int
	continuation string
	json         jsonFlag
}

func (c *scheduleCmd) positional(args []string) ([]string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return args, usageErrorf("the action is required: durable schedule <%s> [flags]", strings.Join(scheduleActions, "|"))
	}
	c.action = args[0]
	for _, a := range scheduleActions {
		if a == c.action {
			return args[1:], nil
		}
	}
	return args, usageErrorf("unknown schedule action %q: one of %s", c.action, strings.Join(scheduleActions, ", "))
}

func (c *scheduleCmd) define(fs *flag.FlagSet) {
	fs.StringVar(&c.id, "id", "", "the schedule's `ID` (required but for list)")
	fs.StringVar(&c.orchestrator, "orchestrator", "", "create, update: the orchestration each run starts (`name`)")
	fs.StringVar(&c.input, "input", "", "create, update: each run's input: inline `JSON`, or @path/to/file.json")
	fs.StringVar(&c.version, "version", "", "create, update: the runs' `version` (default: the app's defaultVersion)")
	fs.StringVar(&c.cron, "cron", "", "create, update: when to run, an NCRONTAB `expression` with seconds (\"0 30 9 * * MON-FRI\")")
	fs.StringVar(&c.timeZone, "time-zone", "", "create, update: the cron expression's IANA time `zone` (default UTC)")
	fs.DurationVar(&c.every, "every", 0, "create, update: run at this interval instead of --cron (`duration`)")
	fs.Var(&c.startAt, "start-at", "create, update: no tick before this ISO 8601 `time`")
	fs.Var(&c.endAt, "end-at", "create, update: no tick after this ISO 8601 `time`")
	fs.DurationVar(&c.jitter, "jitter", 0, "create, update: delay each run by up to this `duration`")
	fs.StringVar(&c.overlap, "overlap", "", "create, update: while a run runs, a tick does `policy` skip (default), bufferOne,\nallowAll or terminateOther")
	fs.DurationVar(&c.catchup, "catchup-window", 0, "create, update: how late a tick missed while the app was down may still run\n(`duration`, default 1h)")
	fs.IntVar(&c.maxCatchup, "max-catchup", 0, "create, update: how many missed ticks at most run after downtime (`number`, default 10)")
	fs.StringVar(&c.reason, "reason", "", "pause, resume: a note, shown with the schedule")
	fs.Var(&c.from, "from", "backfill: the first tick's ISO 8601 `time`")
	fs.Var(&c.to, "to", "backfill: the last tick's ISO 8601 `time`")
	fs.IntVar(&c.top, "top", 100, "list: `number` of schedules per page")
	fs.StringVar(&c.continuation, "continuation-token", "", "list: `token` printed by the previous page, to get the next one")
	c.json.define(fs)
}

// spec builds the spec of create and update from the flags.
func (c *scheduleCmd) spec() (schedule.Spec, error) {
	in, err := readJSONArg("input", c.input)
	if err != nil {
		return schedule.Spec{}, err
	}
	spec := schedule.Spec{Orchestrator: c.orchestrator, Input: in, Version: c.version, Cron: c.cron, TimeZone: c.timeZone,
		Every: schedule.Duration(c.every), StartAt: c.startAt.t, EndAt: c.endAt.t, Jitter: schedule.Duration(c.jitter),
		Overlap: schedule.Overlap(c.overlap), CatchupWindow: schedule.Duration(c.catchup), MaxCatchup: c.maxCatchup}
	if err := spec.Validate(); err != nil {
		return schedule.Spec{}, usageErrorf("%s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "invalid schedule: "), "\n", "; "))
	}
	return spec, nil
}

func (c *scheduleCmd) run(ctx context.Context, e *env) error {
	if c.action != "list" {
		if c.id == "" {
			return usageErrorf("--id is required")
		}
		if err := client.ValidateScheduleID(c.id); err != nil {
			return usageErrorf("--id: %s", strings.TrimPrefix(err.Error(), client.ErrBadArgument.Error()+": "))
		}
	}
	var spec schedule.Spec
	switch c.action {
	case "create", "update":
		var err error
		if spec, err = c.spec(); err != nil {
			return err
		}
	case "backfill":
		if !c.from.set || !c.to.set {
			return usageErrorf("--from and --to are required")
		}
		if c.to.t.Before(c.from.t) {
			return usageErrorf("--to is before --from")
		}
	case "list":
		if c.top < 1 || c.top > 1000 {
			return usageErrorf("--top must be 1..1000, not %d", c.top)
		}
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	cl := t.client
	done := func(what string) error {
		fmt.Fprintf(e.stdout, "%s schedule %s; the app applies it when it processes the request.\n", what, c.id)
		return nil
	}
	switch c.action {
	case "create":
		err = cl.CreateSchedule(ctx, c.id, spec)
	case "update":
		err = cl.UpdateSchedule(ctx, c.id, spec)
	case "pause":
		err = cl.PauseSchedule(ctx, c.id, c.reason)
	case "resume":
		err = cl.ResumeSchedule(ctx, c.id, c.reason)
	case "trigger":
		err = cl.TriggerSchedule(ctx, c.id)
	case "backfill":
		err = cl.BackfillSchedule(ctx, c.id, c.from.t, c.to.t)
	case "delete":
		err = cl.DeleteSchedule(ctx, c.id)
	case "get":
		return c.get(ctx, e, t)
	case "list":
		return c.list(ctx, e, t)
	}
	if errors.Is(err, client.ErrScheduleNotFound) {
		return notFound(err)
	}
	if err != nil {
		return t.missingHub(err)
	}
	verbs := map[string]string{"create": "Sent the creation (or change) of", "update": "Sent the change of", "pause": "Sent the pause of",
		"resume": "Sent the resumption of", "trigger": "Sent a run of", "backfill": "Sent the backfill of", "delete": "Sent the deletion of"}
	return done(verbs[c.action])
}

func (c *scheduleCmd) get(ctx context.Context, e *env, t *target) error {
	st, err := t.client.GetSchedule(ctx, c.id)
	if errors.Is(err, client.ErrScheduleNotFound) {
		return notFound(err)
	}
	if err != nil {
		return t.missingHub(err)
	}
	if c.json {
		b, err := json.Marshal(st)
		if err != nil {
			return internalError(err)
		}
		return writeJSON(e.stdout, b)
	}
	tw := newTable(e.stdout, "FIELD", "VALUE")
	tw.row("Schedule", st.ID)
	tw.row("Orchestrator", st.Spec.Orchestrator)
	tw.row("When", when(st.Spec))
	state := "active"
	if st.Paused {
		state = "paused"
		if st.Note != "" {
			state += ": " + st.Note
		}
	}
	tw.row("State", state)
	tw.row("Next run", orDash(formatTime(st.Next)))
	tw.row("Runs", fmt.Sprintf("%d started, %d running, %d skipped, %d missed", st.Started, len(st.Running), st.Skipped, st.Missed))
	if err := tw.flush(); err != nil {
		return err
	}
	if len(st.Recent) > 0 {
		fmt.Fprintln(e.stdout)
		rt := newTable(e.stdout, "RUN", "TICK", "REASON", "STATUS")
		for i := len(st.Recent) - 1; i >= 0; i-- {
			r := st.Recent[i]
			rt.row(orDash(r.InstanceID), formatTime(r.Tick), r.Reason, r.Status)
		}
		return rt.flush()
	}
	return nil
}

// when says when a spec runs, in a line.
func when(s schedule.Spec) string {
	var b strings.Builder
	if s.Cron != "" {
		b.WriteString("cron " + s.Cron)
		if s.TimeZone != "" {
			b.WriteString(" (" + s.TimeZone + ")")
		}
	} else {
		b.WriteString("every " + time.Duration(s.Every).String())
	}
	if s.Jitter > 0 {
		b.WriteString(", jitter " + time.Duration(s.Jitter).String())
	}
	overlap := s.Overlap
	if overlap == "" {
		overlap = schedule.OverlapSkip
	}
	b.WriteString(", overlap " + string(overlap))
	return b.String()
}

func (c *scheduleCmd) list(ctx context.Context, e *env, t *target) error {
	page, err := t.client.ListSchedules(ctx, c.top, c.continuation)
	if err != nil {
		return t.missingHub(err)
	}
	return printPage(e, bool(c.json), listPage{token: page.ContinuationToken, rows: len(page.Schedules), empty: "No schedules found.",
		json: func() ([]byte, error) {
			list := page.Schedules
			if list == nil {
				list = []*schedule.State{}
			}
			return json.Marshal(list)
		},
		table: func() error {
			tw := newTable(e.stdout, "SCHEDULE", "ORCHESTRATOR", "WHEN", "NEXT RUN", "STARTED")
			for _, st := range page.Schedules {
				nextRun := formatTime(st.Next)
				if st.Paused {
					nextRun = "paused"
				}
				tw.row(st.ID, st.Spec.Orchestrator, when(st.Spec), orDash(nextRun), strconv.Itoa(st.Started))
			}
			return tw.flush()
		}})
}
