package devhost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// handlerProcess is the running custom handler executable.
type handlerProcess struct {
	cmd     *exec.Cmd
	url     string        // http://127.0.0.1:{port}
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// startHandler starts the executable named in host.json with FUNCTIONS_CUSTOMHANDLER_PORT
// set and the app settings in its environment, and waits until it answers GET /.
func startHandler(ctx context.Context, a *app, opts Options) (*handlerProcess, error) {
	desc := a.host.CustomHandler.Description
	if desc.DefaultExecutablePath == "" {
		return nil, errors.New("host.json: customHandler.description.defaultExecutablePath is not set")
	}
	exe, err := resolveExecutable(a.root, desc.DefaultExecutablePath)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(exe, desc.Arguments...)
	cmd.Dir = a.root
	if desc.WorkingDirectory != "" {
		cmd.Dir = desc.WorkingDirectory
		if !filepath.IsAbs(cmd.Dir) {
			cmd.Dir = filepath.Join(a.root, cmd.Dir)
		}
	}
	cmd.Env = append(a.environ(), "FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = opts.Stdout, opts.Stderr
	// A grandchild that inherited stdout must not keep Wait (and so shutdown) hanging.
	cmd.WaitDelay = 2 * time.Second
	dieWithHost(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler %s: %w", exe, err)
	}
	p := &handlerProcess{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	opts.Logger.Info("handler started", "path", exe, "pid", cmd.Process.Pid, "port", port)

	if err := p.waitReady(ctx, opts.StartupTimeout); err != nil {
		p.stop(opts.ShutdownTimeout)
		return nil, err
	}
	return p, nil
}

// resolveExecutable finds defaultExecutablePath: relative to the app root when it names a
// file there (the usual "handler"), else on PATH (for "node" with arguments).
func resolveExecutable(root, path string) (string, error) {
	if filepath.IsAbs(path) {
		return path, nil
	}
	local := filepath.Join(root, path)
	if _, err := os.Stat(local); err == nil {
		return filepath.Abs(local)
	}
	if !strings.ContainsAny(path, `/\`) {
		if p, err := exec.LookPath(path); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("handler executable %q not found in %s or on PATH (build it first: go build -o handler .)", path, root)
}

// freePort asks the kernel for a free port. Another process could take it before the
// handler binds it; the real host has the same window and it does not matter locally.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for the handler: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady probes GET / until any HTTP answer: the handler need not serve "/" itself, a
// 404 proves it is listening.
func (p *handlerProcess) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/", nil)
		if err != nil {
			return fmt.Errorf("build handler probe: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("handler exited before answering on %s: %w", p.url, p.exitErr())
		case <-ctx.Done():
			return fmt.Errorf("handler did not answer GET %s/ within %v: %w", p.url, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exitErr describes how the handler ended; call it only after exited is closed.
func (p *handlerProcess) exitErr() error {
	if p.waitErr != nil {
		return p.waitErr
	}
	return errors.New("exit status 0")
}

// stop asks the handler to exit with SIGTERM and kills it after grace.
func (p *handlerProcess) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		// No SIGTERM on Windows; killing is the only option there.
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
