package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/testutil"
)

// A Go team's own function app: `durable init` writes it as a separate
// module (pointed at this checkout), with an orchestrator of its own and a
// test-kit test; it builds, its test passes, and it runs end to end on
// Azurite through the dev host.
func TestNewAppFromDurableInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module")
	}
	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	cli := testutil.BuildBinary(t, "./cmd/durable", "durable")
	dir := filepath.Join(t.TempDir(), "myapp")
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		// The new module resolves its dependencies itself, not with this
		// repository's settings.
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run(filepath.Dir(dir), cli, "init", dir, "--module", "example.com/myapp", "--replace", repo)
	if !strings.Contains(out, "go build -o handler . && func start") {
		t.Fatalf("durable init printed:\n%s", out)
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go", "main_test.go", "host.json", "local.settings.json", "HttpStart/function.json", "Wake/function.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("durable init did not write %s: %v", f, err)
		}
	}
	// The app's own orchestrator, next to the template's.
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	own := strings.Replace(string(main), `	return reg.AddOrchestrator("Hello", hello)`, `	if err := reg.AddOrchestrator("Shout", func(ctx *task.OrchestrationContext) (any, error) {
		var s string
		err := ctx.CallActivity("SayHello", "team").Await(&s)
		return s + "!!", err
	}); err != nil {
		return err
	}
	return reg.AddOrchestrator("Hello", hello)`, 1)
	if own == string(main) {
		t.Fatal("main.go has no registration to extend")
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	run(dir, "go", "vet", "./...")
	run(dir, "go", "test", "./...")
	run(dir, "go", "build", "-o", "handler", ".")

	a := newE2EAppFrom(t, nil, dir, filepath.Join(dir, "handler"))
	a.start()
	if got := strings.TrimSpace(string(a.expect(200, "POST", "/orchestrators/Hello/wait?timeout=30", `"Tokyo"`))); got != `"Hello Tokyo!"` {
		t.Fatalf("Hello: %s", got)
	}
	if got := strings.TrimSpace(string(a.expect(200, "POST", "/orchestrators/Shout/wait?timeout=30", ""))); got != `"Hello team!!!"` {
		t.Fatalf("Shout: %s", got)
	}
}
