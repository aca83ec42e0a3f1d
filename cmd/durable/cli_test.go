package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// runCLI runs the command line in-process, for checks that never reach
// storage.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, streams{stdout: &out, stderr: &errb})
	return out.String(), errb.String(), code
}

func TestHelp(t *testing.T) {
	out, _, code := runCLI(t, "--help")
	if code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	for _, sp := range commands() {
		if !strings.Contains(out, "  "+sp.name+" ") {
			t.Errorf("main help does not list %s", sp.name)
		}
		for _, args := range [][]string{{sp.name, "--help"}, {sp.name, "-h"}, {"help", sp.name}} {
			out, errOut, code := runCLI(t, args...)
			if code != exitOK || errOut != "" {
				t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
			}
			if !strings.HasPrefix(out, "Usage: durable "+sp.name) || !strings.Contains(out, "--task-hub-name name") ||
				!strings.Contains(out, "Example:\n  durable "+sp.name) {
				t.Errorf("%q: unexpected help:\n%s", args, out)
			}
		}
	}
	if _, _, code := runCLI(t); code != exitBadArgs {
		t.Errorf("no command: exit %d, want %d", code, exitBadArgs)
	}
}

// TestCoreToolsFlags checks that every command and flag of compat.md §4
// exists with Core Tools' defaults.
func TestCoreToolsFlags(t *testing.T) {
	want := map[string]map[string]string{ // command -> flag -> default
		"start-new":          {"function-name": "", "input": "", "id": ""},
		"get-runtime-status": {"id": "", "show-input": "false", "show-output": "false"},
		"get-history":        {"id": ""},
		"get-instances":      {"top": "10", "continuation-token": "", "created-after": "", "created-before": "", "runtime-status": ""},
		"terminate":          {"id": "", "reason": ""},
		"raise-event":        {"id": "", "event-name": "", "event-data": ""},
		"rewind":             {"id": "", "reason": ""},
		"purge-history":      {"created-after": "", "created-before": "", "runtime-status": "", "id": ""},
		"delete-task-hub":    {},
		"suspend":            {"id": "", "reason": ""},
		"resume":             {"id": "", "reason": ""},
		"restart":            {"id": "", "new-instance-id": "false"},
	}
	for name, flags := range want {
		sp, ok := lookup(name)
		if !ok {
			t.Errorf("command %s is missing", name)
			continue
		}
		fs := sp.flagSet(sp.newCmd(), &env{})
		flags["connection-string-setting"], flags["task-hub-name"], flags["app-root"] = "", "", "."
		for f, def := range flags {
			got := fs.Lookup(f)
			if got == nil {
				t.Errorf("%s: flag --%s is missing", name, f)
			} else if got.DefValue != def {
				t.Errorf("%s --%s: default %q, want %q", name, f, got.DefValue, def)
			}
		}
	}
}

