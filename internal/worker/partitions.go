package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/durable-go/durable/internal/azstore"
)

// partitions owns control-queue partitions through the Partitions table
// and runs one poller per owned partition.
type partitions struct {
	w     *Worker
	mu    sync.Mutex
	own   map[int]*ownedPartition
	epoch int64
	pokes []chan struct{}
	quit  bool
	// alone is set while this worker holds every partition and sees no
	// other worker: activities beyond the local backlog then stay local.
	alone atomic.Bool
	// dirty marks partitions whose clean release must ask the next owner
	// to recover them (see markDirty).
	dirty map[int]bool
}

type ownedPartition struct {
	index   int
	epoch   int64
	lease   *azstore.Lease
	cancel  context.CancelFunc
	stopped chan struct{}
	// polling is set once the first drain of the queue is done, after the
	// wait for the old owner's messages and the recovery.
	polling atomic.Bool
}

// polling reports whether this worker owns partition i and polls its
// queue already.
func (p *partitions) polling(i int) bool {
	_, ok := p.pollingEpoch(i)
	return ok
}

// pollingEpoch is polling with the epoch of the ownership.
func (p *partitions) pollingEpoch(i int) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := p.own[i]
	if op == nil || !op.polling.Load() || !time.Now().Before(op.lease.ExpiresAt) {
		return 0, false
	}
	return op.epoch, true
}

func newPartitions(w *Worker) *partitions {
	p := &partitions{w: w, own: map[int]*ownedPartition{}}
	p.pokes = make([]chan struct{}, w.hub.PartitionCount())
	for i := range p.pokes {
		p.pokes[i] = make(chan struct{}, 1)
	}
	return p
}

func (p *partitions) poke(i int) {
	if i >= 0 && i < len(p.pokes) {
		select {
		case p.pokes[i] <- struct{}{}:
		default:
		}
	}
}

// ownedEpoch returns the ownership epoch of partition i, if this worker
// holds a lease on it that has not run out by its own clock.
func (p *partitions) ownedEpoch(i int) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := p.own[i]
	if op == nil || time.Now().After(op.lease.ExpiresAt) {
		return 0, false
	}
	return op.epoch, true
}

func (p *partitions) owns(i int, epoch int64) bool {
	e, ok := p.ownedEpoch(i)
	return ok && e == epoch
}

func (p *partitions) owned() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, 0, len(p.own))
	for i := range p.own {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// loop runs a lease round every renew interval, and also right when a
// lease held by another worker runs out, so that a crashed worker's
// partitions are taken over at once rather than up to an interval later.
// It ends when the worker's context does, after Stop released the leases.
func (p *partitions) loop() {
	w := p.w
	next := time.Now().Add(w.opts.LeaseRenewInterval)
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// While the worker stops, rounds go on renewing its leases (and
		// claim nothing: see stoppingNow), so that a drain that outlasts the
		// lease still ends in a clean hand-over rather than a takeover.
		next = time.Now().Add(w.opts.LeaseRenewInterval)
		expiry, err := p.balanceNext(w.ctx)
		if err != nil && w.ctx.Err() == nil {
			w.log.Warn("lease round failed", "error", err)
		}
		if !expiry.IsZero() && expiry.Before(next) {
			next = expiry.Add(50 * time.Millisecond)
		}
	}
}

// balance renews this worker's leases, gives up those another worker asked
// for, claims free or expired ones up to a fair share, and asks busier
// workers for partitions until no worker holds two more than this one.
func (p *partitions) balance(ctx context.Context) error {
	_, err := p.balanceNext(ctx)
	return err
}

