package devhost

import (
	"context"
	"encoding/json"
	"time"
)

// pastDueAfter is how late an occurrence may fire before it counts as past due; a little
// scheduling jitter should not set IsPastDue.
const pastDueAfter = time.Second

// timerInfo is a timer trigger's value in Data. ScheduleStatus is null because the dev
// host keeps no schedule monitor (useMonitor), as the real host does without one.
type timerInfo struct {
	Schedule       timerSchedule `json:"Schedule"`
	ScheduleStatus *struct{}     `json:"ScheduleStatus"`
	IsPastDue      bool          `json:"IsPastDue"`
}

type timerSchedule struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

func timerInvocation(fn *function, pastDue bool, now time.Time) invocationRequest {
	info := timerInfo{Schedule: timerSchedule{AdjustForDST: true}, IsPastDue: pastDue}
	return invocationRequest{
		Data:     map[string]json.RawMessage{fn.timer.name: mustJSON(info)},
		Metadata: map[string]json.RawMessage{"sys": sysMetadata(fn.name, now)},
	}
}

// runTimer fires the function on its schedule until ctx is done. Invocations of one timer
// never overlap: an occurrence that falls while the previous invocation still runs is
// skipped, as with the real host's singleton timers.
func (h *host) runTimer(ctx context.Context, fn *function) {
	log := h.log.With("function", fn.name)
	if fn.timer.runOnStartup {
		_, _ = h.invoke(ctx, fn, timerInvocation(fn, false, time.Now())) // invoke logs failures
	}
	for {
		now := time.Now()
		// UTC, as the Functions host evaluates schedules unless
		// WEBSITE_TIME_ZONE is set, which the dev host does not support.
		due := fn.timer.schedule.Next(now, time.UTC)
		if due.IsZero() {
			log.Error("timer schedule has no next occurrence; timer stopped", "schedule", fn.timer.expr)
			return
		}
		t := time.NewTimer(due.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		fired := time.Now()
		_, _ = h.invoke(ctx, fn, timerInvocation(fn, fired.Sub(due) > pastDueAfter, fired))
		if ctx.Err() != nil {
			return
		}
	}
}
