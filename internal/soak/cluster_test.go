package soak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/testutil"
)

// The hub's lease timings, as written to host.json by appDir. The scenarios' timing bounds
// are derived from them.
const (
	leaseDuration      = 6 * time.Second
	leaseRenewInterval = 2 * time.Second
	partitionCount     = 4
)

// hubOptions are the host.json settings that scenarios vary: most run the defaults, the
// hand-over scenario needs more partitions than handlers, the table brown-out a lease
// that outlasts the brown-out, and the version scenarios a build's version settings.
type hubOptions struct {
	partitions   int
	lease, renew time.Duration
	// version is defaultVersion, match versionMatchStrategy and failure
	// versionFailureStrategy; each is left out of host.json when empty.
	version, match, failure string
}

var defaultHub = hubOptions{partitions: partitionCount, lease: leaseDuration, renew: leaseRenewInterval}

// appDir is a function app root for the hub's handler processes. The visibility timeouts
// (20 s) are longer than the lease duration (6 s) so that a message a killed worker had
// dequeued reappears only after its partition has a new owner, as in production where both
// are minutes; routePrefix "" gives the README's routes.
func appDir(t *testing.T, hub string, o hubOptions) string {
	t.Helper()
	dir := t.TempDir()
	writeHost(t, dir, hub, o)
	return dir
}

// writeHost writes appDir's host.json into dir, an app root of the test's own.
func writeHost(t *testing.T, dir, hub string, o hubOptions) {
	t.Helper()
	var versions string
	for _, kv := range [][2]string{{"defaultVersion", o.version}, {"versionMatchStrategy", o.match}, {"versionFailureStrategy", o.failure}} {
		if kv[1] != "" {
			versions += fmt.Sprintf(",%q:%q", kv[0], kv[1])
		}
	}
	host := fmt.Sprintf(`{"version":"2.0","extensions":{"http":{"routePrefix":""},"durableTask":{"hubName":%q,
	  "storageProvider":{"partitionCount":%d,"maxQueuePollingInterval":"00:00:01",
	    "controlQueueVisibilityTimeout":"00:00:20","workItemQueueVisibilityTimeout":"00:00:20",
	    "partitionLeaseDuration":"00:00:%02d","partitionLeaseRenewInterval":"00:00:%02d"},
	  "maxConcurrentOrchestratorFunctions":10,"maxConcurrentActivityFunctions":10%s}}}`,
		hub, o.partitions, int(o.lease/time.Second), int(o.renew/time.Second), versions)
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(host), 0o644); err != nil {
		t.Fatal(err)
	}
}

// handler is one handler process.
type handler struct {
	n      int    // its number in the cluster, for logs: h1, h2, …
	build  string // its cluster's name, for logs of scenarios with several: old/h1
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	base   string        // http://127.0.0.1:port
	exited chan struct{} // closed once the process has been waited for
}

func (h *handler) String() string {
	prefix := ""
	if h.build != "" {
		prefix = h.build + "/"
	}
	return fmt.Sprintf("%sh%d(pid %d)", prefix, h.n, h.cmd.Process.Pid)
}

// owns reports whether a lease owner names this process: the worker's default ID is
// "<host>-<pid>-<random>".
func (h *handler) owns(owner string) bool {
	parts := strings.Split(owner, "-")
	return len(parts) >= 3 && parts[len(parts)-2] == strconv.Itoa(h.cmd.Process.Pid)
}

// cluster is the set of handler processes serving one hub. Scenarios kill and start them
// from several goroutines, so its lists are guarded.
type cluster struct {
	t    *testing.T
	hub  string
	conn string
	dir  string
	bin  string   // the handler binary; the repository's handler when ""
	env  []string // app settings of this cluster's own, as NAME=value
	name string   // the build's name in logs, when a scenario runs several
	http *http.Client

	mu    sync.Mutex
	live  []*handler
	all   []*handler
	kills []time.Time // when each SIGKILL was sent
	rr    int         // round-robin position for pick
}

// newCluster starts n handlers for hub on the storage account conn. When the test fails,
// the last 40 lines of every handler's log (dead ones too) are logged.
func newCluster(t *testing.T, hub, conn string, n int) *cluster {
	t.Helper()
	return newClusterWith(t, hub, conn, n, defaultHub)
}

// newClusterWith is newCluster with other host.json settings; the hub's store must have
// been opened with the same partition count (openStoreWith), because the first to create
// the hub records its count and the others adopt it.
func newClusterWith(t *testing.T, hub, conn string, n int, o hubOptions) *cluster {
	t.Helper()
	c := newBuild(t, hub, conn, appDir(t, hub, o), "")
	for range n {
		c.mustStart()
	}
	return c
}