// balanceNext is balance; it also returns when the next lease held by
// another worker runs out (zero if none), when a new round may claim it.
func (p *partitions) balanceNext(ctx context.Context) (time.Time, error) {
	w := p.w
	leases, err := w.hub.ReadLeases(ctx)
	if err != nil {
		if w.hubMissing(ctx, err) {
			leases, err = w.hub.ReadLeases(ctx)
		}
		if err != nil {
			return time.Time{}, err
		}
	}
	now := time.Now().UTC()
	me := w.opts.WorkerID
	dur := w.opts.LeaseDuration

	view := leaseView(leases, me, now, dur)
	var held []*azstore.Lease
	for _, l := range leases {
		if l == nil {
			continue
		}
		p.mu.Lock()
		op := p.own[l.Partition]
		p.mu.Unlock()
		switch {
		case l.CurrentOwner != me:
			if op != nil {
				w.log.Warn("lost partition lease", "partition", l.Partition, "owner", l.CurrentOwner)
				p.drop(ctx, l.Partition, false)
			}
		case op == nil:
			// Storage says we own it but we hold nothing for it: a lease row
			// left by an earlier life of this worker ID. Take it over afresh.
			l.NeedsRecovery = true
		default:
			held = append(held, l)
		}
	}
	view.counts[me] = len(held)
	release, refuse := view.grants(held, me)
	mine := 0
	var errs []error
	for _, l := range held {
		if slices.Contains(release, l) {
			if err := p.release(ctx, l); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if slices.Contains(refuse, l) {
			w.log.Info("refusing to give up partition: it would leave this worker below its share", "partition", l.Partition, "asker", l.NextOwner)
			l.NextOwner = ""
		}
		l.LastRenewal, l.ExpiresAt = now, now.Add(dur)
		err := w.hub.WriteLease(ctx, l)
		if errors.Is(err, azstore.ErrConflict) {
			// Most often a worker asking for the partition wrote the row
			// since it was read: renew the fresh row if it is still ours.
			if fresh, ferr := p.reread(ctx, l.Partition); ferr == nil && fresh.CurrentOwner == me {
				l = fresh
				l.LastRenewal, l.ExpiresAt = now, now.Add(dur)
				err = w.hub.WriteLease(ctx, l)
			}
		}
		if err != nil {
			w.log.Warn("renewing partition lease failed", "partition", l.Partition, "error", err)
			if errors.Is(err, azstore.ErrConflict) {
				p.drop(ctx, l.Partition, false)
			}
			continue
		}
		p.mu.Lock()
		if op := p.own[l.Partition]; op != nil {
			op.lease = l
		}
		p.mu.Unlock()
		mine++
	}

	view.counts[me] = mine
	fair := view.ceilShare()
	var nextExpiry time.Time
	if p.stoppingNow() {
		return nextExpiry, errors.Join(errs...)
	}
	for _, l := range leases {
		if l == nil {
			continue
		}
		if l.CurrentOwner != "" && l.CurrentOwner != me && now.Before(l.ExpiresAt) {
			if nextExpiry.IsZero() || l.ExpiresAt.Before(nextExpiry) {
				nextExpiry = l.ExpiresAt
			}
			continue
		}
		p.mu.Lock()
		_, held := p.own[l.Partition]
		p.mu.Unlock()
		if held {
			continue
		}
		reserved := l.NextOwner != "" && l.NextOwner != me && now.Before(l.LastRenewal.Add(dur))
		if reserved || (mine >= fair && l.NextOwner != me) {
			continue
		}
		prev := l.CurrentOwner
		notBefore := takeoverNotBefore(l, w.hold)
		l.CurrentOwner, l.NextOwner, l.IsDraining = me, "", false
		l.OwnedSince, l.LastRenewal, l.ExpiresAt = now, now, now.Add(dur)
		recover := l.NeedsRecovery || prev != ""
		l.NeedsRecovery = true
		if err := w.hub.WriteLease(ctx, l); err != nil {
			if !errors.Is(err, azstore.ErrConflict) {
				errs = append(errs, err)
			}
			continue
		}
		attrs := []any{"partition", l.Partition, "previousOwner", prev, "recover", recover}
		if !notBefore.IsZero() {
			// Only a takeover waits for the old owner's messages.
			attrs = append(attrs, "firstDequeueIn", notBefore.Sub(now).Round(time.Millisecond))
		}
		w.log.Info("acquired partition", attrs...)
		p.acquire(l, recover, notBefore)
		mine++
		view.counts[me] = mine
	}

	p.alone.Store(len(view.counts) == 1 && mine == view.partitions)
	for _, victim := range view.asks(leases, me) {
		victim.NextOwner = me
		victim.LastRenewal = now
		if err := w.hub.WriteLease(ctx, victim); err == nil {
			w.log.Info("asked for partition", "partition", victim.Partition, "owner", victim.CurrentOwner)
		}
	}
	return nextExpiry, errors.Join(errs...)
}

// reread reads partition i's lease row again.
func (p *partitions) reread(ctx context.Context, i int) (*azstore.Lease, error) {
	leases, err := p.w.hub.ReadLeases(ctx)
	if err != nil {
		return nil, err
	}
	if i >= len(leases) || leases[i] == nil {
		return nil, fmt.Errorf("partition %d has no lease row", i)
	}
	return leases[i], nil
}

func (p *partitions) stoppingNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.quit
}

