package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/testutil"
)

// TestDashboardCommand runs `durable dashboard --port 0` as a user would:
// it prints its address, serves the page and the API of the hub it opened,
// refuses actions without the CSRF token and stops cleanly on Ctrl-C. The
// page itself is tested in a browser in internal/dashboard.
func TestDashboardCommand(t *testing.T) {
	f := newFixture(t, buildCLI(t), testutil.Storage(t))
	if err := f.hub.CreateIfNotExists(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.StartNew(context.Background(), "Counter", 1, client.StartOptions{InstanceID: "dash-1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, f.bin, "dashboard", "--port", "0")
	cmd.Dir = f.root
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		_ = cmd.Process.Kill()
		t.Fatalf("no address printed; stderr: %s", stderr.String())
	}
	m := regexp.MustCompile(`(http://127\.0\.0\.1:\d+/durabletask/dashboard/)$`).FindStringSubmatch(lines.Text())
	if m == nil {
		_ = cmd.Process.Kill()
		t.Fatalf("printed %q", lines.Text())
	}
	base := m[1]
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	res, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), f.name) {
		t.Errorf("page: %d %.300s", res.StatusCode, page)
	}
	// The list's first page comes with the page, so that a browser that
	// takes the page at its load event (a plain headless screenshot) shows
	// it; internal/dashboard's TestPlainHeadlessShowsTheList checks that.
	if !strings.Contains(string(page), `data-first-page="`) || !strings.Contains(string(page), "dash-1") {
		t.Errorf("the page does not carry the first page of instances: %s", page)
	}
	var token *http.Cookie
	for _, c := range res.Cookies() {
		token = c
	}
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// 202: the API answers a status query of an unfinished instance so.
	if code, body := get("api/instances/dash-1"); code != 202 || !strings.Contains(body, `"runtimeStatus":"Pending"`) {
		t.Errorf("status through the dashboard: %d %s", code, body)
	}
	if code, body := get("api/counts"); code != 200 || !strings.Contains(body, `"Pending":1`) {
		t.Errorf("counts through the dashboard: %d %s", code, body)
	}
	if code, _ := get("api/instances?taskHub=SomeOtherHub"); code != 400 {
		t.Errorf("another hub: %d", code)
	}
	post := func(withToken bool) int {
		req, _ := http.NewRequest("POST", base+"api/instances/dash-1/terminate?reason=test", nil)
		if withToken && token != nil {
			req.AddCookie(token)
			req.Header.Set("X-CSRF-Token", token.Value)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(false); code != 403 {
		t.Errorf("terminate without the token: %d", code)
	}
	if code := post(true); code != 202 {
		t.Errorf("terminate with the token: %d", code)
	}
	// A page of another site rebinding its name to 127.0.0.1 gets nothing.
	req, _ := http.NewRequest("GET", base+"api/counts", nil)
	req.Host = "attacker.example"
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after Ctrl-C: %v; stderr: %s", err, stderr.String())
	}
}
