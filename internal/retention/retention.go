// Package retention purges finished instances once they are older than
// host.json's extensions.durableTask.retention allows, from inside the app:
// no timer function to write. One app instance sweeps at a time, the one
// whose worker owns control-queue partition 0, every interval.
//
// A sweep is cheap by construction. A full sweep takes its candidates from
// the client's EachMatch with the configured statuses and CreatedTo = now -
// age (an instance finishes after it is created, so no older one can be
// missed), a filtered scan of the Instances table, and keeps those whose
// CompletedTime (LastUpdatedTime for rows without one) is older than the
// age too. The sweeps in between look only at the instances that aged out
// since the last one: created between its cutoff and the new one, which
// the instance index serves by reading just them. An instance that ran for
// longer than its retention age finishes after its creation left that
// window; the next full sweep, at most FullSweepEvery later, purges it. The purge itself is the
// client's pipeline. A sweep that a crash or a lost lease interrupts is
// simply done again by the next one; two overlapping sweeps (a lease
// handed over mid-sweep) are harmless, as purging is idempotent.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
)

// Options configure a Sweeper.
type Options struct {
	// Policy is the retention configuration; Enabled must hold.
	Policy config.Retention
	// Client purges.
	Client *client.Client
	// Leader reports whether this app instance is the one that sweeps now
	// (worker.Worker.OwnsPartition(0)); nil means always.
	Leader func() bool
	Logger *slog.Logger
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// FullSweepEvery is how often a sweep walks every candidate rather than
// only those that aged out since the previous sweep.
const FullSweepEvery = 24 * time.Hour

// windowSlack widens an incremental sweep's window back in time, so that
// clocks that differ between the app instances that sweep in turn, or a
// row whose CreatedTime a slow writer set, are not missed.
const windowSlack = time.Minute

// Sweeper enforces a retention policy.
type Sweeper struct {
	opts Options
	mu   sync.Mutex
	// lastFull is when this sweeper last finished a full sweep; cutoffs
	// are the cutoffs, per age, of its last successful sweep. A new leader
	// has neither, so its first sweep is full.
	lastFull time.Time
	cutoffs  map[time.Duration]time.Time
}

// New returns a Sweeper; Run starts it.
func New(o Options) *Sweeper {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy.Interval <= 0 {
		o.Policy.Interval = config.DefaultRetentionInterval
	}
	return &Sweeper{opts: o, cutoffs: map[time.Duration]time.Time{}}
}

// Run sweeps every interval until ctx ends. The first sweep waits one
// interval too: at start-up the worker has not acquired its leases yet,
// and an app that restarts often should not sweep on every start.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Policy.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.opts.Leader != nil && !s.opts.Leader() {
			continue
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("retention sweep failed; the next one tries again", "error", err, "in", s.opts.Policy.Interval)
		}
	}
}

// rule is one age and the statuses that share it.
type rule struct {
	age      time.Duration
	statuses []history.RuntimeStatus
}

// rules groups the configured statuses by age, so that statuses with the
// same age cost one walk.
func (s *Sweeper) rules() []rule {
	p := s.opts.Policy
	byAge := map[time.Duration][]history.RuntimeStatus{}
	for _, r := range []struct {
		age time.Duration
		st  history.RuntimeStatus
	}{
		{p.Completed, history.StatusCompleted}, {p.Failed, history.StatusFailed},
		{p.Terminated, history.StatusTerminated}, {p.Canceled, history.StatusCanceled},
	} {
		if r.age > 0 {
			byAge[r.age] = append(byAge[r.age], r.st)
		}
	}
	out := make([]rule, 0, len(byAge))
	for age, sts := range byAge {
		out = append(out, rule{age, sts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].age < out[j].age })
	return out
}

// finishedAt is when an instance finished, as far as its row tells.
func finishedAt(st *client.Status) time.Time {
	if !st.CompletedTime.IsZero() {
		return st.CompletedTime
	}
	return st.LastUpdatedTime
}

// Sweep purges once every instance the policy says is too old (a full
// sweep), or those that aged out since the previous sweep, and returns how
// many it purged.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	full := s.lastFull.IsZero() || now.Sub(s.lastFull) >= FullSweepEvery
	total := 0
	for _, r := range s.rules() {
		start := s.opts.Now()
		began := time.Now() // for "took": opts.Now may be a test's clock
		cutoff := start.UTC().Add(-r.age)
		// Internal instances (finished bulk operations) age out like any
		// other: lists hide them, so nobody would purge them by hand.
		q := client.Query{Statuses: r.statuses, CreatedTo: cutoff, ShowInternal: true}
		if last, ok := s.cutoffs[r.age]; ok && !full {
			q.CreatedFrom = last.Add(-windowSlack)
		}
		skipped := 0
		n, err := s.opts.Client.PurgeMatching(ctx, q,
			func(st *client.Status) bool {
				if finishedAt(st).Before(cutoff) {
					return true
				}
				skipped++ // created before the cutoff but finished after it
				return false
			}, nil)
		total += n
		if n > 0 || err != nil {
			s.opts.Logger.Info("retention purged instances", "count", n, "statuses", r.statuses, "maxAge", r.age,
				"finishedBefore", cutoff, "full", q.CreatedFrom.IsZero(), "youngerSkipped", skipped,
				"took", time.Since(began).Round(time.Millisecond))
		}
		if err != nil {
			// The next sweep starts from the last good cutoff.
			return total, fmt.Errorf("retention of %v instances older than %s: %w", r.statuses, r.age, err)
		}
		s.cutoffs[r.age] = cutoff
	}
	if full {
		s.lastFull = now
	}
	return total, nil
}
