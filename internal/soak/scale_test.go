package soak

// The scale suite (`make scale`, issue 17): what recovery, background work, queries and long
// orchestrations cost as the hub and the history grow, measured on real handler processes.
// It asserts only that the work completes; the figures are logged as tables for
// BENCHMARKS.md. Every storage request of the handlers goes through a testutil.StorageProxy
// with no delay, which counts them by kind; the suite's own writes and reads (building the
// hub, watching instances) go straight to Azurite and are not counted.
//
// One place to add a measurement: a scaleRun method that adds named figures to the row of
// its hub size or workload (figRow.add), called from TestScaleHub or runWorkload; logTable
// prints every figure any row has.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/testutil"
)

// scaleConfig is what a run measures, from the environment:
//
//	SCALE=1                 run the suite (make scale sets it); without it, SOAK=full runs the
//	                        short version below and anything else skips it
//	SCALE_N=0,2000,10000    hub sizes: unfinished ApprovalWorkflow instances on the hub
//	SCALE_IDLE=60s          how long idle cost is measured on each hub
//	SCALE_CHAIN=100,1000    Chain lengths (steps)
//	SCALE_FANOUT=1000,5000  FanOutFanIn widths
type scaleConfig struct {
	hubSizes []int
	idle     time.Duration
	chains   []int
	fanOuts  []int
}

func scaleConfigOf(t *testing.T) scaleConfig {
	t.Helper()
	if testing.Short() {
		t.Skip("starts handler processes")
	}
	var cfg scaleConfig
	switch {
	case os.Getenv("SCALE") != "":
		cfg = scaleConfig{hubSizes: []int{0, 2000}, idle: time.Minute, chains: []int{100, 1000, 5000}, fanOuts: []int{1000, 5000}}
	case os.Getenv("SOAK") == "full":
		// The short version in make soak: a few thousand waiting instances, one kill.
		cfg = scaleConfig{hubSizes: []int{2000}, idle: 20 * time.Second, chains: []int{100}, fanOuts: []int{1000}}
	default:
		t.Skip("the scale suite runs with SCALE=1 (make scale) or SOAK=full (make soak)")
	}
	cfg.hubSizes = envInts(t, "SCALE_N", cfg.hubSizes)
	cfg.chains = envInts(t, "SCALE_CHAIN", cfg.chains)
	cfg.fanOuts = envInts(t, "SCALE_FANOUT", cfg.fanOuts)
	if s := os.Getenv("SCALE_IDLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SCALE_IDLE=%q: %v", s, err)
		}
		cfg.idle = d
	}
	return cfg
}

func envInts(t *testing.T, name string, def []int) []int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want non-negative integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out
}

// scaleRun is one hub (or one workload) under measurement: its storage, straight and through
// the counting proxy, and its handler processes.
type scaleRun struct {
	t     *testing.T
	s     *store // straight to Azurite: not counted
	proxy *testutil.StorageProxy
	c     *cluster
}

// newScaleRun opens a new hub and starts n scaleapp handlers on it, their storage through a
// counting proxy. host writes the app's host.json.
func newScaleRun(t *testing.T, n int, host func(t *testing.T, hub string) string) *scaleRun {
	t.Helper()
	conn := testutil.Storage(t)
	hub := testutil.UniqueHubName(t)
	r := &scaleRun{t: t, s: openStore(t, hub, conn)}
	r.proxy, _ = testutil.ProxiedStorage(t, 0)
	r.c = &cluster{t: t, hub: hub, conn: r.proxy.ConnectionString(), dir: host(t, hub), bin: scaleAppBinary(t),
		http: &http.Client{Timeout: 5 * time.Minute}}
	t.Cleanup(r.c.cleanup)
	for range n {
		r.c.mustStart()
	}
	return r
}

// scaleApp builds ./scaleapp once per test binary, like apptest.HandlerBinary: the binary
// outlives the test that first asks for it, so it cannot live in that test's TempDir.
var scaleApp = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "scaleapp-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "scaleapp")
	return bin, testutil.GoBuild("github.com/durable-go/durable/internal/soak/scaleapp", bin)
})

