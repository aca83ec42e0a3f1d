package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// store reads the hub straight from storage, like the CLI: the verdicts never depend on
// what a handler says.
type store struct {
	c *client.Client
	h *azstore.Hub
}

func openStore(t *testing.T, hub, conn string) *store {
	t.Helper()
	return openStoreWith(t, hub, conn, partitionCount)
}

// openStoreWith is openStore for a hub of another partition count.
func openStoreWith(t *testing.T, hub, conn string, partitions int) *store {
	t.Helper()
	h := apptest.OpenHub(t, hub, conn, partitions)
	return &store{c: client.New(h, client.Options{}), h: h}
}

// countCompleted counts the hub's Completed instances; every scenario has a hub of its own.
func (s *store) countCompleted(ctx context.Context) (int, error) {
	n := 0
	q := client.Query{Statuses: []history.RuntimeStatus{history.StatusCompleted}, PageSize: 1000}
	for {
		page, err := s.c.ListInstances(ctx, q)
		if err != nil {
			return 0, err
		}
		n += len(page.Instances)
		if page.ContinuationToken == "" {
			return n, nil
		}
		q.ContinuationToken = page.ContinuationToken
	}
}

// want is what one instance must end as.
type want struct {
	id    string
	name  string
	input any // the start's input; nil for none
	// desc describes the right output, for failure messages.
	desc string
	ok   func(output string) bool
	// custom, when set, is the custom status that the instance's current execution in
	// history implies, which its row must show.
	custom func(events []history.Event) string
}

// citiesOutput is HelloCities5's output.
const citiesOutput = `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`

func wantJSON(id, name, output string) want {
	var w any
	if err := json.Unmarshal([]byte(output), &w); err != nil {
		panic(err) // the suite's own literal
	}
	return want{id: id, name: name, desc: output, ok: func(out string) bool {
		var got any
		return json.Unmarshal([]byte(out), &got) == nil && reflect.DeepEqual(got, w)
	}}
}

func wantCities(id string) want { return wantJSON(id, "HelloCities5", citiesOutput) }

// wantFanOut is FanOutFanIn's output for input n: "Hello 0!" … "Hello n-1!" in call order.
func wantFanOut(id string, n int) want {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Hello %d!", i)
	}
	w := wantJSON(id, "FanOutFanIn", string(mustJSON(out)))
	w.input = n
	return w
}

// wantCounter accepts a Counter total in [lo, hi]: lo raises of Add 1 were acknowledged and
// hi-lo got no answer, so they may or may not have been applied.
func wantCounter(id string, lo, hi int) want {
	desc := fmt.Sprint(lo)
	if hi > lo {
		desc = fmt.Sprintf("%d..%d", lo, hi)
	}
	return want{id: id, name: "Counter", desc: desc, ok: func(out string) bool {
		var n int
		return json.Unmarshal([]byte(out), &n) == nil && lo <= n && n <= hi
	}, custom: counterCustom}
}

// counterCustom is the custom status a Counter's current execution sets first thing: its
// input, the running total.
func counterCustom(events []history.Event) string {
	for _, e := range events {
		if e.Type == history.ExecutionStarted {
			return e.Input
		}
	}
	return ""
}

// counterTotal is the running total a Counter's stored history has reached: its current
// execution's input, or -1 before it has any.
func counterTotal(events []history.Event) int {
	n := -1
	if in := counterCustom(events); in != "" {
		_ = json.Unmarshal([]byte(in), &n)
	}
	return n
}

