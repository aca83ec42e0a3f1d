package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// These tests run the durable binary as a subprocess, as a user would,
// against task hubs in Azurite. A worker in the test process, with the
// samples registered, plays the function app where a test needs
// orchestrations to make progress.

// TestCLI builds the binary once and runs every scenario against it, each
// on its own task hub.
func TestCLI(t *testing.T) {
	conn := testutil.Storage(t)
	bin := buildCLI(t)
	scenarios := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"StartNewWithoutApp", testStartNewWithoutApp},
		{"GetInstancesPaging", testGetInstancesPaging},
		{"GetInstancesFilters", testGetInstancesFilters},
		{"RaiseEventAndTerminate", testRaiseEventAndTerminate},
		{"Rewind", testRewind},
		{"PurgeHistory", testPurgeHistory},
		{"RecursiveTerminateAndPurge", testRecursiveTerminateAndPurge},
		{"SuspendResumeRestart", testSuspendResumeRestart},
		{"Batch", testBatch},
		{"DeleteTaskHub", testDeleteTaskHub},
		{"BadInputChangesNothing", testBadInputChangesNothing},
		{"Settings", testSettings},
		{"Versions", testVersions},
		{"ReplayCheck", testReplayCheck},
		{"Entities", testEntities},
		{"Schedules", testSchedules},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, newFixture(t, bin, conn))
		})
	}
}

func buildCLI(t *testing.T) string {
	t.Helper()
	return testutil.BuildBinary(t, ".", "durable")
}

// fixture is one task hub with an app root for it: host.json naming the
// hub and local.settings.json holding the connection, as in a function app.
type fixture struct {
	t      *testing.T
	bin    string
	conn   string
	name   string
	root   string
	hub    *azstore.Hub   // for checks, without a worker
	client *client.Client // for checks, without a worker
}

func newFixture(t *testing.T, bin, conn string) *fixture {
	name := testutil.UniqueHubName(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "host.json"), fmt.Sprintf(`{"version": "2.0",
  "extensions": {"durableTask": {"hubName": %q, "storageProvider": {"partitionCount": 4}}}}`, name))
	writeJSONFile(t, filepath.Join(root, "local.settings.json"), map[string]any{
		"IsEncrypted": false,
		"Values":      map[string]string{"FUNCTIONS_WORKER_RUNTIME": "custom", "AzureWebJobsStorage": conn},
	})
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": conn}, false)
	opts := config.DefaultDurableOptions()
	opts.HubName = name
	hub, err := app.OpenHub(settings, opts, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("KEEP_HUBS") == "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = hub.Delete(ctx)
		}
	})
	return &fixture{t: t, bin: bin, conn: conn, name: name, root: root, hub: hub, client: client.New(hub, client.Options{Logger: quietLogger()})}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

// result is the outcome of one durable run.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

// durable runs the CLI in the app root.
func (f *fixture) durable(args ...string) result {
	f.t.Helper()
	return f.durableIn(f.root, nil, args...)
}

// durableIn runs the CLI in dir with extra environment variables. The
// test process's own storage settings are left out so that only the
// files and env decide.
func (f *fixture) durableIn(dir string, env []string, args ...string) result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToLower(kv), "azurewebjobsstorage") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		f.t.Fatalf("durable %q: %v", args, err)
	}
	return r
}

