package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/durable-go/durable/internal/scaffold"
)

const initUsage = `Usage: durable init DIR [--module PATH] [--replace DIR] [--no-tidy]

Writes a new function app in DIR: go.mod (requiring github.com/durable-go/durable), main.go with
one orchestrator and one activity, main_test.go (a test with package tasktest), host.json,
local.settings.json (Azurite), .gitignore, and the function folders of the built-in functions
(the HTTP API and starters, StartNew … PurgeTimer, Wake), and package.json pinning Azurite, the
storage emulator. Then it runs 'go mod tidy' there, so that 'cd DIR && durable dev' runs the
app (or, with Azure Functions Core Tools and Azurite running, 'go build -o handler . && func
start'). It overwrites nothing.

Flags:
  --module PATH   the new module's path (default: DIR's base name)
  --replace DIR   use the checkout of github.com/durable-go/durable in DIR (a replace directive);
                  needed when this durable binary was built from a checkout rather than installed
                  at a released version
  --no-tidy       skip 'go mod tidy'

Example:
  durable init ./myapp --module example.com/myapp
`

// runInit is `durable init`, which takes a directory argument and none of
// the hub flags, so it has a flag set of its own.
func runInit(ctx context.Context, args []string, s streams) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	module := fs.String("module", "", "")
	replace := fs.String("replace", "", "")
	noTidy := fs.Bool("no-tidy", false, "")
	// The directory may come before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(s.stdout, initUsage)
		return exitOK
	}
	if err == nil && dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	} else if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && dir == "" {
		err = errors.New("the directory to create the app in is required: durable init DIR")
	}
	if err != nil {
		fmt.Fprintf(s.stderr, "durable init: %s\nRun 'durable init --help' for usage.\n", flagError(err))
		return exitBadArgs
	}
	if *module == "" {
		abs, _ := filepath.Abs(dir)
		*module = filepath.Base(abs)
	}
	version := moduleVersion()
	if *replace != "" {
		abs, err := filepath.Abs(*replace)
		if err == nil {
			_, err = os.Stat(filepath.Join(abs, "go.mod"))
		}
		if err != nil {
			fmt.Fprintf(s.stderr, "durable init: --replace %s: not a module checkout (%v)\n", *replace, err)
			return exitBadArgs
		}
		*replace = abs
		version = "v0.0.0"
	} else if version == "" {
		fmt.Fprintln(s.stderr, "durable init: this durable binary was built from a checkout, so it knows no released version to require; pass --replace with the checkout's directory")
		return exitBadArgs
	}
	written, err := scaffold.Write(dir, scaffold.Params{Module: *module, Version: version, Replace: *replace, GoVersion: goVersion()})
	if err != nil {
		fmt.Fprintf(s.stderr, "durable init: %v\n", err)
		if len(written) == 0 {
			return exitBadArgs
		}
		return exitUnexpected
	}
	fmt.Fprintf(s.stdout, "Created %s (module %s): %d files.\n", dir, *module, len(written))
	if !*noTidy {
		cmd := exec.CommandContext(ctx, "go", "mod", "tidy")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(s.stderr, "durable init: go mod tidy in %s failed (%v); run it there yourself\n", dir, err)
			return exitUnexpected
		}
	}
	printNextSteps(s.stdout, dir)
	return exitOK
}

// printNextSteps tells a new user how to run the app they just created.
// durable dev comes first because it needs nothing but Go and Node.js;
// `func start` needs Azure Functions Core Tools, and Azurite started first,
// which is what stopped new users before durable dev existed.
func printNextSteps(w io.Writer, dir string) {
	fmt.Fprintf(w, `
Next steps:
  cd %s
  durable dev
      builds the handler, starts Azurite (installing it with npm the first time) and the app,
      and prints the app's and the dashboard's URLs; Ctrl-C stops both
  curl -X POST http://127.0.0.1:7071/orchestrators/Hello/wait -d '"Tokyo"'

With Azure Functions Core Tools instead, start Azurite yourself (npm install && npx azurite
--location .azurite), then: go build -o handler . && func start
`, dir)
}

// moduleVersion is the version of github.com/durable-go/durable this
// binary was built from, "" for a build from a checkout.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if bi.Main.Path == "github.com/durable-go/durable" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// goVersion is the go directive for the new module: this toolchain's
// language version.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return "1.26"
}
