package dashboard_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
)

// signal sends an operation to an entity of the samples' Account.
func (h *hubServer) signal(t *testing.T, key, op string, input any) {
	t.Helper()
	if _, err := h.client.SignalEntity(context.Background(), entity.ID{Name: "account", Key: key}, op, input, time.Time{}); err != nil {
		t.Fatalf("signal %s to %s: %v", op, key, err)
	}
}

// waitBalance waits until the Account holds want.
func (h *hubServer) waitBalance(t *testing.T, key string, want int) {
	t.Helper()
	var got int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		md, err := h.client.GetEntity(context.Background(), entity.ID{Name: "account", Key: key}, true)
		if err == nil && json.Unmarshal(md.State, &got) == nil && got == want {
			return
		}
	}
	t.Fatalf("account %s holds %d, want %d", key, got, want)
}

// TestBrowserEntities: the entities view lists the entities with their
// states; an entity's view shows its state and lock, and signals it an
// operation, whose effect shows after a refresh.
func TestBrowserEntities(t *testing.T) {
	ctx := browser(t)
	h := newHubServer(t, true)
	h.signal(t, "alice", "deposit", 50)
	h.signal(t, "bob", "deposit", 7)
	h.waitBalance(t, "alice", 50)
	h.waitBalance(t, "bob", 7)

	rows := `[...document.querySelectorAll("#entities-body tr")].map(r => r.dataset.entity).join(",")`
	run(t, ctx, "open the entities view", chromedp.Navigate(h.url+"#/entities"),
		until(`document.getElementById("view").dataset.view === "entities" && document.querySelectorAll("#entities-body tr").length === 2`))
	if got := eval[string](t, ctx, rows); got != "@account@alice,@account@bob" {
		t.Fatalf("entity rows %s", got)
	}
	if got := eval[string](t, ctx, `document.querySelector('#entities-body tr[data-entity="@account@alice"] td.state').textContent`); got != "50" {
		t.Fatalf("alice's state cell %q", got)
	}
	if !eval[bool](t, ctx, `document.getElementById("nav-entities").getAttribute("aria-current") === "page"`) {
		t.Error("the Entities link is not marked current")
	}
	screenshot(t, ctx, "dashboard-entities.png")

	run(t, ctx, "open alice", chromedp.Click(chromedp.CSS(`#entities-body tr[data-entity="@account@alice"] a`)),
		until(`document.getElementById("view").dataset.view === "entity" && !!document.getElementById("entity-state")`))
	if got := eval[string](t, ctx, `document.getElementById("entity-state").textContent`); got != "50" {
		t.Fatalf("alice's state %q", got)
	}
	if got := eval[string](t, ctx, `document.getElementById("entity-id").textContent`); got != "@account@alice" {
		t.Fatalf("entity view of %q", got)
	}

	run(t, ctx, "signal a deposit", chromedp.Click(chromedp.CSS("#entity-signal")), until(`document.getElementById("dialog").open`),
		chromedp.SetValue(chromedp.CSS("#f-op"), "deposit"), chromedp.SetValue(chromedp.CSS("#f-input"), "5"),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	if res := closeDialog(t, ctx); res != "Signalled deposit." {
		t.Fatalf("signal result %q", res)
	}
	h.waitBalance(t, "alice", 55)
	run(t, ctx, "refresh", chromedp.Click(chromedp.CSS("#refresh")), until(`document.getElementById("entity-state")?.textContent === "55"`))
	// Its recent operations, newest first: the two deposits.
	recent := `[...document.querySelectorAll("#entity-recent tbody tr")].map(r => [...r.cells].map(c => c.textContent).filter((_, i) => i !== 2).join(" ")).join("; ")`
	if got := eval[string](t, ctx, recent); got != "deposit signal ok; deposit signal ok" {
		t.Fatalf("recent operations %q", got)
	}
	screenshot(t, ctx, "dashboard-entity.png")

	// Cleaning: bob, emptied, goes once idle for a second; alice stays.
	h.signal(t, "bob", "delete", nil)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := h.client.GetEntity(context.Background(), entity.ID{Name: "account", Key: "bob"}, false); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's state was not deleted")
		}
	}
	time.Sleep(1100 * time.Millisecond)
	run(t, ctx, "clean entity storage", chromedp.Navigate(h.url+"#/entities"),
		until(`document.getElementById("view").dataset.view === "entities" && !!document.getElementById("entities-clean")`),
		chromedp.Click(chromedp.CSS("#entities-clean")), until(`document.getElementById("dialog").open`),
		chromedp.SetValue(chromedp.CSS("#f-minutes"), "0.01"), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	if res := closeDialog(t, ctx); res != "Removed 1 empty entities; released 0 orphaned locks." {
		t.Fatalf("clean result %q", res)
	}
	page, err := h.client.ListEntities(context.Background(), client.EntityQuery{IncludeDeleted: true})
	if err != nil || len(page.Entities) != 1 || page.Entities[0].ID.Key != "alice" {
		t.Fatalf("after the clean: %+v %v", page, err)
	}

	// An entity that never got an operation.
	run(t, ctx, "open an unknown entity", chromedp.Navigate(h.url+"#/entities/account/nobody"),
		until(`document.getElementById("view").dataset.view === "entity"`))
	if text := pageText(ctx); !strings.Contains(text, "has received no operation") {
		t.Fatalf("unknown entity:%s", text)
	}
}
