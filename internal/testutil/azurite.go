// Package testutil gives tests a storage account to run against and names that keep tests
// sharing that account out of each other's way, and the few helpers that test packages
// would otherwise each repeat: building a binary ([BuildBinary]) and a buffer for
// concurrent output ([SyncBuffer]).
//
// Tests get Azurite, the local Azure Storage emulator, through [Storage]. Under `make test`
// (and CI) one Azurite is started for the whole run and its connection string is passed in
// DURABLE_TEST_STORAGE. When a package's tests are run directly with `go test`, the package
// can start its own Azurite once for the test binary by calling [Main] from TestMain:
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
package testutil

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvStorage names the environment variable holding the connection string of a storage
// account that tests may use. `make test` sets it.
const EnvStorage = "DURABLE_TEST_STORAGE"

// devAccountKey is Azurite's well-known development account key; it is public and the same
// in every Azurite installation.
const devAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// startTimeout bounds how long Azurite may take to report its ports; a cold start of the
// node process takes 1-2 s on the project's machines.
const startTimeout = 60 * time.Second

// binaryAzurite is the Azurite shared by the tests of one test binary. It is the only
// package-level variable here and is written once, by [Main], before any test runs; tests
// only read it. A variable is unavoidable because Go's testing gives a package no other way to
// hand something from TestMain to its tests, and one Azurite per binary (rather than per
// test) keeps suites fast.
var binaryAzurite *lazyAzurite

// Main runs the tests of a package, starting Azurite for them on first use of [Storage] and
// stopping it when the tests are done. Call it from TestMain. It does not return: it exits
// the process with the tests' exit code, as TestMain must.
//
// When DURABLE_TEST_STORAGE is set, Main starts nothing and [Storage] returns that.
func Main(m *testing.M) {
	binaryAzurite = &lazyAzurite{}
	code := m.Run()
	if err := binaryAzurite.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: stopping Azurite: %v\n", err)
	}
	os.Exit(code)
}

// Storage returns a connection string for an Azure Storage account that the test may use:
// DURABLE_TEST_STORAGE when set, else the Azurite that [Main] starts for the test binary.
// Without either, it starts an Azurite for this test alone (slower) and stops it when the
// test ends. It fails the test when Azurite is not installed.
//
// The account is shared: name queues, tables and task hubs with [UniqueHubName].
func Storage(t testing.TB) string {
	t.Helper()
	if cs := os.Getenv(EnvStorage); cs != "" {
		return cs
	}
	if binaryAzurite != nil {
		cs, err := binaryAzurite.get()
		if err != nil {
			t.Fatalf("testutil: %v", err)
		}
		return cs
	}
	t.Logf("testutil: %s is not set and TestMain does not call testutil.Main; starting an Azurite for %s alone", EnvStorage, t.Name())
	az, err := startAzurite(t.TempDir())
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	t.Cleanup(func() {
		if err := az.stop(); err != nil {
			t.Errorf("testutil: stopping Azurite: %v", err)
		}
	})
	return az.connectionString
}

// UniqueHubName returns a name that no other test gets: letters and digits only, starting
// with a letter, at most 45 characters. It suits task hubs (whose queue and table names derive
// from it) and, lower-cased, queue names. It starts with the test's name so that leftovers in
// a shared Azurite can be traced back to their test.
func UniqueHubName(t testing.TB) string {
	t.Helper()
	const maxLen, suffixLen = 45, 12
	var prefix strings.Builder
	for _, r := range t.Name() {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			prefix.WriteRune(r)
		}
	}
	p := strings.TrimPrefix(prefix.String(), "Test")
	if p == "" || ('0' <= p[0] && p[0] <= '9') {
		p = "H" + p
	}
	if len(p) > maxLen-suffixLen {
		p = p[:maxLen-suffixLen]
	}
	// 48 random bits: collisions between tests sharing one Azurite are out of reach.
	var b [suffixLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testutil: random hub name suffix: %v", err)
	}
	return p + hex.EncodeToString(b[:])
}

// lazyAzurite starts Azurite on first use so that test binaries whose selected tests do not
// touch storage (go test -run Unit) neither pay for nor require it.
type lazyAzurite struct {
	once sync.Once
	dir  string
	az   *azurite
	err  error
}

func (l *lazyAzurite) get() (string, error) {
	l.once.Do(func() {
		l.dir, l.err = os.MkdirTemp("", "durable-azurite-")
		if l.err != nil {
			l.err = fmt.Errorf("azurite data directory: %w", l.err)
			return
		}
		l.az, l.err = startAzurite(l.dir)
	})
	if l.err != nil {
		return "", l.err
	}
	return l.az.connectionString, nil
}

// stop is called once the tests have finished, so no get can run concurrently.
func (l *lazyAzurite) stop() error {
	var err error
	if l.az != nil {
		err = l.az.stop()
	}
	if l.dir != "" {
		err = errors.Join(err, os.RemoveAll(l.dir))
	}
	return err
}

// azurite is one running Azurite process.
type azurite struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // set before exited is closed
	// pid is the node process itself, which the watchdog's sh runs as a child: signals
	// that must reach Azurite (SIGSTOP, SIGTERM) go there, not to cmd.Process.
	pid int
	// closed receives one value per service that reports a clean close after SIGTERM,
	// which is when Azurite has written its databases to disk.
	closed           chan struct{}
	connectionString string
}

