// Command compare runs this project and microsoft/durabletask-go v0.5.0
// (SQLite on disk and in memory) side by side on the same workloads and
// prints each run's figures, the median per system and the ratios
// project / peer, as Markdown tables:
//
//  1. N × HelloCities5 started at once (32 starts in flight), waited for;
//  2. FanOutFanIn(N): one orchestration of N parallel activities;
//  3. one HelloCities5 on an idle app (after a pause), p50 over ten.
//
// Run it from the repository root, as `make bench-compare` does:
//
//	go run ./bench/compare [-rounds 2] [-n 1000] [-fanout 1000] ...
//
// The machine it runs on is shared and drifts by tens of per cent within
// minutes, so the systems run alternately, several rounds, each run in a
// fresh process on fresh storage (a new Azurite from scripts/azurite.sh for
// the project, a new database for the peer), and the order rotates from one
// round to the next. Compare ratios taken within one invocation, not
// figures from different ones.
//
// The peer is built from bench/peer, a module of its own, so that the
// project's module never depends on durabletask-go. Its client waits by
// polling with a back-off (100 ms, ×1.5, up to 10 s), which inflates what
// its callers see; every figure is therefore given twice: as the caller sees
// it, and from the instances' own created and last-updated timestamps.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/durable-go/durable/bench/compare/internal/result"
)

// system is one side of the comparison.
type system struct {
	key, label string
}

var systems = []system{
	{"project", "this project (Azurite)"},
	{"peer-file", "durabletask-go, SQLite file"},
	{"peer-memory", "durabletask-go, SQLite in memory"},
}

type options struct {
	rounds                     int
	n, inFlight, warmup        int
	fanOut, idleRuns           int
	idle, runTimeout, deadline time.Duration
	keep                       bool
}

