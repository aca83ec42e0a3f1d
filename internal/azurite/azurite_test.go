package azurite

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeNpm puts an npm on PATH that records its arguments in dir/npm-args
// and "installs" azurite where npm would: under --prefix, else under the
// folder it runs in.
func fakeNpm(t *testing.T) (argsFile string) {
	t.Helper()
	bin := t.TempDir()
	argsFile = filepath.Join(bin, "npm-args")
	script := `#!/bin/sh
echo "$@" > "` + argsFile + `"
dir=.
while [ $# -gt 0 ]; do
	if [ "$1" = --prefix ]; then dir="$2"; fi
	shift
done
mkdir -p "$dir/node_modules/.bin"
printf '#!/bin/sh\n' > "$dir/node_modules/.bin/azurite"
chmod +x "$dir/node_modules/.bin/azurite"
`
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(EnvBinary, "")
	return argsFile
}

// An app made by durable init (package.json naming azurite) gets Azurite
// in its own node_modules, npm ci when it has a lock file; any other app
// gets the managed copy of the pinned version. Find then finds each.
func TestInstall(t *testing.T) {
	args := fakeNpm(t)
	ctx := context.Background()
	var out bytes.Buffer

	app := t.TempDir()
	if bin, _ := Find(app); bin != "" {
		t.Fatalf("Find before any install: %s", bin)
	}
	if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"devDependencies":{"azurite":"3.35.0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := Install(ctx, app, &out)
	if err != nil || bin != filepath.Join(app, "node_modules", ".bin", "azurite") {
		t.Fatalf("Install in an app with package.json: %s %v\n%s", bin, err, out.String())
	}
	if a, _ := os.ReadFile(args); !strings.HasPrefix(string(a), "install ") {
		t.Errorf("npm %s, want npm install", a)
	}
	if found, source := Find(app); found != bin || !strings.Contains(source, "app") {
		t.Errorf("Find = %s (%s), want %s", found, source, bin)
	}

	locked := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json"} {
		if err := os.WriteFile(filepath.Join(locked, f), []byte(`{"devDependencies":{"azurite":"3.35.0"}}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Install(ctx, locked, &out); err != nil {
		t.Fatal(err)
	}
	if a, _ := os.ReadFile(args); !strings.HasPrefix(string(a), "ci ") {
		t.Errorf("npm %s, want npm ci with a lock file", a)
	}

	bare := t.TempDir()
	bin, err = Install(ctx, bare, &out)
	managed, _ := ManagedDir()
	if err != nil || bin != filepath.Join(managed, "node_modules", ".bin", "azurite") {
		t.Fatalf("Install in an app without package.json: %s %v", bin, err)
	}
	if a, _ := os.ReadFile(args); !strings.Contains(string(a), "--prefix "+managed+" azurite@"+Version) {
		t.Errorf("npm %s, want the pinned version under the managed folder", a)
	}
	if found, _ := Find(bare); found != bin {
		t.Errorf("Find = %s, want the managed copy %s", found, bin)
	}
	t.Setenv(EnvBinary, "/opt/azurite")
	if found, _ := Find(app); found != "/opt/azurite" {
		t.Errorf("Find ignores $%s: %s", EnvBinary, found)
	}
}

func TestInstallWithoutNpmSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Install(context.Background(), t.TempDir(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "Node.js") || !strings.Contains(err.Error(), EnvBinary) {
		t.Fatalf("Install without npm: %v", err)
	}
}

// The repository's Azurite starts on free ports, answers, and stops with
// its data written.
func TestStartAndStop(t *testing.T) {
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
	dir := t.TempDir()
	p, err := Start(context.Background(), Options{Bin: bin, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ports.Blob == 0 || p.Ports.Queue == 0 || p.Ports.Table == 0 || !strings.Contains(p.ConnectionString, "TableEndpoint=http://127.0.0.1:"+strconv.Itoa(p.Ports.Table)) {
		t.Fatalf("ports %+v, connection string %s", p.Ports, p.ConnectionString)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(p.Ports.Queue) + "/" + AccountName + "?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := FreePorts(p.Ports); err == nil {
		t.Error("FreePorts says Azurite's ports are free")
	}
	if err := p.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p.Ports.Blob), time.Second); err == nil {
		c.Close()
		t.Error("Azurite still listens after Stop")
	}
	log, _ := os.ReadFile(p.Log())
	if strings.Count(string(log), "successfully closed") < 3 {
		t.Errorf("Azurite did not close its services cleanly:\n%s", log)
	}
}
