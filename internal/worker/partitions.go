package worker

import (
	"context"
	"errors"
	"sort"
	"sync"
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
}

type ownedPartition struct {
	index   int
	epoch   int64
	lease   *azstore.Lease
	cancel  context.CancelFunc
	stopped chan struct{}
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

func (p *partitions) loop() {
	w := p.w
	t := time.NewTicker(w.opts.LeaseRenewInterval)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		if w.stopping.Load() {
			return
		}
		if err := p.balance(w.ctx); err != nil && w.ctx.Err() == nil {
			w.log.Warn("lease round failed", "error", err)
		}
	}
}

// balance renews this worker's leases, gives up those another worker asked
// for, claims free or expired ones up to a fair share, and asks for one
// more when it has less than its share.
func (p *partitions) balance(ctx context.Context) error {
	w := p.w
	leases, err := w.hub.ReadLeases(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	me := w.opts.WorkerID
	dur := w.opts.LeaseDuration

	mine := 0
	var errs []error
	for _, l := range leases {
		if l == nil {
			continue
		}
		p.mu.Lock()
		op := p.own[l.Partition]
		p.mu.Unlock()
		if l.CurrentOwner != me {
			if op != nil {
				w.log.Warn("lost partition lease", "partition", l.Partition, "owner", l.CurrentOwner)
				p.drop(ctx, l.Partition)
			}
			continue
		}
		if op == nil {
			// Storage says we own it but we hold nothing for it: a lease row
			// left by an earlier life of this worker ID. Take it over afresh.
			l.NeedsRecovery = true
			l.CurrentOwner = ""
		} else if l.NextOwner != "" && l.NextOwner != me {
			if err := p.release(ctx, l); err != nil {
				errs = append(errs, err)
			}
			continue
		} else {
			l.LastRenewal, l.ExpiresAt = now, now.Add(dur)
			if err := w.hub.WriteLease(ctx, l); err != nil {
				w.log.Warn("renewing partition lease failed", "partition", l.Partition, "error", err)
				if errors.Is(err, azstore.ErrConflict) {
					p.drop(ctx, l.Partition)
				}
				continue
			}
			p.mu.Lock()
			op.lease = l
			p.mu.Unlock()
			mine++
			continue
		}
	}

	workers := map[string]int{me: 0}
	for _, l := range leases {
		if l == nil {
			continue
		}
		if l.CurrentOwner != "" && now.Before(l.ExpiresAt) {
			workers[l.CurrentOwner]++
		}
		if l.NextOwner != "" && now.Before(l.LastRenewal.Add(dur)) {
			if _, ok := workers[l.NextOwner]; !ok {
				workers[l.NextOwner] = 0
			}
		}
	}
	workers[me] = mine
	fair := (len(leases) + len(workers) - 1) / len(workers)

	if p.stoppingNow() {
		return errors.Join(errs...)
	}
	for _, l := range leases {
		if l == nil || (l.CurrentOwner != "" && now.Before(l.ExpiresAt)) {
			continue
		}
		reserved := l.NextOwner != "" && l.NextOwner != me && now.Before(l.LastRenewal.Add(dur))
		if reserved || (mine >= fair && l.NextOwner != me) {
			continue
		}
		recover := l.NeedsRecovery || l.CurrentOwner != ""
		prev := l.CurrentOwner
		l.CurrentOwner, l.NextOwner, l.IsDraining = me, "", false
		l.OwnedSince, l.LastRenewal, l.ExpiresAt = now, now, now.Add(dur)
		l.NeedsRecovery = true
		if err := w.hub.WriteLease(ctx, l); err != nil {
			if !errors.Is(err, azstore.ErrConflict) {
				errs = append(errs, err)
			}
			continue
		}
		w.log.Info("acquired partition", "partition", l.Partition, "previousOwner", prev, "recover", recover)
		p.acquire(l, recover)
		mine++
	}

	if mine < fair {
		// Ask the busiest worker for one partition; it lets go on its next round.
		var victim *azstore.Lease
		for _, l := range leases {
			if l == nil || l.CurrentOwner == me || l.CurrentOwner == "" || l.NextOwner != "" || !now.Before(l.ExpiresAt) {
				continue
			}
			if workers[l.CurrentOwner] > fair && (victim == nil || workers[l.CurrentOwner] > workers[victim.CurrentOwner]) {
				victim = l
			}
		}
		if victim != nil {
			victim.NextOwner = me
			victim.LastRenewal = now
			if err := w.hub.WriteLease(ctx, victim); err == nil {
				w.log.Info("asked for partition", "partition", victim.Partition, "owner", victim.CurrentOwner)
			}
		}
	}
	return errors.Join(errs...)
}

func (p *partitions) stoppingNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.quit
}

// acquire starts polling a newly leased partition, recovering first when
// the previous owner may have held work only in memory.
func (p *partitions) acquire(l *azstore.Lease, recover bool) {
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
		if recover {
			if err := w.recoverPartition(ctx, op.index, op.epoch); err != nil && ctx.Err() == nil {
				w.log.Error("partition recovery failed; it is retried when the partition is next acquired",
					"partition", op.index, "error", err)
			}
		}
		w.pollControl(ctx, op.index, op.epoch, p.pokes[op.index])
	}()
}

// drop forgets a partition whose lease was lost, without touching the
// lease row: the new owner recovers whatever was in flight here.
func (p *partitions) drop(ctx context.Context, i int) {
	p.mu.Lock()
	op := p.own[i]
	delete(p.own, i)
	p.mu.Unlock()
	if op == nil {
		return
	}
	op.cancel()
	<-op.stopped
	p.w.insts.releasePartition(ctx, i)
}

// release hands a partition over cleanly: stop polling, finish or hand off
// its instances' work, then clear the owner. NeedsRecovery stays set when
// activities of the partition are still running here.
func (p *partitions) release(ctx context.Context, l *azstore.Lease) error {
	p.drop(ctx, l.Partition)
	l.CurrentOwner = ""
	l.IsDraining = false
	l.NeedsRecovery = p.w.acts.inFlightFor(l.Partition) > 0
	if err := p.w.hub.WriteLease(ctx, l); err != nil {
		return err
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
func (w *Worker) pollControl(ctx context.Context, partition int, epoch int64, poke <-chan struct{}) {
	b := newPollBackoff(ctx, poke, w.opts.MaxQueuePollingInterval)
	for ctx.Err() == nil {
		if w.insts.saturated() {
			if !b.sleep(10 * time.Millisecond) {
				return
			}
			continue
		}
		got, err := w.hub.DequeueControl(ctx, partition, w.opts.ControlQueueBatchSize, w.opts.ControlQueueVisibilityTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("dequeue failed", "partition", partition, "error", err)
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
