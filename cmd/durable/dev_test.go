package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azurite"
)

func TestDevArguments(t *testing.T) {
	if out, _, code := runCLI(t, "dev", "--help"); code != exitOK || !strings.Contains(out, "Azurite") || !strings.Contains(out, "Ctrl-C") {
		t.Errorf("dev --help: exit %d\n%s", code, out)
	}
	if out, _, _ := runCLI(t, "--help"); !strings.Contains(out, "  dev ") {
		t.Errorf("the main help does not list dev:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "--port", "70000"}, "not a port"},
		{[]string{"dev", "a", "b"}, `unexpected argument "b"`},
		{[]string{"dev", "--bogus"}, "bogus"},
		// Run outside an app, it says what an app folder is and how to get one.
		{[]string{"dev", t.TempDir()}, "durable init"},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code != exitBadArgs || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q", c.args, code, errOut, c.want)
		}
	}
	// A port in use is said before anything is built or started.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "host.json"), []byte(`{"version":"2.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
	busy := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if _, errOut, code := runCLI(t, "dev", app, "--port", busy); code != exitBadArgs || !strings.Contains(errOut, "port "+busy+" is in use") {
		t.Errorf("dev on a busy port: exit %d, stderr %q", code, errOut)
	}

	f, err := parseDevFlags([]string{"--port", "0", "myapp"})
	if err != nil || f.dir != "myapp" || f.port != 0 {
		t.Errorf("flags before the folder: %+v %v", f, err)
	}
}

// durable init's next steps work without Core Tools and still name
// func start for those who have it.
func TestInitNextSteps(t *testing.T) {
	var b strings.Builder
	printNextSteps(&b, "myapp")
	for _, want := range []string{"cd myapp", "durable dev", "orchestrators/Hello/wait", "go build -o handler . && func start", "azurite"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("next steps lack %q:\n%s", want, b.String())
		}
	}
}

// With no Azurite running, a command says so at once, naming the endpoint
// and what to do, instead of failing after the storage SDK's retries.
func TestCommandWithoutStorageSaysWhatToDo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv("AzureWebJobsStorage", azurite.ConnectionString(azurite.Ports{Blob: port, Queue: port, Table: port}))
	start := time.Now()
	_, errOut, code := runCLI(t, "get-instances", "--app-root", t.TempDir())
	if code != exitStorage || !strings.Contains(errOut, "cannot reach storage at http://127.0.0.1:"+strconv.Itoa(port)) || !strings.Contains(errOut, "durable dev") {
		t.Errorf("get-instances without storage: exit %d, stderr %q", code, errOut)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("it took %v to say so", took)
	}
}
