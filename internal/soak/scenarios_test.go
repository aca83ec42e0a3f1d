package soak

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/testutil"
)

// Kill gaps: random in [minKillGap, maxKillGap), so that kills land at every stage of an
// episode, including while the previous kill's partitions are still being taken over.
const (
	minKillGap  = 500 * time.Millisecond
	maxKillGap  = 4500 * time.Millisecond
	meanKillGap = (minKillGap + maxKillGap) / 2
)

// feed starts the planned instances one after another, spread evenly over span, so that a
// scenario's faults find work in flight; span 0 starts them as fast as it can. A start that
// fails is reported, and the check then finds its instance lost.
func feed(t *testing.T, c *cluster, wants []want, span time.Duration) {
	t0 := time.Now()
	for i, w := range wants {
		time.Sleep(time.Until(t0.Add(span * time.Duration(i) / time.Duration(len(wants)))))
		if err := c.startInstance(w.name, w.id, w.input); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func cities(prefix string, n int) []want {
	wants := make([]want, n)
	for i := range wants {
		wants[i] = wantCities(fmt.Sprintf("%s-%04d", prefix, i))
	}
	return wants
}

// finish waits for the instances, checks them, fails t on any broken guarantee and returns
// the scenario's row.
func finish(t *testing.T, s *store, c *cluster, tr *tracker, wants []want, within time.Duration) row {
	t.Helper()
	return finishBuilds(t, s, []*cluster{c}, tr, wants, within)
}

// finishBuilds is finish for a hub served by several clusters, whose kills all count.
func finishBuilds(t *testing.T, s *store, cs []*cluster, tr *tracker, wants []want, within time.Duration) row {
	t.Helper()
	stall, allDone := tr.wait(within)
	wants = append(wants, s.children(t, wants)...)
	v := s.check(t, wants)
	v.report(t)
	x := row{verdict: v, stall: stall}
	var during int
	for _, c := range cs {
		b, a := c.killsBefore(allDone)
		during, x.kills = during+b, x.kills+a
	}
	if during < x.kills {
		// Kills after the last completion prove nothing; say how many did.
		x.notes = fmt.Sprintf("%d kills before the last completion", during)
	}
	return x
}

// newHub gives a scenario its own hub on the shared Azurite, with the store that checks it.
func newHub(t *testing.T) (hub, conn string, s *store) {
	conn = testutil.Storage(t)
	hub = testutil.UniqueHubName(t)
	return hub, conn, openStore(t, hub, conn)
}

// TestKillLoop crashes a random handler of two again and again while HelloCities5 and
// FanOutFanIn instances run, replacing each at once.
func TestKillLoop(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "kill loop", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 2)
		wants := cities("city", sz.killCities)
		for i := range sz.killFanOuts {
			wants = append(wants, wantFanOut(fmt.Sprintf("fan-%04d", i), sz.fanOutN))
		}
		r.Shuffle(len(wants), func(i, j int) { wants[i], wants[j] = wants[j], wants[i] })
		tr := s.track(len(wants))
		kills := c.chaos(r, sz.killKills, minKillGap, maxKillGap)
		feed(t, c, wants, time.Duration(sz.killKills)*meanKillGap)
		if err := <-kills; err != nil {
			t.Fatal(err)
		}
		return finish(t, s, c, tr, wants, sz.deadline)
	})
}

// raiseTally counts the outcomes of a Counter's Add raises.
type raiseTally struct{ acked, failed, unanswered int }

func (rt *raiseTally) add(o raiseOutcome) {
	switch o {
	case raiseAcked:
		rt.acked++
	case raiseFailed:
		rt.failed++
	default:
		rt.unanswered++
	}
}

// counters collects the wanted totals of Counter instances driven from many goroutines.
type counters struct {
	mu    sync.Mutex
	wants []want
	tally raiseTally
}

// done records a Counter whose Add 1 raises came out as rt: its total must be the acked
// raises, plus any of the unanswered ones.
func (cs *counters) done(id string, rt raiseTally) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.wants = append(cs.wants, wantCounter(id, rt.acked, rt.acked+rt.unanswered))
	cs.tally.acked += rt.acked
	cs.tally.failed += rt.failed
	cs.tally.unanswered += rt.unanswered
}

func (cs *counters) notes() string {
	return fmt.Sprintf("raises: %d acked, %d failed", cs.tally.acked, cs.tally.failed)
}

