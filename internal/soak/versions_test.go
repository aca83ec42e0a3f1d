package soak

// The version scenarios (issue 19): several builds of one app on one hub, each a cluster of
// handler processes with a host.json of its own, as a rolling deploy runs them. The builds
// of TestVersions* are scaleapp, one binary started as "old" and "new" (app setting
// APP_BUILD), whose host.json files differ in defaultVersion and the version strategies as
// a user would set them; its Steps orchestrator records which build ran it. The deploy test
// builds a real app of its own three times, and the soak scenario runs the repository's
// handler as both builds.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

const (
	oldVersion = "1.0"
	newVersion = "2.0"
	// rejectPeriod is the worker's (internal/worker): a rejected instance's messages come
	// back at every multiple of it.
	rejectPeriod = 15 * time.Second
)

// versionHub is defaultHub with a build's version settings.
func versionHub(version, match, failure string) hubOptions {
	o := defaultHub
	o.version, o.match, o.failure = version, match, failure
	return o
}

// newStepsBuild is a build of scaleapp named name (which its Steps orchestrator records)
// with host.json's version settings o. Its handlers log at debug level, where each
// rejection shows.
func newStepsBuild(t *testing.T, hub, conn, name string, o hubOptions) *cluster {
	t.Helper()
	// APP_BUILD is scaleapp's BuildSetting.
	c := newBuild(t, hub, conn, appDir(t, hub, o), scaleAppBinary(t), "APP_BUILD="+name, "DURABLE_LOG_LEVEL=debug")
	c.name = name
	return c
}

// liveOf returns the live handlers of several clusters.
func liveOf(cs ...*cluster) func() []*handler {
	return func() []*handler {
		var out []*handler
		for _, c := range cs {
			out = append(out, c.handlers()...)
		}
		return out
	}
}

