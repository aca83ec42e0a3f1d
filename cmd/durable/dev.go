package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/durable-go/durable/internal/azurite"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/devhost"
)

const devUsage = `Usage: durable dev [DIR] [--port N] [--free-ports] [--no-build] [--azurite-data DIR] [--verbose]

Runs the function app in DIR (default: the current folder) on this machine, with nothing else
to install but Go and Node.js: it builds the handler (go build -o handler .), starts Azurite
(the storage emulator) when the app's connection is UseDevelopmentStorage=true, runs the app
under the dev host (a stand-in for 'func start' of Azure Functions Core Tools), and prints the
app's URL and its dashboard's. Ctrl-C stops the app, then Azurite.

Azurite comes from $DURABLE_AZURITE, else the app's node_modules, else a managed copy in the
user's cache folder; when there is none, durable dev installs it once with npm (in the app when
its package.json names azurite, as 'durable init' writes it). Its data stays in DIR/.azurite.
It listens on 10000-10002, the ports UseDevelopmentStorage=true means, so that the other
durable commands and Azure Storage Explorer find it; when another Azurite already answers
there, durable dev uses that one, and when something else holds them, free ports.

Flags:
  --port N       port of the app's HTTP functions (default 7071, as 'func start'; 0 for a free one)
  --free-ports   start Azurite on free ports even when 10000-10002 are free (the app gets
                 the connection string in its environment; tests use this)
  --no-build     run the handler as built, without 'go build'
  --azurite-data DIR
                 Azurite's data folder (default DIR/.azurite); another folder keeps a second
                 Azurite (--free-ports) away from the data of one already running there
  --verbose      log the dev host at debug level
`

type devFlags struct {
	dir       string
	data      string
	port      int
	freePorts bool
	noBuild   bool
	verbose   bool
}

func parseDevFlags(args []string) (devFlags, error) {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.port, "port", 7071, "")
	fs.BoolVar(&f.freePorts, "free-ports", false, "")
	fs.BoolVar(&f.noBuild, "no-build", false, "")
	fs.BoolVar(&f.verbose, "verbose", false, "")
	fs.StringVar(&f.data, "azurite-data", "", "")
	// The directory may come before or after the flags, as with init.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		f.dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case f.dir == "" && fs.NArg() == 1:
		f.dir = fs.Arg(0)
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.dir == "" {
		f.dir = "."
	}
	if f.port < 0 || f.port > 65535 {
		return f, fmt.Errorf("--port %d is not a port", f.port)
	}
	return f, nil
}

// runDev is `durable dev`. Like init it takes a directory rather than the
// hub flags: it runs an app, it does not manage a hub.
func runDev(ctx context.Context, args []string, s streams) int {
	f, err := parseDevFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(s.stdout, devUsage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(s.stderr, "durable dev: %s\nRun 'durable dev --help' for usage.\n", flagError(err))
		return exitBadArgs
	}
	code, err := dev(ctx, f, s)
	if err != nil {
		fmt.Fprintf(s.stderr, "durable dev: %v\n", err)
	}
	return code
}

// dev runs the app until ctx ends (Ctrl-C) and returns the exit code. An
// interrupt is how a developer ends it, so it is a clean exit, not 130: a
// `make run` around it must not report an error.
func dev(ctx context.Context, f devFlags, s streams) (int, error) {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return exitBadArgs, fmt.Errorf("app folder %s: %w", f.dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, config.HostFile)); err != nil {
		return exitBadArgs, fmt.Errorf("%s has no host.json, so it is not a function app: run durable dev in the app's folder, "+
			"or create one with durable init DIR (%w)", dir, err)
	}
	settings, err := config.LoadSettings(dir)
	if err != nil {
		return exitBadArgs, fmt.Errorf("app settings: %w", err)
	}
	host, err := config.LoadHost(filepath.Join(dir, config.HostFile), settings)
	if err != nil {
		return exitBadArgs, fmt.Errorf("host.json: %w", err)
	}
	conn := host.Durable.ConnectionName
	ep, err := config.StorageEndpoints(settings, conn)
	if err != nil {
		return exitBadArgs, fmt.Errorf("storage connection: %w", err)
	}

	if f.port != 0 {
		// Before building and starting Azurite, which would be wasted.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port)))
		if err != nil {
			return exitBadArgs, fmt.Errorf("port %d is in use (another app, func start or durable dev?): stop it, or pick another with --port (0 for a free one): %w", f.port, err)
		}
		ln.Close()
	}
	if !f.noBuild {
		if err := buildHandler(ctx, dir, s); err != nil {
			if ctx.Err() != nil {
				return exitOK, nil
			}
			return exitUnexpected, err
		}
	}

	env := os.Environ()
	if ep.DevelopmentStorage {
		data := f.data
		if data == "" {
			data = filepath.Join(dir, ".azurite")
		}
		az, cs, err := devStorage(ctx, dir, data, f.freePorts, s)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK, nil
			}
			return exitStorage, err
		}
		if az != nil {
			defer func() {
				if err := az.Stop(10 * time.Second); err != nil {
					fmt.Fprintf(s.stderr, "durable dev: %v\n", err)
				}
				fmt.Fprintln(s.stderr, "Stopped Azurite.")
			}()
		}
		if cs != "" {
			// The environment wins over local.settings.json, in the dev
			// host as under Core Tools.
			env = append(env, conn+"="+cs)
		}
	} else {
		fmt.Fprintf(s.stderr, "Storage: %s (app setting %s); durable dev starts Azurite only for UseDevelopmentStorage=true\n", ep.Table, conn)
	}

	port := f.port
	if port == 0 {
		// Chosen here rather than by the listener so that the app knows
		// its own address (DURABLE_BASE_URL) before it starts.
		if port, err = freePort(); err != nil {
			return exitUnexpected, err
		}
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if _, ok := settings.Get("DURABLE_BASE_URL"); !ok {
		env = append(env, "DURABLE_BASE_URL="+base)
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: level}))
	prefix := "/"
	if host.HTTPRoutePrefix != "" {
		prefix += host.HTTPRoutePrefix + "/"
	}
	// readyCtx ends the wait for the hub when the app ends, so that
	// nothing prints after dev has returned.
	readyCtx, cancelReady := context.WithCancel(ctx)
	var ready sync.WaitGroup
	err = devhost.Run(ctx, devhost.Options{
		AppRoot: dir,
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Env:     env,
		Logger:  logger,
		Stdout:  s.stderr, // the handler's logs; stdout is for what durable dev itself reports
		Stderr:  s.stderr,
		Ready: func(string) {
			// In the background: the dev host serves while this waits.
			ready.Go(func() {
				waitForHub(readyCtx, base+prefix+"durabletask/instances?top=1", logger)
				if readyCtx.Err() != nil {
					return
				}
				fmt.Fprintf(s.stdout, "App:       %s\nDashboard: %s%sdurabletask/dashboard/\n", base, base, prefix)
				fmt.Fprintf(s.stdout, "Start an orchestration: curl -X POST %s%sorchestrators/NAME/wait -d '\"input\"'\n", base, prefix)
				fmt.Fprintln(s.stdout, "Press Ctrl-C to stop.")
			})
		},
	})
	cancelReady()
	ready.Wait()
	if ctx.Err() != nil {
		// Ctrl-C: the handler got the terminal's SIGINT too and may have
		// ended first, which the dev host reports as an unexpected exit.
		return exitOK, nil
	}
	if err != nil {
		return exitUnexpected, fmt.Errorf("run the app: %w", err)
	}
	return exitOK, nil
}

