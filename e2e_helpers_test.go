package main

// End-to-end tests of the function app: the handler built from this
// package runs under the dev host (internal/devhost) against Azurite, with
// the function folders and host.json of the repository root, each test in
// its own task hub and with its own trigger queues.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/devhost"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// e2eApp is the function app copied to a temp dir with a unique hub and
// queue names, run by devhost.Run until stopped.
type e2eApp struct {
	t       *testing.T
	dir     string
	hub     string
	conn    string // storage connection string
	suffix  string // appended to every trigger queue name
	handler string
	src     string // the app whose host.json and function folders are used
	env     map[string]string
	logs    *testutil.SyncBuffer // the dev host's and the handler's output
	base    string               // http://127.0.0.1:port while running

	cancel context.CancelFunc
	done   chan error
}

// buildHandler compiles this package. The build cache makes it cheap after
// the first test.
func buildHandler(t *testing.T) string {
	t.Helper()
	return testutil.BuildBinary(t, ".", "handler")
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newE2EApp prepares the app directory; start runs it. env adds or
// overrides app settings.
func newE2EApp(t *testing.T, env map[string]string) *e2eApp {
	t.Helper()
	return newE2EAppFrom(t, env, ".", buildHandler(t))
}

// newE2EAppFrom is newE2EApp for another function app: its host.json and
// function folders are read from src, and handler is its binary.
func newE2EAppFrom(t *testing.T, env map[string]string, src, handler string) *e2eApp {
	t.Helper()
	a := &e2eApp{t: t, dir: t.TempDir(), hub: testutil.UniqueHubName(t), conn: testutil.Storage(t),
		suffix: randomHex(t, 5), handler: handler, src: src, logs: &testutil.SyncBuffer{}}
	a.env = map[string]string{
		"FUNCTIONS_WORKER_RUNTIME": "custom",
		"AzureWebJobsStorage":      a.conn,
		"DatabaseConnection":       "Server=localhost;Database=approvals",
		app.WakeQueueSetting:       a.queue(app.DefaultWakeQueue),
	}
	for k, v := range env {
		a.env[k] = v
	}
	a.writeHostJSON()
	a.copyFunctions()
	t.Cleanup(func() {
		a.stop()
		if t.Failed() || os.Getenv("E2E_LOGS") != "" {
			t.Logf("dev host and handler output:\n%s", a.logs.String())
		}
	})
	return a
}

// with returns a view of the app whose helpers report to t, for subtests:
// a helper must fail the test of the goroutine that calls it.
func (a *e2eApp) with(t *testing.T) *e2eApp {
	c := *a
	c.t = t
	return &c
}

// queue is the test's name for a trigger queue of the app.
func (a *e2eApp) queue(name string) string { return name + "-" + a.suffix }

func (a *e2eApp) writeHostJSON() {
	t := a.t
	raw, err := os.ReadFile(filepath.Join(a.src, config.HostFile))
	if err != nil {
		t.Fatal(err)
	}
	var host map[string]any
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	host["customHandler"].(map[string]any)["description"].(map[string]any)["defaultExecutablePath"] = a.handler
	dt := host["extensions"].(map[string]any)["durableTask"].(map[string]any)
	dt["hubName"] = a.hub
	sp := dt["storageProvider"].(map[string]any)
	sp["maxQueuePollingInterval"] = "00:00:01"
	// Short leases let a restarted handler take its partitions back at
	// once even if the previous one could not release them.
	sp["partitionLeaseDuration"] = "00:00:05"
	sp["partitionLeaseRenewInterval"] = "00:00:01"
	b, _ := json.MarshalIndent(host, "", "  ")
	if err := os.WriteFile(filepath.Join(a.dir, config.HostFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyFunctions copies every function folder of the repository root,
// renaming trigger queues so that parallel tests do not share them.
func (a *e2eApp) copyFunctions() {
	t := a.t
	paths, err := filepath.Glob(filepath.Join(a.src, "*", "function.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no function folders found: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var fj map[string]any
		if err := json.Unmarshal(raw, &fj); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, b := range fj["bindings"].([]any) {
			bm := b.(map[string]any)
			if q, ok := bm["queueName"].(string); ok {
				bm["queueName"] = a.queue(q)
			}
		}
		out, _ := json.MarshalIndent(fj, "", "  ")
		dst := filepath.Join(a.dir, filepath.Base(filepath.Dir(p)))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "function.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs the dev host and waits until it serves.
func (a *e2eApp) start() {
	t := a.t
	t.Helper()
	env := make([]string, 0, len(a.env)+1)
	for k, v := range a.env {
		env = append(env, k+"="+v)
	}
	env = append(env, "DURABLE_LOG_LEVEL=info")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- devhost.Run(ctx, devhost.Options{
			AppRoot:         a.dir,
			Addr:            "127.0.0.1:0",
			Env:             env,
			Logger:          slog.New(slog.NewTextHandler(a.logs, nil)),
			Stdout:          a.logs,
			Stderr:          a.logs,
			StartupTimeout:  30 * time.Second,
			ShutdownTimeout: 20 * time.Second,
			QueuePollMin:    20 * time.Millisecond,
			QueuePollMax:    200 * time.Millisecond,
			Ready:           func(addr string) { ready <- addr },
		})
	}()
	a.cancel, a.done = cancel, done
	select {
	case addr := <-ready:
		a.base = "http://" + addr
	case err := <-done:
		a.cancel = nil
		t.Fatalf("devhost.Run returned before ready: %v\n%s", err, a.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dev host not ready within 60 s\n%s", a.logs.String())
	}
}

// stop shuts the dev host and handler down (the app scaled to zero).
func (a *e2eApp) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			a.t.Errorf("devhost.Run: %v", err)
		}
	case <-time.After(45 * time.Second):
		a.t.Errorf("dev host did not stop within 45 s")
	}
}

// do sends an HTTP request to the running app.
func (a *e2eApp) do(method, path, body string, header ...string) (*http.Response, []byte) {
	a.t.Helper()
	resp, b, err := a.tryDo(method, path, body, header...)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp, b
}

// tryDo is do for goroutines other than the test's, which must not call
// Fatal.
func (a *e2eApp) tryDo(method, path, body string, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp, b, nil
}

// expect sends a request and fails the test unless the status matches.
func (a *e2eApp) expect(code int, method, path, body string) []byte {
	a.t.Helper()
	resp, b := a.do(method, path, body)
	if resp.StatusCode != code {
		a.t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, code, b)
	}
	return b
}

// statusBody is the management API's status body.
type statusBody struct {
	Name            string            `json:"name"`
	InstanceID      string            `json:"instanceId"`
	RuntimeStatus   string            `json:"runtimeStatus"`
	Input           json.RawMessage   `json:"input"`
	CustomStatus    json.RawMessage   `json:"customStatus"`
	Output          json.RawMessage   `json:"output"`
	CreatedTime     string            `json:"createdTime"`
	LastUpdatedTime string            `json:"lastUpdatedTime"`
	HistoryEvents   []json.RawMessage `json:"historyEvents"`
}

// status reads an instance's status body; found is false on 404.
func (a *e2eApp) status(id, query string) (st statusBody, code int) {
	a.t.Helper()
	resp, b := a.do("GET", "/durabletask/instances/"+id+query, "")
	if resp.StatusCode == 404 {
		return st, 404
	}
	if err := json.Unmarshal(b, &st); err != nil {
		a.t.Fatalf("status of %s: HTTP %d: %v: %s", id, resp.StatusCode, err, b)
	}
	return st, resp.StatusCode
}

// waitStatus polls until the instance has the runtime status.
func (a *e2eApp) waitStatus(id, want string, within time.Duration) statusBody {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, code := a.status(id, "")
		if code != 404 && st.RuntimeStatus == want {
			return st
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("instance %s: status %q (HTTP %d) after %v, want %s", id, st.RuntimeStatus, code, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// start posts to the HTTP starter and returns the instance ID.
func (a *e2eApp) startInstance(function, id, input string) string {
	a.t.Helper()
	path := "/orchestrators/" + function
	if id != "" {
		path += "/" + id
	}
	var cs struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.expect(202, "POST", path, input), &cs); err != nil || cs.ID == "" {
		a.t.Fatalf("start %s: %v", function, err)
	}
	return cs.ID
}

// warmUp waits until the engine runs orchestrations: the handler answers
// HTTP before its engine has created the hub and owns partitions, and
// answers 503 until the hub exists.
func (a *e2eApp) warmUp() {
	a.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, b := a.do("POST", "/orchestrators/HelloWorld/wait?timeout=30&retryInterval=0.2", `"warm-up"`)
		if resp.StatusCode == 200 && strings.TrimSpace(string(b)) == `"Hello warm-up!"` {
			return
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			a.t.Fatalf("warm-up: HTTP %d: %s", resp.StatusCode, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// enqueue puts a message on one of the app's trigger queues, base64
// encoded as the Functions SDKs write them unless raw is set.
func (a *e2eApp) enqueue(queue, text string, raw bool) {
	a.t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(a.conn, a.queue(queue), nil)
	if err != nil {
		a.t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := q.Create(ctx, nil); err != nil && !strings.Contains(err.Error(), "QueueAlreadyExists") {
		a.t.Fatalf("create queue: %v", err)
	}
	if !raw {
		text = base64.StdEncoding.EncodeToString([]byte(text))
	}
	if _, err := q.EnqueueMessage(ctx, text, nil); err != nil {
		a.t.Fatalf("enqueue to %s: %v", queue, err)
	}
}

// queueLength counts the messages of a queue, invisible ones included.
func (a *e2eApp) queueLength(name string) int {
	a.t.Helper()
	q, err := azqueue.NewQueueClientFromConnectionString(a.conn, name, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	props, err := q.GetProperties(context.Background(), nil)
	if err != nil {
		if strings.Contains(err.Error(), "QueueNotFound") {
			return 0
		}
		a.t.Fatalf("queue %s properties: %v", name, err)
	}
	if props.ApproximateMessagesCount == nil {
		return 0
	}
	return int(*props.ApproximateMessagesCount)
}

// waitLog polls the logs until re matches, and returns the matches.
func (a *e2eApp) waitLog(re string, within time.Duration) [][]string {
	a.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		if m := rx.FindAllStringSubmatch(a.logs.String(), -1); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("no log line matching %q within %v", re, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client returns a management client of the app's hub, as the CLI builds
// it: no in-process worker.
func (a *e2eApp) client() *client.Client {
	a.t.Helper()
	settings := config.NewSettings(a.env, false)
	opts := config.DefaultDurableOptions()
	opts.HubName = a.hub
	hub, err := app.OpenHub(settings, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		a.t.Fatal(err)
	}
	return client.New(hub, client.Options{})
}

// storageTrace lists what storage holds for an instance: its Instances and
// History rows and its blobs.
func (a *e2eApp) storageTrace(id string) (instanceRows, historyRows, blobs int) {
	a.t.Helper()
	ctx := context.Background()
	svc, err := aztables.NewServiceClientFromConnectionString(a.conn, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	count := func(table string) int {
		filter := fmt.Sprintf("PartitionKey eq '%s'", id)
		pager := svc.NewClient(table).NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
		n := 0
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				a.t.Fatalf("list %s: %v", table, err)
			}
			n += len(page.Entities)
		}
		return n
	}
	bc, err := azblob.NewClientFromConnectionString(a.conn, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	prefix := id + "/"
	pager := bc.NewListBlobsFlatPager(strings.ToLower(a.hub)+"-largemessages", &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			a.t.Fatalf("list blobs: %v", err)
		}
		blobs += len(page.Segment.BlobItems)
	}
	return count(a.hub + "Instances"), count(a.hub + "History"), blobs
}

// clientStartAt delays a start made through the Go client.
func clientStartAt(at time.Time) client.StartOptions { return client.StartOptions{StartAt: at} }