func TestNormalizeArgs(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var st statusList
	fs.Var(&st, "runtime-status", "")
	fs.Bool("show-input", false, "")
	fs.String("id", "", "")
	cases := []struct{ in, want []string }{
		{[]string{"--runtime-status", "Completed", "Failed", "--id", "x"}, []string{"--runtime-status=Completed,Failed", "--id", "x"}},
		{[]string{"-runtime-status", "Running"}, []string{"--runtime-status=Running"}},
		{[]string{"--runtime-status=Running", "--show-input"}, []string{"--runtime-status=Running", "--show-input"}},
		{[]string{"--show-input", "true", "--id", "x"}, []string{"--show-input=true", "--id", "x"}},
		{[]string{"--show-input", "False"}, []string{"--show-input=False"}},
		{[]string{"--show-input", "--id", "true"}, []string{"--show-input", "--id", "true"}},
		{[]string{"--id", "--", "--runtime-status", "a"}, []string{"--id", "--", "--runtime-status", "a"}},
		{[]string{"--runtime-status"}, []string{"--runtime-status"}},
		{[]string{"--unknown", "v"}, []string{"--unknown", "v"}},
	}
	for _, c := range cases {
		if got := normalizeArgs(fs, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestStatusList(t *testing.T) {
	var l statusList
	for _, v := range []string{"completed,FAILED", "Running Failed", "terminated"} {
		if err := l.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	want := statusList{history.StatusCompleted, history.StatusFailed, history.StatusRunning, history.StatusTerminated}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("got %v, want %v", l, want)
	}
	for _, bad := range []string{"Finished", "", " , "} {
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) succeeded", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	cases := map[string]time.Time{
		"2018-03-10T13:57:31Z":         time.Date(2018, 3, 10, 13, 57, 31, 0, time.UTC),
		"2018-03-10T23:59Z":            time.Date(2018, 3, 10, 23, 59, 0, 0, time.UTC),
		"2018-11-14T19:35:00.0000000Z": time.Date(2018, 11, 14, 19, 35, 0, 0, time.UTC),
		"2018-11-14T19:35:00.25Z":      time.Date(2018, 11, 14, 19, 35, 0, 250e6, time.UTC),
		"2018-03-10T13:57:31":          time.Date(2018, 3, 10, 13, 57, 31, 0, time.UTC),
		"2018-03-10T13:57":             time.Date(2018, 3, 10, 13, 57, 0, 0, time.UTC),
		"2018-03-10":                   time.Date(2018, 3, 10, 0, 0, 0, 0, time.UTC),
		"2018-03-10 13:57:31z":         time.Date(2018, 3, 10, 13, 57, 31, 0, time.UTC),
		"2018-03-10T15:57:31+02:00":    time.Date(2018, 3, 10, 13, 57, 31, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := parseTime(in)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "10/03/2018", "2018-13-01", "2018-03-10T25:00Z", "1520690251"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) succeeded", bad)
		}
	}
}

func TestReadJSONArg(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", "\xef\xbb\xbf{\n  \"city\": \"Tokyo\",\n  \"n\": [1, 2]\n}\n")
	cases := []struct{ in, want string }{
		{"", ""},
		{"3", "3"},
		{`"Tokyo"`, `"Tokyo"`},
		{`{ "a" : 1 }`, `{"a":1}`},
		{"@" + good, `{"city":"Tokyo","n":[1,2]}`},
		{"@" + write("null.json", "null"), "null"},
	}
	for _, c := range cases {
		got, err := readJSONArg("input", c.in)
		if err != nil || string(got) != c.want {
			t.Errorf("readJSONArg(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"Tokyo", `JSON-quoted: --input '"Tokyo"'`},
		{`{"a": }`, "not valid JSON"},
		{"@" + filepath.Join(dir, "missing.json"), "missing.json"},
		{"@", "must be followed by a file path"},
		{"@" + write("empty.json", " \n"), "is empty"},
		{"@" + write("bad.json", "{"), "bad.json is not valid JSON"},
	}
	for _, c := range bad {
		_, err := readJSONArg("input", c.in)
		if err == nil || !strings.Contains(err.Error(), c.msg) || exitCode(context.Background(), err) != exitBadArgs {
			t.Errorf("readJSONArg(%q): error %v, want one containing %q with exit %d", c.in, err, c.msg, exitBadArgs)
		}
	}
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	cases := []struct {
		ctx  context.Context
		err  error
		want int
	}{
		{ctx, nil, exitOK},
		{ctx, fmt.Errorf("get: %w", client.ErrNotFound), exitNotFound},
		{ctx, &client.StateError{InstanceID: "x", Status: history.StatusCompleted, Op: "rewind"}, exitWrongState},
		{ctx, fmt.Errorf("x: %w", client.ErrWrongState), exitWrongState},
		{ctx, fmt.Errorf("x: %w", client.ErrBadArgument), exitBadArgs},
		{ctx, usageErrorf("--id is required"), exitBadArgs},
		{ctx, configError(errors.New("no setting")), exitBadArgs},
		{ctx, internalError(errors.New("render")), exitUnexpected},
		{ctx, notFound(errors.New("no hub")), exitNotFound},
		{ctx, errors.New("dial tcp: connection refused"), exitStorage},
		{canceled, fmt.Errorf("read: %w", context.Canceled), exitInterrupted},
	}
	for _, c := range cases {
		if got := exitCode(c.ctx, c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestBadArgumentsOffline covers command lines rejected before any storage
// is opened: no connection is configured, so reaching storage would fail
// with a different message and exit code.
func TestBadArgumentsOffline(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"get-runtime-status"}, "--id is required"},
		{[]string{"get-runtime-status", "--id", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"get-runtime-status", "--id", "a/b"}, "--id"},
		{[]string{"get-instances", "--bogus"}, "flag provided but not defined: --bogus"},
		{[]string{"get-instances", "--top", "0"}, "--top must be 1..1000"},
		{[]string{"get-instances", "--top", "ten"}, "--top"},
		{[]string{"get-instances", "--created-after", "yesterday"}, "not an ISO 8601 date-time"},
		{[]string{"get-instances", "--created-after", "2020-01-02", "--created-before", "2020-01-01"}, "must be before"},
		{[]string{"get-instances", "--runtime-status", "Running", "Finished"}, `unknown runtime status "Finished"`},
		{[]string{"purge-history", "--runtime-status", "Running"}, "only finished instances"},
		{[]string{"purge-history", "--id", "x", "--runtime-status", "Failed"}, "cannot be combined"},
		{[]string{"purge-history", "--recursive"}, "--recursive purges the tree of one instance: it needs --id"},
		{[]string{"purge-history", "--recursive", "--runtime-status", "Failed"}, "--recursive"},
		{[]string{"terminate", "--id", "x", "--recursive=maybe"}, `invalid boolean value "maybe" for -recursive`},
		{[]string{"terminate", "--recursive"}, "--id is required"},
		{[]string{"start-new", "--input", "1"}, "--function-name is required"},
		{[]string{"start-new", "--function-name", "HelloWorld", "--input", "{bad"}, "--input: the value is not valid JSON"},
		{[]string{"start-new", "--function-name", "HelloWorld", "--input", "@missing.json"}, "cannot read missing.json"},
		{[]string{"raise-event", "--id", "x"}, "--event-name is required"},
		{[]string{"raise-event", "--id", "x", "--event-name", "E", "--event-data", "@missing.json"}, "cannot read missing.json"},
		{[]string{"get-instances", "--task-hub-name", "no-dashes"}, "--task-hub-name"},
	}
	for _, c := range cases {
		_, errOut, code := runCLI(t, c.args...)
		if code != exitBadArgs || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, exitBadArgs, c.msg)
		}
	}
}

func TestResolveSettings(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "host.json"), `{"version": "2.0",
		"extensions": {"durableTask": {"hubName": "%HubSetting%", "storageProvider": {"connectionName": "MyStorage", "partitionCount": 8}}}}`)
	writeFile(t, filepath.Join(root, "local.settings.json"), `{"IsEncrypted": false, "Values": {"HubSetting": "FromFile", "MyStorage": "UseDevelopmentStorage=true"}}`)

	h := hubFlags{appRoot: root}
	settings, opts, err := h.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if opts.HubName != "FromFile" || opts.ConnectionName != "MyStorage" || opts.PartitionCount != 8 {
		t.Errorf("from files: hub %q, connection %q, partitions %d", opts.HubName, opts.ConnectionName, opts.PartitionCount)
	}
	if v, _ := settings.Get("MyStorage"); v != "UseDevelopmentStorage=true" {
		t.Errorf("MyStorage = %q", v)
	}

	// The environment wins over local.settings.json, also inside host.json's %Setting%.
	t.Setenv("HubSetting", "FromEnv")
	if _, opts, err = h.resolve(); err != nil || opts.HubName != "FromEnv" {
		t.Errorf("env: hub %q, %v", opts.HubName, err)
	}

	// Flags win over both files.
	h = hubFlags{appRoot: root, taskHubName: "FromFlag", connectionSetting: "Other"}
	if _, opts, err = h.resolve(); err != nil || opts.HubName != "FromFlag" || opts.ConnectionName != "Other" {
		t.Errorf("flags: hub %q, connection %q, %v", opts.HubName, opts.ConnectionName, err)
	}

	// Outside an app root: Core Tools' defaults.
	h = hubFlags{appRoot: t.TempDir()}
	if _, opts, err = h.resolve(); err != nil || opts.HubName != "DurableFunctionsHub" || opts.ConnectionName != "AzureWebJobsStorage" {
		t.Errorf("defaults: hub %q, connection %q, %v", opts.HubName, opts.ConnectionName, err)
	}

	// A broken host.json is a configuration error.
	bad := t.TempDir()
	writeFile(t, filepath.Join(bad, "host.json"), `{"extensions": {"durableTask": {"hubName": "no-dashes"}}}`)
	h = hubFlags{appRoot: bad}
	if _, _, err = h.resolve(); err == nil || exitCode(context.Background(), err) != exitBadArgs {
		t.Errorf("bad host.json: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	quiet := streams{stdout: &buf, stderr: &buf}
	if p, finish := quiet.progress("x"); p != nil {
		t.Error("progress reported without a terminal")
	} else {
		finish()
	}
	term := streams{stdout: &buf, stderr: &buf, terminal: true}
	p, finish := term.progress("Purging instances")
	p(1, 0)
	p(2, 0) // within 100 ms: skipped
	p(3, 3) // done: always drawn
	finish()
	want := "\r\033[KPurging instances: 1\r\033[KPurging instances: 3/3\r\033[K"
	if buf.String() != want {
		t.Errorf("progress output %q, want %q", buf.String(), want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"WWpaaU0yTXhZ-_": "WWpaaU0yTXhZ-_",
		"a b":            "'a b'",
		"it's":           `'it'\''s'`,
		"":               "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// A failure's details beyond its output line are shown: non-retriable,
// properties, and the cause in the history table; every level in status.
func TestFailureDetailsLines(t *testing.T) {
	fd := &history.FailureDetails{ErrorType: "TaskFailedError", ErrorMessage: "activity \"Reserve\" (task 0) failed:\nOutOfStock: reserve",
		InnerFailure: &history.FailureDetails{ErrorType: "OutOfStock", ErrorMessage: "reserve: out of stock", IsNonRetriable: true,
			Properties: map[string]any{"sku": "A-1"}, InnerFailure: &history.FailureDetails{ErrorType: "error", ErrorMessage: "out of stock"}}}
	if got, want := failureLine(fd.InnerFailure), `OutOfStock: reserve: out of stock [non-retriable] properties={"sku":"A-1"}`; got != want {
		t.Errorf("failureLine %q, want %q", got, want)
	}
	if got, want := failureLine(fd), `TaskFailedError: activity "Reserve" (task 0) failed: OutOfStock: reserve`; got != want {
		t.Errorf("failureLine %q, want %q", got, want)
	}
	ev := &history.Event{Type: history.TaskFailed, TaskScheduledID: 0, FailureDetails: fd.InnerFailure}
	if got, want := eventDetails(ev), `scheduledId=0 failure=OutOfStock: reserve: out of stock nonRetriable=true properties={"sku":"A-1"} cause=error: out of stock`; got != want {
		t.Errorf("eventDetails %q, want %q", got, want)
	}
}