// newBuild is a cluster on hub with no handler started yet, whose handlers run bin (the
// repository's handler when "") in the app root dir with the app settings env. The version
// scenarios run several builds of one app on one hub, each a cluster of its own.
func newBuild(t *testing.T, hub, conn, dir, bin string, env ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, hub: hub, conn: conn, dir: dir, bin: bin, env: env,
		// Longer than any storage retry a handler makes during an outage, shorter than the
		// scenarios' deadlines: a request with no answer by then counts as unanswered.
		http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(c.cleanup)
	return c
}

func (c *cluster) cleanup() {
	c.mu.Lock()
	all := append([]*handler(nil), c.all...)
	c.mu.Unlock()
	for _, h := range all {
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	c.http.CloseIdleConnections()
	if !c.t.Failed() {
		return
	}
	for _, h := range all {
		if dump := os.Getenv("HANDLER_LOG_DUMP"); dump != "" {
			_ = os.WriteFile(fmt.Sprintf("%s.%s.%d", dump, c.hub, h.cmd.Process.Pid), []byte(h.out.String()), 0o644)
		}
		c.t.Logf("%s output (last 40 lines):\n%s", h, lastLines(h.out.String(), 40))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mustStart starts a handler from the test's goroutine.
func (c *cluster) mustStart() *handler {
	c.t.Helper()
	h, err := c.start()
	if err != nil {
		c.t.Fatal(err)
	}
	return h
}

// start starts a handler process and returns once it answers GET /, as the Functions host
// waits for it. It may be called from any goroutine.
func (c *cluster) start() (*handler, error) {
	bin, err := c.bin, error(nil)
	if bin == "" {
		bin, err = apptest.HandlerBinary()
	}
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "AzureWebJobsStorage="+c.conn, fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port),
		app.WakeQueueSetting+"=none", "DatabaseConnection=Server=db", "DURABLE_LOG_LEVEL="+os.Getenv("HANDLER_LOG_LEVEL"))
	cmd.Env = append(cmd.Env, c.env...)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	dieWithTests(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler: %w", err)
	}
	h := &handler{cmd: cmd, out: out, base: fmt.Sprintf("http://127.0.0.1:%d", port), exited: make(chan struct{}), build: c.name}
	go func() {
		_ = cmd.Wait()
		close(h.exited)
	}()
	c.mu.Lock()
	c.all = append(c.all, h)
	h.n = len(c.all)
	c.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case <-h.exited:
			return nil, fmt.Errorf("%s exited during start-up: %v\n%s", h, cmd.ProcessState, h.out.String())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not answer GET / within 30 s: %v\n%s", h, err, h.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	c.live = append(c.live, h)
	c.mu.Unlock()
	return h, nil
}

// handlers returns the live handlers.
func (c *cluster) handlers() []*handler {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*handler(nil), c.live...)
}

// killsBefore counts the kills sent before t, all of them when t is zero.
func (c *cluster) killsBefore(t time.Time) (before, all int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.kills {
		if t.IsZero() || k.Before(t) {
			before++
		}
	}
	return before, len(c.kills)
}

// remove takes h out of the live list, so that requests stop going to it.
func (c *cluster) remove(h *handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, l := range c.live {
		if l == h {
			c.live = append(c.live[:i], c.live[i+1:]...)
			return
		}
	}
}

// kill SIGKILLs h: a crash, with whatever it held in memory lost.
func (c *cluster) kill(h *handler) {
	c.remove(h)
	c.mu.Lock()
	c.kills = append(c.kills, time.Now())
	c.mu.Unlock()
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.exited
}

// terminate SIGTERMs h, a graceful stop such as a scale-in, and returns how long it took to
// exit (capped at a minute, after which it is killed).
func (c *cluster) terminate(h *handler) time.Duration {
	c.remove(h)
	t0 := time.Now()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(time.Minute):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	return time.Since(t0)
}

// killAndReplace SIGKILLs a random live handler and starts a new one at once, as the
// Functions host replaces a crashed worker.
func (c *cluster) killAndReplace(r *rand.Rand) error {
	live := c.handlers()
	if len(live) == 0 {
		return errors.New("no live handler to kill")
	}
	c.kill(live[r.IntN(len(live))])
	_, err := c.start()
	return err
}

// chaos kills and replaces a random handler n times, at random gaps in [minGap, maxGap),
// in its own goroutine, which has its own generator seeded from r. The returned channel
// yields the first error (nil when all n kills were done) and is then closed.
func (c *cluster) chaos(r *rand.Rand, n int, minGap, maxGap time.Duration) <-chan error {
	return chaos(r, []*cluster{c}, n, minGap, maxGap)
}

