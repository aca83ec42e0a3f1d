package worker

import (
	"testing"
	"time"
)

// TestEmptyPollWait: a queue that had work lately is polled at least every
// warmCap, whatever its backoff; an idle one waits its backoff.
func TestEmptyPollWait(t *testing.T) {
	for _, c := range []struct {
		next, sinceWork, want time.Duration
	}{
		{minPollBackoff, time.Second, minPollBackoff},
		{8 * time.Second, time.Second, warmCap},
		{8 * time.Second, warmFor - time.Millisecond, warmCap},
		{8 * time.Second, warmFor, 8 * time.Second},
		{30 * time.Second, time.Hour, 30 * time.Second},
	} {
		if got := emptyPollWait(c.next, c.sinceWork); got != c.want {
			t.Errorf("emptyPollWait(%v, %v) = %v, want %v", c.next, c.sinceWork, got, c.want)
		}
	}
}