func scaleAppBinary(t *testing.T) string {
	t.Helper()
	bin, err := scaleApp()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// defaultsAppDir is a host.json with the host's defaults but for the hub and the four
// partitions: the step costs are measured as an app runs out of the box.
func defaultsAppDir(t *testing.T, hub string) string {
	t.Helper()
	dir := t.TempDir()
	host := fmt.Sprintf(`{"version":"2.0","extensions":{"http":{"routePrefix":""},"durableTask":{"hubName":%q,
	  "storageProvider":{"partitionCount":%d}}}}`, hub, partitionCount)
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// figRow is one line of a report: named figures in the order they were added.
type figRow struct {
	name   string
	order  []string
	values map[string]string
}

func newRow(name string) *figRow { return &figRow{name: name, values: map[string]string{}} }

func (r *figRow) add(column, format string, args ...any) {
	if _, ok := r.values[column]; !ok {
		r.order = append(r.order, column)
	}
	r.values[column] = fmt.Sprintf(format, args...)
}

// logTable logs rows as a Markdown table, transposed (one column per row) because the
// figures outnumber the rows.
func logTable(t *testing.T, title string, rows []*figRow) {
	var cols []string
	for _, r := range rows {
		for _, c := range r.order {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n| figure |", title)
	for _, r := range rows {
		fmt.Fprintf(&b, " %s |", r.name)
	}
	b.WriteString("\n|---|")
	for range rows {
		b.WriteString("---|")
	}
	for _, c := range cols {
		fmt.Fprintf(&b, "\n| %s |", c)
		for _, r := range rows {
			v := r.values[c]
			if v == "" {
				v = "—"
			}
			fmt.Fprintf(&b, " %s |", v)
		}
	}
	t.Log(b.String())
}

// ---- process figures, from /proc ----

// procStat is a process's CPU time (user + system) and peak resident set.
type procStat struct {
	cpu    time.Duration
	peakKB int64
}

func readProc(t *testing.T, pid int) procStat {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("process figures need /proc: %v", err)
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	var st procStat
	st.cpu = time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			st.peakKB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return st
}

// handlersCPU is the CPU time of the live handlers together.
func (r *scaleRun) handlersCPU() time.Duration {
	var d time.Duration
	for _, h := range r.c.handlers() {
		d += readProc(r.t, h.cmd.Process.Pid).cpu
	}
	return d
}

// azuriteCPU is Azurite's CPU time when make scale named its pid (AZURITE_PID), to tell its
// cost apart from the engine's; -1 otherwise.
func azuriteCPU(t *testing.T) time.Duration {
	pid, err := strconv.Atoi(os.Getenv("AZURITE_PID"))
	if err != nil {
		return -1
	}
	return readProc(t, pid).cpu
}

// snapshot is every counter a measurement compares before and after.
type snapshot struct {
	at       time.Time
	requests testutil.RequestCounts
	cpu      time.Duration // handlers
	azurite  time.Duration
}

func (r *scaleRun) snapshot() snapshot {
	return snapshot{at: time.Now(), requests: r.proxy.Counts(), cpu: r.handlersCPU(), azurite: azuriteCPU(r.t)}
}

// ---- the hub: unfinished instances written as the app writes them ----

// waitingTemplate starts one ApprovalWorkflow through the app and waits until it waits for
// its event, with its instance row and history as the app wrote them.
func (r *scaleRun) waitingTemplate() (*layout.InstanceRow, *azstore.HistorySnapshot) {
	r.t.Helper()
	id := "template"
	if err := r.c.startInstance("ApprovalWorkflow", id, nil); err != nil {
		r.t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		row, err := r.s.h.GetInstance(ctx, id)
		if err == nil && row.RuntimeStatus == history.StatusRunning {
			hs, err := r.s.h.LoadHistory(ctx, id)
			if err == nil && hs.ExecutionID == row.ExecutionID && len(hs.Events) > 0 &&
				hs.Events[len(hs.Events)-1].Type == history.OrchestratorCompleted {
				return row, hs
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatal("the template ApprovalWorkflow did not reach Running with its first episode checkpointed within a minute")
	return nil, nil
}

// cloneWaiting is the template as instance id, created at created: a new execution ID, and
// every time shifted by the same amount.
func cloneWaiting(row *layout.InstanceRow, hs *azstore.HistorySnapshot, id string, created time.Time) (*layout.InstanceRow, []history.Event) {
	shift := created.Sub(row.CreatedTime)
	exec := fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
	r := *row
	r.InstanceID, r.ExecutionID, r.ETag = id, exec, ""
	r.CreatedTime, r.LastUpdatedTime = created, row.LastUpdatedTime.Add(shift)
	events := make([]history.Event, len(hs.Events))
	for i, e := range hs.Events {
		e.Timestamp = e.Timestamp.Add(shift)
		if e.OrchestrationInstance != nil {
			e.OrchestrationInstance = &history.OrchestrationInstance{InstanceID: id, ExecutionID: exec}
		}
		events[i] = e
	}
	return &r, events
}

// buildWaiting writes n unfinished instances like the template, one created a second
// before now up to now, in the order a start writes them (index row, instance row, then
// the first checkpoint with its sentinel), through the same azstore functions as the app.
// It returns the creation time of the first.
func (r *scaleRun) buildWaiting(row *layout.InstanceRow, hs *azstore.HistorySnapshot, n int, out *figRow) time.Time {
	r.t.Helper()
	ctx := context.Background()
	first := time.Now().UTC().Add(-time.Duration(n) * time.Second).Truncate(time.Second)
	// Time spent in each write, summed over the writers: where a slow build goes.
	var spent [3]atomic.Int64
	timed := func(k int, f func() error) error {
		t0 := time.Now()
		err := f()
		spent[k].Add(int64(time.Since(t0)))
		return err
	}
	write := func(i int) error {
		id := fmt.Sprintf("wait-%07d", i)
		inst, events := cloneWaiting(row, hs, id, first.Add(time.Duration(i)*time.Second))
		if err := timed(0, func() error { return r.s.h.PutIndex(ctx, id, inst.CreatedTime) }); err != nil {
			return err
		}
		if err := timed(1, func() error { return r.s.h.InsertInstance(ctx, inst) }); err != nil {
			return err
		}
		return timed(2, func() error {
			_, err := r.s.h.WriteHistory(ctx, azstore.Checkpoint{InstanceID: id, ExecutionID: inst.ExecutionID, Events: events})
			return err
		})
	}
	t0 := time.Now()
	var done atomic.Int64
	errs := make(chan error, 1)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 { // Azurite's best concurrency (shared/reference/azurite.md)
		wg.Go(func() {
			for i := range work {
				if err := write(i); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				if d := done.Add(1); d%max(int64(n)/10, 1) == 0 {
					r.t.Logf("built %d of %d waiting instances in %v", d, n, time.Since(t0).Round(time.Second))
				}
			}
		})
	}
	var failed error
feed:
	for i := range n {
		select {
		case work <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if failed != nil {
		r.t.Fatalf("building the hub: %v", failed)
	}
	took := time.Since(t0)
	per := func(k int) float64 { return float64(spent[k].Load()) / float64(max(n, 1)) / 1e6 }
	out.add("hub build: instances/s (index row, instance row, history batch each)", "%.0f (%d in %v)",
		float64(n)/took.Seconds(), n, took.Round(time.Second))
	out.add("hub build: ms per index / instance / history write (8 writers)", "%.1f / %.1f / %.1f", per(0), per(1), per(2))
	return first
}

// ---- measurements ----

// waitBalanced waits until the live handlers own two partitions each.
func (r *scaleRun) waitBalanced(within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if smp, err := r.leaseSample(); err == nil && smp.balanced(r.c.handlers()) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("the handlers did not share the partitions within %v", within)
}

func (r *scaleRun) leaseSample() (leaseSample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	leases, err := r.s.h.ReadLeases(ctx)
	return sampleOf(leases, partitionCount, time.Now()), err
}

// measureIdle counts the handlers' storage requests and CPU over window with no work.
func (r *scaleRun) measureIdle(window time.Duration, out *figRow) {
	r.t.Helper()
	before := r.snapshot()
	time.Sleep(window)
	after := r.snapshot()
	perMin := func(v float64) float64 { return v / after.at.Sub(before.at).Minutes() }
	req := after.requests.Sub(before.requests)
	out.add("idle: storage requests/min, all handlers", "%.0f", perMin(float64(req.Total())))
	out.add("idle: … of which table scans / queries / point reads / writes+batches / queue / blob", "%.0f / %.0f / %.0f / %.0f / %.0f / %.0f",
		perMin(float64(req[testutil.TableScan])), perMin(float64(req[testutil.TableQuery])), perMin(float64(req[testutil.TablePointRead])),
		perMin(float64(req[testutil.TableWrite]+req[testutil.TableBatch])), perMin(float64(req.Queue())), perMin(float64(req[testutil.Blob])))
	out.add("idle: handler CPU s/min, all handlers", "%.2f", perMin((after.cpu - before.cpu).Seconds()))
	if before.azurite >= 0 {
		out.add("idle: Azurite CPU s/min", "%.2f", perMin((after.azurite - before.azurite).Seconds()))
	}
}

// measureQueries times the management API's queries through a handler, three times each,
// with the requests each made.
func (r *scaleRun) measureQueries(from, to time.Time, out *figRow) {
	r.t.Helper()
	queries := []struct{ name, path string }{
		{"list first page (100)", "/durabletask/instances?top=100"},
		{"count by status", "/durabletask/counts"},
		{"time range (middle 1 %), first page", "/durabletask/instances?top=100&createdTimeFrom=" +
			url.QueryEscape(layout.FormatTime(from)) + "&createdTimeTo=" + url.QueryEscape(layout.FormatTime(to))},
	}
	for _, q := range queries {
		var took []time.Duration
		before := r.proxy.Counts()
		for range 3 {
			t0 := time.Now()
			status, body, err := r.c.do(http.MethodGet, q.path, nil)
			if err != nil || status != http.StatusOK {
				r.t.Fatalf("GET %s: HTTP %d %v %.200s", q.path, status, err, body)
			}
			took = append(took, time.Since(t0))
		}
		req := r.proxy.Counts().Sub(before)
		slices.Sort(took)
		out.add("query: "+q.name, "%v [%v–%v], %.0f requests", took[1].Round(time.Millisecond),
			took[0].Round(time.Millisecond), took[2].Round(time.Millisecond), float64(req.Total()-req[testutil.QueueGetEmpty])/3)
	}
}

// recoveredRE matches the worker's "partition recovered" log line (internal/worker/recovery.go).
var recoveredRE = regexp.MustCompile(`partition recovered.* partition=(\d+) instances=(\d+) .*took=(\S+)`)

// measureTakeover SIGKILLs the handler that owns two partitions and, for each of them,
// times how long after the kill a HelloWorld started then (through the survivor) completes,
// and reads the survivor's "partition recovered" line.
func (r *scaleRun) measureTakeover(within time.Duration, out *figRow) {
	r.t.Helper()
	smp, err := r.leaseSample()
	if err != nil {
		r.t.Fatal(err)
	}
	live := r.c.handlers()
	if len(live) != 2 {
		r.t.Fatalf("want two live handlers, have %d", len(live))
	}
	victim, survivor := live[0], live[1]
	var killed []int
	for p, owner := range smp.owners {
		if victim.owns(owner) {
			killed = append(killed, p)
		}
	}
	// Work the victim holds in its process when it dies: a Slow instance per killed partition,
	// started through the victim and checkpointed there, its activity still sleeping.
	slow := map[int]string{}
	for _, p := range killed {
		slow[p] = r.idInPartition(p)
		if err := r.c.startInstanceVia(func() *handler { return victim }, "Slow", slow[p], slowActivity.Seconds(), false); err != nil {
			r.t.Fatal(err)
		}
	}
	r.waitRunning(slow, time.Minute)
	logFrom := len(survivor.out.String())
	before, cpu0 := r.proxy.Counts(), readProc(r.t, survivor.cmd.Process.Pid).cpu
	t0 := time.Now()
	r.c.kill(victim)
	ids := map[int]string{}
	for _, p := range killed {
		ids[p] = r.idInPartition(p)
		if err := r.c.startInstance("HelloWorld", ids[p], "x"); err != nil {
			r.t.Fatal(err)
		}
	}
	stalls := r.waitCompleted(ids, t0, within)
	rerun := r.waitCompleted(slow, t0, within+slowActivity)
	recovered := map[int]string{}
	for time.Since(t0) < within && len(recovered) < len(killed) {
		for _, m := range recoveredRE.FindAllStringSubmatch(survivor.out.String()[logFrom:], -1) {
			p, _ := strconv.Atoi(m[1])
			recovered[p] = fmt.Sprintf("%s instances in %s", m[2], m[3])
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Everything the survivor did from the kill until both partitions were recovered (or the
	// wait gave up): the recovery's reads, and its CPU, beside its normal idle work.
	out.add("kill → recovered: survivor's storage requests", "%s", r.proxy.Counts().Sub(before))
	out.add("kill → recovered: survivor's CPU", "%.2f s in %v", (readProc(r.t, survivor.cmd.Process.Pid).cpu - cpu0).Seconds(),
		time.Since(t0).Round(100*time.Millisecond))
	for _, p := range killed {
		out.add(fmt.Sprintf("kill: stall of killed partition (#%d of %d)", slices.Index(killed, p)+1, len(killed)), "p%d: %s", p, stalls[p])
		out.add(fmt.Sprintf("kill: survivor's partition recovered (#%d)", slices.Index(killed, p)+1), "p%d: %s", p, orNone(recovered[p]))
		out.add(fmt.Sprintf("kill: activity held by the dead worker completes again (#%d; it sleeps %v)", slices.Index(killed, p)+1, slowActivity),
			"p%d: %s", p, orNone(rerun[p]))
	}
	for p := range ids {
		if _, ok := stalls[p]; !ok {
			r.t.Errorf("new work on killed partition %d did not complete within %v", p, within)
		}
		if _, ok := rerun[p]; !ok {
			r.t.Errorf("the activity the dead worker held for partition %d did not run again within %v", p, within+slowActivity)
		}
	}
}

// slowActivity is how long the activity the killed worker holds sleeps: long enough to be
// running at the kill, short beside the takeover bound.
const slowActivity = 10 * time.Second

// waitRunning waits until each instance's row shows it Running: its first checkpoint, with
// its activity scheduled, is in storage.
func (r *scaleRun) waitRunning(ids map[int]string, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			row, err := r.s.h.GetInstance(context.Background(), id)
			if err == nil && row.RuntimeStatus == history.StatusRunning {
				break
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("instance %s is not Running after %v", id, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "not logged"
	}
	return s
}

// idInPartition is a fresh instance ID that the hub maps to partition p.
func (r *scaleRun) idInPartition(p int) string {
	for {
		id := fmt.Sprintf("new-%d-%08x", p, rand.Uint32())
		if r.s.h.PartitionOf(id) == p {
			return id
		}
	}
}

// waitCompleted polls the instances (partition → ID) until each completes and returns, per
// partition, the time from t0 to when it was first seen completed.
func (r *scaleRun) waitCompleted(ids map[int]string, t0 time.Time, within time.Duration) map[int]string {
	out := map[int]string{}
	for len(out) < len(ids) && time.Since(t0) < within {
		for p, id := range ids {
			if _, ok := out[p]; ok {
				continue
			}
			row, err := r.s.h.GetInstance(context.Background(), id)
			if err == nil && row.RuntimeStatus == history.StatusCompleted {
				out[p] = time.Since(t0).Round(100 * time.Millisecond).String()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for p := range ids {
		if _, ok := out[p]; !ok {
			r.t.Errorf("partition %d: new instance %s not completed within %v of the kill", p, ids[p], within)
			out[p] = "> " + within.String()
		}
	}
	return out
}

// TestScaleHub measures, for each hub size of SCALE_N, a hub of that many ApprovalWorkflow
// instances waiting for their event served by two handlers (lease 6 s, renew 2 s, four
// partitions): idle cost, query latencies, and the takeover after one handler is killed.
func TestScaleHub(t *testing.T) {
	cfg := scaleConfigOf(t)
	var rows []*figRow
	for _, n := range cfg.hubSizes {
		out := newRow(fmt.Sprintf("N = %d", n))
		rows = append(rows, out)
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			t0 := time.Now()
			r := newScaleRun(t, 2, func(t *testing.T, hub string) string { return appDir(t, hub, defaultHub) })
			r.waitBalanced(time.Minute)
			// On an empty hub the time range is the last minute: it finds the template only.
			first, last := time.Now().Add(-time.Minute), time.Now()
			if n > 0 {
				tmpl, hs := r.waitingTemplate()
				first = r.buildWaiting(tmpl, hs, n-1, out)
				last = first.Add(time.Duration(n) * time.Second)
			}
			time.Sleep(5 * time.Second) // writes settle, pollers back off
			r.measureIdle(cfg.idle, out)
			mid := first.Add(last.Sub(first) / 2)
			r.measureQueries(mid.Add(-last.Sub(first)/200), mid.Add(last.Sub(first)/200), out)
			r.measureTakeover(takeoverBound(n), out)
			out.add("wall time of this hub size", "%v", time.Since(t0).Round(time.Second))
		})
	}
	logTable(t, "Scale: hubs of N waiting ApprovalWorkflow instances, two handlers, lease 6 s, renew 2 s, 4 partitions", rows)
}

// takeoverBound is how long the suite waits for the killed partitions: far above what it
// reports (the lease, the visibility of the dead worker's messages, and a recovery that reads
// only the partition's in-flight rows, whatever the hub holds), so that a slow run reports
// its figure rather than failing.
func takeoverBound(int) time.Duration { return 2 * time.Minute }

// TestScaleSteps measures what a step of a long chain and an activity of a wide fan-out
// cost, each workload alone on a fresh hub served by one fresh handler (so that its peak
// RSS is the workload's) with the host.json defaults.
func TestScaleSteps(t *testing.T) {
	cfg := scaleConfigOf(t)
	var rows []*figRow
	for _, n := range cfg.chains {
		rows = append(rows, runWorkload(t, fmt.Sprintf("Chain %d", n), "Chain", n, "step"))
	}
	for _, n := range cfg.fanOuts {
		rows = append(rows, runWorkload(t, fmt.Sprintf("FanOutFanIn %d", n), "FanOutFanIn", n, "activity"))
	}
	logTable(t, "Scale: step costs, one handler, host.json defaults", rows)
}

// runWorkload runs orchestrator name with input n and reports its wall time, and the
// handler's CPU and storage requests per unit (n units), and its peak RSS.
func runWorkload(t *testing.T, title, name string, n int, unit string) *figRow {
	out := newRow(title)
	t.Run(strings.ReplaceAll(title, " ", "="), func(t *testing.T) {
		r := newScaleRun(t, 1, defaultsAppDir)
		time.Sleep(2 * time.Second) // leases taken, pollers backed off
		id := "w-" + strconv.Itoa(n)
		before := r.snapshot()
		if err := r.c.startInstance(name, id, n); err != nil {
			t.Fatal(err)
		}
		within := 5*time.Minute + time.Duration(n)*200*time.Millisecond
		r.waitCompleted(map[int]string{0: id}, before.at, within)
		after := r.snapshot()
		req := after.requests.Sub(before.requests)
		work := float64(req.Total() - req[testutil.QueueGetEmpty])
		per := func(v float64) float64 { return v / float64(n) }
		out.add("wall time", "%v (%.1f ms/%s)", after.at.Sub(before.at).Round(100*time.Millisecond), per(float64(after.at.Sub(before.at).Milliseconds())), unit)
		out.add("handler CPU", "%.1f s (%.2f ms/%s)", (after.cpu - before.cpu).Seconds(), per(float64((after.cpu-before.cpu).Microseconds())/1000), unit)
		out.add("storage requests per "+unit+", idle polls apart", "%.2f (%s)", per(work), req)
		if before.azurite >= 0 {
			out.add("Azurite CPU", "%.1f s", (after.azurite - before.azurite).Seconds())
		}
		out.add("handler peak RSS", "%d MB", readProc(t, r.c.handlers()[0].cmd.Process.Pid).peakKB/1024)
		if hs, err := r.s.h.LoadHistory(context.Background(), id); err == nil {
			out.add("history rows", "%d", hs.Rows)
		}
	})
	return out
}