// TestEventsUnderKills raises five concurrent Adds at each Counter and then Stop, while
// handlers are crashed: every acknowledged Add must count exactly once.
func TestEventsUnderKills(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "events under kills", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 2)
		tr := s.track(sz.eventCounters)
		kills := c.chaos(r, sz.eventKills, minKillGap, maxKillGap)
		// Counters begin spread over the kills' span, so that kills land during raises.
		span := time.Duration(sz.eventKills) * meanKillGap
		var cs counters
		var wg sync.WaitGroup
		defer wg.Wait() // no flow may outlive the test, even one that fails
		t0 := time.Now()
		for i := range sz.eventCounters {
			time.Sleep(time.Until(t0.Add(span * time.Duration(i) / time.Duration(sz.eventCounters))))
			id := fmt.Sprintf("counter-%04d", i)
			wg.Go(func() {
				if err := c.startInstance("Counter", id, 0); err != nil {
					t.Errorf("%v", err)
					cs.done(id, raiseTally{acked: 5})
					return
				}
				outcomes := make(chan raiseOutcome, 5)
				var raises sync.WaitGroup
				for range 5 {
					raises.Go(func() { outcomes <- c.raise(id, "Add", 1) })
				}
				raises.Wait()
				close(outcomes)
				var rt raiseTally
				for o := range outcomes {
					rt.add(o)
				}
				cs.done(id, rt)
				if err := c.stopCounter(id); err != nil {
					t.Errorf("%v", err)
				}
			})
		}
		wg.Wait()
		if err := <-kills; err != nil {
			t.Fatal(err)
		}
		x := finish(t, s, c, tr, cs.wants, sz.deadline)
		x.unanswered, x.notes = cs.tally.unanswered, strings.TrimPrefix(x.notes+"; "+cs.notes(), "; ")
		return x
	})
}

// TestContinueAsNewChains sends Counters bursts of Adds, so that one batch runs a chain of
// continue-as-new executions, and crashes a handler right after each burst.
func TestContinueAsNewChains(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "continue-as-new chains", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 2)
		tr := s.track(sz.chainGroups * sz.chainCounters)
		var cs counters
		var stops sync.WaitGroup
		defer stops.Wait() // no Stop may outlive the test, even one that fails
		for g := range sz.chainGroups {
			ids := make([]string, sz.chainCounters)
			for i := range ids {
				ids[i] = fmt.Sprintf("chain-%02d-%02d", g, i)
				if err := c.startInstance("Counter", ids[i], 0); err != nil {
					t.Fatal(err)
				}
			}
			// Every Add of the group at once, none waiting for another, so that they are all
			// queued before the first batch is dequeued.
			outcomes := make([]chan raiseOutcome, len(ids))
			var bursts sync.WaitGroup
			for i, id := range ids {
				outcomes[i] = make(chan raiseOutcome, sz.chainBurst)
				for range sz.chainBurst {
					bursts.Go(func() { outcomes[i] <- c.raise(id, "Add", 1) })
				}
			}
			bursts.Wait()
			// The batches of the burst are being processed now: crash one of the two owners.
			time.Sleep(time.Duration(r.Int64N(int64(300 * time.Millisecond))))
			if err := c.killAndReplace(r); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				close(outcomes[i])
				var rt raiseTally
				for o := range outcomes[i] {
					rt.add(o)
				}
				cs.done(id, rt)
				stops.Go(func() {
					if err := c.stopCounter(id); err != nil {
						t.Errorf("%v", err)
					}
				})
			}
		}
		stops.Wait()
		x := finish(t, s, c, tr, cs.wants, sz.deadline)
		x.unanswered, x.notes = cs.tally.unanswered, strings.TrimPrefix(x.notes+"; "+cs.notes(), "; ")
		return x
	})
}

// TestStuckStart leaves a Pending instance row without its start message, as a client that
// died between its two writes does: the engine must start it by itself, and a second start
// with the same ID and input must be accepted rather than refused as a conflict.
func TestStuckStart(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.once().forSeeds(t, "stuck start", func(t *testing.T, _ *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 1)
		// Bound: a lease duration for a sweep to own the partition plus a sweep interval,
		// generously.
		const within = 60 * time.Second
		wants := []want{wantCities("stuck-alone"), wantCities("stuck-started-again")}
		t0 := time.Now()
		tr := s.track(len(wants))
		for _, w := range wants {
			insertStuckStart(t, s.h, w.id, w.name)
		}
		status, body, err := c.do(http.MethodPost, "/orchestrators/HelloCities5/stuck-started-again", nil)
		if err != nil || status != http.StatusAccepted {
			t.Errorf("second start of stuck Pending instance stuck-started-again: HTTP %d %s (%v), want 202", status, strings.TrimSpace(string(body)), err)
		}
		stall, allDone := tr.wait(within)
		took := "not within 60 s"
		if !allDone.IsZero() {
			took = allDone.Sub(t0).Round(100 * time.Millisecond).String()
		}
		v := s.check(t, wants)
		v.report(t)
		return row{verdict: v, stall: stall, notes: fmt.Sprintf("second start HTTP %d; all completed after %s", status, took)}
	})
}