// chaos is cluster.chaos over several clusters serving one hub: each kill picks one of
// them at random and kills and replaces a random handler of it.
func chaos(r *rand.Rand, cs []*cluster, n int, minGap, maxGap time.Duration) <-chan error {
	rr := rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for range n {
			time.Sleep(minGap + time.Duration(rr.Int64N(int64(maxGap-minGap))))
			c := cs[0]
			if len(cs) > 1 {
				// Only then: a seed of a one-cluster scenario draws what it drew before.
				c = cs[rr.IntN(len(cs))]
			}
			if err := c.killAndReplace(rr); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// pick returns a live handler, round robin, so that requests spread over all of them.
func (c *cluster) pick() *handler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.live) == 0 {
		return nil
	}
	c.rr++
	return c.live[c.rr%len(c.live)]
}

// errNoAnswer marks a request that reached a handler but got no HTTP answer (the handler
// died or hung): it may or may not have taken effect.
var errNoAnswer = errors.New("no answer")

// do sends a request to a live handler. A request that could not even connect (the handler
// was just killed) certainly had no effect, so it is sent to another handler; one that was
// sent but got no answer returns errNoAnswer, because sending it again could apply it twice.
func (c *cluster) do(method, path string, body []byte) (int, []byte, error) {
	return c.doVia(c.pick, method, path, body)
}

// doVia is do with the handler chosen by pick, for scenarios that must reach a given
// handler (a partition's owner, or not its owner).
func (c *cluster) doVia(pick func() *handler, method, path string, body []byte) (int, []byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := pick()
		if h == nil {
			if time.Now().After(deadline) {
				return 0, nil, errors.New("no live handler for 30 s")
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			return 0, nil, fmt.Errorf("%w: %s %s%s: %v", errNoAnswer, method, h, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %s %s%s: reading the answer: %v", errNoAnswer, method, h, path, err)
		}
		return resp.StatusCode, b, nil
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the suite's own literals are encoded
	}
	return b
}

// startInstance starts orchestrator name as id through the HTTP API. A start that got no
// answer or a server error is sent again (to the next handler); a 409 then means the earlier
// attempt did create the instance. It gives up after a minute.
func (c *cluster) startInstance(name, id string, input any) error {
	return c.startInstanceVia(c.pick, name, id, input, false)
}

// startInstanceVia is startInstance through the handlers pick returns. tried says that an
// earlier attempt got no answer, so that a 409 on the first attempt here means that one
// took effect too.
func (c *cluster) startInstanceVia(pick func() *handler, name, id string, input any, tried bool) error {
	var body []byte
	if input != nil {
		body = mustJSON(input)
	}
	deadline := time.Now().Add(time.Minute)
	var last string
	for attempt := 0; ; attempt++ {
		status, b, err := c.doVia(pick, http.MethodPost, "/orchestrators/"+name+"/"+id, body)
		switch {
		case err == nil && status == http.StatusAccepted:
			return nil
		case err == nil && status == http.StatusConflict && (attempt > 0 || tried):
			return nil
		case err == nil && status < 500:
			return fmt.Errorf("start %s %s: HTTP %d %s", name, id, status, b)
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("HTTP %d %s", status, b)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s %s: no success within a minute; last: %s", name, id, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// raiseOutcome is what became of one raise.
type raiseOutcome int

const (
	raiseAcked      raiseOutcome = iota // 202: the event is queued
	raiseFailed                         // an error status: not applied
	raiseUnanswered                     // no answer: applied or not
)

// raise sends one event and never sends it again: a second copy could be applied too, and
// telling duplicated events from lost ones is the point of the suite.
func (c *cluster) raise(id, event string, data any) raiseOutcome {
	status, _, err := c.do(http.MethodPost, "/durabletask/instances/"+id+"/raiseEvent/"+event, mustJSON(data))
	switch {
	case err != nil:
		return raiseUnanswered
	case status == http.StatusAccepted:
		return raiseAcked
	}
	return raiseFailed
}

// stopCounter raises Stop until an answer says it is queued (202) or the instance has
// finished (410, an earlier Stop that got no answer took effect). A second Stop is harmless:
// the first one ends the instance.
func (c *cluster) stopCounter(id string) error {
	deadline := time.Now().Add(time.Minute)
	var last string
	for {
		status, b, err := c.do(http.MethodPost, "/durabletask/instances/"+id+"/raiseEvent/Stop", []byte("null"))
		switch {
		case err == nil && (status == http.StatusAccepted || status == http.StatusGone):
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("HTTP %d %s", status, b)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stop %s: no success within a minute; last: %s", id, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
