package dashboard_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// TestBrowserShowInternal: the list and its counts leave the bulk
// operations' own instances out until "Show internal" is checked.
func TestBrowserShowInternal(t *testing.T) {
	ctx := browser(t)
	h := newHubServer(t, true)
	h.start(t, "HelloWorld", "user-1", "x")
	h.waitStatus(t, "user-1", history.StatusCompleted)
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	batchID, err := h.client.StartBatch(c, client.BatchRequest{Operation: client.BatchPurge, Filter: client.Query{InstanceIDPrefix: "none-"}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(t, batchID, history.StatusCompleted)

	const total = `document.querySelector('#counts [data-status="all"] .n')?.textContent`
	openList(t, ctx, h)
	run(t, ctx, "counts without internal", until(total+` === "1"`))
	if ids := eval[[]string](t, ctx, rowIDs); len(ids) != 1 || ids[0] != "user-1" {
		t.Fatalf("default list %v, want [user-1]", ids)
	}
	before := eval[string](t, ctx, `document.getElementById("view").dataset.loaded`)
	run(t, ctx, "show internal", chromedp.Click(chromedp.CSS("#filter-internal")), chromedp.Click(chromedp.CSS("#filter-apply")),
		until(`document.getElementById("view").dataset.loaded !== "`+before+`"`),
		until(`document.querySelectorAll("#instances-body tr").length === 2`), until(total+` === "2"`))
	if name := eval[string](t, ctx, `document.querySelector('#instances-body tr[data-id="`+batchID+`"] td:nth-child(3)')?.textContent || ""`); name != client.BatchOrchestrator {
		t.Errorf("the bulk operation's row names %q", name)
	}
	if !eval[bool](t, ctx, `document.getElementById("filter-internal").checked`) {
		t.Error("the checkbox did not stay checked after applying")
	}
	run(t, ctx, "reset hides them again", chromedp.Click(chromedp.CSS("#filter-reset")),
		until(`document.querySelectorAll("#instances-body tr").length === 1`), until(total+` === "1"`))
}
