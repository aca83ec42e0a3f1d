package worker

import (
	"context"
	"time"
)

// minPollBackoff is where an empty queue's polling backoff starts.
const minPollBackoff = 50 * time.Millisecond

// pollBackoff paces a queue poller: it doubles its wait after each empty
// poll up to max, and a poke (work queued by this process) ends a wait and
// resets it, so an idle app reacts at once to its own work.
type pollBackoff struct {
	ctx  context.Context
	poke <-chan struct{}
	max  time.Duration
	next time.Duration
}

func newPollBackoff(ctx context.Context, poke <-chan struct{}, max time.Duration) *pollBackoff {
	return &pollBackoff{ctx: ctx, poke: poke, max: max, next: minPollBackoff}
}

// reset is for a poll that found work.
func (b *pollBackoff) reset() { b.next = minPollBackoff }

// idle waits after an empty poll; false means the context ended.
func (b *pollBackoff) idle() bool {
	d := b.next
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