// ok runs the CLI and fails the test unless it succeeds.
func (f *fixture) ok(args ...string) result {
	f.t.Helper()
	r := f.durable(args...)
	if r.code != exitOK {
		f.t.Fatalf("durable %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs the CLI and checks its exit code and that stderr says why.
func (f *fixture) fails(code int, msg string, args ...string) result {
	f.t.Helper()
	r := f.durable(args...)
	if r.code != code || !strings.Contains(r.stderr, msg) {
		f.t.Errorf("durable %q: exit %d, stderr %q; want exit %d with %q", args, r.code, r.stderr, code, msg)
	}
	return r
}

// sampleRegistry has the samples, as the worker runs them.
func sampleRegistry(t *testing.T) *durable.Registry {
	t.Helper()
	reg := durable.NewRegistry()
	if err := samples.Register(taskbridge.Public(reg).(*task.Registry), func(string) (string, bool) { return "Server=db", true }); err != nil {
		t.Fatal(err)
	}
	return reg
}

// replayRaw fetches an instance's history with get-history --raw, checks
// that it round-trips, and replays it against reg with the test kit.
func (f *fixture) replayRaw(id string, reg *durable.Registry) error {
	f.t.Helper()
	r := f.ok("get-history", "--id", id, "--raw")
	if again := f.ok("get-history", "--id", id, "--json", "--raw"); again.stdout != r.stdout {
		f.t.Errorf("--raw and --json --raw differ:\n%s\n%s", r.stdout, again.stdout)
	}
	events, err := tasktest.ParseHistory([]byte(r.stdout))
	if err != nil {
		return err
	}
	// What storage holds, but for the fields kept out of the events' JSON
	// (message IDs, episodes' custom statuses), which the replay does not
	// use.
	hs, err := f.hub.LoadHistory(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	stored := append([]history.Event(nil), hs.Events...)
	for i := range stored {
		stored[i].MessageID, stored[i].AppliedMessageIDs, stored[i].CustomStatus = "", nil, nil
	}
	if !reflect.DeepEqual(events, stored) {
		f.t.Errorf("get-history --raw does not round-trip:\n%s", r.stdout)
	}
	return tasktest.Replay(taskbridge.Public(reg).(*task.Registry), events)
}

// startWorker runs the samples on the fixture's hub until the test ends
// or stop is called. dbConn is the DatabaseConnection setting that
// ApprovalWorkflow's SaveToDatabase activity checks.
func (f *fixture) startWorker(dbConn string) (stop func()) {
	f.t.Helper()
	// The CLI cannot poke an in-process worker; apptest's short polls keep
	// the tests quick.
	a := apptest.NewApp(f.t, apptest.AppOptions{Hub: f.name, Manual: true,
		Settings: map[string]string{"AzureWebJobsStorage": f.conn, "DatabaseConnection": dbConn, app.WakeQueueSetting: ""}})
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			f.t.Logf("stop worker: %v", err)
		}
	}
	f.t.Cleanup(stop) // Stop is idempotent.
	return stop
}

// waitStatus waits until the instance has the status and returns it.
func (f *fixture) waitStatus(id string, want history.RuntimeStatus) *client.Status {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *client.Status
	for time.Now().Before(deadline) {
		st, err := f.client.GetStatus(context.Background(), id, client.StatusOptions{})
		if err == nil && st.RuntimeStatus == want {
			return st
		}
		if err == nil {
			last = st
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last != nil {
		f.t.Fatalf("instance %s: status %s (output %s), want %s", id, last.RuntimeStatus, last.Output, want)
	}
	f.t.Fatalf("instance %s: never reached %s", id, want)
	return nil
}

// startNew starts an orchestrator through the CLI and returns the ID.
func (f *fixture) startNew(name, id, input string) string {
	f.t.Helper()
	args := []string{"start-new", "--function-name", name}
	if id != "" {
		args = append(args, "--id", id)
	}
	if input != "" {
		args = append(args, "--input", input)
	}
	r := f.ok(args...)
	m := regexp.MustCompile(`instance ID (\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		f.t.Fatalf("start-new printed %q", r.stdout)
	}
	return m[1]
}

func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: %s is not JSON: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// --- scenarios -----------------------------------------------------------------

// testStartNewWithoutApp starts an instance before any app has run on the
// hub, checks it waits as Pending, then lets an app run it and reads its
// status and history in every form.
func testStartNewWithoutApp(t *testing.T, f *fixture) {
	writeFile(t, filepath.Join(f.root, "city.json"), "{\n  \"city\": \"Tokyo\"\n}\n")
	r := f.ok("start-new", "--function-name", "HelloWorld", "--input", "@city.json", "--id", "hello-1")
	if !strings.Contains(r.stdout, "hello-1") {
		t.Errorf("start-new printed %q", r.stdout)
	}
	st, err := f.client.GetStatus(context.Background(), "hello-1", client.StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.RuntimeStatus != history.StatusPending || string(st.Input) != `{"city":"Tokyo"}` {
		t.Errorf("before the app runs: %s with input %s", st.RuntimeStatus, st.Input)
	}
	// Starting the same ID again while it has not finished is refused.
	f.fails(exitWrongState, "already exists", "start-new", "--function-name", "HelloWorld", "--id", "hello-1")

	// Without the show flags, input and output stay hidden (Core Tools).
	r = f.ok("get-runtime-status", "--id", "hello-1")
	if !regexp.MustCompile(`Runtime status:\s+Pending`).MatchString(r.stdout) || strings.Contains(r.stdout, "Input:") {
		t.Errorf("get-runtime-status:\n%s", r.stdout)
	}
	r = f.ok("get-runtime-status", "--id", "hello-1", "--show-input", "true")
	if !regexp.MustCompile(`Input:\s+\{"city":"Tokyo"\}`).MatchString(r.stdout) {
		t.Errorf("get-runtime-status --show-input true:\n%s", r.stdout)
	}

	f.startWorker("Server=db")
	f.waitStatus("hello-1", history.StatusCompleted)

	r = f.ok("get-runtime-status", "--id", "hello-1")
	if !regexp.MustCompile(`Name:\s+HelloWorld\n`).MatchString(r.stdout) || !regexp.MustCompile(`Runtime status:\s+Completed`).MatchString(r.stdout) ||
		strings.Contains(r.stdout, "Output:") || strings.Contains(r.stdout, "Input:") {
		t.Errorf("get-runtime-status:\n%s", r.stdout)
	}
	r = f.ok("get-runtime-status", "--id", "hello-1", "--show-output")
	if !regexp.MustCompile(`Output:\s+"Hello \{\\"city\\":\\"Tokyo\\"\}!"`).MatchString(r.stdout) || strings.Contains(r.stdout, "Input:") {
		t.Errorf("get-runtime-status --show-output:\n%s", r.stdout)
	}

	var body map[string]json.RawMessage
	r = f.ok("get-runtime-status", "--id", "hello-1", "--show-input", "--show-output", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	jsonEqual(t, "name", body["name"], `"HelloWorld"`)
	jsonEqual(t, "instanceId", body["instanceId"], `"hello-1"`)
	jsonEqual(t, "runtimeStatus", body["runtimeStatus"], `"Completed"`)
	jsonEqual(t, "input", body["input"], `{"city":"Tokyo"}`)
	jsonEqual(t, "output", body["output"], `"Hello {\"city\":\"Tokyo\"}!"`)
	if !regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$`).Match(body["createdTime"]) {
		t.Errorf("createdTime %s", body["createdTime"])
	}
	r = f.ok("get-runtime-status", "--id", "hello-1", "--json")
	body = nil
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "input without --show-input", body["input"], "null")
	jsonEqual(t, "output without --show-output", body["output"], "null")

	r = f.ok("get-history", "--id", "hello-1")
	for _, want := range []string{"ExecutionStarted", "TaskScheduled", "TaskCompleted", "ExecutionCompleted", "SayHello", "status=Completed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("get-history lacks %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "OrchestratorStarted") {
		t.Errorf("get-history shows OrchestratorStarted:\n%s", r.stdout)
	}
	var events []map[string]any
	r = f.ok("get-history", "--id", "hello-1", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("get-history --json: %v\n%s", err, r.stdout)
	}
	var types []string
	for _, ev := range events {
		types = append(types, fmt.Sprint(ev["EventType"]))
		if ev["EventType"] == "TaskCompleted" && ev["FunctionName"] != "SayHello" {
			t.Errorf("TaskCompleted without FunctionName SayHello: %v", ev)
		}
	}
	if !slices.Contains(types, "ExecutionStarted") || !slices.Contains(types, "TaskCompleted") ||
		!slices.Contains(types, "ExecutionCompleted") || slices.Contains(types, "OrchestratorStarted") {
		t.Errorf("get-history --json event types %v", types)
	}

	// Without --id a random one is used; --json prints the status body.
	r = f.ok("start-new", "--function-name", "HelloWorld", "--input", `"Lima"`, "--json")
	body = nil
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
		t.Fatalf("start-new --json: %v\n%s", err, r.stdout)
	}
	var id string
	_ = json.Unmarshal(body["instanceId"], &id)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("random instance ID %q", id)
	}
	if st := f.waitStatus(id, history.StatusCompleted); string(st.Output) != `"Hello Lima!"` {
		t.Errorf("output %s", st.Output)
	}
}

var tokenLine = regexp.MustCompile(`Continuation token \(pass with --continuation-token for the next page\): (\S+)`)

// tableIDs returns the first column of a get-instances table.
func tableIDs(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	if strings.HasPrefix(out, "No instances found.") {
		return nil
	}
	if !strings.HasPrefix(lines[0], "INSTANCE ID") {
		t.Fatalf("no table header:\n%s", out)
	}
	var ids []string
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		ids = append(ids, strings.Fields(l)[0])
	}
	return ids
}

