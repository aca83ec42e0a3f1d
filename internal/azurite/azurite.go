// Package azurite finds, installs, starts and stops Azurite, the local
// Azure Storage emulator, for `durable dev`: a new app needs storage before
// anything else works, and a new user should not have to know that.
//
// It does for one app what scripts/azurite.sh does for this repository:
// the pinned version (package.json), data in a folder of the app, and a
// clean stop (Azurite writes its databases on SIGTERM).
package azurite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is the Azurite this project pins in its package.json, and the one
// `durable init` writes into a new app's package.json.
const Version = "3.35.0"

// EnvBinary names an environment variable that, when set, is the Azurite
// executable to use: for machines that have one elsewhere, and for tests
// that must not download it.
const EnvBinary = "DURABLE_AZURITE"

// AccountName and AccountKey are Azurite's fixed development account; the
// key is public by design, the same in every emulator.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// DefaultPorts are the ports "UseDevelopmentStorage=true" means.
var DefaultPorts = Ports{Blob: 10000, Queue: 10001, Table: 10002}

// Ports are the three services' ports; 0 lets Azurite pick a free one.
type Ports struct{ Blob, Queue, Table int }

// binIn is where npm puts the azurite command under a folder.
func binIn(dir string) string { return filepath.Join(dir, "node_modules", ".bin", "azurite") }

// ManagedDir is where Azurite is installed for apps that have no
// package.json of their own: one copy per version in the user's cache.
func ManagedDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache folder for Azurite: %w", err)
	}
	return filepath.Join(cache, "durable-go", "azurite-"+Version), nil
}

// Find returns the Azurite executable for the app in appDir, and where it
// came from, or "" when none is installed. It looks at $DURABLE_AZURITE,
// then the app's own node_modules, then the managed copy.
func Find(appDir string) (bin, source string) {
	if b := os.Getenv(EnvBinary); b != "" {
		return b, "$" + EnvBinary
	}
	if b := binIn(appDir); isFile(b) {
		return b, "the app's node_modules"
	}
	if dir, err := ManagedDir(); err == nil && isFile(binIn(dir)) {
		return binIn(dir), "the managed copy in " + dir
	}
	return "", ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Install installs Azurite with npm, once, and returns its executable. An
// app whose package.json names azurite (as `durable init` writes it) gets
// it in its own node_modules, at the version it pins (npm ci when it has a
// lock file); any other app shares a managed copy of Version. npm's output
// goes to out.
func Install(ctx context.Context, appDir string, out io.Writer) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("azurite is not installed and npm is not on PATH: install Node.js 20 or later (with npm), "+
			"or set %s to an azurite executable: %w", EnvBinary, err)
	}
	dir, args := appDir, []string{"install", "--no-audit", "--no-fund"}
	if pj, err := os.ReadFile(filepath.Join(appDir, "package.json")); err == nil && strings.Contains(string(pj), `"azurite"`) {
		if isFile(filepath.Join(appDir, "package-lock.json")) {
			args[0] = "ci"
		}
	} else {
		if dir, err = ManagedDir(); err != nil {
			return "", err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", dir, err)
		}
		// --prefix keeps npm from walking up to a package.json above the
		// cache folder.
		args = append(args, "--prefix", dir, "azurite@"+Version)
	}
	fmt.Fprintf(out, "Installing Azurite %s: npm %s (in %s), once\n", Version, strings.Join(args, " "), dir)
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm %s in %s: %w", args[0], dir, err)
	}
	if !isFile(binIn(dir)) {
		return "", fmt.Errorf("npm %s in %s did not install %s", args[0], dir, binIn(dir))
	}
	return binIn(dir), nil
}

// Options configure Start.
type Options struct {
	// Bin is the azurite executable.
	Bin string
	// Dir holds Azurite's data and its log, azurite.log.
	Dir string
	// Ports to listen on, on 127.0.0.1.
	Ports Ports
	// StartTimeout bounds the wait for the three services to answer.
	// Default 60 s: a cold start of node takes seconds on a busy machine.
	StartTimeout time.Duration
}

// Process is a running Azurite.
type Process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited closes
	// closed gets one value per service that reports a clean close after
	// SIGTERM, which is when Azurite has written its databases.
	closed chan struct{}
	log    string

	// ConnectionString reaches the three services.
	ConnectionString string
	// Ports are the ports Azurite listens on.
	Ports Ports
}

