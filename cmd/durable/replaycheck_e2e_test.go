package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/replaycheck"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// The repository's example app (the samples), built once: the "build B"
// whose code replay-check checks.
var (
	exampleAppOnce sync.Once
	exampleApp     string
	exampleAppErr  error
)

func buildExampleApp(t *testing.T) string {
	exampleAppOnce.Do(func() {
		dir, err := os.MkdirTemp("", "durable-example-app")
		if err != nil {
			exampleAppErr = err
			return
		}
		exampleApp = filepath.Join(dir, "handler")
		exampleAppErr = testutil.GoBuild("../..", exampleApp)
	})
	if exampleAppErr != nil {
		t.Fatal(exampleAppErr)
	}
	return exampleApp
}

// testReplayCheck runs instances on "build A", whose ApprovalWorkflow
// says hello before waiting for the approval, and whose Counter is the
// samples'. replay-check against the example app ("build B", the samples'
// ApprovalWorkflow, which waits first) passes the Counters and fails the
// ApprovalWorkflows with their first diverging action, per version.
func testReplayCheck(t *testing.T, f *fixture) {
	handler := buildExampleApp(t)
	buildA := durable.NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	pub := taskbridge.Public(buildA).(*task.Registry)
	must(pub.AddActivity("SayHello", samples.SayHello))
	must(pub.AddOrchestrator("Counter", samples.Counter))
	must(pub.AddOrchestrator("ApprovalWorkflow", func(ctx *task.OrchestrationContext) (any, error) {
		if err := ctx.CallActivity("SayHello", "approver").Await(nil); err != nil {
			return nil, err
		}
		return samples.ApprovalWorkflow(ctx)
	}))
	a := apptest.NewApp(t, apptest.AppOptions{Hub: f.name, Manual: true,
		Settings:  map[string]string{"AzureWebJobsStorage": f.conn, app.WakeQueueSetting: ""},
		Configure: func(c *app.Config) { c.Registry = buildA }})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	}()
	ctx := context.Background()
	start := func(name, id, version string) {
		if _, err := a.Client.StartNew(ctx, name, nil, client.StartOptions{InstanceID: id, Version: version}); err != nil {
			t.Fatal(err)
		}
	}
	start("ApprovalWorkflow", "appr-1", "1.0")
	start("ApprovalWorkflow", "appr-2", "1.0")
	start("ApprovalWorkflow", "appr-3", "2.0")
	start("Counter", "counter-1", "1.0")
	start("Counter", "counter-2", "")
	// Wait until each has run its first episode: SayHello done, or the
	// Counter waiting.
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range []string{"appr-1", "appr-2", "appr-3", "counter-1", "counter-2"} {
		for {
			st, err := a.Client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true})
			if err == nil && st.RuntimeStatus == history.StatusRunning && (strings.HasPrefix(id, "counter") || hasCompletedTask(st.History)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not get going: %+v %v", id, st, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	save := filepath.Join(t.TempDir(), "histories")
	r := f.durable("replay-check", "--handler", handler, "--save", save)
	if r.code != exitReplayFailed {
		t.Fatalf("replay-check: exit %d, want %d\n%s\n%s", r.code, exitReplayFailed, r.stdout, r.stderr)
	}
	for _, re := range []string{
		`ApprovalWorkflow\s+1\.0\s+2\s+0\s+2`,
		`ApprovalWorkflow\s+2\.0\s+1\s+0\s+1`,
		`Counter\s+-\s+1\s+1\s+0`,
		`Counter\s+1\.0\s+1\s+1\s+0`,
		`FAIL appr-1 \(ApprovalWorkflow, version 1\.0\) diverges:\s+(non-deterministic orchestration: )?history records TaskScheduled #0 \("SayHello"\)`,
		`3 of 5 instance\(s\) do not replay`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("replay-check output lacks %s:\n%s", re, r.stdout)
		}
	}
	// Filters: the Counters alone replay; one version of the approvals.
	if r := f.durable("replay-check", "--handler", handler, "--name", "Counter"); r.code != exitOK ||
		!strings.Contains(r.stdout, "All 2 instance(s) replay") {
		t.Errorf("replay-check --name Counter: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = f.durable("replay-check", "--handler", handler, "--version", "2.0", "--json")
	var rep replaycheck.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitReplayFailed || rep.Checked() != 1 ||
		rep.Groups[0].Failures[0].InstanceID != "appr-3" || !rep.Groups[0].Failures[0].NonDeterministic {
		t.Errorf("replay-check --version 2.0 --json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if r := f.durable("replay-check", "--handler", handler, "--sample", "1"); r.code != exitReplayFailed ||
		!regexp.MustCompile(`ApprovalWorkflow\s+1\.0\s+1\s+0\s+1`).MatchString(r.stdout) {
		t.Errorf("replay-check --sample 1: exit %d\n%s", r.code, r.stdout)
	}

	// The saved histories check the same from Go.
	reg := task.NewRegistry()
	must(samples.Register(reg, func(string) (string, bool) { return "", false }))
	rep2, err := tasktest.CheckReplayDir(reg, save)
	if err != nil || rep2.Checked() != 5 || rep2.Failed() != 3 {
		t.Fatalf("CheckReplayDir: %v, %+v", err, rep2)
	}
	if rep2, err := tasktest.CheckReplayDir(pub, save); err != nil || rep2.Failed() != 0 {
		t.Fatalf("CheckReplayDir with build A: %v, %+v", err, rep2)
	}
}

func hasCompletedTask(events []history.Event) bool {
	for _, e := range events {
		if e.Type == history.TaskCompleted {
			return true
		}
	}
	return false
}