// listAll pages through get-instances with --top and the printed
// continuation tokens, and returns every ID it saw, duplicates included.
func (f *fixture) listAll(top int, jsonOut bool, filter ...string) (ids []string, pages int) {
	f.t.Helper()
	token := ""
	for pages = 1; pages < 100; pages++ {
		args := append([]string{"get-instances", "--top", fmt.Sprint(top)}, filter...)
		if token != "" {
			args = append(args, "--continuation-token", token)
		}
		if jsonOut {
			args = append(args, "--json")
		}
		r := f.ok(args...)
		var page []string
		tokenOut := r.stdout
		if jsonOut {
			var list []struct {
				InstanceID string `json:"instanceId"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
				f.t.Fatalf("get-instances --json: %v\n%s", err, r.stdout)
			}
			for _, s := range list {
				page = append(page, s.InstanceID)
			}
			tokenOut = r.stderr
		} else {
			page = tableIDs(f.t, r.stdout)
		}
		if len(page) > top {
			f.t.Errorf("page of %d instances with --top %d", len(page), top)
		}
		ids = append(ids, page...)
		m := tokenLine.FindStringSubmatch(tokenOut)
		if m == nil {
			return ids, pages
		}
		token = m[1]
	}
	f.t.Fatal("get-instances never printed its last page")
	return nil, 0
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %q, want each of %q once", what, g, w)
	}
}

func testGetInstancesPaging(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	var want []string
	for i := range 7 {
		want = append(want, f.startNew("HelloWorld", fmt.Sprintf("page-%d", i), fmt.Sprintf(`"%d"`, i)))
	}
	for _, id := range want {
		f.waitStatus(id, history.StatusCompleted)
	}
	for _, top := range []int{2, 3} {
		ids, pages := f.listAll(top, false)
		sameSet(t, fmt.Sprintf("table, --top %d", top), ids, want)
		if pages < (7+top-1)/top {
			t.Errorf("--top %d: %d pages", top, pages)
		}
	}
	ids, _ := f.listAll(2, true)
	sameSet(t, "--json, --top 2", ids, want)

	r := f.ok("get-instances")
	if got := tableIDs(t, r.stdout); len(got) != 7 || tokenLine.MatchString(r.stdout) {
		t.Errorf("default --top 10:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`page-3\s+HelloWorld\s+Completed\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(r.stdout) {
		t.Errorf("table row:\n%s", r.stdout)
	}
}

func testGetInstancesFilters(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	var done []string
	for i := range 3 {
		done = append(done, f.startNew("HelloWorld", fmt.Sprintf("filter-hello-%d", i), `"x"`))
	}
	for _, id := range done {
		f.waitStatus(id, history.StatusCompleted)
	}
	time.Sleep(50 * time.Millisecond)
	mid := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	var waiting []string
	for i := range 2 {
		waiting = append(waiting, f.startNew("ApprovalWorkflow", fmt.Sprintf("filter-approval-%d", i), ""))
	}
	for _, id := range waiting {
		f.waitStatus(id, history.StatusRunning)
	}
	all := append(slices.Clone(done), waiting...)
	// .NET's seven fractional digits, as in the seed's examples.
	midText := mid.Format("2006-01-02T15:04:05.0000000Z")

	cases := []struct {
		filter []string
		want   []string
	}{
		{[]string{"--runtime-status", "Running"}, waiting},
		{[]string{"--runtime-status", "running", "COMPLETED"}, all},
		{[]string{"--runtime-status=Completed", "--runtime-status", "Running"}, all},
		{[]string{"--runtime-status", "Completed,Failed"}, done},
		{[]string{"--runtime-status", "Failed"}, nil},
		{[]string{"--created-after", midText}, waiting},
		{[]string{"--created-before", midText}, done},
		{[]string{"--created-after", "2000-01-01", "--created-before", midText, "--runtime-status", "Completed"}, done},
		{[]string{"--instance-id-prefix", "filter-approval-"}, waiting},
		{[]string{"--name", "HelloWorld", "--instance-id-prefix", "filter-"}, done},
		{[]string{"--name", "ApprovalWorkflow", "HelloWorld", "--instance-id-prefix", "filter-"}, all},
		{[]string{"--name=ApprovalWorkflow", "--name", "Nothing", "--created-after", midText, "--instance-id-prefix", "filter-"}, waiting},
	}
	for _, c := range cases {
		ids, _ := f.listAll(2, false, c.filter...)
		sameSet(t, fmt.Sprint(c.filter), ids, c.want)
	}
	r := f.ok("get-instances", "--count", "--instance-id-prefix", "filter-", "--json")
	jsonEqual(t, "get-instances --count --json", []byte(r.stdout), `{"Pending":0,"Running":2,"Suspended":0,"Completed":3,
		"Failed":0,"Terminated":0,"Canceled":0,"ContinuedAsNew":0}`)
	r = f.ok("get-instances", "--count", "--instance-id-prefix", "filter-", "--runtime-status", "Running", "Completed")
	if !regexp.MustCompile(`(?s)Running\s+2\n.*Completed\s+3\n.*Total\s+5`).MatchString(r.stdout) || strings.Contains(r.stdout, "Failed") {
		t.Errorf("get-instances --count:\n%s", r.stdout)
	}
	r = f.ok("get-instances", "--runtime-status", "Failed")
	if strings.TrimSpace(r.stdout) != "No instances found." {
		t.Errorf("empty result:\n%s", r.stdout)
	}
	// --show-input adds inputs to the JSON.
	r = f.ok("get-instances", "--instance-id-prefix", "filter-hello-0", "--show-input", "--json")
	jsonEqual(t, "get-instances --show-input --json", []byte(r.stdout), fmt.Sprintf(`[{"name":"HelloWorld","instanceId":"filter-hello-0",
		"runtimeStatus":"Completed","input":"x","customStatus":null,"output":"Hello x!","createdTime":%q,"lastUpdatedTime":%q}]`,
		jsonField(t, r.stdout, "createdTime"), jsonField(t, r.stdout, "lastUpdatedTime")))
}

// jsonField digs a string field out of the first element of a JSON array.
func jsonField(t *testing.T, out, field string) string {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) == 0 {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	s, _ := list[0][field].(string)
	return s
}

func testRaiseEventAndTerminate(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	f.startNew("ApprovalWorkflow", "approval-1", "")
	f.waitStatus("approval-1", history.StatusRunning)
	writeFile(t, filepath.Join(f.root, "approval.json"), `{"by": "ann", "ok": true}`)
	r := f.ok("raise-event", "--id", "approval-1", "--event-name", "Approval", "--event-data", "@approval.json")
	if !strings.Contains(r.stdout, "Approval") {
		t.Errorf("raise-event printed %q", r.stdout)
	}
	st := f.waitStatus("approval-1", history.StatusCompleted)
	jsonEqual(t, "approval-1 output", st.Output, `{"approved":{"by":"ann","ok":true},"saved":true}`)
	// A finished instance takes no more events.
	f.fails(exitWrongState, "Completed", "raise-event", "--id", "approval-1", "--event-name", "Approval", "--event-data", "1")

	// The raw history replays against the samples, and a changed
	// ApprovalWorkflow is caught.
	if err := f.replayRaw("approval-1", sampleRegistry(t)); err != nil {
		t.Errorf("replay approval-1 against the samples: %v", err)
	}
	changed := durable.NewRegistry()
	_ = changed.AddOrchestrator("ApprovalWorkflow", func(ctx *durable.OrchestrationContext) (any, error) {
		if err := ctx.WaitForExternalEvent("Approval").Await(nil); err != nil {
			return nil, err
		}
		return nil, ctx.CallActivity("NotifyManager", nil).Await(nil)
	})
	var nd *task.NonDeterminismError
	if err := f.replayRaw("approval-1", changed); !errors.As(err, &nd) || !strings.Contains(nd.Message, "SaveToDatabase") {
		t.Errorf("replay approval-1 against changed code: %v, want a NonDeterminismError", err)
	}
	// The HTTP shape is refused with a pointer to --raw.
	r = f.ok("get-history", "--id", "approval-1", "--json")
	if _, err := tasktest.ParseHistory([]byte(r.stdout)); !errors.Is(err, tasktest.ErrNotReplayable) || !strings.Contains(err.Error(), "--raw") {
		t.Errorf("ParseHistory of get-history --json: %v", err)
	}

	f.startNew("ApprovalWorkflow", "approval-2", "")
	f.waitStatus("approval-2", history.StatusRunning)
	f.ok("terminate", "--id", "approval-2", "--reason", "no longer needed")
	st = f.waitStatus("approval-2", history.StatusTerminated)
	jsonEqual(t, "approval-2 output", st.Output, `"no longer needed"`)
	f.fails(exitWrongState, "Terminated", "terminate", "--id", "approval-2", "--reason", "again")
}

// testRewind follows the seed's rewind story: an approval workflow fails
// after its approval because of a bad setting; the setting is fixed, the app
// restarted, and rewind finishes it without a second approval.
func testRewind(t *testing.T, f *fixture) {
	stop := f.startWorker("invalid-connection")
	f.startNew("ApprovalWorkflow", "rewind-1", "")
	f.waitStatus("rewind-1", history.StatusRunning)
	f.ok("raise-event", "--id", "rewind-1", "--event-name", "Approval", "--event-data", `"yes"`)
	f.waitStatus("rewind-1", history.StatusFailed)
	r := f.ok("get-runtime-status", "--id", "rewind-1", "--show-output")
	if !strings.Contains(r.stdout, "DatabaseConnection is invalid") ||
		!regexp.MustCompile(`\nFailure:\s+TaskFailedError: activity "SaveToDatabase" \(task \d+\) failed: DatabaseError: `).MatchString(r.stdout) ||
		!regexp.MustCompile(`\nCaused by:\s+DatabaseError: cannot save to the database: app setting DatabaseConnection is invalid\n`).MatchString(r.stdout) {
		t.Errorf("failed instance output:\n%s", r.stdout)
	}
	r = f.ok("get-history", "--id", "rewind-1")
	if !strings.Contains(r.stdout, "failure=DatabaseError: cannot save to the database") ||
		!strings.Contains(r.stdout, "cause=DatabaseError: cannot save to the database: app setting DatabaseConnection is invalid") {
		t.Errorf("failed instance's history:\n%s", r.stdout)
	}

	// An input that does not decode fails non-retriably, under the JSON
	// error's type rather than *fmt.wrapError.
	f.startNew("FanOutFanIn", "bad-input-1", `"many"`)
	f.waitStatus("bad-input-1", history.StatusFailed)
	r = f.ok("get-runtime-status", "--id", "bad-input-1", "--show-output")
	if !regexp.MustCompile(`\nOutput:\s+"\*json\.UnmarshalTypeError: FanOutFanIn wants an integer input: `).MatchString(r.stdout) ||
		!regexp.MustCompile(`\nFailure:\s+\*json\.UnmarshalTypeError: FanOutFanIn wants an integer input: .* \[non-retriable\]\n`).MatchString(r.stdout) ||
		!regexp.MustCompile(`\nCaused by:\s+\*json\.UnmarshalTypeError: json: cannot unmarshal string into Go value of type int\n`).MatchString(r.stdout) {
		t.Errorf("bad input's failure:\n%s", r.stdout)
	}
	stop()

	f.startWorker("Server=db")
	r = f.ok("rewind", "--id", "rewind-1", "--reason", "fixed DatabaseConnection")
	if !strings.Contains(r.stdout, "rewind-1") {
		t.Errorf("rewind printed %q", r.stdout)
	}
	st := f.waitStatus("rewind-1", history.StatusCompleted)
	jsonEqual(t, "rewound output", st.Output, `{"approved":"yes","saved":true}`)
	r = f.ok("get-history", "--id", "rewind-1")
	if !strings.Contains(r.stdout, "Rewound: TaskFailed") {
		t.Errorf("history after rewind:\n%s", r.stdout)
	}
	// A rewound history replays like any other.
	if err := f.replayRaw("rewind-1", sampleRegistry(t)); err != nil {
		t.Errorf("replay rewind-1: %v", err)
	}
	f.fails(exitWrongState, "Completed", "rewind", "--id", "rewind-1")
}

func testPurgeHistory(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	ctx := context.Background()
	early := []string{"purge-a-0", "purge-a-1", "purge-a-2"}
	for _, id := range early {
		f.startNew("HelloWorld", id, `"a"`)
	}
	for _, id := range early {
		f.waitStatus(id, history.StatusCompleted)
	}
	time.Sleep(50 * time.Millisecond)
	mid := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(50 * time.Millisecond)
	f.startNew("HelloWorld", "purge-b-0", `"b"`)
	f.startNew("HelloWorld", "purge-b-1", `"b"`)
	f.startNew("ApprovalWorkflow", "purge-terminated", "")
	f.startNew("ApprovalWorkflow", "purge-running", "")
	f.waitStatus("purge-terminated", history.StatusRunning)
	f.ok("terminate", "--id", "purge-terminated")
	f.waitStatus("purge-terminated", history.StatusTerminated)
	f.waitStatus("purge-running", history.StatusRunning)
	f.waitStatus("purge-b-0", history.StatusCompleted)
	f.waitStatus("purge-b-1", history.StatusCompleted)

	gone := func(id string) {
		t.Helper()
		f.fails(exitNotFound, "not found", "get-runtime-status", "--id", id)
		if hs, err := f.hub.LoadHistory(ctx, id); err != nil || hs.Rows != 0 {
			t.Errorf("%s: history rows left after purge: %v, %v", id, hs, err)
		}
	}
	present := func(id string) {
		t.Helper()
		f.ok("get-runtime-status", "--id", id)
	}

	r := f.ok("purge-history", "--created-before", mid, "--runtime-status", "Completed")
	if strings.TrimSpace(r.stdout) != "Purged 3 instance(s)." || r.stderr != "" {
		t.Errorf("purge by range: stdout %q, stderr %q (progress must stay off in a pipe)", r.stdout, r.stderr)
	}
	for _, id := range early {
		gone(id)
	}
	present("purge-b-0")

	r = f.ok("purge-history", "--created-after", mid, "--runtime-status", "terminated", "--json")
	jsonEqual(t, "purge --json", []byte(r.stdout), `{"instancesDeleted":1}`)
	gone("purge-terminated")
	present("purge-b-0")
	present("purge-b-1")

	f.fails(exitWrongState, "Running", "purge-history", "--id", "purge-running")
	// It says what to do, not only what is wrong.
	f.fails(exitWrongState, "terminate it first (durable terminate --id purge-running)", "purge-history", "--id", "purge-running")
	f.fails(exitNotFound, "not found", "purge-history", "--id", "purge-nope")
	r = f.ok("purge-history", "--id", "purge-b-0")
	if !strings.Contains(r.stdout, "purge-b-0") {
		t.Errorf("purge --id printed %q", r.stdout)
	}
	gone("purge-b-0")

	// No filter: every finished instance, never a running one.
	r = f.ok("purge-history")
	if strings.TrimSpace(r.stdout) != "Purged 1 instance(s)." {
		t.Errorf("purge all: %q", r.stdout)
	}
	gone("purge-b-1")
	present("purge-running")
}

func testSuspendResumeRestart(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	f.startNew("ApprovalWorkflow", "suspend-1", `{"order": 7}`)
	f.waitStatus("suspend-1", history.StatusRunning)
	f.ok("suspend", "--id", "suspend-1", "--reason", "maintenance")
	f.waitStatus("suspend-1", history.StatusSuspended)
	// A suspended instance keeps the event until it is resumed.
	f.ok("raise-event", "--id", "suspend-1", "--event-name", "Approval", "--event-data", "1")
	time.Sleep(time.Second)
	if st, err := f.client.GetStatus(context.Background(), "suspend-1", client.StatusOptions{}); err != nil || st.RuntimeStatus != history.StatusSuspended {
		t.Fatalf("suspended instance moved on: %v %v", st, err)
	}
	f.ok("resume", "--id", "suspend-1", "--reason", "done")
	st := f.waitStatus("suspend-1", history.StatusCompleted)
	jsonEqual(t, "output", st.Output, `{"approved":1,"saved":true}`)
	f.fails(exitWrongState, "Completed", "suspend", "--id", "suspend-1")

	r := f.ok("restart", "--id", "suspend-1")
	if !strings.Contains(r.stdout, "as suspend-1") {
		t.Errorf("restart printed %q", r.stdout)
	}
	st = f.waitStatus("suspend-1", history.StatusRunning)
	jsonEqual(t, "restarted input", st.Input, `{"order":7}`)
	f.fails(exitWrongState, "Running", "restart", "--id", "suspend-1")

	r = f.ok("restart", "--id", "suspend-1", "--new-instance-id", "--json")
	var body struct {
		InstanceID string          `json:"instanceId"`
		Input      json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &body); err != nil {
		t.Fatalf("restart --json: %v\n%s", err, r.stdout)
	}
	if body.InstanceID == "suspend-1" || body.InstanceID == "" {
		t.Errorf("restart --new-instance-id started %q", body.InstanceID)
	}
	jsonEqual(t, "restart --json input", body.Input, `{"order":7}`)
	f.waitStatus(body.InstanceID, history.StatusRunning)
	f.fails(exitNotFound, "not found", "restart", "--id", "suspend-nope")
}

func testDeleteTaskHub(t *testing.T, f *fixture) {
	stop := f.startWorker("Server=db")
	id := f.startNew("HelloWorld", "", `"x"`)
	f.waitStatus(id, history.StatusCompleted)
	writeFile(t, filepath.Join(f.root, "big.json"), `"`+strings.Repeat("x", 100_000)+`"`) // a large-message blob
	big := f.startNew("HelloWorld", "", "@big.json")
	f.waitStatus(big, history.StatusCompleted)
	stop()
	if len(f.artifacts()) == 0 {
		t.Fatal("no artifacts before delete-task-hub")
	}

	r := f.ok("delete-task-hub")
	if strings.TrimSpace(r.stdout) != "Deleted task hub "+f.name+"." || r.stderr != "" {
		t.Errorf("delete-task-hub: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if left := f.artifacts(); len(left) > 0 {
		t.Errorf("left after delete-task-hub: %q", left)
	}
	// Deleting again says the hub does not exist (exit 3) and changes
	// nothing; the hub is now unknown to other commands.
	f.fails(exitNotFound, "does not exist", "delete-task-hub")
	f.fails(exitNotFound, "task hub "+f.name+" was not found", "get-instances")
	f.fails(exitNotFound, "was not found", "get-runtime-status", "--id", id)
}

// artifacts lists the tables, queues and containers of the fixture's hub.
func (f *fixture) artifacts() []string {
	f.t.Helper()
	ctx := context.Background()
	st, err := config.OpenStorage(config.NewSettings(map[string]string{"AzureWebJobsStorage": f.conn}, false), "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	tables := st.Tables.NewListTablesPager(&aztables.ListTablesOptions{})
	for tables.More() {
		p, err := tables.NextPage(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, tb := range p.Tables {
			if tb.Name != nil && strings.HasPrefix(strings.ToLower(*tb.Name), strings.ToLower(f.name)) {
				out = append(out, "table "+*tb.Name)
			}
		}
	}
	prefix := strings.ToLower(f.name)
	queues := st.Queues.NewListQueuesPager(&azqueue.ListQueuesOptions{Prefix: &prefix})
	for queues.More() {
		p, err := queues.NextPage(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, q := range p.Queues {
			out = append(out, "queue "+*q.Name)
		}
	}
	containers := st.Blobs.NewListContainersPager(&azblob.ListContainersOptions{Prefix: &prefix})
	for containers.More() {
		p, err := containers.NextPage(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, c := range p.ContainerItems {
			out = append(out, "container "+*c.Name)
		}
	}
	return out
}

// snapshot is what bad input must leave unchanged: every instance row
// (with its ETag, which changes on any write) and the message counts of
// the hub's queues.
func (f *fixture) snapshot() string {
	f.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	q := azstore.InstanceQuery{}
	for {
		page, err := f.hub.QueryInstances(ctx, q)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, row := range page.Rows {
			fmt.Fprintf(&b, "%s %s %s %s %s\n", row.InstanceID, row.RuntimeStatus, row.ExecutionID, row.LastUpdatedTime, row.ETag)
		}
		if page.Continuation == "" {
			break
		}
		q.Continuation = page.Continuation
	}
	st, err := config.OpenStorage(config.NewSettings(map[string]string{"AzureWebJobsStorage": f.conn}, false), "AzureWebJobsStorage", config.ClientOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	queues := []string{layout.WorkItemQueue(f.name)}
	for i := range f.hub.PartitionCount() {
		queues = append(queues, layout.ControlQueue(f.name, i))
	}
	for _, name := range queues {
		props, err := st.Queues.NewQueueClient(name).GetProperties(ctx, nil)
		if err != nil {
			f.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d\n", name, *props.ApproximateMessagesCount)
	}
	return b.String()
}

// testBadInputChangesNothing runs bad command lines against a hub with
// instances (no app, so nothing moves by itself) and checks each fails
// with a clear message and the right exit code, leaving storage as it was.
func testBadInputChangesNothing(t *testing.T, f *fixture) {
	f.startNew("ApprovalWorkflow", "bad-1", `{"n": 1}`)
	f.startNew("HelloWorld", "bad-2", "")
	before := f.snapshot()
	cases := []struct {
		code int
		msg  string
		args []string
	}{
		{exitNotFound, `instance not found: "unknown-id"`, []string{"get-runtime-status", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"get-history", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"terminate", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"raise-event", "--id", "unknown-id", "--event-name", "Approval"}},
		{exitNotFound, "not found", []string{"rewind", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"suspend", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"restart", "--id", "unknown-id"}},
		{exitNotFound, "not found", []string{"purge-history", "--id", "unknown-id"}},
		{exitWrongState, "Pending", []string{"rewind", "--id", "bad-1"}},
		{exitWrongState, "Pending", []string{"purge-history", "--id", "bad-1"}},
		{exitBadArgs, "--input: the value is not valid JSON", []string{"start-new", "--function-name", "HelloWorld", "--input", `{"city": Tokyo}`}},
		{exitBadArgs, `a string must be JSON-quoted: --input '"Tokyo"'`, []string{"start-new", "--function-name", "HelloWorld", "--input", "Tokyo"}},
		{exitBadArgs, "--input: cannot read missing.json", []string{"start-new", "--function-name", "HelloWorld", "--input", "@missing.json"}},
		{exitBadArgs, "--event-data: cannot read missing.json", []string{"raise-event", "--id", "bad-1", "--event-name", "Approval", "--event-data", "@missing.json"}},
		{exitBadArgs, "--event-data: the value is not valid JSON", []string{"raise-event", "--id", "bad-1", "--event-name", "Approval", "--event-data", "{bad"}},
		{exitBadArgs, "not an ISO 8601 date-time", []string{"get-instances", "--created-after", "10/03/2018"}},
		{exitBadArgs, "not an ISO 8601 date-time", []string{"purge-history", "--created-before", "yesterday"}},
		{exitBadArgs, `unknown runtime status "Finished"`, []string{"get-instances", "--runtime-status", "Finished"}},
		{exitBadArgs, `unknown runtime status "Bogus"`, []string{"purge-history", "--runtime-status", "Completed", "Bogus"}},
		{exitBadArgs, "only finished instances", []string{"purge-history", "--runtime-status", "Pending"}},
		{exitBadArgs, "malformed continuation token", []string{"get-instances", "--continuation-token", "not-a-token"}},
		{exitBadArgs, "--id is required", []string{"terminate", "--reason", "x"}},
		{exitBadArgs, "--id", []string{"start-new", "--function-name", "HelloWorld", "--id", "a/b"}},
		{exitBadArgs, `unknown command "purge"`, []string{"purge"}},
	}
	for _, c := range cases {
		r := f.fails(c.code, c.msg, c.args...)
		if r.stdout != "" {
			t.Errorf("durable %q wrote to stdout on failure: %q", c.args, r.stdout)
		}
	}
	if after := f.snapshot(); after != before {
		t.Errorf("storage changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Bad input never creates a hub either.
	fresh := testutil.UniqueHubName(t)
	f.fails(exitBadArgs, "missing.json", "start-new", "--function-name", "HelloWorld", "--input", "@missing.json", "--task-hub-name", fresh)
	f.fails(exitNotFound, "task hub "+fresh+" was not found", "get-instances", "--task-hub-name", fresh)
}

// testSettings checks where the connection and hub come from: the app
// root's files, the environment (which wins), and flags from elsewhere.
func testSettings(t *testing.T, f *fixture) {
	id := f.startNew("HelloWorld", "settings-1", "")
	elsewhere := t.TempDir()

	// From anywhere, with the setting's name and the hub on the command line.
	r := f.durableIn(elsewhere, []string{"MyStorage=" + f.conn},
		"get-runtime-status", "--id", id, "--connection-string-setting", "MyStorage", "--task-hub-name", f.name)
	if r.code != exitOK || !strings.Contains(r.stdout, "settings-1") {
		t.Errorf("from elsewhere with flags: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --app-root reads another directory's files.
	if r = f.durableIn(elsewhere, nil, "get-runtime-status", "--id", id, "--app-root", f.root); r.code != exitOK {
		t.Errorf("--app-root: exit %d\n%s", r.code, r.stderr)
	}
	// Elsewhere without flags: no connection configured.
	if r = f.durableIn(elsewhere, nil, "get-runtime-status", "--id", id); r.code != exitBadArgs || !strings.Contains(r.stderr, `"AzureWebJobsStorage" is not set`) {
		t.Errorf("no settings: exit %d, %s", r.code, r.stderr)
	}
	if r = f.durableIn(elsewhere, nil, "get-runtime-status", "--id", id, "--connection-string-setting", "NoSuchSetting", "--task-hub-name", f.name); r.code != exitBadArgs ||
		!strings.Contains(r.stderr, "NoSuchSetting") {
		t.Errorf("unknown setting: exit %d, %s", r.code, r.stderr)
	}

	// An app root whose files point at an unreachable account and take the
	// hub name from a setting: the environment's connection wins.
	root := t.TempDir()
	unreachable := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + strings.Repeat("A", 86) + "==;" +
		"BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1"
	writeFile(t, filepath.Join(root, "host.json"), `{"version": "2.0", "extensions": {"durableTask": {"hubName": "%HubNameSetting%"}}}`)
	writeJSONFile(t, filepath.Join(root, "local.settings.json"), map[string]any{
		"Values": map[string]string{"AzureWebJobsStorage": unreachable, "HubNameSetting": f.name},
	})
	if r = f.durableIn(root, []string{"AzureWebJobsStorage=" + f.conn}, "get-runtime-status", "--id", id); r.code != exitOK {
		t.Errorf("env over file: exit %d\n%s", r.code, r.stderr)
	}
	// Without the environment, the file's unreachable account is a storage
	// error.
	if r = f.durableIn(root, nil, "get-runtime-status", "--id", id); r.code != exitStorage || !strings.Contains(r.stderr, "storage error") {
		t.Errorf("unreachable storage: exit %d, %s", r.code, r.stderr)
	}
}

func testEntities(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	f.ok("signal-entity", "--name", "Account", "--key", "alice", "--operation", "deposit", "--input", "70")
	f.ok("signal-entity", "--name", "account", "--key", "alice", "--operation", "withdraw", "--input", "20")
	var r result
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = f.durable("get-entity", "--name", "Account", "--key", "alice", "--json")
		if r.code == exitOK && strings.TrimSpace(r.stdout) == "50" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get-entity: exit %d, %q %q; want 50", r.code, r.stdout, r.stderr)
		}
	}
	if r = f.ok("get-entity", "--name", "Account", "--key", "alice"); !strings.Contains(r.stdout, "@account@alice") {
		t.Errorf("get-entity printed %q", r.stdout)
	}
	r = f.ok("get-entities", "--name", "Account", "--fetch-state", "--json")
	jsonEqual(t, "get-entities", []byte(stripTimes(r.stdout)), `[{"entityId":{"name":"account","key":"alice"},"lastOperationTime":"","state":50}]`)
	if r = f.ok("get-entities"); !strings.Contains(r.stdout, "@account@alice") {
		t.Errorf("get-entities printed %q", r.stdout)
	}
	// Entities are not among the orchestrations.
	if r = f.ok("get-instances", "--json"); strings.Contains(r.stdout, "@account") {
		t.Errorf("get-instances lists an entity: %s", r.stdout)
	}
	f.fails(exitNotFound, "entity not found", "get-entity", "--name", "Account", "--key", "bob")
	f.fails(exitBadArgs, "--operation is required", "signal-entity", "--name", "Account", "--key", "alice")
	f.fails(exitBadArgs, "--name is required", "get-entity", "--key", "alice")
	f.fails(exitBadArgs, "contains", "signal-entity", "--name", "Acc@unt", "--key", "x", "--operation", "deposit")
	f.fails(exitBadArgs, "not valid JSON", "signal-entity", "--name", "Account", "--key", "x", "--operation", "deposit", "--input", "{")

	// An entity whose state is deleted is removed by a clean, once idle.
	f.ok("signal-entity", "--name", "Account", "--key", "carol", "--operation", "deposit", "--input", "1")
	f.ok("signal-entity", "--name", "Account", "--key", "carol", "--operation", "delete")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = f.durable("get-entities", "--name", "Account", "--include-deleted", "--json")
		if r.code == exitOK && strings.Contains(r.stdout, "carol") {
			if r = f.durable("get-entity", "--name", "Account", "--key", "carol"); r.code == exitNotFound {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("account carol's state was not deleted: %d %q %q", r.code, r.stdout, r.stderr)
		}
	}
	r = f.ok("clean-entity-storage", "--remove-empty", "--release-orphaned-locks", "--empty-for", "1ms", "--json")
	jsonEqual(t, "clean-entity-storage", []byte(r.stdout), `{"emptyEntitiesRemoved":1,"orphanedLocksReleased":0}`)
	if r = f.ok("get-entities", "--include-deleted"); strings.Contains(r.stdout, "carol") || !strings.Contains(r.stdout, "alice") {
		t.Errorf("after the clean, get-entities --include-deleted printed %q", r.stdout)
	}
	f.fails(exitBadArgs, "say what to clean", "clean-entity-storage")
}

// stripTimes blanks the lastOperationTime values of an entity list.
func stripTimes(s string) string {
	var items []map[string]any
	if err := json.Unmarshal([]byte(s), &items); err != nil {
		return s
	}
	for _, it := range items {
		it["lastOperationTime"] = ""
	}
	b, _ := json.Marshal(items)
	return string(b)
}

func testSchedules(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	f.ok("schedule", "create", "--id", "greet", "--orchestrator", "HelloWorld", "--input", `"cli"`, "--every", "1s", "--overlap", "allowAll")
	var st struct {
		Started int  `json:"started"`
		Paused  bool `json:"paused"`
		Recent  []struct {
			InstanceID string `json:"instanceId"`
			Reason     string `json:"reason"`
			Status     string `json:"status"`
		} `json:"recent"`
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if r := f.durable("schedule", "get", "--id", "greet", "--json"); r.code == exitOK && json.Unmarshal([]byte(r.stdout), &st) == nil && ok() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s: %+v", what, st)
			}
		}
	}
	waitFor("two runs started", func() bool { return st.Started >= 2 })
	if r := f.ok("schedule", "get", "--id", "greet"); !strings.Contains(r.stdout, "every 1s, overlap allowAll") || !strings.Contains(r.stdout, "greet-") {
		t.Errorf("schedule get printed %q", r.stdout)
	}
	f.ok("schedule", "pause", "--id", "greet", "--reason", "enough")
	waitFor("paused", func() bool { return st.Paused })
	if r := f.ok("schedule", "list"); !strings.Contains(r.stdout, "greet") || !strings.Contains(r.stdout, "paused") {
		t.Errorf("schedule list printed %q", r.stdout)
	}
	f.ok("schedule", "trigger", "--id", "greet")
	f.ok("schedule", "backfill", "--id", "greet", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:01Z")
	waitFor("the trigger and the backfill ran", func() bool {
		n := 0
		for _, r := range st.Recent {
			if r.Reason == "trigger" || r.Reason == "backfill" {
				n++
			}
		}
		return n == 3
	})
	f.ok("schedule", "delete", "--id", "greet")
	for deadline := time.Now().Add(30 * time.Second); f.durable("schedule", "get", "--id", "greet").code != exitNotFound; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the schedule was not deleted")
		}
	}
	f.fails(exitNotFound, "schedule not found", "schedule", "trigger", "--id", "greet")
	f.fails(exitBadArgs, "action is required", "schedule")
	f.fails(exitBadArgs, "unknown schedule action", "schedule", "explode", "--id", "x")
	f.fails(exitBadArgs, "--id is required", "schedule", "get")
	f.fails(exitBadArgs, "give cron or every", "schedule", "create", "--id", "x", "--orchestrator", "HelloWorld")
	f.fails(exitBadArgs, "out of range", "schedule", "create", "--id", "x", "--orchestrator", "HelloWorld", "--cron", "61 * * * * *")
	f.fails(exitBadArgs, "--to is before --from", "schedule", "backfill", "--id", "x", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z")
}