var (
	listeningRE = regexp.MustCompile(`Azurite (Blob|Queue|Table) service is successfully listening at http://\S+:(\d+)`)
	closedRE    = regexp.MustCompile(`Azurite (Blob|Queue|Table) service successfully closed`)
)

// Start starts Azurite and returns once each of its services answers HTTP.
// It runs in a process group of its own, so that a Ctrl-C in the terminal
// reaches the caller only, which stops Azurite after the app has released
// its leases; and it dies with the caller if the caller is killed.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create Azurite's data folder %s: %w", o.Dir, err)
	}
	logPath := filepath.Join(o.Dir, "azurite.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	cmd := exec.Command(o.Bin, "--silent", "--skipApiVersionCheck", "--loose", "--location", o.Dir,
		"--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(o.Ports.Blob), "--queuePort", strconv.Itoa(o.Ports.Queue), "--tablePort", strconv.Itoa(o.Ports.Table))
	out, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("azurite output pipe: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start azurite %s: %w", o.Bin, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{}), closed: make(chan struct{}, 3), log: logPath}

	ports := make(chan [2]string, 3)
	var tail tailBuffer
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			tail.add(line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				ports <- [2]string{m[1], m[2]}
			}
			if closedRE.MatchString(line) {
				select {
				case p.closed <- struct{}{}:
				default:
				}
			}
		}
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	got := map[string]int{}
	deadline := time.NewTimer(o.StartTimeout)
	defer deadline.Stop()
	for len(got) < 3 {
		select {
		case pp := <-ports:
			got[pp[0]], _ = strconv.Atoi(pp[1])
		case <-p.exited:
			return nil, fmt.Errorf("azurite exited during start-up (%v)%s", p.waitErr, portHint(tail.String(), o.Ports))
		case <-deadline.C:
			_ = p.Stop(5 * time.Second)
			return nil, fmt.Errorf("azurite did not report its ports within %v; its output:\n%s", o.StartTimeout, tail.String())
		case <-ctx.Done():
			_ = p.Stop(5 * time.Second)
			return nil, fmt.Errorf("start azurite: %w", ctx.Err())
		}
	}
	p.Ports = Ports{Blob: got["Blob"], Queue: got["Queue"], Table: got["Table"]}
	if err := p.waitAnswering(ctx); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, err
	}
	p.ConnectionString = ConnectionString(p.Ports)
	return p, nil
}

// portHint explains Azurite's most common start-up failure.
func portHint(output string, ports Ports) string {
	if strings.Contains(output, "EADDRINUSE") {
		return fmt.Sprintf(": a port is in use (%d, %d or %d); another Azurite may be running", ports.Blob, ports.Queue, ports.Table)
	}
	return "; its output:\n" + output
}

// ConnectionString is the connection string of Azurite on ports.
func ConnectionString(ports Ports) string {
	at := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d/%s", port, AccountName) }
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;QueueEndpoint=%s;TableEndpoint=%s;",
		AccountName, AccountKey, at(ports.Blob), at(ports.Queue), at(ports.Table))
}

// waitAnswering waits until each service answers HTTP: "listening" is
// printed when the socket is bound, a moment before it serves.
func (p *Process) waitAnswering(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, port := range []int{p.Ports.Blob, p.Ports.Queue, p.Ports.Table} {
		u := fmt.Sprintf("http://127.0.0.1:%d/%s?comp=list", port, AccountName)
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return fmt.Errorf("azurite probe request: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("azurite at port %d does not answer: %w", port, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Log is the path of Azurite's log.
func (p *Process) Log() string { return p.log }

// Pid is Azurite's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop asks Azurite to close (SIGTERM), waits up to grace for its three
// services to report that they have written their data, then kills it:
// Azurite 3.35 closes its services on SIGTERM but keeps its process alive.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	var err error
	deadline := time.After(grace)
	for n := 0; n < 3; {
		select {
		case <-p.closed:
			n++
		case <-p.exited:
			return nil
		case <-deadline:
			err = fmt.Errorf("azurite did not close its services within %v; killed it, so its last writes may be lost", grace)
			n = 3
		}
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return err
}

// FreePorts reports whether ports are all free to listen on, so that a
// caller can fall back to ports Azurite picks when another Azurite holds
// the default ones.
func FreePorts(ports Ports) error {
	var errs []error
	for _, port := range []int{ports.Blob, ports.Queue, ports.Table} {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ln.Close()
	}
	return errors.Join(errs...)
}

// tailBuffer keeps Azurite's last lines of output for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > 30 {
		b.lines = b.lines[len(b.lines)-30:]
	}
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
