package scaffold

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/azurite"
)

// The template's function folders are the repository's own, byte for byte:
// an app made by durable init has every built-in function.
func TestTemplateFunctionsMatchTheRepository(t *testing.T) {
	root := filepath.Join("..", "..")
	var repo []string
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, e.Name(), "function.json")); err == nil {
			repo = append(repo, e.Name())
		}
	}
	if got := FunctionFolders(); strings.Join(got, " ") != strings.Join(repo, " ") {
		t.Fatalf("template folders %v, repository %v", got, repo)
	}
	for _, f := range repo {
		want, _ := os.ReadFile(filepath.Join(root, f, "function.json"))
		got, _ := FunctionJSON(f)
		if !bytes.Equal(got, want) {
			t.Errorf("%s/function.json differs from the repository's", f)
		}
	}
	host, _ := os.ReadFile(filepath.Join(root, "host.json"))
	tmpl, _ := files.ReadFile("template/host.json")
	if !bytes.Equal(host, tmpl) {
		t.Error("host.json differs from the repository's")
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	p := Params{Module: "example.com/app", Version: "v0.0.0", GoVersion: "1.26", Replace: "/src/durable"}
	written, err := Write(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	if !strings.Contains(string(mod), "module example.com/app") || !strings.Contains(string(mod), "replace github.com/durable-go/durable => /src/durable") {
		t.Fatalf("go.mod:\n%s", mod)
	}
	if len(written) < 20 {
		t.Fatalf("wrote %v", written)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Write: %v", err)
	}
	if _, err := Write(t.TempDir(), Params{Module: "bad module", Version: "v0", GoVersion: "1.26"}); err == nil {
		t.Fatal("a bad module path was accepted")
	}
}

// A new app pins the Azurite this repository pins (package.json) and
// durable dev installs (azurite.Version), so that both run the emulator
// the project is tested against.
func TestTemplatePinsTheRepositorysAzurite(t *testing.T) {
	version := func(data []byte) string {
		var p struct {
			DevDependencies map[string]string `json:"devDependencies"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		return p.DevDependencies["azurite"]
	}
	repo, err := os.ReadFile(filepath.Join("..", "..", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := files.ReadFile("template/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := version(tmpl), version(repo); got != want || got != azurite.Version {
		t.Errorf("template pins azurite %q, the repository %q, durable dev installs %q", got, want, azurite.Version)
	}
	ignore, _ := files.ReadFile("template/gitignore")
	for _, p := range []string{"/.azurite/", "/node_modules/"} {
		if !strings.Contains(string(ignore), p) {
			t.Errorf(".gitignore does not ignore %s", p)
		}
	}
}
