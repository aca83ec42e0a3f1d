// Package scaffold writes a new function app that uses this module: the
// files `durable init` creates. The template's function folders are the
// built-in functions' (a test keeps them equal to this repository's own).
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed template
var files embed.FS

// Params fill in the template.
type Params struct {
	// Module is the new app's module path.
	Module string
	// Version of github.com/durable-go/durable to require.
	Version string
	// Replace, when set, points the requirement at a local checkout.
	Replace string
	// GoVersion is the go directive.
	GoVersion string
}

var modulePath = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~/-]*$`)

// Write creates the app in dir (created if missing) and returns the files
// it wrote, relative to dir. It refuses to overwrite any existing file, so
// a mistyped directory loses nothing.
func Write(dir string, p Params) ([]string, error) {
	if !modulePath.MatchString(p.Module) || strings.Contains(p.Module, "//") {
		return nil, fmt.Errorf("module path %q is not valid", p.Module)
	}
	if p.Version == "" || p.GoVersion == "" {
		return nil, errors.New("scaffold: Version and GoVersion are required")
	}
	type out struct {
		name string
		data []byte
	}
	var outs []out
	err := fs.WalkDir(files, "template", func(p0 string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p0)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p0, "template/")
		switch {
		case name == "gitignore":
			name = ".gitignore"
		case strings.HasSuffix(name, ".tmpl"):
			name = strings.TrimSuffix(name, ".tmpl")
			t, err := template.New(name).Parse(string(data))
			if err != nil {
				return fmt.Errorf("template %s: %w", name, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, p); err != nil {
				return fmt.Errorf("template %s: %w", name, err)
			}
			data = buf.Bytes()
		}
		outs = append(outs, out{name, data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, o := range outs {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(o.name))); err == nil {
			return nil, fmt.Errorf("%s already exists; durable init writes a new app and overwrites nothing", filepath.Join(dir, o.name))
		}
	}
	var written []string
	for _, o := range outs {
		target := filepath.Join(dir, filepath.FromSlash(o.name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return written, fmt.Errorf("create %s: %w", filepath.Dir(target), err)
		}
		if err := os.WriteFile(target, o.data, 0o644); err != nil {
			return written, fmt.Errorf("write %s: %w", target, err)
		}
		written = append(written, o.name)
	}
	return written, nil
}

// FunctionFolders lists the template's function folders, sorted.
func FunctionFolders() []string {
	entries, _ := files.ReadDir("template")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// FunctionJSON returns a template function folder's function.json.
func FunctionJSON(folder string) ([]byte, error) {
	return files.ReadFile(path.Join("template", folder, "function.json"))
}