// run is one process's outcome.
type run struct {
	round   int
	sys     system
	res     *result.Result
	err     error
	elapsed time.Duration
	// logged counts the warning and error lines on the run's stderr, with
	// the first of them, so that a run that limped along is visible.
	logged int
	first  string
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 2, "rounds; each runs every system once, in a rotated order")
	flag.IntVar(&o.n, "n", 1000, "HelloCities5 orchestrations per batch")
	flag.IntVar(&o.inFlight, "inflight", 32, "starts in flight at once (bench/bench_test.go uses 32)")
	flag.IntVar(&o.warmup, "warmup", 10, "HelloCities5 run before the batch")
	flag.IntVar(&o.fanOut, "fanout", 1000, "activities in the FanOutFanIn orchestration; 0 skips it")
	flag.IntVar(&o.idleRuns, "idle-runs", 10, "single orchestrations timed on an idle app; 0 skips them")
	flag.DurationVar(&o.idle, "idle", 2*time.Second, "idle pause before each single orchestration")
	flag.DurationVar(&o.runTimeout, "run-timeout", 5*time.Minute, "bound on one system's run")
	flag.DurationVar(&o.deadline, "deadline", 14*time.Minute, "bound on the whole comparison, builds included")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, logs, databases)")
	flag.Parse()
	if o.rounds < 1 || o.rounds > 20 || o.n < 1 || o.inFlight < 1 || o.warmup < 0 || o.fanOut < 0 || o.idleRuns < 0 {
		fmt.Fprintln(os.Stderr, "compare: -rounds must be 1..20, -n and -inflight at least 1, the others not negative")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()

	code, err := compare(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func compare(ctx context.Context, o options) (int, error) {
	root, err := repoRoot()
	if err != nil {
		return 1, err
	}
	work, err := os.MkdirTemp("", "bench-compare-")
	if err != nil {
		return 1, err
	}
	if o.keep {
		fmt.Printf("work directory (kept): %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	fmt.Printf("# bench-compare, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Printf("%s, %d CPUs, %s/%s; Azurite %s%s; durabletask-go %s\n\n", runtime.Version(), runtime.NumCPU(),
		runtime.GOOS, runtime.GOARCH, azuriteVersion(root), inMemoryNote(), peerVersion(root))
	fmt.Printf("project source: %s\n\n", sourceState(ctx, root))
	fmt.Println("```")

	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	projectBin, peerBin := filepath.Join(work, "project"), filepath.Join(work, "peer")
	// Built up front so that no run pays for compilation.
	builds := []struct{ dir, out, pkg string }{
		{root, projectBin, "./bench/compare/project"},
		{filepath.Join(root, "bench", "peer"), peerBin, "."},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", b.out, b.pkg)
		cmd.Dir = b.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		fmt.Printf("$ (cd %s && %s)\n", rel(root, b.dir), strings.Join(cmd.Args, " "))
		if err := cmd.Run(); err != nil {
			return 1, fmt.Errorf("build %s: %w", b.pkg, err)
		}
	}

	workload := []string{
		"-n", strconv.Itoa(o.n), "-inflight", strconv.Itoa(o.inFlight), "-warmup", strconv.Itoa(o.warmup),
		"-fanout", strconv.Itoa(o.fanOut), "-idle-runs", strconv.Itoa(o.idleRuns), "-idle", o.idle.String(),
	}
	var runs []run
	for r := 1; r <= o.rounds; r++ {
		for i := range systems {
			sys := systems[(i+r-1)%len(systems)]
			if ctx.Err() != nil {
				runs = append(runs, run{round: r, sys: sys, err: fmt.Errorf("not run: %w", context.Cause(ctx))})
				continue
			}
			dir := filepath.Join(work, fmt.Sprintf("r%d-%s", r, sys.key))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return 1, err
			}
			t0 := time.Now()
			res, err := runOne(ctx, o, root, dir, sys, projectBin, peerBin, workload)
			n, first := warnings(filepath.Join(dir, "stderr.log"))
			runs = append(runs, run{round: r, sys: sys, res: res, err: err, elapsed: time.Since(t0), logged: n, first: first})
			status := "ok"
			if err != nil {
				status = "FAILED: " + err.Error()
			}
			fmt.Printf("# round %d %s: %s in %s\n", r, sys.key, status, time.Since(t0).Round(100*time.Millisecond))
			if !o.keep {
				// Databases and Azurite data are only needed while the run lasts.
				os.RemoveAll(dir)
			}
		}
	}
	fmt.Println("```")
	fmt.Println()

	report(os.Stdout, o, runs)
	for _, r := range runs {
		if r.err != nil {
			return 1, nil
		}
	}
	return 0, nil
}

// runOne runs one system in a process of its own. The project gets an
// Azurite started for it alone, the same way `make bench` starts one.
func runOne(ctx context.Context, o options, root, dir string, sys system, projectBin, peerBin string, workload []string) (*result.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.runTimeout)
	defer cancel()
	// The child stops itself a little before the driver would kill it, so
	// that it can say what it was waiting for.
	childTimeout := []string{"-timeout", (o.runTimeout - 20*time.Second).Round(time.Second).String()}
	args := append(append([]string(nil), workload...), childTimeout...)
	var cmd *exec.Cmd
	shown := ""
	switch sys.key {
	case "project":
		az := filepath.Join(root, "scripts", "azurite.sh")
		azDir := filepath.Join(dir, "azurite")
		start := exec.CommandContext(ctx, az, "start", azDir)
		start.Dir = root
		start.Stdout, start.Stderr = os.Stdout, os.Stdout
		fmt.Printf("$ scripts/azurite.sh start %s\n", azDir)
		if err := start.Run(); err != nil {
			return nil, fmt.Errorf("starting Azurite: %w", err)
		}
		defer func() {
			// Not bound to ctx: Azurite must stop even when the run timed out.
			stop := exec.Command(az, "stop", azDir)
			stop.Dir = root
			stop.Stdout, stop.Stderr = os.Stdout, os.Stdout
			fmt.Printf("$ scripts/azurite.sh stop %s\n", azDir)
			if err := stop.Run(); err != nil {
				fmt.Printf("# stopping Azurite: %v\n", err)
			}
		}()
		cs, err := os.ReadFile(filepath.Join(azDir, "connection-string"))
		if err != nil {
			return nil, err
		}
		cmd = exec.CommandContext(ctx, projectBin, args...)
		cmd.Env = append(os.Environ(), "DURABLE_TEST_STORAGE="+strings.TrimSpace(string(cs)))
		shown = fmt.Sprintf(`DURABLE_TEST_STORAGE="$(cat %s/connection-string)" `, azDir)
	case "peer-file":
		cmd = exec.CommandContext(ctx, peerBin, append([]string{"-backend", "file", "-db", filepath.Join(dir, "hub.sqlite")}, args...)...)
	case "peer-memory":
		cmd = exec.CommandContext(ctx, peerBin, append([]string{"-backend", "memory"}, args...)...)
	default:
		return nil, fmt.Errorf("unknown system %q", sys.key)
	}
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	logPath := filepath.Join(dir, "stderr.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	fmt.Printf("$ %s%s 2>%s\n", shown, strings.Join(cmd.Args, " "), logPath)
	runErr := cmd.Run()
	if runErr != nil {
		fmt.Printf("# last lines of %s:\n%s", logPath, tail(logPath, 15))
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", runErr, context.Cause(ctx))
		}
		return nil, runErr
	}
	// The figures are the last line; anything before it is not ours.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res result.Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return nil, fmt.Errorf("reading the figures: %w", err)
	}
	return &res, nil
}

