package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

// TestBrowserSchedules: the schedules view lists a schedule with when it
// runs and its next run; its view shows its recent runs, linked to their
// instances, and pauses, resumes, runs it now and deletes it; a new
// schedule is made from its JSON spec.
func TestBrowserSchedules(t *testing.T) {
	ctx := browser(t)
	h := newHubServer(t, true)
	bg := context.Background()
	spec := schedule.Spec{Orchestrator: "Showcase", Input: json.RawMessage(`"tick"`), Every: schedule.Duration(time.Second),
		Overlap: schedule.OverlapAllowAll}
	if err := h.client.CreateSchedule(bg, "every-second", spec); err != nil {
		t.Fatal(err)
	}
	get := func() *schedule.State {
		st, err := h.client.GetSchedule(bg, "every-second")
		if err != nil && !errors.Is(err, client.ErrScheduleNotFound) {
			t.Fatal(err)
		}
		return st
	}
	waitState := func(what string, ok func(*schedule.State) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if ok(get()) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s: %+v", what, get())
			}
		}
	}
	waitState("three runs", func(st *schedule.State) bool { return st != nil && st.Started >= 3 })

	run(t, ctx, "open the schedules view", chromedp.Navigate(h.url+"#/schedules"),
		until(`document.getElementById("view").dataset.view === "schedules" && document.querySelectorAll("#schedules-body tr").length === 1`))
	row := `document.querySelector('#schedules-body tr[data-schedule="every-second"]').innerText`
	if got := eval[string](t, ctx, row); !strings.Contains(got, "every 1s, overlap allowAll") || !strings.Contains(got, "Showcase") {
		t.Fatalf("schedule row %q", got)
	}
	if !eval[bool](t, ctx, `document.getElementById("nav-schedules").getAttribute("aria-current") === "page"`) {
		t.Error("the Schedules link is not marked current")
	}

	run(t, ctx, "open the schedule", chromedp.Click(chromedp.CSS(`#schedules-body tr[data-schedule="every-second"] a`)),
		until(`document.getElementById("view").dataset.view === "schedule" && document.querySelectorAll("#schedule-runs tbody tr").length >= 3`))
	link := eval[string](t, ctx, `document.querySelector("#schedule-runs tbody tr a").getAttribute("href")`)
	if !strings.HasPrefix(link, "#/instances/every-second-") {
		t.Fatalf("a run links to %q", link)
	}
	screenshot(t, ctx, "dashboard-schedule.png")

	run(t, ctx, "pause", chromedp.Click(chromedp.CSS("#schedule-pause")), until(`document.getElementById("dialog").open`),
		chromedp.SetValue(chromedp.CSS("#f-reason"), "maintenance"), chromedp.Click(chromedp.CSS("#dialog-confirm")))
	if res := closeDialog(t, ctx); !strings.Contains(res, "sent") {
		t.Fatalf("pause result %q", res)
	}
	waitState("paused", func(st *schedule.State) bool { return st.Paused && st.Note == "maintenance" })
	run(t, ctx, "refresh", chromedp.Click(chromedp.CSS("#refresh")),
		until(`(document.getElementById("schedule-state")?.innerText || "").includes("paused: maintenance") && !!document.getElementById("schedule-resume")`))

	started := get().Started
	run(t, ctx, "run now", chromedp.Click(chromedp.CSS("#schedule-trigger")), until(`document.getElementById("dialog").open`),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	closeDialog(t, ctx)
	waitState("the run started by hand", func(st *schedule.State) bool { return st.Started == started+1 })

	run(t, ctx, "resume", chromedp.Click(chromedp.CSS("#schedule-resume")), until(`document.getElementById("dialog").open`),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	closeDialog(t, ctx)
	waitState("resumed", func(st *schedule.State) bool { return !st.Paused && st.Started > started+1 })

	run(t, ctx, "delete", chromedp.Click(chromedp.CSS("#schedule-delete")), until(`document.getElementById("dialog").open`),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	closeDialog(t, ctx)
	waitState("deleted", func(st *schedule.State) bool { return st == nil })

	// A new schedule, from its spec.
	run(t, ctx, "new schedule", chromedp.Navigate(h.url+"#/schedules"),
		until(`document.getElementById("view").dataset.view === "schedules" && !!document.getElementById("schedule-new")`),
		chromedp.Click(chromedp.CSS("#schedule-new")), until(`document.getElementById("dialog").open`),
		chromedp.SetValue(chromedp.CSS("#f-id"), "nightly"),
		chromedp.SetValue(chromedp.CSS("#f-spec"), `{"orchestrator":"Showcase","cron":"0 0 3 * * *","timeZone":"Asia/Tokyo"}`),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	if res := closeDialog(t, ctx); !strings.HasPrefix(res, "Saved") {
		t.Fatalf("create result %q", res)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := h.client.GetSchedule(bg, "nightly")
		if err == nil && st.Spec.TimeZone == "Asia/Tokyo" && st.Next.UTC().Hour() == 18 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new schedule: %+v %v", st, err)
		}
	}
	// A bad spec is refused, and says why.
	run(t, ctx, "a bad spec", chromedp.Click(chromedp.CSS("#schedule-new")), until(`document.getElementById("dialog").open`),
		chromedp.SetValue(chromedp.CSS("#f-id"), "bad"), chromedp.SetValue(chromedp.CSS("#f-spec"), `{"orchestrator":"Showcase"}`),
		chromedp.Click(chromedp.CSS("#dialog-confirm")))
	if res := closeDialog(t, ctx); !strings.Contains(res, "400") || !strings.Contains(res, "give cron or every") {
		t.Fatalf("bad spec result %q", res)
	}
}
