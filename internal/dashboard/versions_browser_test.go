package dashboard_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// startVersion starts an instance at a version ("" for none).
func (h *hubServer) startVersion(t *testing.T, name, id, version string, input any) {
	t.Helper()
	if _, err := h.client.StartNew(context.Background(), name, input, client.StartOptions{InstanceID: id, Version: version}); err != nil {
		t.Fatalf("start %s %s at version %q: %v", name, id, version, err)
	}
}

// versionsRows are the versions view's rows, as name@version.
const versionsRows = `[...document.querySelectorAll("#versions-body tr")].map(r => r.dataset.name + "@" + r.dataset.version)`

// sortedRowIDs is rowIDs in ID order, for lists whose display order is
// not the point.
func sortedRowIDs(t *testing.T, ctx context.Context) string {
	t.Helper()
	ids := eval[[]string](t, ctx, rowIDs)
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// TestBrowserVersions: the list's Version column (shown only when an
// instance of the page has a version) and version filter, the versions
// view's counts of unfinished instances per orchestrator and version with
// its click-through to those instances, and a bulk action by filter that
// keeps to the filtered version. The versions 1.9 and 1.10 are ordered
// numerically (1.9 first), not as text.
func TestBrowserVersions(t *testing.T) {
	ctx := browser(t)
	h := newHubServer(t, true)
	h.startVersion(t, "ApprovalWorkflow", "appr-old-1", "1.9", nil)
	h.startVersion(t, "ApprovalWorkflow", "appr-old-2", "1.9", nil)
	h.startVersion(t, "ApprovalWorkflow", "appr-new-1", "1.10", nil)
	h.startVersion(t, "ApprovalWorkflow", "appr-none-1", "", nil)
	h.startVersion(t, "Counter", "counter-new-1", "1.10", 0)
	h.startVersion(t, "HelloWorld", "hello-old-1", "1.9", "Ada")
	h.startVersion(t, "HelloWorld", "plain-1", "", "Bob")
	for _, id := range []string{"appr-old-1", "appr-old-2", "appr-new-1", "appr-none-1", "counter-new-1"} {
		h.waitStatus(t, id, history.StatusRunning)
	}
	for _, id := range []string{"hello-old-1", "plain-1"} {
		h.waitStatus(t, id, history.StatusCompleted)
	}
	if err := h.client.Suspend(context.Background(), "appr-old-2", "hold"); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(t, "appr-old-2", history.StatusSuspended)

	const versionCell = `document.querySelector('#instances-body tr[data-id="%s"] td.version')?.textContent`
	const total = `document.querySelector('#counts [data-status="all"] .n')?.textContent`

	t.Run("ColumnAndFilter", func(t *testing.T) {
		openList(t, ctx, h)
		run(t, ctx, "all seven", until(`document.querySelectorAll("#instances-body tr").length === 7`))
		if !eval[bool](t, ctx, `!!document.getElementById("sort-version")`) {
			t.Fatal("no Version column although instances have versions")
		}
		for id, want := range map[string]string{"appr-new-1": "1.10", "hello-old-1": "1.9", "plain-1": "—"} {
			if got := eval[string](t, ctx, fmt.Sprintf(versionCell, id)); got != want {
				t.Errorf("%s: Version cell %q, want %q", id, got, want)
			}
		}
		screenshot(t, ctx, "dashboard-versions-list.png")

		applyFilter(t, ctx, map[string]string{"filter-version": "1.9"})
		if got := sortedRowIDs(t, ctx); got != "appr-old-1,appr-old-2,hello-old-1" {
			t.Errorf("version 1.9: rows %s", got)
		}
		run(t, ctx, "counts of version 1.9", until(total+` === "3"`))
		if v := eval[string](t, ctx, `document.getElementById("filter-version").value`); v != "1.9" {
			t.Errorf("the version field shows %q after applying", v)
		}

		// A page without versions has no Version column.
		applyFilter(t, ctx, map[string]string{"filter-prefix": "plain-"})
		if got := sortedRowIDs(t, ctx); got != "plain-1" {
			t.Errorf("prefix plain-: rows %s", got)
		}
		if eval[bool](t, ctx, `!!document.getElementById("sort-version")`) {
			t.Error("a Version column on a page whose instances have none")
		}

		// Sorting by version orders numerically: none, 1.9, 1.10.
		applyFilter(t, ctx, map[string]string{"filter-prefix": "appr-"})
		versions := `[...document.querySelectorAll("#instances-body td.version")].map(td => td.textContent).join(",")`
		run(t, ctx, "sort by version", chromedp.Click(chromedp.CSS(`th[data-sort="version"]`)))
		if got := eval[string](t, ctx, versions); got != "—,1.9,1.9,1.10" {
			t.Errorf("sorted by version: %s", got)
		}
		run(t, ctx, "sort by version descending", chromedp.Click(chromedp.CSS(`th[data-sort="version"]`)))
		if got := eval[string](t, ctx, versions); got != "1.10,1.9,1.9,—" {
			t.Errorf("sorted by version, descending: %s", got)
		}

		// Without a version, alone and with a version.
		before := eval[string](t, ctx, `document.getElementById("view").dataset.loaded`)
		run(t, ctx, "without a version", chromedp.Click(chromedp.CSS("#filter-reset")),
			until(`document.getElementById("view").dataset.loaded !== "`+before+`"`),
			chromedp.Click(chromedp.CSS("#filter-noversion")), chromedp.Click(chromedp.CSS("#filter-apply")),
			until(`document.querySelectorAll("#instances-body tr").length === 2`))
		if got := sortedRowIDs(t, ctx); got != "appr-none-1,plain-1" {
			t.Errorf("without a version: rows %s", got)
		}
		if !eval[bool](t, ctx, `!!document.getElementById("sort-version")`) {
			t.Error("no Version column while the filter is on versions")
		}
		run(t, ctx, "without a version or 1.10", chromedp.SetValue(chromedp.CSS("#filter-version"), "1.10"),
			chromedp.Click(chromedp.CSS("#filter-apply")), until(`document.querySelectorAll("#instances-body tr").length === 4`))
		if got := sortedRowIDs(t, ctx); got != "appr-new-1,appr-none-1,counter-new-1,plain-1" {
			t.Errorf("without a version or 1.10: rows %s", got)
		}
	})

	t.Run("InFlight", func(t *testing.T) {
		openList(t, ctx, h)
		run(t, ctx, "open the versions view", chromedp.Click(chromedp.CSS("#nav-versions")),
			until(`document.getElementById("view").dataset.view === "versions" && document.querySelector("#versions-body tr")`))
		// Sorted by name, then version as the engine orders them; the
		// completed HelloWorld instances are not in flight.
		if got := strings.Join(eval[[]string](t, ctx, versionsRows), " "); got != "ApprovalWorkflow@ ApprovalWorkflow@1.9 ApprovalWorkflow@1.10 Counter@1.10" {
			t.Fatalf("versions view rows: %s", got)
		}
		cell := func(name, version, col string) string {
			return eval[string](t, ctx, fmt.Sprintf(`document.querySelector('#versions-body tr[data-name=%q][data-version=%q] td%s')?.textContent`, name, version, col))
		}
		for _, c := range []struct{ name, version, col, want string }{
			{"ApprovalWorkflow", "1.9", `[data-status="Running"]`, "1"},
			{"ApprovalWorkflow", "1.9", `[data-status="Suspended"]`, "1"},
			{"ApprovalWorkflow", "1.9", ".total", "2"},
			{"ApprovalWorkflow", "1.10", ".total", "1"},
			{"ApprovalWorkflow", "", ".total", "1"},
			{"ApprovalWorkflow", "", ".version", "none"},
			{"Counter", "1.10", ".total", "1"},
			{"Counter", "1.10", `[data-status="Pending"]`, "0"},
		} {
			if got := cell(c.name, c.version, c.col); got != c.want {
				t.Errorf("%s@%s %s: %q, want %q", c.name, c.version, c.col, got, c.want)
			}
		}
		if eval[string](t, ctx, `document.querySelector("#nav-versions").getAttribute("aria-current") || ""`) != "page" {
			t.Error("the nav does not mark the versions view as current")
		}
		screenshot(t, ctx, "dashboard-versions.png")

		clickThrough := func(what, row, button, want string) {
			t.Helper()
			run(t, ctx, what, chromedp.Navigate(h.url+"#/versions"), until(`document.getElementById("view").dataset.view === "versions" && document.querySelector("#versions-body tr")`),
				chromedp.Click(chromedp.CSS(`#versions-body tr`+row+` `+button)),
				until(`document.getElementById("view").dataset.view === "instances" && document.querySelector("#instances-body tr")`))
			if got := sortedRowIDs(t, ctx); got != want {
				t.Errorf("%s: rows %s, want %s", what, got, want)
			}
		}
		clickThrough("ApprovalWorkflow 1.9, unfinished", `[data-name="ApprovalWorkflow"][data-version="1.9"]`, `td.total button`, "appr-old-1,appr-old-2")
		// The list shows the filter it was given.
		if got := eval[string](t, ctx, `[document.getElementById("filter-names").value, document.getElementById("filter-version").value, document.getElementById("filter-noversion").checked,
			...[...document.querySelectorAll("#filters input[data-status]:checked")].map(b => b.value)].join(",")`); got != "ApprovalWorkflow,1.9,false,Pending,Running,Suspended,ContinuedAsNew" {
			t.Errorf("the filter after the click-through: %s", got)
		}
		run(t, ctx, "counts of the click-through", until(total+` === "2"`))
		clickThrough("ApprovalWorkflow 1.9, Suspended", `[data-name="ApprovalWorkflow"][data-version="1.9"]`, `td[data-status="Suspended"] button`, "appr-old-2")
		clickThrough("ApprovalWorkflow without a version", `[data-name="ApprovalWorkflow"][data-version=""]`, `td.total button`, "appr-none-1")
		if !eval[bool](t, ctx, `document.getElementById("filter-noversion").checked`) {
			t.Error("the click-through on the row without a version did not check Without a version")
		}
		clickThrough("Counter 1.10", `[data-name="Counter"][data-version="1.10"]`, `td.total button`, "counter-new-1")
	})

	t.Run("BulkKeepsToTheVersion", func(t *testing.T) {
		openList(t, ctx, h)
		applyFilter(t, ctx, map[string]string{"filter-version": "1.10"})
		if got := sortedRowIDs(t, ctx); got != "appr-new-1,counter-new-1" {
			t.Fatalf("version 1.10: rows %s", got)
		}
		run(t, ctx, "bulk terminate", chromedp.SetValue(chromedp.CSS("#bulk-op"), "terminate"), chromedp.Click(chromedp.CSS("#bulk-run")),
			until(`document.getElementById("bulk-count")?.textContent.includes("all 2 instances")`))
		if msg := eval[string](t, ctx, `document.getElementById("dialog-body").innerText`); !strings.Contains(msg, "version=1.10") {
			t.Errorf("the confirmation does not name the version: %q", msg)
		}
		run(t, ctx, "confirm", chromedp.SendKeys(chromedp.CSS("#f-reason"), "retire 1.10"), chromedp.Click(chromedp.CSS("#dialog-confirm")),
			until(`document.getElementById("dialog").dataset.done === "1" || document.getElementById("bulk-progress")`))
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(c, chromedp.Poll[chromedp.Void](`document.getElementById("bulk-progress")?.dataset.done`, chromedp.WithPollingTimeout(55*time.Second))); err != nil {
			t.Fatalf("the bulk operation did not finish: %v%s", err, pageText(ctx))
		}
		if res := closeDialog(t, ctx); !strings.Contains(res, "2 of 2 processed, 2 succeeded, 0 failed") {
			t.Errorf("bulk result %q", res)
		}
		for _, id := range []string{"appr-new-1", "counter-new-1"} {
			h.waitStatus(t, id, history.StatusTerminated)
		}
		for id, want := range map[string]history.RuntimeStatus{"appr-old-1": history.StatusRunning, "appr-old-2": history.StatusSuspended, "appr-none-1": history.StatusRunning} {
			if st, err := h.client.GetStatus(context.Background(), id, client.StatusOptions{}); err != nil || st.RuntimeStatus != want {
				t.Errorf("%s after the bulk terminate of 1.10: %+v, %v; want %s", id, st, err, want)
			}
		}
		// Nothing of 1.10 is in flight any more.
		run(t, ctx, "versions view after the bulk", chromedp.Navigate(h.url+"#/versions"),
			until(`document.getElementById("view").dataset.view === "versions" && `+versionsRows+`.join(" ") === "ApprovalWorkflow@ ApprovalWorkflow@1.9"`))
	})
}
