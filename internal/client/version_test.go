package client_test

import (
	"strings"
	"time"

	"context"
	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/testutil"
	"testing"

	"github.com/durable-go/durable/internal/apptest"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// TestVersionsStoredShownAndFiltered runs an app whose host.json sets
// defaultVersion: a start without a version gets it, a start that names
// one keeps its own, a sub-orchestration inherits its parent's, and the
// version is in the status, the ExecutionStarted row and the filters.
func TestVersionsStoredShownAndFiltered(t *testing.T) {
	ctx := context.Background()
	a := apptest.NewApp(t, apptest.AppOptions{
		Durable: func(d *config.DurableOptions) { d.DefaultVersion = "2.0" },
		Register: func(reg *durable.Registry) error {
			if err := reg.AddOrchestrator("VersionParent", func(ctx *durable.OrchestrationContext) (any, error) {
				var child string
				err := ctx.CallSubOrchestrator("VersionChild", nil, durable.WithInstanceID(ctx.InstanceID()+"-child")).Await(&child)
				return ctx.Version() + "/" + child, err
			}); err != nil {
				return err
			}
			return reg.AddOrchestrator("VersionChild", func(ctx *durable.OrchestrationContext) (any, error) {
				return ctx.Version(), nil
			})
		}})
	def, err := a.Client.StartNew(ctx, "VersionParent", nil, client.StartOptions{InstanceID: "v-default"})
	if err != nil {
		t.Fatal(err)
	}
	named, err := a.Client.StartNew(ctx, "VersionParent", nil, client.StartOptions{InstanceID: "v-named", Version: "1.5"})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{def: `"2.0/2.0"`, named: `"1.5/1.5"`} {
		st := waitStatus(t, a.Client, id, history.StatusCompleted)
		if string(st.Output) != want {
			t.Fatalf("%s: output %s, want %s", id, st.Output, want)
		}
		child := waitStatus(t, a.Client, id+"-child", history.StatusCompleted)
		if v := want[1:4]; st.Version != v || child.Version != v {
			t.Fatalf("%s: status versions %q and %q (child), want %q", id, st.Version, child.Version, v)
		}
		full, err := a.Client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range full.History {
			if e.Type == history.ExecutionStarted {
				found = e.Version == st.Version
			}
		}
		if !found {
			t.Fatalf("%s: the ExecutionStarted row lacks version %q: %+v", id, st.Version, full.History)
		}
	}
	count := func(versions ...string) int {
		t.Helper()
		c, err := a.Client.CountInstances(ctx, client.Query{Names: []string{"VersionParent", "VersionChild"}, Versions: versions})
		if err != nil {
			t.Fatal(err)
		}
		return c[history.StatusCompleted]
	}
	if n := count("2.0"); n != 2 {
		t.Fatalf("version 2.0: %d instances, want 2", n)
	}
	if n := count("01.5", "2.0"); n != 4 {
		t.Fatalf("versions 01.5 and 2.0: %d instances, want 4", n)
	}
	if n := count(""); n != 0 {
		t.Fatalf("without a version: %d instances, want 0", n)
	}
	if n := count(); n != 4 {
		t.Fatalf("unfiltered: %d instances, want 4", n)
	}
	page, err := a.Client.ListInstances(ctx, client.Query{Versions: []string{"1.5"}})
	if err != nil || len(page.Instances) != 2 {
		t.Fatalf("list of 1.5: %v, %v", page, err)
	}
	groups, err := a.Client.CountByVersion(ctx, client.Query{Names: []string{"VersionParent", "VersionChild"}})
	if err != nil || len(groups) != 4 {
		t.Fatalf("counts by version: %+v, %v", groups, err)
	}
	for i, want := range []string{"VersionChild 1.5", "VersionChild 2.0", "VersionParent 1.5", "VersionParent 2.0"} {
		g := groups[i]
		if g.Name+" "+g.Version != want || g.Counts[history.StatusCompleted] != 1 || g.Counts[history.StatusRunning] != 0 {
			t.Fatalf("counts by version [%d] = %+v, want %s with 1 Completed", i, g, want)
		}
	}
}

// TestWorkerVersionMatch runs two builds of one app on one hub: the old
// one (defaultVersion 1.0, CurrentOrOlder, Reject) runs a 1.0 instance and
// leaves a 2.0 one Pending, looking at it once per period rather than in a
// loop; once the new build (2.0) serves the hub alone, the 2.0 instance
// completes. With Fail, a too-new instance fails naming both versions.
func TestWorkerVersionMatch(t *testing.T) {
	ctx := context.Background()
	hub := testutil.UniqueHubName(t)
	build := func(version, failure string) *app.App {
		return apptest.NewApp(t, apptest.AppOptions{Hub: hub, Manual: true, Durable: func(d *config.DurableOptions) {
			d.DefaultVersion, d.VersionFailureStrategy = version, failure
			d.PartitionLeaseDuration, d.PartitionLeaseRenewInterval = 3*time.Second, time.Second
		}})
	}
	old := build("1.0", "Reject")
	oldStopped := false
	defer func() {
		if !oldStopped {
			stop(t, old, false)
		}
	}()
	if _, err := old.Client.StartNew(ctx, "HelloWorld", "old", client.StartOptions{InstanceID: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Client.StartNew(ctx, "HelloWorld", "new", client.StartOptions{InstanceID: "v2", Version: "2.0"}); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, old.Client, "v1", history.StatusCompleted); st.Version != "1.0" {
		t.Fatalf("v1: version %q", st.Version)
	}
	time.Sleep(4 * time.Second)
	if st, err := old.Client.GetStatus(ctx, "v2", client.StatusOptions{}); err != nil || st.RuntimeStatus != history.StatusPending {
		t.Fatalf("v2 on the old build: %+v, %v", st, err)
	}
	// One look when the start came (in memory, then from the queue), then
	// one per rejectPeriod (15 s): no loop.
	if n := old.Worker.Stats().Rejected; n < 1 || n > 3 {
		t.Fatalf("the old build rejected v2 %d times in 4 s", n)
	}

	fresh := build("2.0", "Reject")
	defer stop(t, fresh, true)
	stop(t, old, false)
	oldStopped = true
	st := waitStatus(t, fresh.Client, "v2", history.StatusCompleted)
	if st.Version != "2.0" || string(st.Output) != `"Hello new!"` {
		t.Fatalf("v2 on the new build: version %q output %s", st.Version, st.Output)
	}
	if n := fresh.Worker.Stats().Rejected; n != 0 {
		t.Fatalf("the new build rejected %d batches", n)
	}
}

func TestWorkerVersionMismatchFails(t *testing.T) {
	a := apptest.NewApp(t, apptest.AppOptions{Durable: func(d *config.DurableOptions) {
		d.DefaultVersion, d.VersionMatchStrategy, d.VersionFailureStrategy = "1.0", "Strict", "Fail"
	}})
	if _, err := a.Client.StartNew(context.Background(), "HelloWorld", "x", client.StartOptions{InstanceID: "v09", Version: "0.9"}); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, a.Client, "v09", history.StatusFailed)
	if st.FailureDetails == nil || st.FailureDetails.ErrorType != "VersionMismatch" ||
		!strings.Contains(st.FailureDetails.ErrorMessage, `version "0.9"`) || !strings.Contains(st.FailureDetails.ErrorMessage, `version "1.0"`) {
		t.Fatalf("failure %+v", st.FailureDetails)
	}
}
