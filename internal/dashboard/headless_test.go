package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// TestPlainHeadlessShowsTheList loads the dashboard the way a quick check
// or a CI screenshot does: `chromium --headless --dump-dom` and
// `--screenshot`, with no --virtual-time-budget, so Chromium takes the page
// as it is at its load event and runs no timer or pending fetch to
// completion. The instance list must be there already: the page renders
// its first view from data that came with it, not after a request of its
// own.
func TestPlainHeadlessShowsTheList(t *testing.T) {
	bin := chromiumPath(t)
	h := newHubServer(t, true)
	for i := 1; i <= 3; i++ {
		h.start(t, "HelloWorld", fmt.Sprintf("plain-%d", i), "x")
	}
	for i := 1; i <= 3; i++ {
		h.waitStatus(t, fmt.Sprintf("plain-%d", i), history.StatusCompleted)
	}
	headless := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir(), "--window-size=1440,900"}, args...)
		out, err := exec.CommandContext(ctx, bin, append(args, h.url)...).Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return string(out)
	}

	dom := headless("--dump-dom")
	rows := regexp.MustCompile(`<tr data-id="(plain-\d)"`).FindAllStringSubmatch(dom, -1)
	if len(rows) != 3 {
		t.Fatalf("the DOM at load has %d rows of plain-*, want 3:\n%s", len(rows), dom)
	}
	if !strings.Contains(dom, `data-view="instances"`) {
		t.Errorf("the view is not the instances view")
	}

	shot := filepath.Join(t.TempDir(), "plain-headless.png")
	if os.Getenv("DASHBOARD_SCREENSHOTS") != "" {
		shot = filepath.Join("..", "..", "docs", "dashboard-plain-headless.png")
	}
	headless("--screenshot=" + shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
}