// balancedOwners waits until the live handlers own every partition, split within one, and
// returns the owner of each; it fails t after within.
func balancedOwners(t *testing.T, ls *leaseSampler, live func() []*handler, within time.Duration) []*handler {
	t.Helper()
	var owners []*handler
	_, ok := ls.waitFor(time.Now(), within, func(smp leaseSample) bool {
		hs := live()
		if !smp.balanced(hs) {
			return false
		}
		owners = make([]*handler, len(smp.owners))
		for p, owner := range smp.owners {
			for _, h := range hs {
				if h.owns(owner) {
					owners[p] = h
				}
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("harness: the handlers %v did not split the partitions within %v", live(), within)
	}
	return owners
}

// idsOn returns per instance IDs with prefix for each partition, so that every build has
// instances on its partitions whatever the split.
func idsOn(s *store, prefix string, per int) []string {
	n := make([]int, s.h.PartitionCount())
	var ids []string
	for i := 0; len(ids) < per*len(n); i++ {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		if p := s.h.PartitionOf(id); n[p] < per {
			n[p]++
			ids = append(ids, id)
		}
	}
	return ids
}

// splitByOwner divides ids into those whose partition a handler of c owns and the others.
func splitByOwner(s *store, ids []string, owners []*handler, c *cluster) (on, off []string) {
	for _, id := range ids {
		if owners[s.h.PartitionOf(id)].build == c.name {
			on = append(on, id)
		} else {
			off = append(off, id)
		}
	}
	return on, off
}

// startSteps starts a Steps instance for each of ids through c, so that each gets c's
// defaultVersion, as a start through that build's HTTP API does.
func startSteps(t *testing.T, c *cluster, ids []string) {
	t.Helper()
	for _, id := range ids {
		if err := c.startInstance("Steps", id, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// raiseEach raises event at each of ids through c; each must be acknowledged.
func raiseEach(t *testing.T, c *cluster, ids []string, event string, data any) {
	t.Helper()
	for _, id := range ids {
		if o := c.raise(id, event, data); o != raiseAcked {
			t.Fatalf("raise %s at %s: outcome %d, want acknowledged", event, id, o)
		}
	}
}

// waitAll waits until each of ids has status want, or fails t after within, naming those
// that have not.
func (s *store) waitAll(t *testing.T, ids []string, want history.RuntimeStatus, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var behind []string
		for _, id := range ids {
			st, err := s.c.GetStatus(context.Background(), id, client.StatusOptions{})
			if err != nil || st.RuntimeStatus != want {
				got := fmt.Sprint(err)
				if err == nil {
					got = string(st.RuntimeStatus)
				}
				behind = append(behind, id+" "+got)
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v: %s", want, within, strings.Join(behind, ", "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitFirstStep waits until each of ids has run its first activity and waits for its
// event: Running, with steps TaskCompleted rows in history.
func (s *store) waitFirstStep(t *testing.T, ids []string, steps int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			st, err := s.c.GetStatus(context.Background(), id, client.StatusOptions{ShowHistory: true})
			done := 0
			if err == nil {
				for _, e := range st.History {
					if e.Type == history.TaskCompleted {
						done++
					}
				}
			}
			if err == nil && st.RuntimeStatus == history.StatusRunning && done >= steps {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not get to its event within %v: %+v %v", id, within, st, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// untouched fails t unless each of ids is still Pending with no history: no worker ran any
// of it.
func (s *store) untouched(t *testing.T, ids []string) {
	t.Helper()
	for _, id := range ids {
		st, snap := s.statusAndHistory(t, id)
		if st.RuntimeStatus != history.StatusPending || len(snap.Events) > 0 {
			t.Errorf("%s ran where its version does not run: %s, history %s", id, st.RuntimeStatus, shortHistory(snap.Events))
		}
	}
}

// stepsOutput is scaleapp's StepsOutput: "build@version" of the code that ran Steps' first
// episode, the one its Go event woke, and its last.
type stepsOutput struct {
	First  string `json:"first"`
	Second string `json:"second"`
	Last   string `json:"last"`
}

func readSteps(out string) (stepsOutput, bool) {
	var o stepsOutput
	return o, json.Unmarshal([]byte(out), &o) == nil
}

// wantSteps wants a Steps output that ok accepts; desc says what it wants.
func wantSteps(id, desc string, ok func(stepsOutput) bool) want {
	return want{id: id, name: "Steps", desc: desc, ok: func(out string) bool {
		o, parsed := readSteps(out)
		return parsed && ok(o)
	}}
}

// ranOn wants Steps to have run only on build, at version.
func ranOn(id, build, version string) want {
	at := build + "@" + version
	return wantSteps(id, "every step on "+at, func(o stepsOutput) bool {
		return o.First == at && o.Second == at && o.Last == at
	})
}

// rejections counts the rejections that c's handlers logged, per instance.
func rejections(c *cluster) map[string]int {
	return logged(c, `msg="rejected an instance of a version this worker does not run"`)
}

// episodes counts the episodes that c's handlers ran, per instance.
func episodes(c *cluster) map[string]int { return logged(c, "msg=episode ") }

// logged counts the debug log lines of c's handlers, dead ones included, that hold needle,
// per instance.
func logged(c *cluster, needle string) map[string]int {
	c.mu.Lock()
	all := append([]*handler(nil), c.all...)
	c.mu.Unlock()
	n := map[string]int{}
	for _, h := range all {
		for _, line := range strings.Split(h.out.String(), "\n") {
			if !strings.Contains(line, needle) {
				continue
			}
			if _, rest, ok := strings.Cut(line, "instanceId="); ok {
				id, _, _ := strings.Cut(rest, " ")
				n[id]++
			}
		}
	}
	return n
}

// countWindow counts p's requests over rounds reject periods, from the middle of one: the
// messages of a rejected instance come back at every multiple of the period, so that each
// window holds the same number of looks at it.
func countWindow(p *testutil.StorageProxy, rounds int) testutil.RequestCounts {
	now := time.Now()
	start := now.Truncate(rejectPeriod).Add(rejectPeriod / 2)
	if start.Before(now) {
		start = start.Add(rejectPeriod)
	}
	time.Sleep(time.Until(start))
	c0 := p.Counts()
	time.Sleep(time.Duration(rounds) * rejectPeriod)
	return p.Counts().Sub(c0)
}

// maxWaitCost bounds the storage requests that one waiting instance adds per reject
// period: its share of a dequeue, an update per message (a start and an event here), a
// read of its row, and its share of the quicker polling after a dequeue that found
// messages. A worker that looked again at once, in a loop, would make one look per
// polling interval (1 s here), over fifteen times as many.
const maxWaitCost = 10

// TestVersionsStrict runs two builds of one app on one hub with versionMatchStrategy Strict
// and the default versionFailureStrategy (Reject): 1.0 instances run only on the old build
// (defaultVersion 1.0) and 2.0 ones only on the new (2.0), each waiting while the other
// build owns its partition. Once the old build is stopped, the 1.0 instances have no
// worker (those left on the new build's partitions, and more started then with
// ?version=1.0 on every partition, each with its event raised): they wait at a cost of a
// few storage requests per 15 s, measured through a counting proxy against the same
// worker's idle rate, and complete once the old build is started again and owns their
// partitions: at once in those it takes, the rest when the new build stops.
func TestVersionsStrict(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	hub, conn, s := newHub(t)
	// Only the handlers go through the proxy: the store's reads are the test's.
	proxy, err := testutil.StartStorageProxy(conn, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	ls := s.sampleLeases(t)
	oldB := newStepsBuild(t, hub, proxy.ConnectionString(), "old", versionHub(oldVersion, "Strict", ""))
	newB := newStepsBuild(t, hub, proxy.ConnectionString(), "new", versionHub(newVersion, "Strict", ""))
	rounds := 2
	if sz.full {
		rounds = 4
	}

	// The idle rate: the new build alone, owning every partition, with nothing to do.
	newB.mustStart()
	balancedOwners(t, ls, newB.handlers, 30*time.Second)
	idle := countWindow(proxy, rounds)

	oldB.mustStart()
	owners := balancedOwners(t, ls, liveOf(oldB, newB), time.Minute)
	v1, v2 := idsOn(s, "v1", 2), idsOn(s, "v2", 2)
	started := time.Now()
	startSteps(t, oldB, v1)
	startSteps(t, newB, v2)
	raiseEach(t, newB, append(append([]string(nil), v1...), v2...), "Go", nil)
	v1Old, v1New := splitByOwner(s, v1, owners, oldB)
	v2New, v2Old := splitByOwner(s, v2, owners, newB)
	s.waitAll(t, append(append([]string(nil), v1Old...), v2New...), history.StatusCompleted, time.Minute)
	s.untouched(t, append(append([]string(nil), v1New...), v2Old...))

	// The old build stops: the new one takes its partitions and runs the 2.0 instances that
	// the old one left, and the 1.0 instances have no build to run them: those it had, and
	// more started now on every partition by a client that names version 1.0.
	oldB.terminate(oldB.handlers()[0])
	s.waitAll(t, v2Old, history.StatusCompleted, time.Minute)
	late := idsOn(s, "late", 1)
	lateAt := time.Now()
	for _, id := range late {
		startVersion(t, newB, "Steps", id, oldVersion)
	}
	raiseEach(t, newB, late, "Go", nil)
	waitingIDs := append(append([]string(nil), v1New...), late...)
	s.untouched(t, waitingIDs)
	waitingAt := time.Now()
	waiting := countWindow(proxy, rounds)
	s.untouched(t, waitingIDs)

	// The old build comes back: the 1.0 instances run on it, in the partitions it takes
	// now, and in the rest once the new build stops.
	oldB.mustStart()
	owners = balancedOwners(t, ls, liveOf(oldB, newB), time.Minute)
	back, still := splitByOwner(s, waitingIDs, owners, oldB)
	s.waitAll(t, back, history.StatusCompleted, time.Minute)
	s.untouched(t, still)
	newB.terminate(newB.handlers()[0])
	s.waitAll(t, still, history.StatusCompleted, time.Minute)
	waited := time.Since(waitingAt)

	var wants []want
	for _, id := range append(append([]string(nil), v1...), late...) {
		wants = append(wants, ranOn(id, "old", oldVersion))
	}
	for _, id := range v2 {
		wants = append(wants, ranOn(id, "new", newVersion))
	}
	v := s.check(t, wants)
	v.report(t)

	extra := waiting.Sub(idle)
	perInstance := float64(extra.Total()) / float64(len(waitingIDs)*rounds)
	queues := map[int]bool{}
	for _, id := range waitingIDs {
		queues[s.h.PartitionOf(id)] = true
	}
	t.Logf("storage requests over %v: idle %v", time.Duration(rounds)*rejectPeriod, idle)
	t.Logf("with %d instances waiting (a start and an event each, on %d control queues): %v", len(waitingIDs), len(queues), waiting)
	t.Logf("difference: %v; %.1f requests per waiting instance per %v (bound %d)", extra, perInstance, rejectPeriod, maxWaitCost)
	t.Logf("1.0 instances waiting on the new build: %d completed once the old build came back, %d once the new build stopped; waited %v",
		len(back), len(still), waited.Round(100*time.Millisecond))
	t.Logf("rejections: old build %v, new build %v", rejections(oldB), rejections(newB))
	if perInstance > maxWaitCost {
		t.Errorf("a waiting instance cost %.1f storage requests per %v, bound %d: %v", perInstance, rejectPeriod, maxWaitCost, extra)
	}
	// Each instance's messages come back once per period, within the same second: at most a
	// dequeue per message and period (two here; fewer when they travel together, or with
	// another instance's). A worker that looked again at once, or let the events of a
	// waiting instance come back on their own back-off, would dequeue them more often.
	if got, limit := extra[testutil.QueueGet], int64(2*len(waitingIDs)*rounds); got > limit {
		t.Errorf("%d dequeues that found messages while %d instances waited on %d queues for %d periods, bound %d",
			got, len(waitingIDs), len(queues), rounds, limit)
	}
	if len(back) == 0 || len(still) == 0 {
		t.Errorf("harness: of the waiting 1.0 instances, %d completed when the old build came back and %d when the new one left",
			len(back), len(still))
	}
	checkRejections(t, newB, v1New, time.Since(started))
	checkRejections(t, newB, late, time.Since(lateAt))
	checkRejections(t, oldB, v2Old, 0)
	ranOnly(t, oldB, append(append([]string(nil), v1...), late...))
	ranOnly(t, newB, v2)
}

// startVersion starts orchestrator name as id at version through c's HTTP API
// (?version=), as a client that names the version does.
func startVersion(t *testing.T, c *cluster, name, id, version string) {
	t.Helper()
	status, body, err := c.do(http.MethodPost, "/orchestrators/"+name+"/"+id+"?version="+url.QueryEscape(version), nil)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("start %s %s at version %s: HTTP %d %s (%v)", name, id, version, status, body, err)
	}
}

// ranOnly fails t when c's handlers ran an episode of an instance not in ids: the
// instances of a version that c does not run.
func ranOnly(t *testing.T, c *cluster, ids []string) {
	t.Helper()
	for id, n := range episodes(c) {
		if !slices.Contains(ids, id) {
			t.Errorf("the %s build ran %d episodes of %s", c.name, n, id)
		}
	}
}

// checkRejections fails t unless c rejected each of ids at least once, and, when over is
// set, at most twice per reject period of over, plus three. Each instance here has two
// messages, a start and an event, which travel apart when they were rejected apart: the
// queue counts visibility in whole seconds from each rejection, so they come back a
// fraction of a second apart, and a dequeue between them keeps them apart (README,
// "Which worker runs which version"). The three: a start taken in memory is rejected there
// and again from the queue, and an event raised meanwhile on its own. A loop would reject
// an instance at every poll.
func checkRejections(t *testing.T, c *cluster, ids []string, over time.Duration) {
	t.Helper()
	n := rejections(c)
	for _, id := range ids {
		limit := 2*int(over/rejectPeriod) + 3
		if n[id] < 1 || (over > 0 && n[id] > limit) {
			t.Errorf("the %s build rejected %s %d times in %v, want 1..%d", c.name, id, n[id], over.Round(time.Second), limit)
		}
	}
}

// TestVersionsCurrentOrOlder runs a rolling deploy with versionMatchStrategy
// CurrentOrOlder and versionFailureStrategy Reject: 1.0 instances started on the old build
// finish on whichever build owns their partition when their event comes, the new build
// included; 2.0 instances run only on the new build, those on the old build's partitions
// waiting until it stops.
func TestVersionsCurrentOrOlder(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	hub, conn, s := newHub(t)
	ls := s.sampleLeases(t)
	oldB := newStepsBuild(t, hub, conn, "old", versionHub(oldVersion, "CurrentOrOlder", "Reject"))
	newB := newStepsBuild(t, hub, conn, "new", versionHub(newVersion, "CurrentOrOlder", "Reject"))

	oldB.mustStart()
	balancedOwners(t, ls, oldB.handlers, 30*time.Second)
	v1 := idsOn(s, "v1", 2)
	startSteps(t, oldB, v1)
	s.waitFirstStep(t, v1, 1, time.Minute)

	newB.mustStart()
	owners := balancedOwners(t, ls, liveOf(oldB, newB), time.Minute)
	v2 := idsOn(s, "v2", 2)
	started := time.Now()
	startSteps(t, newB, v2)
	raiseEach(t, newB, append(append([]string(nil), v1...), v2...), "Go", nil)
	v1New, v1Old := splitByOwner(s, v1, owners, newB)
	v2New, v2Old := splitByOwner(s, v2, owners, newB)
	s.waitAll(t, append(append([]string(nil), v1...), v2New...), history.StatusCompleted, time.Minute)
	// A reject period on, the 2.0 instances on the old build's partitions still wait.
	time.Sleep(time.Until(started.Add(rejectPeriod + time.Second)))
	s.untouched(t, v2Old)

	// The deploy ends: the old build stops, the new one runs what it left.
	oldB.terminate(oldB.handlers()[0])
	s.waitAll(t, v2Old, history.StatusCompleted, time.Minute)
	waited := time.Since(started)

	var wants []want
	for _, id := range v1New {
		wants = append(wants, wantSteps(id, "started on old@1.0, finished on new@1.0", func(o stepsOutput) bool {
			return o.First == "old@1.0" && o.Second == "new@1.0" && o.Last == "new@1.0"
		}))
	}
	for _, id := range v1Old {
		wants = append(wants, ranOn(id, "old", oldVersion))
	}
	for _, id := range v2 {
		wants = append(wants, ranOn(id, "new", newVersion))
	}
	v := s.check(t, wants)
	v.report(t)
	if len(v1New) == 0 || len(v1Old) == 0 || len(v2Old) == 0 {
		t.Errorf("harness: 1.0 instances on the new build's partitions %v, on the old's %v, 2.0 on the old's %v: the run proves less than it should",
			v1New, v1Old, v2Old)
	}
	t.Logf("1.0 finished on the new build: %v; on the old: %v; 2.0 that waited for the old build to stop: %v (%v)",
		v1New, v1Old, v2Old, waited.Round(100*time.Millisecond))
	t.Logf("rejections: old build %v, new build %v", rejections(oldB), rejections(newB))
	checkRejections(t, oldB, v2Old, waited)
	ranOnly(t, oldB, v1)
	if n := rejections(newB); len(n) > 0 {
		t.Errorf("the new build rejected instances it runs under CurrentOrOlder: %v", n)
	}
}

// TestVersionsFail runs two builds with versionFailureStrategy Fail: a 2.0 instance on a
// partition of the old build (1.0, CurrentOrOlder) fails at once with a failure naming both
// versions, while those on the new build's partitions, and every 1.0 instance, complete.
func TestVersionsFail(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	hub, conn, s := newHub(t)
	ls := s.sampleLeases(t)
	oldB := newStepsBuild(t, hub, conn, "old", versionHub(oldVersion, "CurrentOrOlder", "Fail"))
	newB := newStepsBuild(t, hub, conn, "new", versionHub(newVersion, "CurrentOrOlder", "Fail"))
	oldB.mustStart()
	newB.mustStart()
	owners := balancedOwners(t, ls, liveOf(oldB, newB), time.Minute)
	v1, v2 := idsOn(s, "v1", 1), idsOn(s, "v2", 1)
	startSteps(t, oldB, v1)
	startSteps(t, newB, v2)
	v2New, v2Old := splitByOwner(s, v2, owners, newB)
	raiseEach(t, newB, append(append([]string(nil), v1...), v2New...), "Go", nil)
	s.waitAll(t, append(append([]string(nil), v1...), v2New...), history.StatusCompleted, time.Minute)
	s.waitAll(t, v2Old, history.StatusFailed, time.Minute)

	for _, id := range v2Old {
		st, err := s.c.GetStatus(context.Background(), id, client.StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fd := st.FailureDetails
		if fd == nil || fd.ErrorType != "VersionMismatch" || !strings.Contains(fd.ErrorMessage, `orchestration "Steps" is at version "2.0"`) ||
			!strings.Contains(fd.ErrorMessage, `it is at version "1.0"`) {
			t.Errorf("%s: failure %+v, want VersionMismatch naming versions 2.0 and 1.0", id, fd)
		} else {
			t.Logf("%s failed: %s: %s", id, fd.ErrorType, fd.ErrorMessage)
		}
	}
	var wants []want
	for _, id := range v1 {
		wants = append(wants, wantSteps(id, "on old@1.0 or new@1.0", func(o stepsOutput) bool {
			return (o.First == "old@1.0" || o.First == "new@1.0") && o.Second == o.First && o.Last == o.First
		}))
	}
	for _, id := range v2New {
		wants = append(wants, ranOn(id, "new", newVersion))
	}
	v := s.check(t, wants)
	v.report(t)
	if len(v2Old) == 0 || len(v2New) == 0 {
		t.Errorf("harness: 2.0 instances on the old build's partitions %v, on the new's %v", v2Old, v2New)
	}
}

// TestTwoVersionsUnderKills is the kill loop during a rolling deploy: the old build
// (defaultVersion 1.0) and the new one (2.0), both with the default strategies
// (CurrentOrOlder, Reject), serve the hub while handlers of either are crashed and
// replaced; each start goes through one of the builds and gets its version. Then the old
// build stops (SIGTERM), as a deploy ends, and the new one runs what is left, the 2.0
// instances that the old one rejected included. Every instance must complete exactly
// once with the right output, at its version.
func TestTwoVersionsUnderKills(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	sz.forSeeds(t, "two versions under kills", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		// The old build logs its episodes and rejections, to show which instances it ran.
		oldB := newBuild(t, hub, conn, appDir(t, hub, versionHub(oldVersion, "", "")), "", "DURABLE_LOG_LEVEL=debug")
		newB := newBuild(t, hub, conn, appDir(t, hub, versionHub(newVersion, "", "")), "")
		oldB.name, newB.name = "old", "new"
		// The old build takes the partitions first, so that it certainly
		// meets 2.0 instances to reject before the new build asks for its share.
		first := oldB.mustStart()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(first.out.String(), `msg="acquired partition"`); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the old build took no partition within 30 s:\n%s", first.out.String())
			}
		}
		newB.mustStart()
		wants := cities("city", sz.killCities)
		for i := range sz.killFanOuts {
			wants = append(wants, wantFanOut(fmt.Sprintf("fan-%04d", i), sz.fanOutN))
		}
		r.Shuffle(len(wants), func(i, j int) { wants[i], wants[j] = wants[j], wants[i] })
		via := map[string]*cluster{}
		versions := map[*cluster]string{oldB: oldVersion, newB: newVersion}
		for _, w := range wants {
			via[w.id] = oldB
			if r.IntN(2) == 1 {
				via[w.id] = newB
			}
		}
		tr := s.track(len(wants))
		t0 := time.Now()
		kills := chaos(r, []*cluster{oldB, newB}, sz.killKills, minKillGap, maxKillGap)
		feedVia(t, newB, wants, time.Duration(sz.killKills)*meanKillGap, func(w want) func() *handler { return via[w.id].pick })
		if err := <-kills; err != nil {
			t.Fatal(err)
		}
		stopAt := time.Since(t0)
		for _, h := range oldB.handlers() {
			oldB.terminate(h)
		}
		x := finishBuilds(t, s, []*cluster{oldB, newB}, tr, wants, sz.deadline)
		at := map[string]int{}
		for _, w := range wants {
			st, err := s.c.GetStatus(context.Background(), w.id, client.StatusOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := versions[via[w.id]]; st.Version != want {
				t.Errorf("%s started through the %s build is at version %q, want %q", w.id, via[w.id].name, st.Version, want)
			}
			at[st.Version]++
		}
		// The old build never ran a 2.0 instance: it left each to the new build.
		ran, rejected, looks := episodes(oldB), 0, 0
		for id, n := range rejections(oldB) {
			if versions[via[id]] == newVersion {
				rejected++
				looks += n
			}
		}
		for id, n := range ran {
			if v := versions[via[id]]; v != oldVersion {
				t.Errorf("the old build ran %d episodes of %s, at version %q", n, id, v)
			}
		}
		if rejected == 0 {
			// The short run's kills leave the old build a second or two of
			// ownership at times, which may fall between 2.0 starts: only the
			// full run, whose harness must prove it, counts it as a failure.
			if sz.full {
				t.Errorf("harness: the old build rejected no 2.0 instance; the run proves less than it should")
			} else {
				t.Logf("harness: the old build rejected no 2.0 instance this time; the short run proves less than it could")
			}
		}
		x.notes = strings.TrimPrefix(fmt.Sprintf("%s; %d at 1.0, %d at 2.0, %d of these rejected by the old build (%d looks); old build stopped %v after the first start",
			x.notes, at[oldVersion], at[newVersion], rejected, looks, stopAt.Round(100*time.Millisecond)), "; ")
		return x
	})
}

// The app of TestDeployReplayCheck, as its team writes it: %[1]s names the build, %[2]s is
// the code before the approval request that the builds change.
const approvalApp = `// Command handler is an approvals app (build %[1]s).
package main

import (
	"github.com/durable-go/durable/funcapp"
	"github.com/durable-go/durable/task"
)

func main() {
	funcapp.Main(funcapp.Options{Register: register})
}

func register(reg *task.Registry, app *funcapp.App) error {
	for _, name := range []string{"RequestApproval", "CheckFraud", "SaveToDatabase"} {
		if err := reg.AddActivity(name, done); err != nil {
			return err
		}
	}
	return reg.AddOrchestrator("ApprovalWorkflow", approvalWorkflow)
}

// approvalWorkflow asks for the approval of an order, waits for it, and saves it.
func approvalWorkflow(ctx *task.OrchestrationContext) (any, error) {
	var order string
	if err := ctx.GetInput(&order); err != nil {
		return nil, err
	}
%[2]s
	if err := ctx.CallActivity("RequestApproval", order).Await(nil); err != nil {
		return nil, err
	}
	var approved bool
	if err := ctx.WaitForExternalEvent("Approval").Await(&approved); err != nil {
		return nil, err
	}
	if err := ctx.CallActivity("SaveToDatabase", order).Await(nil); err != nil {
		return nil, err
	}
	return map[string]any{"order": order, "approved": approved, "fraudChecked": checked}, nil
}

// done stands for each activity's real work.
func done(ctx *task.ActivityContext) (any, error) { return true, nil }
`

// The code the builds of TestDeployReplayCheck run before the approval request.
const (
	// Build A has no fraud check.
	noFraudCheck = `	checked := false`
	// Build B checks every order for fraud first: a change of the call sequence that the
	// instances waiting for their approval have passed.
	fraudCheck = `	checked := true
	if err := ctx.CallActivity("CheckFraud", order).Await(nil); err != nil {
		return nil, err
	}`
	// Build B' checks the orders that reach this point after the deploy.
	patchedFraudCheck = `	checked := ctx.IsPatched("fraud-check")
	if checked {
		if err := ctx.CallActivity("CheckFraud", order).Await(nil); err != nil {
			return nil, err
		}
	}`
)

// TestDeployReplayCheck deploys a change the way README's "Deploying changes safely" tells
// a team to: an app made by `durable init` (build A) has ApprovalWorkflow instances waiting
// for their approval; build B adds a fraud check before the approval request, and `durable
// replay-check` (the CLI built from ./cmd/durable, run in the app root, which builds the
// app) exits with status 6 naming the first diverging action; build B' puts the check
// behind ctx.IsPatched, and replay-check passes. B' then replaces A (started, then A
// stopped), and the waiting instances complete on it without the check, while an order
// started on B' runs it.
func TestDeployReplayCheck(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	hub, conn, s := newHub(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cli := testutil.BuildBinary(t, "github.com/durable-go/durable/cmd/durable", "durable")
	root := filepath.Join(t.TempDir(), "approvals")
	run := func(dir, name string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		// The app is a module of its own, which resolves its dependencies itself rather than
		// with this repository's settings; storage is the test's.
		cmd.Env = append(os.Environ(), "GOFLAGS=", "AzureWebJobsStorage="+conn)
		out, err := cmd.CombinedOutput()
		if _, exited := err.(*exec.ExitError); err != nil && !exited {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	mustRun := func(dir, name string, args ...string) {
		t.Helper()
		if out, code := run(dir, name, args...); code != 0 {
			t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
		}
	}
	write := func(build, fraud string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, "main.go"), fmt.Appendf(nil, approvalApp, build, fraud), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(filepath.Dir(root), cli, "init", root, "--module", "example.com/approvals", "--replace", repo)
	// The template's test is of the template's orchestrator, which this app replaces.
	if err := os.Remove(filepath.Join(root, "main_test.go")); err != nil {
		t.Fatal(err)
	}
	writeHost(t, root, hub, defaultHub)

	// Build A runs; its orders wait for their approval.
	write("A", noFraudCheck)
	mustRun(root, "go", "build", "-o", "handler-a", ".")
	a := newBuild(t, hub, conn, root, filepath.Join(root, "handler-a"))
	a.name = "A"
	a.mustStart()
	var orders []string
	for i := range 4 {
		orders = append(orders, fmt.Sprintf("order-%d", i))
		if err := a.startInstance("ApprovalWorkflow", orders[i], orders[i]); err != nil {
			t.Fatal(err)
		}
	}
	s.waitFirstStep(t, orders, 1, time.Minute)

	// Build B: replay-check refuses it.
	write("B", fraudCheck)
	out, code := run(root, cli, "replay-check")
	t.Logf("durable replay-check of build B: exit %d\n%s", code, out)
	if code != 6 {
		t.Errorf("replay-check of build B: exit %d, want 6", code)
	}
	for _, re := range []string{
		`ApprovalWorkflow\s+-\s+4\s+0\s+4`,
		`FAIL order-0 \(ApprovalWorkflow, version -\) diverges:\s+(non-deterministic orchestration: )?history records TaskScheduled #0 \("RequestApproval"\) but the orchestrator code now issues TaskScheduled #0 \("CheckFraud"\)`,
		`4 of 4 instance\(s\) do not replay with this code`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("replay-check of build B: the output lacks %s", re)
		}
	}

	// Build B': the check behind a patch; replay-check passes it.
	write("B'", patchedFraudCheck)
	out, code = run(root, cli, "replay-check")
	t.Logf("durable replay-check of build B': exit %d\n%s", code, out)
	if code != 0 || !regexp.MustCompile(`ApprovalWorkflow\s+-\s+4\s+4\s+0`).MatchString(out) ||
		!strings.Contains(out, "All 4 instance(s) replay with this code.") {
		t.Fatalf("replay-check of build B': exit %d, want 0 with every instance replaying", code)
	}

	// B' replaces A: it starts, then A stops, so that B' alone runs the instances' rest.
	mustRun(root, "go", "build", "-o", "handler-b2", ".")
	b := newBuild(t, hub, conn, root, filepath.Join(root, "handler-b2"))
	b.name = "B'"
	b.mustStart()
	a.terminate(a.handlers()[0])
	if err := b.startInstance("ApprovalWorkflow", "order-new", "order-new"); err != nil {
		t.Fatal(err)
	}
	all := append(append([]string(nil), orders...), "order-new")
	s.waitFirstStep(t, []string{"order-new"}, 2, time.Minute)
	raiseEach(t, b, all, "Approval", true)
	s.waitAll(t, all, history.StatusCompleted, time.Minute)

	var wants []want
	for _, id := range all {
		wants = append(wants, wantJSON(id, "ApprovalWorkflow",
			fmt.Sprintf(`{"order":%q,"approved":true,"fraudChecked":%t}`, id, id == "order-new")))
	}
	v := s.check(t, wants)
	v.report(t)
	// The patch is recorded where it was taken, and only there.
	for _, id := range all {
		snap, err := s.h.LoadHistory(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		marked, checked := false, false
		for _, e := range snap.Events {
			marked = marked || (e.Type == history.GenericEvent && e.Data == "Patched: fraud-check")
			checked = checked || (e.Type == history.TaskScheduled && e.Name == "CheckFraud")
		}
		if want := id == "order-new"; marked != want || checked != want {
			t.Errorf("%s: patch marker %t, CheckFraud scheduled %t, want %t: %s", id, marked, checked, want, shortHistory(snap.Events))
		}
	}
}
