package testutil

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AzuriteProcess is an Azurite that a test owns, for tests that do to storage what
// [Storage]'s shared emulator must never suffer: freeze it ([AzuriteProcess.Pause]) or
// restart it ([AzuriteProcess.Restart]). Its ports are fixed when it starts, so that the
// connection string handed out before a restart stays valid after it, as a real storage
// account's endpoints do. It dies with the test binary, like every Azurite of this package.
type AzuriteProcess struct {
	tb    testing.TB // reports failures of the methods that take no testing.TB
	dir   string
	ports azuritePorts

	mu sync.Mutex // guards az: Restart replaces it
	az *azurite
}

// closeTimeout bounds how long a SIGTERM'd Azurite may take to write its databases.
const closeTimeout = 30 * time.Second

// StartAzuriteProcess starts Azurite with its data in dir on free ports and stops it when
// the test ends. It fails tb when Azurite is not installed or does not start.
func StartAzuriteProcess(tb testing.TB, dir string) *AzuriteProcess {
	tb.Helper()
	ports, err := freePorts(3)
	if err != nil {
		tb.Fatalf("testutil: %v", err)
	}
	p := &AzuriteProcess{tb: tb, dir: dir, ports: azuritePorts{blob: ports[0], queue: ports[1], table: ports[2]}}
	if p.az, err = startAzuriteOn(dir, p.ports); err != nil {
		tb.Fatalf("testutil: %v", err)
	}
	tb.Cleanup(p.Stop)
	return p
}

// freePorts picks n distinct ports that were free a moment ago. Another process may take one
// before Azurite binds it; on a test machine that is rare enough to accept, and the price of
// ports that survive a restart.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	// Holding every listener until all are picked keeps the n ports distinct.
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ConnectionString returns the connection string of the account; it does not change on
// Restart.
func (p *AzuriteProcess) ConnectionString() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.az.connectionString
}

// Pause freezes Azurite (SIGSTOP): connections are still accepted by the kernel but nothing
// answers, as with a storage account that hangs. Resume ends it.
func (p *AzuriteProcess) Pause() { p.signal(syscall.SIGSTOP) }

// Resume lets a paused Azurite go on (SIGCONT).
func (p *AzuriteProcess) Resume() { p.signal(syscall.SIGCONT) }

func (p *AzuriteProcess) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The node process, not the watchdog's sh: a stopped sh would leave node running.
	if err := syscall.Kill(p.az.pid, sig); err != nil {
		p.tb.Errorf("testutil: signal %v to azurite (pid %d): %v", sig, p.az.pid, err)
	}
}

// Restart stops Azurite and starts it again on the same data and ports, returning once it
// answers. A paused Azurite is resumed first.
//
// The stop asks Azurite to close (SIGTERM) and waits for its three services to report that
// they have written their databases before killing it: Azurite saves its metadata only every
// 5 s, so a bare SIGKILL would lose writes it had acknowledged, which no real storage account
// does, and tests of the code using storage would report the emulator's losses as their own.
func (p *AzuriteProcess) Restart(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.az
	_ = syscall.Kill(old.pid, syscall.SIGCONT)
	if err := syscall.Kill(old.pid, syscall.SIGTERM); err != nil {
		tb.Fatalf("testutil: SIGTERM to azurite (pid %d): %v", old.pid, err)
	}
	deadline := time.After(closeTimeout)
	for n := 0; n < 3; {
		select {
		case <-old.closed:
			n++
		case <-old.exited:
			n = 3
		case <-deadline:
			// Killing it now may lose writes it acknowledged: whatever a test
			// finds missing afterwards is the emulator's loss, not the code's.
			tb.Errorf("testutil: azurite did not close its services within %v; killing it, so writes it acknowledged may be lost", closeTimeout)
			n = 3
		}
	}
	// Azurite keeps running after closing its services; the watchdog kills it.
	if err := old.stop(); err != nil {
		tb.Fatalf("testutil: %v", err)
	}
	az, err := startAzuriteOn(p.dir, p.ports)
	if err != nil {
		tb.Fatalf("testutil: restart azurite: %v", err)
	}
	p.az = az
}

// Stop kills Azurite. It is registered as a cleanup of the test that started it, and is safe
// to call again.
func (p *AzuriteProcess) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.az.exited:
		return
	default:
	}
	if err := p.az.stop(); err != nil {
		p.tb.Errorf("testutil: stopping azurite: %v", err)
	}
}
