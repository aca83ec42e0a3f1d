package dashboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/task"
)

// eventTimeout waits up to two minutes for Approval, greets, then, when
// its input is true, waits for Done (no timeout): the timeout's timer
// never fires when Approval comes in time.
func eventTimeout(ctx *task.OrchestrationContext) (any, error) {
	var thenWait bool
	if err := ctx.GetInput(&thenWait); err != nil {
		return nil, err
	}
	if err := ctx.WaitForExternalEvent("Approval", task.WithTimeout(2*time.Minute)).Await(nil); err != nil {
		return nil, err
	}
	var s string
	if err := ctx.CallActivity("SayHello", "Ada").Await(&s); err != nil {
		return nil, err
	}
	if thenWait {
		return s, ctx.WaitForExternalEvent("Done").Await(nil)
	}
	return s, nil
}

// TestBrowserCancelledTimer: an event timeout whose event came first is
// drawn as a timer that ended when the event came (outlined, ✕), not as a
// bar running to its fire time two minutes later; the axis of a run of a
// second or two stays in seconds. A timer still awaited stays open.
func TestBrowserCancelledTimer(t *testing.T) {
	ctx := browser(t)
	h := newHubServer(t, true)
	h.start(t, "EventTimeout", "timeout-done", false)
	h.start(t, "EventTimeout", "timeout-running", true)
	h.start(t, "EventTimeout", "timeout-waiting", false)
	for _, id := range []string{"timeout-done", "timeout-running", "timeout-waiting"} {
		h.waitStatus(t, id, history.StatusRunning)
		h.waitTimer(t, id)
	}
	time.Sleep(300 * time.Millisecond) // the event comes a moment after the wait began
	for _, id := range []string{"timeout-done", "timeout-running"} {
		if err := h.client.RaiseEvent(context.Background(), id, "Approval", true); err != nil {
			t.Fatal(err)
		}
	}
	h.waitStatus(t, "timeout-done", history.StatusCompleted)
	h.waitActivity(t, "timeout-running")

	const bar = `document.querySelector("#timeline .bar.timer")`
	const dur = `[...document.querySelectorAll("#timeline .label")].find(l => l.textContent.includes("timer until")).nextElementSibling.nextElementSibling.textContent`
	const axisEnd = `document.querySelectorAll("#timeline .axis span")[4].textContent`
	for _, id := range []string{"timeout-done", "timeout-running"} {
		run(t, ctx, "open "+id, chromedp.Navigate(h.url+"#/instances/"+id),
			until(fmt.Sprintf(`document.getElementById("instance-id")?.textContent === %q && %s`, id, bar)))
		if !eval[bool](t, ctx, bar+`.classList.contains("cancelled") && !`+bar+`.classList.contains("open")`) {
			t.Errorf("%s: timer bar classes %q, want cancelled", id, eval[string](t, ctx, bar+".className"))
		}
		if title := eval[string](t, ctx, bar+".title"); !strings.Contains(title, "cancelled: event Approval came first") {
			t.Errorf("%s: timer title %q", id, title)
		}
		if d := eval[string](t, ctx, dur); strings.HasPrefix(d, "…") || !strings.HasSuffix(d, "✕") || strings.Contains(d, " m ") {
			t.Errorf("%s: timer duration %q, want a few seconds at most, marked ✕", id, d)
		}
		if id == "timeout-done" {
			if end := eval[string](t, ctx, axisEnd); strings.Contains(end, " m ") || strings.Contains(end, " h ") {
				t.Errorf("%s: the time axis ends at %s: the cancelled timer stretched it", id, end)
			}
			screenshot(t, ctx, "dashboard-cancelled-timer.png")
		}
	}

	run(t, ctx, "open timeout-waiting", chromedp.Navigate(h.url+"#/instances/timeout-waiting"),
		until(`document.getElementById("instance-id")?.textContent === "timeout-waiting" && `+bar))
	if !eval[bool](t, ctx, bar+`.classList.contains("open") && !`+bar+`.classList.contains("cancelled")`) {
		t.Errorf("timeout-waiting: timer bar classes %q, want open", eval[string](t, ctx, bar+".className"))
	}
	if d := eval[string](t, ctx, dur); !strings.HasPrefix(d, "… ") {
		t.Errorf("timeout-waiting: timer duration %q, want an open one", d)
	}
}

// waitTimer waits until the instance's history holds a TimerCreated.
func (h *hubServer) waitTimer(t *testing.T, id string) {
	t.Helper()
	h.waitHistory(t, id, history.TimerCreated)
}

// waitActivity waits until the instance's history holds a TaskCompleted.
func (h *hubServer) waitActivity(t *testing.T, id string) {
	t.Helper()
	h.waitHistory(t, id, history.TaskCompleted)
}

func (h *hubServer) waitHistory(t *testing.T, id string, want history.EventType) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := h.client.GetStatus(context.Background(), id, statusWithHistory)
		if err == nil {
			for _, e := range st.History {
				if e.Type == want {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("instance %s: no %s in its history", id, want)
}

var statusWithHistory = client.StatusOptions{ShowHistory: true, HideInput: true}