// azuritePorts are the ports Azurite listens on; 0 lets it pick.
type azuritePorts struct{ blob, queue, table int }

// watchdog runs Azurite under sh so that Azurite dies with the test binary even when the
// binary is killed (a test timeout, Ctrl-C): sh holds the read end of a pipe whose only
// writer is this process, and kills Azurite when it reads end-of-file. It uses SIGKILL because
// Azurite keeps running after SIGTERM, and test data is thrown away anyway. The killer's
// output goes to /dev/null so that it does not keep the output pipe open after Azurite dies.
const watchdog = `exec 3<&0
"$0" "$@" </dev/null &
pid=$!
echo "watchdog: azurite pid $pid"
(read -r _ <&3; kill -9 "$pid") >/dev/null 2>&1 &
wait "$pid"`

var (
	listeningRE = regexp.MustCompile(`Azurite (Blob|Queue|Table) service is successfully listening at (http://\S+)`)
	pidRE       = regexp.MustCompile(`^watchdog: azurite pid (\d+)$`)
	closedRE    = regexp.MustCompile(`Azurite (Blob|Queue|Table) service successfully closed`)
)

// startAzurite starts Azurite with its data in dir on ports it picks itself (port 0), which
// avoids the race between finding a free port and binding it.
func startAzurite(dir string) (*azurite, error) {
	return startAzuriteOn(dir, azuritePorts{})
}

// startAzuriteOn starts Azurite with its data in dir on the given ports.
func startAzuriteOn(dir string, ports azuritePorts) (*azurite, error) {
	bin, err := findAzurite()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("sh", "-c", watchdog, bin,
		"--silent", "--skipApiVersionCheck", "--loose", "--location", dir,
		"--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(ports.blob), "--queuePort", strconv.Itoa(ports.queue), "--tablePort", strconv.Itoa(ports.table))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("azurite stdin pipe: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("azurite stdout pipe: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start azurite %s: %w", bin, err)
	}
	az := &azurite{cmd: cmd, stdin: stdin, exited: make(chan struct{}), closed: make(chan struct{}, 3)}

	// Read the output for the pid and the three "listening" lines and keep draining it
	// afterwards so Azurite never blocks on a full pipe; the tail is kept for error messages.
	endpoints := make(chan [2]string, 3)
	pid := make(chan int, 1)
	var tail tailBuffer
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				endpoints <- [2]string{m[1], m[2]}
			}
			if m := pidRE.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				pid <- n
			}
			if closedRE.MatchString(line) {
				select {
				case az.closed <- struct{}{}:
				default:
				}
			}
		}
		az.waitErr = cmd.Wait()
		close(az.exited)
	}()

	urls := map[string]string{}
	deadline := time.After(startTimeout)
	for len(urls) < 3 || az.pid == 0 {
		select {
		case ep := <-endpoints:
			urls[ep[0]] = ep[1]
		case az.pid = <-pid:
		case <-az.exited:
			return nil, fmt.Errorf("azurite exited during start-up (%v); output:\n%s", az.waitErr, tail.String())
		case <-deadline:
			_ = az.stop()
			return nil, fmt.Errorf("azurite did not report its ports within %v; output:\n%s", startTimeout, tail.String())
		}
	}
	if err := waitAnswering(urls); err != nil {
		_ = az.stop()
		return nil, err
	}
	az.connectionString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"+
		"BlobEndpoint=%s/devstoreaccount1;QueueEndpoint=%s/devstoreaccount1;TableEndpoint=%s/devstoreaccount1;",
		devAccountKey, urls["Blob"], urls["Queue"], urls["Table"])
	return az, nil
}

// waitAnswering waits until each service answers HTTP: "listening" is printed when the
// socket is bound, which is not quite the same as serving.
func waitAnswering(urls map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, u := range urls {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/devstoreaccount1?comp=list", nil)
			if err != nil {
				return fmt.Errorf("azurite %s probe request: %w", name, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("azurite %s service at %s does not answer: %w", name, u, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func (az *azurite) stop() error {
	// Closing stdin makes the watchdog kill Azurite.
	if err := az.stdin.Close(); err != nil {
		return fmt.Errorf("close azurite watchdog pipe: %w", err)
	}
	select {
	case <-az.exited:
		return nil
	case <-time.After(10 * time.Second):
		if err := az.cmd.Process.Kill(); err != nil {
			return fmt.Errorf("kill azurite watchdog: %w", err)
		}
		<-az.exited
		return errors.New("azurite watchdog did not stop within 10 s; killed it")
	}
}

// findAzurite looks for node_modules/.bin/azurite beside the package.json found by walking
// up from the working directory (go test runs in the package's directory).
func findAzurite() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			bin := filepath.Join(dir, "node_modules", ".bin", "azurite")
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("azurite is not installed (%s missing): run `make test` or `npm ci` in %s", bin, dir)
			}
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("azurite not found: no package.json above %s and %s is not set: run `make test` or `npm ci`", wd, EnvStorage)
		}
		dir = parent
	}
}

// tailBuffer keeps the last lines of Azurite's output for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	const keep = 50
	b.lines = append(b.lines, line)
	if len(b.lines) > keep {
		b.lines = b.lines[len(b.lines)-keep:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
