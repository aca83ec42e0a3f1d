package worker

import (
	"testing"
	"time"
)

func TestRejectDelay(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after, want time.Duration
	}{
		{0, rejectPeriod},
		{time.Second, rejectPeriod - time.Second},
		{rejectPeriod - 1500*time.Millisecond, 1500 * time.Millisecond},
		// Less than a second before the boundary: the next one.
		{rejectPeriod - 300*time.Millisecond, rejectPeriod + 300*time.Millisecond},
	} {
		now := base.Add(tc.after)
		got := rejectDelay(now)
		if got != tc.want || got.Truncate(time.Second) < time.Second {
			t.Errorf("rejected %v after a boundary: delay %v, want %v", tc.after, got, tc.want)
		}
		// Every rejection within a period comes back at the same boundary
		// (to the second, as the queue counts).
		if at := now.Add(got); at.Truncate(time.Second) != at.Truncate(rejectPeriod) {
			t.Errorf("rejected %v after a boundary: back at %v, not on a boundary", tc.after, at)
		}
	}
}
