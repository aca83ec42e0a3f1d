package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azurite"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/testutil"
)

// A new app started without Azurite says so in one line that names the
// endpoint and what to do, and its API answers 503 with the reason at
// once, not 500 after the storage SDK's retries.
func TestUnreachableStorageIsOneLineAnd503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now
	ep := "http://127.0.0.1:" + port + "/devstoreaccount1"
	cs := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
		"BlobEndpoint=" + ep + ";QueueEndpoint=" + ep + ";TableEndpoint=" + ep + ";"
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": cs}, false)
	host := &config.Host{Durable: config.DefaultDurableOptions()}
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	core, err := app.New(app.Config{Settings: settings, Durable: host.Durable, Registry: durable.NewRegistry(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a := &App{App: core, Settings: settings, Host: host, Logger: logger}
	h, err := newRouter(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); startEngine(ctx, a, logger) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(5 * time.Second)
	for a.storage.unreachable() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("storage not reported unreachable within 5 s; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	code, body := serve(t, h, "POST", "/orchestrators/Hello/wait")
	if took := time.Since(start); took > time.Second {
		t.Errorf("the 503 took %v", took)
	}
	var e struct{ Message, ExceptionMessage string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != 503 {
		t.Fatalf("POST /orchestrators/Hello/wait: %d %s", code, body)
	}
	if !strings.Contains(e.Message, "Azurite") || !strings.Contains(e.ExceptionMessage, ep) || !strings.Contains(e.ExceptionMessage, "durable dev") {
		t.Errorf("the 503 does not say why and what to do: %s", body)
	}
	// The dashboard's page needs no storage and is still served.
	if code, _ := serve(t, h, "GET", "/durabletask/dashboard/"); code != 200 {
		t.Errorf("dashboard page: %d", code)
	}
	// Let a few probes fail: still one line.
	time.Sleep(2500 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, "cannot reach storage at "+ep); n != 1 {
		t.Errorf("%d lines about unreachable storage, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "starting the durable engine failed") {
		t.Errorf("the engine was started against storage that does not answer:\n%s", out)
	}
}

// An app started before its storage (func start, then Azurite) starts its
// engine within moments of storage answering, and its API then works.
func TestEngineStartsOnceStorageAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Azurite")
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", "node_modules", ".bin", "azurite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("azurite is not installed here (npm ci): %v", err)
	}
	// Three ports free a moment ago, for Azurite later; until then nothing
	// listens on them. Another process could take one meanwhile, which
	// is rare enough on a test machine.
	var ports [3]int
	var lns []net.Listener
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	want := azurite.Ports{Blob: ports[0], Queue: ports[1], Table: ports[2]}
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": azurite.ConnectionString(want)}, false)
	host := &config.Host{Durable: config.DefaultDurableOptions()}
	host.Durable.HubName = testutil.UniqueHubName(t)
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	core, err := app.New(app.Config{Settings: settings, Durable: host.Durable, Registry: durable.NewRegistry(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a := &App{App: core, Settings: settings, Host: host, Logger: logger}
	a.storage.started = make(chan struct{})
	h, err := newRouter(a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); startEngine(ctx, a, logger) }()
	defer func() {
		cancel()
		<-done
		_ = core.Stop(context.Background())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for a.storage.unreachable() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("storage not reported unreachable; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	az, err := azurite.Start(context.Background(), azurite.Options{Bin: bin, Dir: t.TempDir(), Ports: want})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = az.Stop(10 * time.Second) })
	t0 := time.Now()
	defer func() { t.Logf("engine started %v after Azurite answered", time.Since(t0)) }()
	select {
	case <-a.storage.started:
	case <-time.After(30 * time.Second):
		t.Fatalf("the engine did not start within 30 s of storage answering; logs:\n%s", logs.String())
	}
	if r := a.storage.unreachable(); r != "" {
		t.Errorf("still reported unreachable: %s", r)
	}
	if code, body := serve(t, h, "GET", "/durabletask/instances"); code != 200 {
		t.Errorf("GET /durabletask/instances after start: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "storage answers; starting the durable engine") {
		t.Errorf("no line saying storage answers now:\n%s", logs.String())
	}
}