// acquire starts polling a newly leased partition, and recovering it
// meanwhile when the previous owner may have held work only in memory. The
// first dequeue waits until notBefore, when every message the previous
// owner held is visible again.
func (p *partitions) acquire(l *azstore.Lease, recover bool, notBefore time.Time) {
	w := p.w
	p.mu.Lock()
	p.epoch++
	ctx, cancel := context.WithCancel(w.ctx)
	op := &ownedPartition{index: l.Partition, epoch: p.epoch, lease: l, cancel: cancel, stopped: make(chan struct{})}
	p.own[l.Partition] = op
	p.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(op.stopped)
		var recovered sync.WaitGroup
		if recover {
			// Recovery runs beside the poller, so that new work on the
			// partition waits only for the lease, however many instances
			// recovery has to look at. Everything it does is safe to do
			// while episodes run: it re-runs activities (a second result
			// is dropped), resends starts (a copy is dropped) and kicks
			// instances (an episode with nothing new only rewrites what
			// history says).
			recovered.Add(1)
			go func() {
				defer recovered.Done()
				if err := w.recoverPartition(ctx, op.index, op.epoch); err != nil && ctx.Err() == nil {
					w.log.Error("partition recovery failed; it is retried when the partition is next acquired",
						"partition", op.index, "error", err)
				}
			}()
		}
		w.pollControl(ctx, op.index, op.epoch, p.pokes[op.index], notBefore, &op.polling)
		recovered.Wait()
	}()
}

// markDirty notes that work of partition i was left to an in-memory kick
// that a hand-over loses: an episode that failed after its checkpoint (a
// continue-as-new chain cut short, say) resumes from history only when
// kicked, and a kick dropped because the partition is going is gone. A
// clean release of the partition then sets NeedsRecovery, so that the next
// owner's recovery reads the in-flight rows and kicks those instances
// itself.
func (p *partitions) markDirty(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirty == nil {
		p.dirty = map[int]bool{}
	}
	p.dirty[i] = true
}

// takeDirty reports and clears partition i's mark (see markDirty).
func (p *partitions) takeDirty(i int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dirty[i]
	delete(p.dirty, i)
	return d
}

// drop stops serving partition i without touching the lease row: clean
// when this worker still holds the lease and is handing it over, otherwise
// the lease was lost and the new owner recovers whatever was in flight here.
func (p *partitions) drop(ctx context.Context, i int, clean bool) {
	p.mu.Lock()
	op := p.own[i]
	delete(p.own, i)
	p.mu.Unlock()
	if op == nil {
		return
	}
	op.cancel()
	<-op.stopped
	p.w.insts.releasePartition(ctx, i, clean)
}

// release hands a partition over cleanly: stop polling, finish or hand off
// its instances' work, then clear the owner. NeedsRecovery stays set when
// activities of the partition are still running here, or when work of it
// was left to a kick that the hand-over loses (see markDirty).
func (p *partitions) release(ctx context.Context, l *azstore.Lease) error {
	p.drop(ctx, l.Partition, true)
	needsRecovery := p.w.acts.inFlightFor(l.Partition) > 0
	if p.takeDirty(l.Partition) {
		needsRecovery = true
	}
	for attempt := 0; ; attempt++ {
		l.CurrentOwner, l.IsDraining, l.NeedsRecovery = "", false, needsRecovery
		err := p.w.hub.WriteLease(ctx, l)
		if err == nil {
			break
		}
		if !errors.Is(err, azstore.ErrConflict) || attempt > 0 {
			return err
		}
		// Changed since it was read (an ask): release the fresh row, unless
		// someone else owns it by now.
		fresh, ferr := p.reread(ctx, l.Partition)
		if ferr != nil || fresh.CurrentOwner != p.w.opts.WorkerID {
			return err
		}
		l = fresh
	}
	p.w.log.Info("released partition", "partition", l.Partition, "nextOwner", l.NextOwner, "needsRecovery", l.NeedsRecovery)
	return nil
}

func (p *partitions) stopPolling() {
	p.mu.Lock()
	p.quit = true
	ops := make([]*ownedPartition, 0, len(p.own))
	for _, op := range p.own {
		ops = append(ops, op)
	}
	p.mu.Unlock()
	for _, op := range ops {
		op.cancel()
		<-op.stopped
	}
}