// report prints one table per workload, then a summary of the medians.
func report(w io.Writer, o options, runs []run) {
	ok := func(key string) []*result.Result {
		var out []*result.Result
		for _, r := range runs {
			if r.sys.key == key && r.err == nil {
				out = append(out, r.res)
			}
		}
		return out
	}

	fmt.Fprintf(w, "## 1. %d × HelloCities5, %d starts in flight\n\n", o.n, o.inFlight)
	fmt.Fprintln(w, "Throughput: orchestrations / (last completion − first start); ratio > 1: the project is faster.")
	fmt.Fprintln(w, "Latency: start to completion; ratio < 1: the project is faster.")
	fmt.Fprintln(w, "Caller: what the waiting client saw; instances: the instances' own created and last-updated times.")
	fmt.Fprintln(w)
	batchCols := []column{
		{"orch/s, caller", higher, func(r *result.Result) float64 { return rate(r.Batch.N, r.Batch.CallerMs) }, orchPerS},
		{"orch/s, instances", higher, func(r *result.Result) float64 { return rate(r.Batch.N, r.Batch.InstanceMs) }, orchPerS},
		{"p50, caller", lower, func(r *result.Result) float64 { return r.Batch.CallerP50Ms }, seconds},
		{"p99, caller", lower, func(r *result.Result) float64 { return r.Batch.CallerP99Ms }, seconds},
		{"p50, instances", lower, func(r *result.Result) float64 { return r.Batch.InstanceP50Ms }, seconds},
		{"p99, instances", lower, func(r *result.Result) float64 { return r.Batch.InstanceP99Ms }, seconds},
	}
	table(w, runs, ok, batchCols)

	var fanCols, idleCols []column
	if o.fanOut > 0 {
		fmt.Fprintf(w, "## 2. FanOutFanIn(%d): one orchestration, %d activities in parallel\n\n", o.fanOut, o.fanOut)
		fmt.Fprintln(w, "Start to completion; ratio < 1: the project is faster.")
		fmt.Fprintln(w)
		fanCols = []column{
			{"time, caller", lower, func(r *result.Result) float64 { return r.FanOut.CallerMs }, seconds},
			{"time, instance", lower, func(r *result.Result) float64 { return r.FanOut.InstanceMs }, seconds},
		}
		table(w, runs, ok, fanCols)
	}
	if o.idleRuns > 0 {
		fmt.Fprintf(w, "## 3. One HelloCities5 on an idle app (after %s idle), over %d\n\n", o.idle, o.idleRuns)
		fmt.Fprintln(w, "Start to seen-complete; ratio < 1: the project is faster.")
		fmt.Fprintln(w)
		idleCols = []column{
			{"p50, caller", lower, func(r *result.Result) float64 { return result.Percentile(r.Idle.CallerMs, 0.5) }, millis},
			{"p50, instance", lower, func(r *result.Result) float64 { return result.Percentile(r.Idle.InstanceMs, 0.5) }, millis},
			{"min, caller", lower, func(r *result.Result) float64 { return result.Percentile(r.Idle.CallerMs, 0) }, millis},
			{"max, caller", lower, func(r *result.Result) float64 { return result.Percentile(r.Idle.CallerMs, 1) }, millis},
		}
		table(w, runs, ok, idleCols)
	}

	fmt.Fprintln(w, "## Summary (medians of the runs above)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| figure | %s | %s | %s | project / file | project / memory |\n", systems[0].label, systems[1].label, systems[2].label)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	// row prints one line of the summary, the project's figure taken from
	// proj and the peers' from peer; several columns share a cell as
	// "a / b".
	row := func(name string, proj, peer []column) {
		var p, f, m, pf, pm []string
		for i := range proj {
			pv := median(ok("project"), proj[i].get)
			fv, mv := median(ok("peer-file"), peer[i].get), median(ok("peer-memory"), peer[i].get)
			p, f, m = append(p, proj[i].format(pv)), append(f, peer[i].format(fv)), append(m, peer[i].format(mv))
			pf, pm = append(pf, ratio(pv, fv)), append(pm, ratio(pv, mv))
		}
		j := func(v []string) string { return strings.Join(v, " / ") }
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", name, j(p), j(f), j(m), j(pf), j(pm))
	}
	same := func(name string, cs ...column) { row(name, cs, cs) }
	// The fairest pairing: the project's caller is told of completion
	// in process, without polling, while the peer's caller polls with a
	// back-off; its instances' timestamps strip that delay out.
	best := func(name string, proj, peer []column) { row(name+" (project: caller; peer: instances)", proj, peer) }
	cols := func(cs ...column) []column { return cs }

	same(fmt.Sprintf("%d × HelloCities5, orch/s (caller)", o.n), batchCols[0])
	same(fmt.Sprintf("%d × HelloCities5, orch/s (instances)", o.n), batchCols[1])
	best(fmt.Sprintf("%d × HelloCities5, orch/s", o.n), cols(batchCols[0]), cols(batchCols[1]))
	same("… p50 / p99 latency (caller)", batchCols[2], batchCols[3])
	same("… p50 / p99 latency (instances)", batchCols[4], batchCols[5])
	best("… p50 / p99 latency", cols(batchCols[2], batchCols[3]), cols(batchCols[4], batchCols[5]))
	if fanCols != nil {
		same(fmt.Sprintf("FanOutFanIn(%d), caller", o.fanOut), fanCols[0])
		same(fmt.Sprintf("FanOutFanIn(%d), instance", o.fanOut), fanCols[1])
		best(fmt.Sprintf("FanOutFanIn(%d)", o.fanOut), cols(fanCols[0]), cols(fanCols[1]))
	}
	if idleCols != nil {
		same(fmt.Sprintf("idle single, p50 (caller, after %s)", o.idle), idleCols[0])
		same(fmt.Sprintf("idle single, p50 (instance, after %s)", o.idle), idleCols[1])
		best(fmt.Sprintf("idle single, p50 after %s", o.idle), cols(idleCols[0]), cols(idleCols[1]))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Runs")
	fmt.Fprintln(w)
	for _, r := range runs {
		fmt.Fprintf(w, "- round %d, %s: ", r.round, r.sys.key)
		if r.err != nil {
			fmt.Fprintf(w, "FAILED: %v\n", r.err)
			continue
		}
		fmt.Fprintf(w, "%s wall", r.elapsed.Round(100*time.Millisecond))
		for _, n := range r.res.Notes {
			fmt.Fprintf(w, "; %s", n)
		}
		if r.logged > 0 {
			fmt.Fprintf(w, "; %d warning or error lines logged, the first: %s", r.logged, r.first)
		}
		fmt.Fprintln(w)
	}
}

type direction int

const (
	higher direction = iota // a higher figure is better
	lower
)

type column struct {
	name   string
	better direction
	get    func(*result.Result) float64
	format func(float64) string
}

// table prints every run's figures, the median per system, and the
// project / peer ratios, both of the medians and within each round (where
// the runs were minutes apart rather than the whole invocation).
func table(w io.Writer, runs []run, ok func(string) []*result.Result, cols []column) {
	fmt.Fprint(w, "| round | system |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.name)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range cols {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, r := range runs {
		fmt.Fprintf(w, "| %d | %s |", r.round, r.sys.label)
		for _, c := range cols {
			if r.err != nil {
				fmt.Fprint(w, " failed |")
				continue
			}
			fmt.Fprintf(w, " %s |", c.format(c.get(r.res)))
		}
		fmt.Fprintln(w)
	}
	for _, s := range systems {
		fmt.Fprintf(w, "| median | %s |", s.label)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", c.format(median(ok(s.key), c.get)))
		}
		fmt.Fprintln(w)
	}
	for _, peer := range systems[1:] {
		fmt.Fprintf(w, "| **ratio** | **project / %s** |", strings.TrimPrefix(peer.key, "peer-"))
		for _, c := range cols {
			fmt.Fprintf(w, " **%s** |", ratio(median(ok("project"), c.get), median(ok(peer.key), c.get)))
		}
		fmt.Fprintln(w)
	}
	rounds := 0
	for _, r := range runs {
		rounds = max(rounds, r.round)
	}
	if rounds > 1 {
		for _, peer := range systems[1:] {
			for round := 1; round <= rounds; round++ {
				p, q := find(runs, round, "project"), find(runs, round, peer.key)
				fmt.Fprintf(w, "| ratio, round %d | project / %s |", round, strings.TrimPrefix(peer.key, "peer-"))
				for _, c := range cols {
					if p == nil || q == nil {
						fmt.Fprint(w, " – |")
						continue
					}
					fmt.Fprintf(w, " %s |", ratio(c.get(p), c.get(q)))
				}
				fmt.Fprintln(w)
			}
		}
	}
	fmt.Fprintln(w)
}