// sameJSON reports whether two JSON texts hold the same value; "" and "null" are the same.
func sameJSON(a, b string) bool {
	if a == "" {
		a = "null"
	}
	if b == "" {
		b = "null"
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}

// rowVsHistory lists where an instance's row contradicts its stored history: the row must
// name the sentinel's execution, be Completed exactly when that execution has
// ExecutionCompleted (Completed), hold its result as output, and show the custom status
// that the history implies when w knows it.
func rowVsHistory(w want, st *client.Status, snap *azstore.HistorySnapshot) []string {
	var out []string
	// Without history (a start never processed) there is nothing to contradict.
	if snap.ExecutionID == "" {
		return nil
	}
	if st.ExecutionID != snap.ExecutionID {
		out = append(out, fmt.Sprintf("row execution %s, history's %s", st.ExecutionID, snap.ExecutionID))
	}
	var done *history.Event
	for i, e := range snap.Events {
		if e.Type == history.ExecutionCompleted {
			done = &snap.Events[i]
		}
	}
	switch {
	case done == nil && st.RuntimeStatus == history.StatusCompleted:
		out = append(out, "row Completed, history has no ExecutionCompleted")
	case done != nil && done.OrchestrationStatus == history.StatusContinuedAsNew:
		// An execution that ends in continue-as-new is followed by the next one under a new
		// sentinel; one that the sentinel still names was cut before its successor.
		out = append(out, "history's current execution ended in ContinuedAsNew with no successor")
	case done != nil && st.RuntimeStatus != done.OrchestrationStatus:
		out = append(out, fmt.Sprintf("row %s, history %s", st.RuntimeStatus, done.OrchestrationStatus))
	case done != nil && done.OrchestrationStatus == history.StatusCompleted && !sameJSON(string(st.Output), done.Result):
		out = append(out, fmt.Sprintf("row output %s, history's %s", st.Output, done.Result))
	}
	if w.custom != nil {
		if h := w.custom(snap.Events); !sameJSON(string(st.CustomStatus), h) {
			out = append(out, fmt.Sprintf("row custom status %s, history implies %s", st.CustomStatus, h))
		}
	}
	return out
}

// children returns a want for every sub-orchestration that the wanted instances' stored
// histories created, and theirs, so that a child stuck or run twice counts as well as its
// parent: a child must complete exactly once, with HelloCities5's output when it is one.
func (s *store) children(t *testing.T, wants []want) []want {
	t.Helper()
	seen := map[string]bool{}
	for _, w := range wants {
		seen[w.id] = true
	}
	var out []want
	for next := wants; len(next) > 0; {
		var found []want
		for _, w := range next {
			snap, err := s.h.LoadHistory(context.Background(), w.id)
			if err != nil {
				t.Fatalf("load history of %s: %v", w.id, err)
			}
			for _, e := range snap.Events {
				if e.Type != history.SubOrchestrationInstanceCreated || seen[e.InstanceID] {
					continue
				}
				seen[e.InstanceID] = true
				c := want{id: e.InstanceID, name: e.Name, desc: "any", ok: func(string) bool { return true }}
				if e.Name == "HelloCities5" {
					c = wantCities(e.InstanceID)
				}
				found = append(found, c)
			}
		}
		out = append(out, found...)
		next = found
	}
	return out
}

// problem is one instance that broke a guarantee.
type problem struct {
	id      string
	kind    string // "lost", "wrong output" or "duplicated"
	detail  string
	history string
}

// verdict sums up the check of a scenario's instances. stale counts instances whose row
// contradicts their history (rowVsHistory) after the settle, whatever else is wrong.
type verdict struct {
	instances, lost, wrong, dup, stale int
	problems                           []problem
}

// check reads every instance's status and history from storage. An instance is lost unless
// Completed, wrong when its output is not the wanted one, and duplicated when its final
// execution's history shows an effect twice: ExecutionStarted or ExecutionCompleted not
// exactly once, a TaskScheduled with other than exactly one result, or two EventRaised rows
// delivered by the same message. Apart from these, an instance whose row contradicts its
// history (rowVsHistory) is counted as stale.
func (s *store) check(t *testing.T, wants []want) verdict {
	t.Helper()
	ctx := context.Background()
	v := verdict{instances: len(wants)}
	for _, w := range wants {
		st, err := s.c.GetStatus(ctx, w.id, client.StatusOptions{})
		if err != nil {
			// A child's row is written after its first checkpoint: show any history it has.
			p := problem{id: w.id, kind: "lost", detail: err.Error()}
			if snap, err := s.h.LoadHistory(ctx, w.id); err == nil {
				p.history = shortHistory(snap.Events)
			}
			v.lost++
			v.problems = append(v.problems, p)
			continue
		}
		snap, err := s.h.LoadHistory(ctx, w.id)
		if err != nil {
			t.Fatalf("load history of %s: %v", w.id, err)
		}
		short := shortHistory(snap.Events)
		if d := rowVsHistory(w, st, snap); len(d) > 0 {
			v.stale++
			v.problems = append(v.problems, problem{id: w.id, kind: "row contradicts history", detail: strings.Join(d, "; "), history: short})
		}
		if st.RuntimeStatus != history.StatusCompleted {
			v.lost++
			v.problems = append(v.problems, problem{id: w.id, kind: "lost",
				detail:  fmt.Sprintf("%s is %s, custom status %s, output %s", w.name, st.RuntimeStatus, st.CustomStatus, st.Output),
				history: short})
			continue
		}
		if !w.ok(string(st.Output)) {
			v.wrong++
			v.problems = append(v.problems, problem{id: w.id, kind: "wrong output",
				detail: fmt.Sprintf("%s output %s, want %s", w.name, st.Output, w.desc), history: short})
		}
		if d := duplicates(snap.Events); len(d) > 0 {
			v.dup++
			v.problems = append(v.problems, problem{id: w.id, kind: "duplicated", detail: strings.Join(d, "; "), history: short})
		}
	}
	return v
}

// duplicates lists what the history shows more (or less) often than exactly once.
func duplicates(events []history.Event) []string {
	var out []string
	count := map[history.EventType]int{}
	// Activities and sub-orchestrations share the event IDs of the execution, and each
	// result names its scheduling event's ID, so one pair of maps serves both.
	scheduled := map[int]int{}
	results := map[int]int{}
	raisedBy := map[string]int{}
	for _, e := range events {
		count[e.Type]++
		switch e.Type {
		case history.TaskScheduled, history.SubOrchestrationInstanceCreated:
			scheduled[e.EventID]++
		case history.TaskCompleted, history.TaskFailed,
			history.SubOrchestrationInstanceCompleted, history.SubOrchestrationInstanceFailed:
			results[e.TaskScheduledID]++
		case history.EventRaised:
			if e.MessageID != "" {
				raisedBy[e.MessageID]++
			}
		}
	}
	for _, typ := range []history.EventType{history.ExecutionStarted, history.ExecutionCompleted} {
		if count[typ] != 1 {
			out = append(out, fmt.Sprintf("%d %s", count[typ], typ))
		}
	}
	for id, n := range scheduled {
		if n != 1 {
			out = append(out, fmt.Sprintf("task or sub-orchestration #%d scheduled %d times", id, n))
		}
		if results[id] != 1 {
			out = append(out, fmt.Sprintf("task or sub-orchestration #%d has %d results", id, results[id]))
		}
	}
	for id, n := range results {
		if scheduled[id] == 0 {
			out = append(out, fmt.Sprintf("%d results for unscheduled task #%d", n, id))
		}
	}
	for msg, n := range raisedBy {
		if n > 1 {
			out = append(out, fmt.Sprintf("message %s raised %d events", msg, n))
		}
	}
	return out
}

// shortHistory renders a history on one line, enough to see what happened twice or never.
func shortHistory(events []history.Event) string {
	parts := make([]string, 0, len(events))
	for i, e := range events {
		p := fmt.Sprintf("%d:%s", i, e.Type)
		switch e.Type {
		case history.ExecutionStarted:
			p += fmt.Sprintf("(%s in=%s)", e.Name, e.Input)
		case history.TaskScheduled:
			p += fmt.Sprintf("#%d(%s)", e.EventID, e.Name)
		case history.SubOrchestrationInstanceCreated:
			p += fmt.Sprintf("#%d(%s %s)", e.EventID, e.Name, e.InstanceID)
		case history.TaskCompleted, history.TaskFailed,
			history.SubOrchestrationInstanceCompleted, history.SubOrchestrationInstanceFailed:
			p += fmt.Sprintf("->#%d", e.TaskScheduledID)
		case history.EventRaised:
			p += fmt.Sprintf("(%s %s msg=%s)", e.Name, e.Input, e.MessageID)
		case history.ExecutionCompleted, history.ContinueAsNew:
			p += fmt.Sprintf("(%s %s)", e.OrchestrationStatus, e.Result)
		case history.OrchestratorStarted, history.OrchestratorCompleted:
			continue // episode markers: noise here
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// report fails t with the problems of v, at most 20 in full.
func (v verdict) report(t *testing.T) {
	t.Helper()
	if v.lost+v.wrong+v.dup+v.stale == 0 {
		return
	}
	var b strings.Builder
	for i, p := range v.problems {
		if i == 20 {
			fmt.Fprintf(&b, "… and %d more\n", len(v.problems)-i)
			break
		}
		fmt.Fprintf(&b, "%s %s: %s\n    history: %s\n", p.kind, p.id, p.detail, p.history)
	}
	t.Errorf("%d of %d instances lost, %d wrong, %d with duplicated effects, %d whose row contradicts history:\n%s",
		v.lost, v.instances, v.wrong, v.dup, v.stale, b.String())
}

// tracker polls the hub's completed count every 250 ms from when it is made, for the
// scenario's longest stall: the longest time in which no instance completed while some were
// still incomplete.
type tracker struct {
	s     *store
	total int
	done  chan struct{} // closed when total instances have completed
	quit  chan struct{}
	ended chan struct{} // closed when the poller has returned

	mu         sync.Mutex
	completed  int
	lastChange time.Time
	longest    time.Duration
}

func (s *store) track(total int) *tracker {
	tr := &tracker{s: s, total: total, done: make(chan struct{}), quit: make(chan struct{}), ended: make(chan struct{}),
		lastChange: time.Now()}
	go tr.poll()
	return tr
}

func (tr *tracker) poll() {
	defer close(tr.ended)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tr.quit:
			return
		case <-tick.C:
		}
		// Polls fail while storage is paused or restarting; the stall goes on meanwhile.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := tr.s.countCompleted(ctx)
		cancel()
		if err != nil {
			continue
		}
		now := time.Now()
		tr.mu.Lock()
		if n > tr.completed {
			tr.longest = max(tr.longest, now.Sub(tr.lastChange))
			tr.completed, tr.lastChange = n, now
		}
		reached := tr.completed >= tr.total
		tr.mu.Unlock()
		if reached {
			close(tr.done)
			return
		}
	}
}

// count returns the completed count of the last poll.
func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.completed
}

// wait waits until every instance completed or the deadline passed, stops polling and
// returns the longest stall, counting a stall still going at the deadline, and when the last
// instance was seen completed (zero if some never were).
func (tr *tracker) wait(within time.Duration) (stall time.Duration, allDone time.Time) {
	select {
	case <-tr.done:
	case <-time.After(within):
	}
	close(tr.quit)
	<-tr.ended
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.completed < tr.total {
		return max(tr.longest, time.Since(tr.lastChange)), time.Time{}
	}
	return tr.longest, tr.lastChange
}

// leaseSample is the Partitions table at one moment: each partition's owner, "" when no
// lease is in force (no owner, or expired).
type leaseSample struct {
	at     time.Time
	owners []string // one per partition
}

// sampleOf tells each of n partitions' owner at time at from its leases: none where the
// lease has run out.
func sampleOf(leases []*azstore.Lease, n int, at time.Time) leaseSample {
	smp := leaseSample{at: at, owners: make([]string, n)}
	for _, l := range leases {
		if l.CurrentOwner != "" && at.Before(l.ExpiresAt) && l.Partition < n {
			smp.owners[l.Partition] = l.CurrentOwner
		}
	}
	return smp
}

// leaseSampler reads the Partitions table every 200 ms.
type leaseSampler struct {
	quit  chan struct{}
	ended chan struct{}

	mu      sync.Mutex
	samples []leaseSample
}

func (s *store) sampleLeases(t *testing.T) *leaseSampler {
	ls := &leaseSampler{quit: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(ls.ended)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			leases, err := s.h.ReadLeases(ctx)
			cancel()
			if err == nil {
				smp := sampleOf(leases, s.h.PartitionCount(), time.Now())
				ls.mu.Lock()
				ls.samples = append(ls.samples, smp)
				ls.mu.Unlock()
			}
			select {
			case <-ls.quit:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(ls.stop)
	return ls
}

func (ls *leaseSampler) stop() {
	select {
	case <-ls.quit:
	default:
		close(ls.quit)
	}
	<-ls.ended
}

// since returns the samples taken at or after t0.
func (ls *leaseSampler) since(t0 time.Time) []leaseSample {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []leaseSample
	for _, s := range ls.samples {
		if !s.at.Before(t0) {
			out = append(out, s)
		}
	}
	return out
}

// waitFor waits until a sample at or after t0 satisfies ok, returning its time, or false
// after within.
func (ls *leaseSampler) waitFor(t0 time.Time, within time.Duration, ok func(leaseSample) bool) (time.Time, bool) {
	deadline := time.Now().Add(within)
	for {
		for _, s := range ls.since(t0) {
			if ok(s) {
				return s.at, true
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// split counts the partitions each live handler owns. It reports false when a partition is
// unowned or owned by a process that is not live.
func (s leaseSample) split(live []*handler) ([]int, bool) {
	counts := make([]int, len(live))
	for _, owner := range s.owners {
		found := false
		for i, h := range live {
			if h.owns(owner) {
				counts[i]++
				found = true
				break
			}
		}
		if !found {
			return counts, false
		}
	}
	return counts, true
}

// balanced reports whether the live handlers own every partition, split within one.
func (s leaseSample) balanced(live []*handler) bool {
	counts, ok := s.split(live)
	if !ok || len(counts) == 0 {
		return false
	}
	lo, hi := counts[0], counts[0]
	for _, n := range counts {
		lo, hi = min(lo, n), max(hi, n)
	}
	return hi-lo <= 1
}

// longestUnowned returns, over samples, the longest time any one partition had no lease in
// force, and which partition.
func longestUnowned(samples []leaseSample) (time.Duration, int) {
	var longest time.Duration
	worst := -1
	if len(samples) == 0 {
		return 0, -1
	}
	since := make([]time.Time, len(samples[0].owners))
	for _, s := range samples {
		for p, owner := range s.owners {
			switch {
			case owner != "":
				since[p] = time.Time{}
			case since[p].IsZero():
				since[p] = s.at
			case s.at.Sub(since[p]) > longest:
				longest, worst = s.at.Sub(since[p]), p
			}
		}
	}
	return longest, worst
}

// statusAndHistory reads an instance's status (its row) and its history, failing t if
// either read fails: what the checks that compare the two start from.
func (s *store) statusAndHistory(t *testing.T, id string) (*client.Status, *azstore.HistorySnapshot) {
	t.Helper()
	st, err := s.c.GetStatus(context.Background(), id, client.StatusOptions{})
	if err != nil {
		t.Fatalf("status of %s: %v", id, err)
	}
	snap, err := s.h.LoadHistory(context.Background(), id)
	if err != nil {
		t.Fatalf("load history of %s: %v", id, err)
	}
	return st, snap
}
