package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// Internal orchestrations (the bulk operations' own instances) are left
// out of lists, counts and bulk targets unless asked for, by the scan and
// by the index alike, and paging over a filter they thin out still
// returns every other instance once.
func TestInternalInstancesAreHiddenUnlessAskedFor(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, "HiddenInternal", map[string]string{}, false)
	defer stop(t, a, true)
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	from := time.Now().UTC().Add(-time.Second)
	// Interleaved in ID order, so that pages of one hold internal rows
	// between the user's.
	ids := map[string]string{
		"a-user": "HelloWorld", "b-batch": client.BatchOrchestrator, "c-user": "HelloWorld",
		"d-batch": client.BatchOrchestrator, "f-user": "Counter",
	}
	for id, name := range ids {
		if _, err := a.Client.StartNew(ctx, name, nil, client.StartOptions{InstanceID: id}); err != nil {
			t.Fatal(err)
		}
	}
	user := "a-user,c-user,f-user"
	all := "a-user,b-batch,c-user,d-batch,f-user"
	scan := client.New(a.Hub, client.Options{IgnoreIndex: true})
	for _, tc := range []struct {
		name string
		c    *client.Client
		from time.Time
	}{{"scan", scan, time.Time{}}, {"index", a.Client, from}} {
		t.Run(tc.name, func(t *testing.T) {
			list := func(q client.Query) string {
				q.CreatedFrom = tc.from
				return strings.Join(sorted(allIDs(t, tc.c, q)), ",")
			}
			for _, size := range []int{1, 2, 100} {
				if got := list(client.Query{PageSize: size}); got != user {
					t.Errorf("default, pages of %d: %s, want %s", size, got, user)
				}
				if got := list(client.Query{PageSize: size, ShowInternal: true}); got != all {
					t.Errorf("ShowInternal, pages of %d: %s, want %s", size, got, all)
				}
			}
			// Naming an internal orchestrator is asking for it.
			if got := list(client.Query{Names: []string{client.BatchOrchestrator}}); got != "b-batch,d-batch" {
				t.Errorf("named: %s", got)
			}
			if got := list(client.Query{Names: []string{client.BatchOrchestrator, "Counter"}}); got != "b-batch,d-batch,f-user" {
				t.Errorf("named with a user orchestrator: %s", got)
			}

			counts, err := tc.c.CountInstances(ctx, client.Query{CreatedFrom: tc.from})
			if err != nil || counts[history.StatusPending] != 3 {
				t.Errorf("counts %v (%v), want 3 Pending", counts, err)
			}
			counts, err = tc.c.CountInstances(ctx, client.Query{CreatedFrom: tc.from, ShowInternal: true})
			if err != nil || counts[history.StatusPending] != 5 {
				t.Errorf("counts with internal %v (%v), want 5 Pending", counts, err)
			}

			// A bulk operation's targets: the user's instances, or, when
			// asked, the others too but never the operation itself.
			f := client.BatchFilter{CreatedTimeFrom: tc.from, RuntimeStatus: []history.RuntimeStatus{history.StatusPending}, Self: "b-batch"}
			if n := total(t, tc.c, f); n != 3 {
				t.Errorf("bulk targets %d, want 3", n)
			}
			f.ShowInternal = true
			if n := total(t, tc.c, f); n != 4 {
				t.Errorf("bulk targets with internal %d, want 4 (all but itself)", n)
			}
		})
	}
}

func total(t *testing.T, c *client.Client, f client.BatchFilter) int {
	t.Helper()
	counts, err := c.CountBatchTargets(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range counts {
		n += k
	}
	return n
}

func TestIsInternalName(t *testing.T) {
	for name, want := range map[string]bool{
		client.BatchOrchestrator: true, "DurableTask.Anything": true,
		"HelloWorld": false, "DurableTaskBatch": false, "durabletask.batch": false, "": false,
	} {
		if got := client.IsInternalName(name); got != want {
			t.Errorf("IsInternalName(%q) = %v, want %v", name, got, want)
		}
	}
	q := client.BatchFilter{ShowInternal: true, Self: "me"}
	if q.Targets(&client.Status{InstanceID: "me", Name: client.BatchOrchestrator}) {
		t.Error("a bulk operation targets itself")
	}
	if !q.Targets(&client.Status{InstanceID: "other", Name: client.BatchOrchestrator}) {
		t.Error("asked for internal instances, a bulk operation skips another one")
	}
	if (client.BatchFilter{}).Targets(&client.Status{InstanceID: "other", Name: client.BatchOrchestrator}) {
		t.Error("a bulk operation targets another one without being asked")
	}
}
