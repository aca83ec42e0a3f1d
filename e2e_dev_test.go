package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azurite"
	"github.com/durable-go/durable/internal/testutil"
)

// A new user's first minutes: `durable init` in an empty folder, then
// `durable dev` there, with no Azurite, no dev host and no Core Tools
// running. durable dev must build the app, start storage and the app,
// print the URLs, serve the app and its dashboard, and stop everything on
// Ctrl-C with exit status 0 (so that `make run` around it reports no
// error).
func TestNewAppRunsWithDurableDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module and runs Azurite")
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	cli := testutil.BuildBinary(t, "./cmd/durable", "durable")
	dir := filepath.Join(t.TempDir(), "shop")
	// The new module resolves its dependencies itself, not with this
	// repository's settings.
	env := append(os.Environ(), "GOFLAGS=",
		// The repository's own Azurite, so that the test neither downloads
		// one nor depends on the network; TestInstall covers the npm path.
		azurite.EnvBinary+"="+filepath.Join(repo, "node_modules", ".bin", "azurite"))
	initCmd := exec.Command(cli, "init", dir, "--module", "example.com/shop", "--replace", repo)
	initCmd.Env = env
	out, err := initCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("durable init: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "durable dev") || !strings.Contains(string(out), "func start") {
		t.Fatalf("durable init's next steps name neither durable dev nor func start:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dev := exec.Command(cli, "dev", "--port", "0", "--free-ports")
	dev.Dir = dir
	dev.Env = env
	// A process group of its own, as a terminal's foreground job: the
	// Ctrl-C below reaches durable dev and the handler, as it would there.
	dev.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs testutil.SyncBuffer
	dev.Stderr = &logs
	stdout, err := dev.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-dev.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	urls := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- dev.Wait()
	}()
	urlRE := regexp.MustCompile(`^(App|Dashboard):\s+(\S+)$`)
	for urls["App"] == "" || urls["Dashboard"] == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("durable dev ended before printing its URLs; its log:\n%s", logs.String())
			}
			if m := urlRE.FindStringSubmatch(line); m != nil {
				urls[m[1]] = m[2]
			}
		case <-ctx.Done():
			t.Fatalf("durable dev printed no URLs within 90 s; its log:\n%s", logs.String())
		}
	}
	go func() {
		for range lines { // keep draining stdout until it closes
		}
	}()
	// The new app's own orchestrator, through the starter that waits.
	got := post(t, ctx, urls["App"]+"/orchestrators/Hello/wait?timeout=30", `"Tokyo"`, 200)
	if strings.TrimSpace(got) != `"Hello Tokyo!"` {
		t.Fatalf("Hello: %s", got)
	}
	// timeout without pollingInterval waits too, as in Durable Functions.
	if got := post(t, ctx, urls["App"]+"/orchestrators/Hello?timeout=30", `"Osaka"`, 200); strings.TrimSpace(got) != `"Hello Osaka!"` {
		t.Fatalf("Hello with ?timeout alone: %s", got)
	}
	if got := get(t, ctx, urls["Dashboard"], 200); !strings.Contains(got, "csrf-token") {
		t.Fatalf("the dashboard page: %.300s", got)
	}
	azurePorts := regexp.MustCompile(`Azurite \(.*\) on ports (\d+), (\d+), (\d+)`).FindStringSubmatch(logs.String())
	if azurePorts == nil {
		t.Fatalf("durable dev did not say where Azurite listens:\n%s", logs.String())
	}

	// Ctrl-C, as the terminal sends it: to the whole foreground group.
	if err := syscall.Kill(-dev.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred check
		if err != nil {
			t.Fatalf("durable dev after Ctrl-C: %v (want exit status 0); its log:\n%s", err, logs.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("durable dev did not stop within 45 s of Ctrl-C; its log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "Stopped Azurite.") {
		t.Errorf("durable dev did not stop Azurite; its log:\n%s", logs.String())
	}
	for _, port := range azurePorts[1:] {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Errorf("Azurite still listens on port %s after durable dev ended", port)
		}
	}
	for _, f := range []string{"handler", "package.json", ".azurite/azurite.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func post(t *testing.T, ctx context.Context, url, body string, want int) string {
	t.Helper()
	return do(t, ctx, http.MethodPost, url, body, want)
}

func get(t *testing.T, ctx context.Context, url string, want int) string {
	t.Helper()
	return do(t, ctx, http.MethodGet, url, "", want)
}

func do(t *testing.T, ctx context.Context, method, url, body string, want int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	return string(b)
}

// Ctrl-C of `make run` stops the app and Azurite, and make reports no
// error: it used to end in "make: *** [Makefile:…: run] Error 1", because
// `go run` exits with status 1 when interrupted. make itself gets the
// terminal's SIGINT too and, its recipe having ended cleanly, ends by that
// signal as any interrupted program does, which a shell does not report.
// Without Core Tools only: with it, make run runs `func start`, which this
// test cannot drive.
func TestMakeRunStopsCleanlyOnCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the repository and runs Azurite")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if _, err := exec.LookPath("func"); err == nil {
		t.Skip("func is installed: make run would run func start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Free ports and data of its own, so that a `make run` a developer has
	// going in this checkout is left alone.
	mk := exec.Command("make", "--no-print-directory", "run", "DEVHOST_PORT=0",
		"DEV_FLAGS=--free-ports --azurite-data "+t.TempDir())
	mk.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out testutil.SyncBuffer
	mk.Stdout, mk.Stderr = &out, &out
	if err := mk.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- mk.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-mk.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	appRE := regexp.MustCompile(`App:\s+(\S+)`)
	var app string
	for app == "" {
		if m := appRE.FindStringSubmatch(out.String()); m != nil {
			app = m[1]
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("make run ended before serving (%v):\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("make run did not serve within 3 minutes:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if got := post(t, ctx, app+"/orchestrators/HelloWorld/wait?timeout=30", `"make"`, 200); strings.TrimSpace(got) != `"Hello make!"` {
		t.Fatalf("HelloWorld: %s", got)
	}
	if err := syscall.Kill(-mk.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		interrupted := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT
		if (err != nil && !interrupted) || strings.Contains(out.String(), "make: ***") {
			t.Fatalf("make run after Ctrl-C: %v (want status 0 or SIGINT, and no make error):\n%s", err, out.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("make run did not stop within 45 s of Ctrl-C:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Stopped Azurite.") {
		t.Errorf("make run did not stop Azurite:\n%s", out.String())
	}
}
