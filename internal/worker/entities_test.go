package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/samples"
)

func balanceOf(t *testing.T, c *client.Client, key string) (int, bool) {
	t.Helper()
	md, err := c.GetEntity(context.Background(), entity.ID{Name: "account", Key: key}, true)
	if errors.Is(err, client.ErrEntityNotFound) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var b int
	if err := json.Unmarshal(md.State, &b); err != nil {
		t.Fatal(err)
	}
	return b, true
}

// Entities on storage: signals from the app's client and from a client
// with no worker create and change accounts; transfers lock two accounts
// and keep the total; entities have their own list and stay out of the
// orchestrations'.
func TestEntitiesOnStorage(t *testing.T) {
	// The samples' Account and Transfer, which every test app has.
	a := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	outside := client.New(a.Hub, client.Options{})
	const accounts, deposits = 3, 10
	for i := range accounts {
		for j := range deposits {
			c := a.Client
			if j%2 == 1 {
				c = outside
			}
			if _, err := c.SignalEntity(ctx, entity.ID{Name: "Account", Key: fmt.Sprint(i)}, "deposit", 1, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range accounts {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if b, _ := balanceOf(t, a.Client, fmt.Sprint(i)); b == deposits {
				break
			}
			if time.Now().After(deadline) {
				b, ok := balanceOf(t, a.Client, fmt.Sprint(i))
				t.Fatalf("account %d holds %d (exists %v), want %d", i, b, ok, deposits)
			}
		}
	}
	var ids []string
	for i := range 6 {
		id, err := a.Client.StartNew(ctx, "Transfer", samples.TransferInput{From: fmt.Sprint(i % accounts), To: fmt.Sprint((i + 1) % accounts),
			Amount: 3 + i}, client.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if st := a.wait(t, ctx, id); st.RuntimeStatus != history.StatusCompleted {
			t.Fatalf("%s: %s %s", id, st.RuntimeStatus, st.Output)
		}
	}
	total := 0
	for i := range accounts {
		b, ok := balanceOf(t, a.Client, fmt.Sprint(i))
		if !ok {
			t.Fatalf("account %d is gone", i)
		}
		total += b
	}
	if total != accounts*deposits {
		t.Fatalf("the accounts hold %d, want %d", total, accounts*deposits)
	}
	// A lock is released by a message the orchestration sends as it
	// completes, so the entity may still show its holder for a moment after
	// the orchestration's status says Completed; it must not show it for long.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page, err := a.Client.ListEntities(ctx, client.EntityQuery{Name: "account", FetchState: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entities) != accounts {
			t.Fatalf("listed %d accounts, want %d", len(page.Entities), accounts)
		}
		locked := ""
		for _, e := range page.Entities {
			if e.State == nil || e.LastOperationTime.IsZero() {
				t.Fatalf("listed %+v", e)
			}
			if e.LockedBy != "" {
				locked = fmt.Sprintf("%+v", e)
			}
		}
		if locked == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still locked after its holder completed: %s", locked)
		}
	}
	list, err := a.Client.ListInstances(ctx, client.Query{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range list.Instances {
		if entity.IsEntity(st.InstanceID) {
			t.Fatalf("an entity among the orchestrations: %s", st.InstanceID)
		}
	}
	if len(list.Instances) != len(ids) {
		t.Fatalf("%d orchestrations listed, want %d", len(list.Instances), len(ids))
	}
	if _, ok := balanceOf(t, a.Client, "nobody"); ok {
		t.Fatal("an account that never got an operation exists")
	}
	// Deleting the state: the entity no longer exists for readers.
	if _, err := a.Client.SignalEntity(ctx, entity.ID{Name: "account", Key: "0"}, "delete", nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, ok := balanceOf(t, a.Client, "0"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a deleted entity still exists")
		}
	}
}

// Cleaning entity storage: an entity whose state was deleted is removed
// once idle, one with state stays; a lock whose holder is gone is
// released, one whose holder still runs is not; a removed entity starts
// afresh on its next operation.
func TestCleanEntityStorage(t *testing.T) {
	a := startApp(t, withRegistry(func(r *durable.Registry) {
		_ = r.AddOrchestrator("HoldLock", func(ctx *durable.OrchestrationContext) (any, error) {
			var key string
			if err := ctx.GetInput(&key); err != nil {
				return nil, err
			}
			release, err := ctx.LockEntities(entity.ID{Name: "account", Key: key})
			if err != nil {
				return nil, err
			}
			defer release()
			return nil, ctx.WaitForExternalEvent("go").Await(nil)
		})
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	signal := func(key, op string, input any) {
		t.Helper()
		if _, err := a.Client.SignalEntity(ctx, entity.ID{Name: "account", Key: key}, op, input, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
		}
	}
	meta := func(key string) *client.EntityMetadata {
		t.Helper()
		page, err := a.Client.ListEntities(ctx, client.EntityQuery{Name: "account", IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entities {
			if e.ID.Key == key {
				return &e
			}
		}
		return nil
	}
	signal("kept", "deposit", 5)
	signal("emptied", "deposit", 5)
	signal("emptied", "delete", nil)
	until("account emptied has no state", func() bool {
		md := meta("emptied")
		_, ok := balanceOf(t, a.Client, "emptied")
		return md != nil && !ok
	})
	// Two holders: one that will vanish without releasing its lock, one
	// that keeps running.
	for _, key := range []string{"orphaned", "held"} {
		if _, err := a.Client.StartNew(ctx, "HoldLock", key, client.StartOptions{InstanceID: "hold-" + key}); err != nil {
			t.Fatal(err)
		}
	}
	until("both accounts are locked", func() bool {
		o, h := meta("orphaned"), meta("held")
		return o != nil && o.LockedBy == "hold-orphaned" && h != nil && h.LockedBy == "hold-held"
	})
	// The holder is lost the way a hub loses an instance to a purge by
	// hand: its row and history go, its lock stays.
	if _, err := a.Hub.DeleteHistory(ctx, "hold-orphaned"); err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.DeleteInstanceRow(ctx, "hold-orphaned"); err != nil {
		t.Fatal(err)
	}

	// Too recent to remove, by default.
	res, err := a.Client.CleanEntityStorage(ctx, client.CleanEntityOptions{RemoveEmptyEntities: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.EmptyEntitiesRemoved != 0 || res.OrphanedLocksReleased != 0 {
		t.Fatalf("cleaned %+v with the default window", res)
	}
	res, err = a.Client.CleanEntityStorage(ctx, client.CleanEntityOptions{RemoveEmptyEntities: true, ReleaseOrphanedLocks: true,
		EmptyFor: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.EmptyEntitiesRemoved != 1 || res.OrphanedLocksReleased != 1 || res.ContinuationToken != "" {
		t.Fatalf("cleaned %+v, want one entity removed and one lock released", res)
	}
	if _, err := a.Hub.GetInstance(ctx, "@account@emptied"); err == nil {
		t.Fatal("the emptied account's row is still there")
	}
	if keys, err := a.Hub.LoadHistory(ctx, "@account@emptied"); err != nil || keys.Rows != 0 {
		t.Fatalf("the emptied account keeps %d history rows (%v)", keys.Rows, err)
	}
	until("the orphaned lock is released", func() bool { return meta("orphaned").LockedBy == "" })
	if b, ok := balanceOf(t, a.Client, "kept"); !ok || b != 5 {
		t.Fatalf("account kept holds %d (exists %v)", b, ok)
	}
	if md := meta("held"); md.LockedBy != "hold-held" {
		t.Fatalf("a running holder's lock was released: %+v", md)
	}
	// The removed account starts afresh; the held one runs its operation
	// once its holder ends.
	signal("emptied", "deposit", 2)
	signal("held", "deposit", 3)
	until("account emptied holds 2", func() bool { b, _ := balanceOf(t, a.Client, "emptied"); return b == 2 })
	if err := a.Client.RaiseEvent(ctx, "hold-held", "go", nil); err != nil {
		t.Fatal(err)
	}
	until("account held holds 3, unlocked", func() bool {
		b, _ := balanceOf(t, a.Client, "held")
		return b == 3 && meta("held").LockedBy == ""
	})
}

// An entity starts orchestrations: under the ID it gives, or under one its
// batch fixed; they run to completion and report to no one; a start of a
// finished instance's ID runs it again, as a client's start would.
func TestEntityStartsOrchestrations(t *testing.T) {
	// Under a strict version policy: what an entity starts gets the
	// worker's version, as a client's start gets the app's default, and
	// runs.
	a := startApp(t, withDurable(func(d *config.DurableOptions) { d.DefaultVersion, d.VersionMatchStrategy = "2.0", "Strict" }),
		withRegistry(func(r *durable.Registry) {
			_ = r.AddEntity("Launcher", func(ctx *entity.Context) (any, error) {
				var id string
				if err := ctx.Input(&id); err != nil {
					return nil, err
				}
				var started []string
				if err := ctx.State(&started); err != nil {
					return nil, err
				}
				got, err := ctx.StartNewOrchestration("HelloCities5", nil, id)
				if err != nil {
					return nil, err
				}
				return got, ctx.SetState(append(started, got))
			})
		}))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	launcher := entity.ID{Name: "launcher", Key: "l"}
	for _, id := range []string{"launched", ""} {
		if _, err := a.Client.SignalEntity(ctx, launcher, "launch", id, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	var started []string
	for deadline := time.Now().Add(30 * time.Second); len(started) < 2; time.Sleep(100 * time.Millisecond) {
		md, err := a.Client.GetEntity(ctx, launcher, true)
		if err == nil {
			_ = json.Unmarshal(md.State, &started)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the launcher started %v", started)
		}
	}
	if started[0] != "launched" || started[1] == "" {
		t.Fatalf("started %v", started)
	}
	var first *client.Status
	for _, id := range started {
		st := a.wait(t, ctx, id)
		if st.RuntimeStatus != history.StatusCompleted || st.Name != "HelloCities5" || st.Version != "2.0" {
			t.Fatalf("%s: %s %s %s", id, st.Name, st.RuntimeStatus, st.Output)
		}
		if id == "launched" {
			first = st
		}
	}
	// Launched again once finished: a new execution.
	if _, err := a.Client.SignalEntity(ctx, launcher, "launch", "launched", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := a.Client.GetStatus(ctx, "launched", client.StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.ExecutionID != first.ExecutionID && st.RuntimeStatus == history.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("launched again: %+v", st)
		}
	}
	// The entity saw its operations only: no orchestration's end.
	row, err := a.Hub.GetInstance(ctx, launcher.String())
	if err != nil {
		t.Fatal(err)
	}
	st, err := entity.DecodeState(row.Input)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Recent) != 3 || st.Queue != nil {
		t.Fatalf("the launcher's recent operations %+v, queue %+v", st.Recent, st.Queue)
	}
}