func find(runs []run, round int, key string) *result.Result {
	for _, r := range runs {
		if r.round == round && r.sys.key == key && r.err == nil {
			return r.res
		}
	}
	return nil
}

// median of the figure over the runs; the mean of the middle two for an
// even count. NaN when no run succeeded.
func median(rs []*result.Result, get func(*result.Result) float64) float64 {
	if len(rs) == 0 {
		return nan()
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = get(r)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func nan() float64 { var z float64; return z / z }

func rate(n int, ms float64) float64 {
	if ms <= 0 {
		return nan()
	}
	return float64(n) / (ms / 1000)
}

func ratio(a, b float64) string {
	if a != a || b != b || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func orchPerS(v float64) string {
	if v != v {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

// seconds formats a duration given in ms, in ms below a second so that
// small runs (-n 20) keep their digits.
func seconds(ms float64) string {
	switch {
	case ms != ms:
		return "–"
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", ms/1000)
}

func millis(ms float64) string {
	if ms != ms {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// repoRoot finds the project's module root from the working directory up,
// so that `go run ./bench/compare` works from the root and below it.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for i := 0; i < 64; i++ {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/durable-go/durable\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("run me inside the durable-go repository (no go.mod of github.com/durable-go/durable above the working directory)")
}

func rel(root, dir string) string {
	if r, err := filepath.Rel(root, dir); err == nil {
		return r
	}
	return dir
}

func azuriteVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "node_modules", "azurite", "package.json"))
	if err != nil {
		return "(not installed: run npm ci)"
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil || p.Version == "" {
		return "(unknown version)"
	}
	return p.Version
}

// sourceState names the commit the project binary is built from and how
// far the working tree is from it: the engine is edited while benchmarks
// run, and a figure is only worth keeping with the code it measured.
func sourceState(ctx context.Context, root string) string {
	head, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(not a git checkout)"
	}
	st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain").Output()
	if err != nil {
		return "commit " + strings.TrimSpace(string(head))
	}
	changed := 0
	for _, l := range strings.Split(string(st), "\n") {
		if l != "" && !strings.Contains(l, "bench/") {
			changed++
		}
	}
	if changed == 0 {
		return "commit " + strings.TrimSpace(string(head)) + ", clean outside bench/"
	}
	return fmt.Sprintf("commit %s plus %d uncommitted paths outside bench/ (git status)", strings.TrimSpace(string(head)), changed)
}

func inMemoryNote() string {
	if os.Getenv("AZURITE_IN_MEMORY") == "1" {
		return " in memory (AZURITE_IN_MEMORY=1)"
	}
	return " with disk persistence"
}

// peerVersion reads the pinned version from bench/peer/go.mod.
func peerVersion(root string) string {
	f, err := os.Open(filepath.Join(root, "bench", "peer", "go.mod"))
	if err != nil {
		return "(bench/peer/go.mod missing)"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 && strings.HasSuffix(fs[len(fs)-2], "microsoft/durabletask-go") {
			return fs[len(fs)-1]
		}
	}
	return "(not in bench/peer/go.mod)"
}

// warnLine matches the level of a warning or error line from slog's
// default handler (the project) or durabletask-go's logger (the peer).
var warnLine = regexp.MustCompile(`\b(WARN|WARNING|ERROR)\b`)

func warnings(path string) (n int, first string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if warnLine.MatchString(sc.Text()) {
			if n == 0 {
				first = sc.Text()
				if len(first) > 300 {
					first = first[:300] + "…"
				}
			}
			n++
		}
	}
	return n, first
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