// TestStorageOutage freezes Azurite during a run, then restarts it on the same data. The
// starts go on through both, as clients of a real app would.
func TestStorageOutage(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "storage outage", func(t *testing.T, r *rand.Rand) row {
		az := testutil.StartAzuriteProcess(t, t.TempDir())
		conn := az.ConnectionString()
		hub := testutil.UniqueHubName(t)
		s := openStore(t, hub, conn)
		c := newCluster(t, hub, conn, 2)
		wants := cities("city", sz.outageCities)
		tr := s.track(len(wants))
		span := 2 * sz.outagePause
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			feed(t, c, wants, span)
		}()

		// Freeze storage at a random moment of the first half of the starts.
		time.Sleep(span/8 + time.Duration(r.Int64N(int64(span/4))))
		pausedAt := tr.count()
		az.Pause()
		time.Sleep(sz.outagePause)
		az.Resume()
		// Restart storage once the handlers have got going again.
		waitUntil(30*time.Second, func() bool { return tr.count() > pausedAt })
		restartedAt := tr.count()
		az.Restart(t)
		<-fed
		if pausedAt == len(wants) || restartedAt == len(wants) {
			t.Errorf("harness: the outage (at %d completed) or the restart (at %d) came after all %d completed; the run proves nothing",
				pausedAt, restartedAt, len(wants))
		}

		x := finish(t, s, c, tr, wants, sz.deadline)
		x.notes = fmt.Sprintf("paused %v at %d completed, restarted at %d", sz.outagePause, pausedAt, restartedAt)
		return x
	})
}

// waitUntil polls cond every 50 ms for at most within; the caller checks what it needs.
func waitUntil(within time.Duration, cond func() bool) {
	deadline := time.Now().Add(within)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// change is a change of the set of live handlers, from which the leases must rebalance.
type change struct {
	what string
	at   time.Time
	live []*handler
}

// rebalanceBound is how soon after a change the split must be within one: a renew interval
// for the leaving or arriving worker to act and one for the others, plus slack.
const rebalanceBound = 2*leaseRenewInterval + time.Second

// unownedBound is the longest a partition may go without a lease in force.
const unownedBound = leaseDuration + 10*time.Second

// checkRebalancing fails t when, after any change, the leases did not split within one over
// the live handlers within rebalanceBound, or a partition went unowned longer than
// unownedBound. end is when the last phase ended. It returns the settle times, for notes.
func checkRebalancing(t *testing.T, ls *leaseSampler, changes []change, end time.Time) string {
	t.Helper()
	var notes []string
	for i, ch := range changes {
		until := end
		if i+1 < len(changes) {
			until = changes[i+1].at
		}
		settled := time.Time{}
		for _, smp := range ls.since(ch.at) {
			if !smp.at.Before(until) {
				break
			}
			if smp.balanced(ch.live) {
				settled = smp.at
				break
			}
		}
		if settled.IsZero() {
			t.Errorf("after %s the leases never split within one over %v:\n%s", ch.what, ch.live, timeline(ls.since(ch.at), ch))
			notes = append(notes, ch.what+": never")
			continue
		}
		took := settled.Sub(ch.at)
		notes = append(notes, fmt.Sprintf("%s: %v", ch.what, took.Round(100*time.Millisecond)))
		if took > rebalanceBound {
			t.Errorf("after %s the leases took %v to split within one, bound %v:\n%s", ch.what, took, rebalanceBound, timeline(ls.since(ch.at), ch))
		}
	}
	longest, p := longestUnowned(ls.since(changes[0].at))
	notes = append(notes, fmt.Sprintf("longest unowned %v", longest.Round(100*time.Millisecond)))
	if longest > unownedBound {
		t.Errorf("partition %d had no lease for %v, bound %v", p, longest, unownedBound)
	}
	return strings.Join(notes, ", ")
}

// timeline lists the samples after a change at which the owners changed, each owner named
// by its live handler, with the time since the change, up to 30 s after it.
func timeline(samples []leaseSample, ch change) string {
	var b strings.Builder
	var prev []string
	for i, s := range samples {
		since := s.at.Sub(ch.at)
		if since > 30*time.Second {
			break
		}
		if i > 0 && slices.Equal(s.owners, prev) {
			continue
		}
		prev = s.owners
		names := make([]string, len(s.owners))
		for p, owner := range s.owners {
			names[p] = "-"
			if owner != "" {
				names[p] = "?" + owner // not a live handler
			}
			for _, h := range ch.live {
				if h.owns(owner) {
					names[p] = fmt.Sprintf("h%d", h.n)
				}
			}
		}
		fmt.Fprintf(&b, "  +%v partitions 0..%d: %s\n", since.Round(10*time.Millisecond), len(names)-1, strings.Join(names, " "))
	}
	return b.String()
}

// TestScaleOutAndIn runs one handler, adds two, then stops two gracefully, while work goes
// on and the Partitions table is sampled.
func TestScaleOutAndIn(t *testing.T) {
	sz := sizeOf(t)
	sz.once().forSeeds(t, "scale-out 1→3→1", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		ls := s.sampleLeases(t)
		c := newCluster(t, hub, conn, 1)
		changes := []change{{"start of 1", time.Now(), c.handlers()}}
		// Five starts a second through all three phases.
		wants := cities("city", int(3*sz.scalePhase/(200*time.Millisecond)))
		tr := s.track(len(wants))
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			feed(t, c, wants, 3*sz.scalePhase)
		}()

		time.Sleep(sz.scalePhase)
		var starts sync.WaitGroup
		for range 2 {
			starts.Go(func() {
				if _, err := c.start(); err != nil {
					t.Errorf("%v", err)
				}
			})
		}
		starts.Wait()
		changes = append(changes, change{"scale-out to 3", time.Now(), c.handlers()})

		time.Sleep(sz.scalePhase)
		live := c.handlers()
		r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		var exits [2]time.Duration
		var stops sync.WaitGroup
		for i, h := range live[:2] {
			stops.Go(func() { exits[i] = c.terminate(h) })
		}
		stops.Wait()
		// The change is the exit: until then the leaving workers may still hold leases.
		changes = append(changes, change{"scale-in to 1", time.Now(), c.handlers()})
		for _, e := range exits {
			if e > 5*time.Second {
				t.Errorf("a scaled-in handler took %v to exit after SIGTERM, bound 5 s", e)
			}
		}

		time.Sleep(sz.scalePhase)
		end := time.Now()
		<-fed
		ls.stop()
		notes := checkRebalancing(t, ls, changes, end)
		x := finish(t, s, c, tr, wants, sz.deadline)
		x.notes = fmt.Sprintf("%s; scale-in exits %v, %v", notes, exits[0].Round(time.Millisecond), exits[1].Round(time.Millisecond))
		return x
	})
}

