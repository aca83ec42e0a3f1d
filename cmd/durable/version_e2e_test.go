package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/client"
)

// testVersions starts instances with and without --version from an app
// root whose host.json sets defaultVersion, and reads the versions back in
// get-runtime-status and through get-instances --version.
func testVersions(t *testing.T, f *fixture) {
	writeFile(t, filepath.Join(f.root, "host.json"), fmt.Sprintf(`{"version": "2.0",
  "extensions": {"durableTask": {"hubName": %q, "defaultVersion": "3.0", "storageProvider": {"partitionCount": 4}}}}`, f.name))
	f.ok("start-new", "--function-name", "HelloWorld", "--id", "v-default")
	f.ok("start-new", "--function-name", "HelloWorld", "--id", "v-named", "--version", "1.1")
	for id, want := range map[string]string{"v-default": "3.0", "v-named": "1.1"} {
		st, err := f.client.GetStatus(context.Background(), id, client.StatusOptions{})
		if err != nil || st.Version != want {
			t.Fatalf("%s: version %v, %v; want %s", id, st, err, want)
		}
		r := f.ok("get-runtime-status", "--id", id)
		if !regexp.MustCompile(`Version:\s+` + regexp.QuoteMeta(want)).MatchString(r.stdout) {
			t.Errorf("get-runtime-status --id %s:\n%s", id, r.stdout)
		}
		if r := f.ok("get-runtime-status", "--id", id, "--json"); !strings.Contains(r.stdout, `"version": "`+want+`"`) &&
			!strings.Contains(r.stdout, `"version":"`+want+`"`) {
			t.Errorf("get-runtime-status --json --id %s:\n%s", id, r.stdout)
		}
	}
	r := f.ok("get-instances", "--version", "01.1")
	if !strings.Contains(r.stdout, "v-named") || strings.Contains(r.stdout, "v-default") {
		t.Errorf("get-instances --version 01.1:\n%s", r.stdout)
	}
	r = f.ok("get-instances", "--version", "")
	if strings.Contains(r.stdout, "v-named") || strings.Contains(r.stdout, "v-default") {
		t.Errorf("get-instances --version '':\n%s", r.stdout)
	}
	r = f.ok("get-instances", "--count", "--by-version")
	if !regexp.MustCompile(`ORCHESTRATOR\s+VERSION\s+PENDING\s+TOTAL\n` +
		`HelloWorld\s+1\.1\s+1\s+1\nHelloWorld\s+3\.0\s+1\s+1`).MatchString(r.stdout) {
		t.Errorf("get-instances --count --by-version:\n%s", r.stdout)
	}
	f.fails(exitBadArgs, "--by-version goes with --count", "get-instances", "--by-version")
}