// waitForHub waits until the app's API answers something other than 503:
// the handler answers the host's probe at once but creates its task hub a
// moment later, and a URL printed before that would answer the user's
// first request with "the task hub does not exist". It gives up after a
// minute (storage that never answers is the app's to report, in its log)
// and returns so that the URLs are printed anyway.
func waitForHub(ctx context.Context, url string, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				return
			}
		}
		select {
		case <-ctx.Done():
			if !errors.Is(context.Cause(ctx), context.Canceled) {
				logger.Warn("the app's task hub is still not ready; see the app's log above")
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// buildHandler builds the executable host.json names, when the app is a Go
// module: an edited app must not run its previous build.
func buildHandler(ctx context.Context, dir string, s streams) error {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil // not a Go module: the handler is built some other way
	}
	exe := handlerPath(dir)
	fmt.Fprintf(s.stderr, "Building: go build -o %s .\n", exe)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", exe, ".")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build in %s: %w", dir, err)
	}
	return nil
}

// handlerPath is host.json's customHandler.description.defaultExecutablePath,
// "handler" when it cannot be read (the dev host then says what is wrong).
func handlerPath(dir string) string {
	var h struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
		} `json:"customHandler"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, config.HostFile))
	if err == nil && json.Unmarshal(raw, &h) == nil && h.CustomHandler.Description.DefaultExecutablePath != "" {
		return h.CustomHandler.Description.DefaultExecutablePath
	}
	return "handler"
}

// devStorage makes Azurite answer for the app. It returns the Azurite it
// started (nil when one was already running on the default ports) and the
// connection string the app must get in its environment ("" when
// UseDevelopmentStorage=true already reaches it).
func devStorage(ctx context.Context, dir, data string, freePorts bool, s streams) (*azurite.Process, string, error) {
	ports := azurite.DefaultPorts
	if !freePorts {
		if err := azurite.FreePorts(ports); err != nil {
			if azuriteAnswers(ctx, ports) {
				fmt.Fprintln(s.stderr, "Storage: using the Azurite already running on ports 10000-10002")
				return nil, "", nil
			}
			fmt.Fprintf(s.stderr, "Ports 10000-10002 are taken by something that is not Azurite (%v); starting Azurite on free ports\n", err)
			freePorts = true
		}
	}
	if freePorts {
		ports = azurite.Ports{}
	}
	bin, source := azurite.Find(dir)
	if bin == "" {
		var err error
		if bin, err = azurite.Install(ctx, dir, s.stderr); err != nil {
			return nil, "", err
		}
		source = "just installed"
	}
	az, err := azurite.Start(ctx, azurite.Options{Bin: bin, Dir: data, Ports: ports})
	if err != nil {
		return nil, "", fmt.Errorf("start Azurite (%s, %s): %w", bin, source, err)
	}
	fmt.Fprintf(s.stderr, "Storage: Azurite (%s) on ports %d, %d, %d; data in %s\n", source, az.Ports.Blob, az.Ports.Queue, az.Ports.Table, data)
	if !freePorts {
		return az, "", nil
	}
	fmt.Fprintf(s.stderr, "Azurite is not on the default ports: for the durable commands in another terminal, first run\n  export AzureWebJobsStorage='%s'\n", az.ConnectionString)
	return az, az.ConnectionString, nil
}

// azuriteAnswers reports whether the blob service on ports is an Azurite
// (its Server header says so): another app's emulator that this app can
// share, as every app with UseDevelopmentStorage=true does under Core Tools.
func azuriteAnswers(ctx context.Context, ports azurite.Ports) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/%s?comp=list", ports.Blob, azurite.AccountName), nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return strings.HasPrefix(resp.Header.Get("Server"), "Azurite")
}

// freePort asks the kernel for a free port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