// TestGracefulRestart stops an idle handler of two with SIGTERM: it must exit quickly and
// hand its partitions over at once (the other worker's next renewal), not after a lease
// duration as after a crash.
func TestGracefulRestart(t *testing.T) {
	sz := sizeOf(t)
	sz.once().forSeeds(t, "graceful restart", func(t *testing.T, _ *rand.Rand) row {
		hub, conn, s := newHub(t)
		ls := s.sampleLeases(t)
		c := newCluster(t, hub, conn, 2)
		if _, ok := ls.waitFor(time.Now(), 30*time.Second, func(smp leaseSample) bool { return smp.balanced(c.handlers()) }); !ok {
			t.Fatalf("two handlers did not split the partitions within 30 s")
		}
		// Some work first, so that the stop finds a worker that has run episodes and
		// activities, but none running.
		wants := cities("city", 10)
		tr := s.track(len(wants))
		feed(t, c, wants, 0)
		x := finish(t, s, c, tr, wants, sz.deadline)

		var notes []string
		for i := range sz.gracefulRestarts {
			live := c.handlers()
			leaving, staying := live[i%2], live[(i+1)%2]
			t0 := time.Now()
			exit := c.terminate(leaving)
			exited := t0.Add(exit)
			at, ok := ls.waitFor(exited, leaseDuration+10*time.Second, func(smp leaseSample) bool {
				return smp.balanced([]*handler{staying})
			})
			if exit > 5*time.Second {
				t.Errorf("%s took %v to exit after SIGTERM, bound 5 s", leaving, exit)
			}
			if !ok {
				t.Errorf("%s did not own all partitions within %v of %s's exit", staying, leaseDuration+10*time.Second, leaving)
				notes = append(notes, fmt.Sprintf("exit %v, takeover never", exit.Round(time.Millisecond)))
			} else {
				takeover := at.Sub(exited)
				notes = append(notes, fmt.Sprintf("exit %v, takeover %v after exit", exit.Round(time.Millisecond), takeover.Round(100*time.Millisecond)))
				// One renew interval (the staying worker's next balance) plus slack; a lease
				// duration would mean the leaving worker did not release its leases.
				if bound := leaseRenewInterval + time.Second; takeover > bound {
					t.Errorf("%s owned %s's partitions %v after its exit, bound %v (lease duration %v)", staying, leaving, takeover, bound, leaseDuration)
				}
			}
			// The restart's second half: a new process joins and the split must even out.
			c.mustStart()
			ready := time.Now()
			if _, ok := ls.waitFor(ready, rebalanceBound, func(smp leaseSample) bool { return smp.balanced(c.handlers()) }); !ok {
				t.Errorf("after the restart the partitions were not split within %v", rebalanceBound)
			}
		}
		x.notes = strings.Join(notes, "; ")
		return x
	})
}