// releaseAll gives up every lease at shutdown.
func (p *partitions) releaseAll(ctx context.Context) error {
	leases, err := p.w.hub.ReadLeases(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range leases {
		if l != nil && l.CurrentOwner == p.w.opts.WorkerID {
			if err := p.release(ctx, l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// pollControl dequeues a partition's control queue, backing off from 50 ms
// to MaxQueuePollingInterval while it is empty; a poke skips the wait.
//
// The first round waits until notBefore and then drains the queue before
// delivering anything: messages a crashed owner held become visible behind
// younger ones, and an instance must see them together to apply them in
// the order they were sent.
func (w *Worker) pollControl(ctx context.Context, partition int, epoch int64, poke <-chan struct{}, notBefore time.Time, polling *atomic.Bool) {
	if d := time.Until(notBefore); d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
	if !w.drainControl(ctx, partition, epoch) {
		return
	}
	polling.Store(true)
	b := newPollBackoff(ctx, poke, w.opts.MaxQueuePollingInterval)
	for ctx.Err() == nil {
		if !w.parts.owns(partition, epoch) {
			// The lease ran out by this worker's clock (its renewals are
			// late): another worker may own the partition by now, so take
			// nothing until a lease round renews it or drops the partition.
			if !b.sleep(100 * time.Millisecond) {
				return
			}
			continue
		}
		if w.insts.saturated() {
			if !b.sleep(10 * time.Millisecond) {
				return
			}
			continue
		}
		got, err := w.dequeueControl(ctx, partition, w.opts.ControlQueueBatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("dequeue failed", "partition", partition, "error", err)
			w.hubMissing(ctx, err)
			if !b.idle() {
				return
			}
			continue
		}
		if len(got.Messages) == 0 {
			if got.Poisoned > 0 {
				continue
			}
			if !b.idle() {
				return
			}
			continue
		}
		b.reset()
		w.insts.deliverMessages(partition, epoch, got.Messages)
	}
}

// dequeueControl dequeues from a partition's control queue without letting
// ctx cut the request short: a dequeue that the service carried out but
// whose answer was abandoned would leave its messages hidden with nobody
// holding them, and a worker taking over a cleanly released partition
// would then see younger messages first. When ctx ended meanwhile (the
// partition is being given up), the messages go straight back.
func (w *Worker) dequeueControl(ctx context.Context, partition, n int) (*azstore.Dequeued, error) {
	return w.dequeueUncut(ctx, func(ctx context.Context) (*azstore.Dequeued, error) {
		return w.hub.DequeueControl(ctx, partition, n, w.hold)
	})
}

// dequeueUncut runs a dequeue that ctx does not cut short (see
// dequeueControl) and gives its messages back at once when ctx ended
// meanwhile.
func (w *Worker) dequeueUncut(ctx context.Context, dequeue func(context.Context) (*azstore.Dequeued, error)) (*azstore.Dequeued, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dequeueTimeout)
	defer cancel()
	got, err := dequeue(dctx)
	if err != nil || ctx.Err() == nil {
		return got, err
	}
	for _, m := range got.Messages {
		if aerr := w.hub.Abandon(dctx, m, 0); aerr != nil && !errors.Is(aerr, azstore.ErrConflict) {
			w.log.Warn("giving back a message dequeued while stopping failed; it reappears after its visibility timeout",
				"messageId", m.ID, "error", aerr)
		}
	}
	return nil, ctx.Err()
}

// dequeueTimeout bounds one dequeue request, which ctx does not cut short.
const dequeueTimeout = 10 * time.Second

// maxDrainMessages bounds the first round after a takeover: past it, the
// order of one sender's events is kept only as far as the queue keeps it.
const maxDrainMessages = 1024

// drainControl takes what the partition's queue holds, up to
// maxDrainMessages, and delivers it at once. It returns false when ctx
// ended.
func (w *Worker) drainControl(ctx context.Context, partition int, epoch int64) bool {
	var all []*azstore.Message
	for len(all) < maxDrainMessages {
		got, err := w.dequeueControl(ctx, partition, 32)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			w.log.Warn("dequeue failed", "partition", partition, "error", err)
			break
		}
		all = append(all, got.Messages...)
		if len(got.Messages) == 0 && got.Poisoned == 0 {
			break
		}
	}
	if len(all) > 0 {
		w.insts.deliverMessages(partition, epoch, all)
	}
	return ctx.Err() == nil
}
