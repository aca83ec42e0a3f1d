package worker

import (
	"context"
	"time"
)

// minPollBackoff is where an empty queue's polling backoff starts.
const minPollBackoff = 50 * time.Millisecond

// A queue that had work within warmFor is polled at least every warmCap:
// work that another process queues (a start its client made for a
// partition this worker owns) cannot poke this poller, and a lull of a few
// seconds under load would otherwise leave it waiting a backoff of many
// seconds. Past warmFor the backoff grows to its maximum, so that an idle
// app polls rarely.
const (
	warmFor = 30 * time.Second
	warmCap = 500 * time.Millisecond
)

// emptyPollWait is how long a poller waits after an empty poll: next, its
// backoff, but at most warmCap while the queue had work within warmFor
// (sinceWork is how long ago).
func emptyPollWait(next, sinceWork time.Duration) time.Duration {
	if sinceWork < warmFor {
		return min(next, warmCap)
	}
	return next
}

// pollBackoff paces a queue poller: it doubles its wait after each empty
// poll up to max (see emptyPollWait for a queue that had work lately), and
// a poke (work queued by this process) ends a wait and resets it, so an
// idle app reacts at once to its own work.
type pollBackoff struct {
	ctx  context.Context
	poke <-chan struct{}
	max  time.Duration
	next time.Duration
	// worked is when a poll last found work (zero: never).
	worked time.Time
}

func newPollBackoff(ctx context.Context, poke <-chan struct{}, max time.Duration) *pollBackoff {
	return &pollBackoff{ctx: ctx, poke: poke, max: max, next: minPollBackoff}
}

// reset is for a poll that found work.
func (b *pollBackoff) reset() {
	b.next = minPollBackoff
	b.worked = time.Now()
}

// idle waits after an empty poll; false means the context ended.
func (b *pollBackoff) idle() bool {
	since := warmFor
	if !b.worked.IsZero() {
		since = time.Since(b.worked)
	}
	d := emptyPollWait(b.next, since)
	b.next = min(b.next*2, b.max)
	return b.sleep(d)
}

// sleep waits d, or less when poked; false means the context ended.
func (b *pollBackoff) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.ctx.Done():
		return false
	case <-b.poke:
		b.next = minPollBackoff
		return true
	case <-t.C:
		return true
	}
}
