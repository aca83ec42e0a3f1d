package client_test

import (
	"context"
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
}
