package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/testutil"
)

// The scenarios of issue 16: faults that the scenarios above do not reach: a clean
// hand-over over more partitions than handlers, a table service that refuses everything
// for a while, a crash right after starts taken in memory, instances that consume more
// events than any fixed de-duplication window, and a crash inside a continue-as-new chain.

// newHubWith is newHub for a hub of another partition count.
func newHubWith(t *testing.T, partitions int) (hub, conn string, s *store) {
	conn = testutil.Storage(t)
	hub = testutil.UniqueHubName(t)
	return hub, conn, openStoreWith(t, hub, conn, partitions)
}

// feedVia starts the planned instances spread evenly over span like feed, but each start in
// its own goroutine, so that a start held up by a storage fault does not hold up the next
// ones, and each through the handlers that via chooses for it. It returns when all are done.
func feedVia(t *testing.T, c *cluster, wants []want, span time.Duration, via func(w want) func() *handler) {
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, w := range wants {
		time.Sleep(time.Until(t0.Add(span * time.Duration(i) / time.Duration(len(wants)))))
		wg.Go(func() {
			if err := c.startInstanceVia(via(w), w.name, w.id, w.input, false); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
}

// ownersNow waits until every partition has a lease in force held by a live handler and
// returns the holder of each, or fails t after within.
func ownersNow(t *testing.T, c *cluster, ls *leaseSampler, within time.Duration) []*handler {
	t.Helper()
	return ownersOf(t, c.handlers, ls, within)
}

// ownersOf is ownersNow for the handlers that live returns, of several clusters.
func ownersOf(t *testing.T, live func() []*handler, ls *leaseSampler, within time.Duration) []*handler {
	t.Helper()
	var out []*handler
	_, ok := ls.waitFor(time.Now(), within, func(smp leaseSample) bool {
		live := live()
		out = make([]*handler, len(smp.owners))
		for p, owner := range smp.owners {
			for _, h := range live {
				if h.owns(owner) {
					out[p] = h
				}
			}
			if out[p] == nil {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("harness: the live handlers did not own every partition within %v", within)
	}
	return out
}

// TestCleanHandOver runs one handler on eight partitions, lets two more join (the first
// releases partitions on their ask) and then stops both with SIGTERM, while bursts of
// HelloCities5 go on through all three phases. No handler crashes: every partition moves
// by a clean release, which must hand over or finish everything the releasing worker held
// in memory.
func TestCleanHandOver(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "clean hand-over 1→3→1, 8 partitions", func(t *testing.T, r *rand.Rand) row {
		o := hubOptions{partitions: 8, lease: leaseDuration, renew: leaseRenewInterval}
		hub, conn, s := newHubWith(t, o.partitions)
		ls := s.sampleLeases(t)
		c := newClusterWith(t, hub, conn, 1, o)
		// Phases of random length around handOverPhase, so that the joins and the leaves
		// land at different moments of the bursts for each seed.
		phase := func() time.Duration {
			return sz.handOverPhase*3/4 + time.Duration(r.Int64N(int64(sz.handOverPhase/2)))
		}
		phases := []time.Duration{phase(), phase(), phase()}
		span := phases[0] + phases[1] + phases[2]
		bursts := int(span / time.Second)
		wants := cities("city", bursts*sz.handOverBurst)
		tr := s.track(len(wants))
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			// A burst a second, all of its starts at once.
			var wg sync.WaitGroup
			t0 := time.Now()
			for b := range bursts {
				time.Sleep(time.Until(t0.Add(time.Duration(b) * time.Second)))
				for _, w := range wants[b*sz.handOverBurst : (b+1)*sz.handOverBurst] {
					wg.Go(func() {
						if err := c.startInstance(w.name, w.id, w.input); err != nil {
							t.Errorf("%v", err)
						}
					})
				}
			}
			wg.Wait()
		}()

		time.Sleep(phases[0])
		var joins sync.WaitGroup
		for range 2 {
			joins.Go(func() {
				if _, err := c.start(); err != nil {
					t.Errorf("%v", err)
				}
			})
		}
		joins.Wait()
		joinedAt := time.Now()
		joined := c.handlers()[1:]
		// The hand-over must have happened for the scenario to prove anything: each joiner
		// owns some partitions before it leaves.
		tookOver := func(smp leaseSample) bool {
			counts, ok := smp.split(c.handlers())
			return ok && len(counts) == 3 && counts[1] > 0 && counts[2] > 0
		}
		// The phase lasts at least its planned length and until the joiners
		// own partitions (a loaded machine stretches the lease rounds that
		// hand them over), 60 s at most.
		_, handedOver := ls.waitFor(joinedAt, max(phases[1], time.Minute), tookOver)
		time.Sleep(time.Until(joinedAt.Add(phases[1])))
		if !handedOver {
			t.Errorf("harness: the joining handlers %v got no partitions within a minute; the run proves nothing", joined)
		}
		// The last split with every partition owned, for the notes.
		var split []int
		for _, smp := range ls.since(joinedAt) {
			if counts, ok := smp.split(c.handlers()); ok {
				split = counts
			}
		}

		var exits [2]time.Duration
		var stops sync.WaitGroup
		for i, h := range joined {
			stops.Go(func() { exits[i] = c.terminate(h) })
		}
		stops.Wait()
		for i, e := range exits {
			if e > 5*time.Second {
				t.Errorf("%s took %v to exit after SIGTERM, bound 5 s", joined[i], e)
			}
		}
		time.Sleep(phases[2])
		<-fed
		end := time.Now()
		x := finish(t, s, c, tr, wants, sz.deadline)
		// A lease that lapsed turns a clean hand-over into a takeover: say so.
		var samples []leaseSample
		for _, smp := range ls.since(joinedAt) {
			if smp.at.Before(end) {
				samples = append(samples, smp)
			}
		}
		unowned, p := longestUnowned(samples)
		x.notes = fmt.Sprintf("phases %v %v %v; split before the leave %v; SIGTERM exits %v, %v; longest unowned partition after the join %v (p%d)",
			phases[0].Round(100*time.Millisecond), phases[1].Round(100*time.Millisecond), phases[2].Round(100*time.Millisecond),
			split, exits[0].Round(time.Millisecond), exits[1].Round(time.Millisecond), unowned.Round(100*time.Millisecond), p)
		return x
	})
}

// brownoutLease outlasts the brown-out, so that no lease is taken over during it: what
// breaks then is the workers' handling of storage errors, not a takeover.
const brownoutLease = 30 * time.Second

// TestTableBrownout makes the table endpoint answer 503 ServerBusy to every request of the
// handlers for sz.brownout, as Azure Storage does when it throttles or fails over, while
// queues and blobs keep working. Starts are sent to the handler that does not own the
// instance's partition, so that they travel through the control queue.
func TestTableBrownout(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "table brown-out", func(t *testing.T, r *rand.Rand) row {
		o := hubOptions{partitions: partitionCount, lease: brownoutLease, renew: leaseRenewInterval}
		hub, conn, s := newHubWith(t, o.partitions)
		// The store reads Azurite directly; only the handlers go through the proxy.
		target, err := testutil.EndpointHost(conn, "TableEndpoint")
		if err != nil {
			t.Fatal(err)
		}
		proxy := testutil.StartFaultProxy(t, target)
		proxied, err := testutil.ConnectionStringWith(conn, "TableEndpoint", proxy.URL())
		if err != nil {
			t.Fatal(err)
		}
		ls := s.sampleLeases(t)
		c := newClusterWith(t, hub, proxied, 2, o)
		// With a 30 s lease a split takes an ask and two lease rounds, and a
		// loaded machine stretches those: this is the scenario's starting
		// point, not a guarantee under test.
		if _, ok := ls.waitFor(time.Now(), 90*time.Second, func(smp leaseSample) bool { return smp.balanced(c.handlers()) }); !ok {
			t.Fatalf("harness: two handlers did not split the partitions within 90 s")
		}
		owners := ownersNow(t, c, ls, 10*time.Second)
		split := time.Now()
		live := c.handlers()
		nonOwner := func(w want) func() *handler {
			owner := owners[s.h.PartitionOf(w.id)]
			other := live[0]
			if other == owner {
				other = live[1]
			}
			return func() *handler { return other }
		}

		wants := cities("city", sz.brownoutCities)
		tr := s.track(len(wants))
		// Starts from before the brown-out until after it, so that it finds instances at
		// every stage and starts keep arriving through it.
		lead := time.Second + time.Duration(r.Int64N(int64(2*time.Second)))
		span := lead + sz.brownout + 2*time.Second
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			feedVia(t, c, wants, span, nonOwner)
		}()
		time.Sleep(lead)
		atStart := tr.count()
		proxy.ServerBusy(true)
		time.Sleep(sz.brownout)
		proxy.ServerBusy(false)
		atEnd := tr.count()
		<-fed
		if proxy.Refused() == 0 || atStart == len(wants) {
			t.Errorf("harness: the brown-out refused %d requests and began at %d of %d completed; the run proves nothing",
				proxy.Refused(), atStart, len(wants))
		}
		x := finish(t, s, c, tr, wants, sz.deadline)
		// A lease that changed hands means the run tested a takeover, not the brown-out alone.
		moved := 0
		for _, smp := range ls.since(split) {
			for p, owner := range smp.owners {
				if owner != "" && !owners[p].owns(owner) {
					moved++
					break
				}
			}
		}
		x.notes = fmt.Sprintf("%v of 503s (%d refused) from %d to %d completed; lead %v; lease samples with a moved partition: %d",
			sz.brownout, proxy.Refused(), atStart, atEnd, lead.Round(100*time.Millisecond), moved)
		return x
	})
}

// startBurst is the number of starts sent at once to a partition's owner before it is
// killed.
const startBurst = 30

// sendOnce sends one request to h and never again: for starts whose outcome decides how
// they are followed up.
func (c *cluster) sendOnce(h *handler, method, path string, body []byte) (int, error) {
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestKillAfterStarts sends bursts of starts straight to the owner of their partitions,
// which takes them in memory (its client skips the control queue), and SIGKILLs it 0-300 ms
// after its k-th 202, k random, then starts a replacement. Half the starts are
// SubOrchestrationDemo parents, half HelloCities5. Every acknowledged start must complete,
// and every child its parents started.
func TestKillAfterStarts(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "kill right after starts", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		ls := s.sampleLeases(t)
		c := newCluster(t, hub, conn, 2)
		var wants []want
		var parents, acked, retried int
		var notes []string
		for b := range sz.startBursts {
			owners := ownersNow(t, c, ls, 3*leaseDuration)
			victim := owners[r.IntN(len(owners))]
			var burst []want
			for j := 0; len(burst) < startBurst; j++ {
				id := fmt.Sprintf("b%02d-%04d", b, j)
				if owners[s.h.PartitionOf(id)] != victim {
					continue
				}
				w := wantCities(id)
				if r.IntN(2) == 0 {
					w = wantJSON(id, "SubOrchestrationDemo", citiesOutput)
					parents++
				}
				burst = append(burst, w)
			}
			wants = append(wants, burst...)

			k := 1 + r.IntN(startBurst)
			delay := time.Duration(r.Int64N(int64(300 * time.Millisecond)))
			var n atomic.Int32
			killed := make(chan struct{})
			var killOnce sync.Once
			kill := func() {
				killOnce.Do(func() {
					go func() {
						defer close(killed)
						time.Sleep(delay)
						c.kill(victim)
					}()
				})
			}
			answered := make([]bool, len(burst))
			var sends sync.WaitGroup
			for i, w := range burst {
				sends.Go(func() {
					status, err := c.sendOnce(victim, http.MethodPost, "/orchestrators/"+w.name+"/"+w.id, nil)
					if err == nil && status == http.StatusAccepted {
						answered[i] = true
						if int(n.Add(1)) == k {
							kill()
						}
					}
				})
			}
			sends.Wait()
			kill() // fewer than k starts were acknowledged: kill now
			<-killed
			if _, err := c.start(); err != nil {
				t.Fatal(err)
			}
			// What the victim did not acknowledge goes to the live handlers, where a 409
			// means that the victim did take it.
			var resends sync.WaitGroup
			for i, w := range burst {
				if answered[i] {
					acked++
					continue
				}
				retried++
				resends.Go(func() {
					if err := c.startInstanceVia(c.pick, w.name, w.id, nil, true); err != nil {
						t.Errorf("%v", err)
					}
				})
			}
			resends.Wait()
			notes = append(notes, fmt.Sprintf("%d+%dms", k, delay.Milliseconds()))
		}
		// Each SubOrchestrationDemo completes its child too.
		tr := s.track(len(wants) + parents)
		x := finish(t, s, c, tr, wants, sz.deadline)
		x.notes = fmt.Sprintf("%d parents; %d starts acked before the kill, %d resent; kills after k-th 202 + delay: %s",
			parents, acked, retried, strings.Join(notes, " "))
		return x
	})
}

// waitTotals waits until the stored history of each Counter has reached its wanted
// total, or within has passed, and returns the totals last read. Stop is raised only then:
// a Stop that overtook an Add (a message a killed worker held comes back only after the
// visibility timeout) would end the Counter before it and the Add would look lost.
func waitTotals(t *testing.T, s *store, lo map[string]int, within time.Duration) map[string]int {
	t.Helper()
	got := map[string]int{}
	deadline := time.Now().Add(within)
	for {
		short := 0
		for id, n := range lo {
			if got[id] >= n {
				continue
			}
			snap, err := s.h.LoadHistory(context.Background(), id)
			if err == nil {
				got[id] = counterTotal(snap.Events)
			}
			if got[id] < n {
				short++
			}
		}
		if short == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// raiseAll sends Add 1 to the Counters ids, adds times each, from a pool of workers,
// spread evenly over span (0: as fast as the pool goes), and returns each Counter's tally
// and when the last 202 came.
func raiseAll(c *cluster, r *rand.Rand, ids []string, adds int, span time.Duration) (map[string]*raiseTally, time.Time) {
	jobs := make([]string, 0, len(ids)*adds)
	for _, id := range ids {
		for range adds {
			jobs = append(jobs, id)
		}
	}
	r.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })
	tallies := map[string]*raiseTally{}
	for _, id := range ids {
		tallies[id] = &raiseTally{}
	}
	var mu sync.Mutex
	var last time.Time
	next := make(chan int)
	var workers sync.WaitGroup
	t0 := time.Now()
	for range 48 {
		workers.Go(func() {
			for j := range next {
				time.Sleep(time.Until(t0.Add(span * time.Duration(j) / time.Duration(len(jobs)))))
				o := c.raise(jobs[j], "Add", 1)
				mu.Lock()
				tallies[jobs[j]].add(o)
				if o == raiseAcked {
					last = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	for j := range jobs {
		next <- j
	}
	close(next)
	workers.Wait()
	return tallies, last
}

// TestBusyInstances keeps sz.busyAdds Add events per Counter in flight, more than any fixed
// window of remembered message IDs, while handlers of two are crashed and replaced: every
// Counter must count exactly the Adds acknowledged.
func TestBusyInstances(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "busy instances", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 2)
		ids := make([]string, sz.busyCounters)
		var wants []want
		for i := range ids {
			ids[i] = fmt.Sprintf("busy-%02d", i)
			wants = append(wants, wantCounter(ids[i], 0, 0))
		}
		startAll(t, c, wants)
		kills := c.chaos(r, sz.busyKills, minKillGap, maxKillGap)
		tallies, _ := raiseAll(c, r, ids, sz.busyAdds, time.Duration(sz.busyKills)*meanKillGap)
		if err := <-kills; err != nil {
			t.Fatal(err)
		}
		var cs counters
		lo := map[string]int{}
		for _, id := range ids {
			cs.done(id, *tallies[id])
			lo[id] = tallies[id].acked
		}
		got := waitTotals(t, s, lo, sz.deadline)
		// Counters complete only on Stop: stalls before it mean nothing.
		tr := s.track(len(ids))
		stopAll(t, c, cs.wants)
		x := finish(t, s, c, tr, cs.wants, sz.deadline)
		var short []string
		for _, id := range ids {
			if hi := lo[id] + tallies[id].unanswered; got[id] < lo[id] || got[id] > hi {
				short = append(short, fmt.Sprintf("%s %d of %d..%d", id, got[id], lo[id], hi))
			}
		}
		x.unanswered = cs.tally.unanswered
		x.notes = strings.TrimPrefix(x.notes+"; "+cs.notes(), "; ")
		if len(short) > 0 {
			x.notes += "; totals in history before Stop outside acked..acked+unanswered: " + strings.Join(short, ", ")
		}
		return x
	})
}

// rowBound is how long after its history has settled an instance's row may still
// contradict it. The row is written right after the checkpoint it reflects, so a few
// seconds cover a slow write; a row still wrong then stays wrong.
const rowBound = 10 * time.Second

// TestContinueAsNewKill gives Counters five Adds at once, each Add a continue-as-new, and
// SIGKILLs the only handler 100-700 ms after the last 202, then starts another; the full
// size does this for several rounds. Once the histories have settled after each kill,
// every row must agree with its history (execution and custom status, the running total)
// within rowBound; at the end Stop ends each Counter with its total.
func TestContinueAsNewKill(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "continue-as-new kill", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 1)
		ids := make([]string, sz.canKillCounters)
		var wants []want
		zero := map[string]int{}
		for i := range ids {
			ids[i] = fmt.Sprintf("can-%02d", i)
			wants = append(wants, wantCounter(ids[i], 0, 0))
			zero[ids[i]] = 0
		}
		startAll(t, c, wants)
		// The Adds must find running Counters, not Pending ones.
		for id, n := range waitTotals(t, s, zero, time.Minute) {
			if n < 0 {
				t.Fatalf("harness: Counter %s did not start within a minute", id)
			}
		}
		total := map[string]*raiseTally{}
		for _, id := range ids {
			total[id] = &raiseTally{}
		}
		var pre verdict
		var rounds []string
		for range sz.canKillRounds {
			tallies, last := raiseAll(c, r, ids, sz.canKillAdds, 0)
			delay := 100*time.Millisecond + time.Duration(r.Int64N(int64(600*time.Millisecond)))
			time.Sleep(time.Until(last.Add(delay)))
			c.kill(c.handlers()[0])
			lo := map[string]int{}
			for _, id := range ids {
				total[id].acked += tallies[id].acked
				total[id].failed += tallies[id].failed
				total[id].unanswered += tallies[id].unanswered
				lo[id] = total[id].acked
			}
			// With no handler alive the histories stand still: how far the kill cut the work.
			atKill := waitTotals(t, s, lo, 0)
			done := 0
			for _, id := range ids {
				if atKill[id] >= lo[id] {
					done++
				}
			}
			c.mustStart()
			waitTotals(t, s, lo, sz.deadline)
			stale := rowsAgainstHistory(t, s, ids, &pre)
			rounds = append(rounds, fmt.Sprintf("killed %v after the last 202 with %d/%d Counters done, %d rows ≠ history",
				delay.Round(time.Millisecond), done, len(ids), stale))
		}
		pre.instances = len(ids)
		pre.report(t)

		var cs counters
		for _, id := range ids {
			cs.done(id, *total[id])
		}
		// Counters complete only on Stop: stalls before it mean nothing.
		tr := s.track(len(ids))
		stopAll(t, c, cs.wants)
		x := finish(t, s, c, tr, cs.wants, sz.deadline)
		x.verdict.stale += pre.stale
		x.verdict.problems = append(x.verdict.problems, pre.problems...)
		x.unanswered = cs.tally.unanswered
		x.notes = fmt.Sprintf("%s (rows checked %v after the histories settled); %s", strings.Join(rounds, "; "), rowBound, cs.notes())
		return x
	})
}

// rowsAgainstHistory compares each Counter's row with its stored history until all agree
// or rowBound has passed, adds those that still disagree to v and returns how many did.
func rowsAgainstHistory(t *testing.T, s *store, ids []string, v *verdict) int {
	t.Helper()
	deadline := time.Now().Add(rowBound)
	for {
		var found []problem
		for _, id := range ids {
			st, snap := s.statusAndHistory(t, id)
			if d := rowVsHistory(want{id: id, custom: counterCustom}, st, snap); len(d) > 0 {
				found = append(found, problem{id: id, kind: "row contradicts history (before Stop)",
					detail: strings.Join(d, "; "), history: shortHistory(snap.Events)})
			}
		}
		if len(found) == 0 || time.Now().After(deadline) {
			v.stale += len(found)
			v.problems = append(v.problems, found...)
			return len(found)
		}
		time.Sleep(time.Second)
	}
}
