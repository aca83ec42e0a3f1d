package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/httpapi"
)

// TestJSClients is the proof that existing Durable Functions clients work
// unchanged: it runs the app under the dev host and points the real npm
// clients, durable-functions 3.5.0 and 2.1.4 (package.json aliases
// durable-functions-v3 and -v2), at it with compat/js/*.test.mjs under
// node's test runner. Each client is built from a durableClient binding
// value made as the Functions host makes it (httpapi.NewClientBinding), in
// both modes: rpcBaseUrl set, and webhook URL templates without it (those
// carry connection=Storage and a key, as the extension's do).
func TestJSClients(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the JavaScript client compatibility tests (compat/js) need Node.js 18 or later")
	}
	for _, pkg := range []string{"durable-functions-v3", "durable-functions-v2", "@azure/functions"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("node_modules/%s is missing: run `npm ci --no-audit --no-fund` in the repository root", pkg)
		}
	}
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()

	u, err := url.Parse(a.base)
	if err != nil {
		t.Fatal(err)
	}
	binding := func(rpc bool, code string) string {
		b, err := json.Marshal(httpapi.NewClientBinding(httpapi.ClientBindingOptions{
			Origin: a.base, HubName: a.hub, Code: code, RPC: rpc,
		}))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "compat/js/")
	cmd.Env = append(os.Environ(),
		"DURABLE_BASE_URL="+a.base,
		"DURABLE_HUB="+a.hub,
		"DURABLE_BINDING_RPC="+binding(true, ""),
		// The dev host checks no keys; the code proves the clients carry
		// the binding's key through the templates untouched.
		"DURABLE_BINDING_WEBHOOK="+binding(false, "js-system-key"),
		// As the Functions host sets it: without it the clients rewrite
		// the binding's URLs to http://localhost:7071.
		"WEBSITE_HOSTNAME="+u.Host,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil || testing.Verbose() {
		t.Logf("node --test compat/js/:\n%s", out)
	}
	if ctx.Err() != nil {
		t.Fatalf("node --test did not finish within 8 minutes")
	}
	if err != nil {
		t.Fatalf("node --test compat/js/ failed: %v (output above)", err)
	}
}
