package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/durable-go/durable/internal/client"
)

// command is one `durable <name>` command.
type command interface {
	// define adds the command's own flags to fs; the hub flags are added
	// for every command.
	define(fs *flag.FlagSet)
	// run validates the parsed flags, then does the work. It must not
	// touch storage before every argument has been checked, so that a bad
	// command line changes nothing.
	run(ctx context.Context, e *env) error
}

// positionalCmd is a command that takes arguments before its flags, such
// as batch's operation; positional consumes them and returns the rest.
type positionalCmd interface {
	positional(args []string) ([]string, error)
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// env is what a running command works with.
type env struct {
	streams
	hub    hubFlags
	logger *slog.Logger
}

// open opens the task hub named by the hub flags.
func (e *env) open(ctx context.Context) (*target, error) {
	return e.hub.open(ctx, e.logger)
}

// spec describes a command for dispatch and help.
type spec struct {
	name     string
	synopsis string // flags part of the usage line
	summary  string // one line, for the command list
	about    string // paragraphs for --help
	example  string
	newCmd   func() command
}

// commands lists the commands in the order of the help text: Core Tools'
// commands first, in the order of its documentation, then the additions.
func commands() []spec {
	return []spec{
		{name: "start-new", newCmd: func() command { return &startNewCmd{} },
			synopsis: "--function-name NAME [--input JSON|@FILE] [--id ID] [--version V] [--json]",
			summary:  "Start a new instance of an orchestrator function",
			about: "Enqueues the start of an orchestration instance and prints its ID. The app need not be\n" +
				"running: the instance stays Pending until an app serving the task hub picks it up.\n" +
				"Creates the task hub when it does not exist yet.",
			example: "durable start-new --function-name HelloWorld --input @counter-data.json --task-hub-name TestTaskHub"},
		{name: "get-runtime-status", newCmd: func() command { return &statusCmd{} },
			synopsis: "--id ID [--show-input] [--show-output] [--json]",
			summary:  "Show the status of an instance",
			about: "Prints an instance's name, runtime status, times and custom status; its input and output\n" +
				"only when asked for, as in Core Tools. Boolean flags also take Core Tools' form\n" +
				"--show-input true.",
			example: "durable get-runtime-status --id 0ab8c55a66644d68a3a8b220b12d209c --show-input --show-output"},
		{name: "get-history", newCmd: func() command { return &historyCmd{} },
			synopsis: "--id ID [--json] [--raw]",
			summary:  "Show the execution history of an instance",
			about: "Prints the current execution's history events, oldest first. --json prints the HTTP API's\n" +
				"historyEvents array, results included. That shape leaves out what a replay needs (inputs,\n" +
				"event IDs, episode boundaries), so --raw (which implies --json) prints the engine's own\n" +
				"events instead, with every field the replay uses: the format tasktest.ParseHistory reads, to\n" +
				"check with tasktest.Replay that changed orchestrator code still replays the instance.",
			example: "durable get-history --id 0ab8c55a66644d68a3a8b220b12d209c --json --raw > history.json"},
		{name: "get-instances", newCmd: func() command { return &instancesCmd{} },
			synopsis: "[--top N] [--continuation-token TOKEN] [--created-after TIME] [--created-before TIME]\n" +
				"                           [--runtime-status STATUS...] [--instance-id-prefix PREFIX] [--name NAME...]\n" +
				"                           [--version V...] [--show-internal] [--show-input] [--json]",
			summary: "List instances, a page at a time, optionally filtered",
			about: "Prints one page of instances as a table. When more match, it ends with the continuation\n" +
				"token to pass with --continuation-token for the next page; with --json the token goes to\n" +
				"stderr, since stdout holds exactly the HTTP API's JSON array.\n" +
				"Times are ISO 8601, UTC unless they name a zone (2018-03-10T13:57:31Z, 2018-03-10).\n" +
				"--runtime-status takes several statuses: space-separated (Core Tools' form), comma-separated,\n" +
				"or by repeating the flag; names are case-insensitive. Internal orchestrations (the bulk\n" +
				"operations' DurableTask.Batch) are left out unless --show-internal or --name names them.",
			example: "durable get-instances --created-after 2018-03-10T13:57:31Z --created-before 2018-03-10T23:59Z --top 15"},
		{name: "terminate", newCmd: func() command {
			return newTerminateCmd()
		},
			synopsis: "--id ID [--reason TEXT] [--recursive]",
			summary:  "Terminate a running instance",
			about: "Asks a Pending, Running or Suspended instance to end as Terminated, with the reason as its\n" +
				"output. It takes effect when the app processes the request. With --recursive, its unfinished\n" +
				"sub-orchestrations, and theirs, end as Terminated too, with the same reason.",
			example: `durable terminate --id 0ab8c55a66644d68a3a8b220b12d209c --reason "It was time to be done."`},
		{name: "raise-event", newCmd: func() command { return &raiseEventCmd{} },
			synopsis: "--id ID --event-name NAME [--event-data JSON|@FILE]",
			summary:  "Send an event to an instance",
			about: "Sends an external event to an instance that has not finished. An instance not waiting for\n" +
				"the event yet keeps it until it does.",
			example: "durable raise-event --id 0ab8c55a66644d68a3a8b220b12d209c --event-name MyEvent --event-data @eventdata.json"},
		{name: "signal-entity", newCmd: func() command { return &signalEntityCmd{} },
			synopsis: "--name NAME --key KEY --operation OP [--input JSON|@FILE]",
			summary:  "Send an operation to a durable entity",
			about: "Sends an operation to the entity, one way; the entity is created by its first operation and\n" +
				"runs its operations one at a time, each exactly once, when the app processes them. Not in Core Tools.",
			example: "durable signal-entity --name Account --key alice --operation deposit --input 100"},
		{name: "get-entity", newCmd: func() command { return &getEntityCmd{} },
			synopsis: "--name NAME --key KEY [--json]",
			summary:  "Show a durable entity's state",
			about: "Prints the entity's state, when its last operation ran, and who locks it; --json prints the\n" +
				"state alone, as the HTTP API does. Exit 3 when it has no state. Not in Core Tools.",
			example: "durable get-entity --name Account --key alice --json"},
		{name: "get-entities", newCmd: func() command { return &getEntitiesCmd{} },
			synopsis: "[--name NAME] [--last-operation-after TIME] [--last-operation-before TIME] [--fetch-state]\n" +
				"                           [--include-deleted] [--top N] [--continuation-token TOKEN] [--json]",
			summary: "List durable entities, a page at a time",
			about: "Prints one page of entities (of one name, or all) as a table; --json prints the HTTP API's\n" +
				"array. It reads the entities' rows only, not the orchestrations'. Not in Core Tools.",
			example: "durable get-entities --name Account --fetch-state"},
		{name: "schedule", newCmd: func() command { return &scheduleCmd{} },
			synopsis: "<create|update|get|list|pause|resume|trigger|backfill|delete> [--id ID] [flags]",
			summary:  "Manage schedules: orchestrations started on a calendar or at an interval",
			about: "A schedule starts an orchestration by an NCRONTAB expression with seconds (--cron, in\n" +
				"--time-zone) or at an interval (--every), each tick exactly once. create makes a schedule or\n" +
				"changes it; get and list show schedules with their next and recent runs; pause stops the\n" +
				"ticks, resume restarts them from now, trigger starts a run now, backfill runs the ticks from\n" +
				"--from to --to, delete removes the schedule. Changes are applied when the app processes them.\n" +
				"Not in Core Tools.",
			example: `durable schedule create --id nightly --orchestrator Cleanup --cron "0 0 3 * * *" --time-zone Europe/Paris`},
		{name: "clean-entity-storage", newCmd: func() command { return &cleanEntityStorageCmd{} },
			synopsis: "[--remove-empty] [--release-orphaned-locks] [--empty-for DURATION] [--json]",
			summary:  "Remove empty durable entities and release orphaned locks",
			about: "Removes entities that have no state, no lock and no waiting operation and have been idle for\n" +
				"--empty-for, and releases locks held by orchestrations that no longer run, as Durable\n" +
				"Functions' CleanEntityStorageAsync does. It reads the entities' rows only. Not in Core Tools.",
			example: "durable clean-entity-storage --remove-empty --release-orphaned-locks"},
		{name: "rewind", newCmd: func() command {
			return &reasonCmd{do: (*client.Client).Rewind,
				done: "Sent the rewind request to instance %s; it runs again from its last failure when the app processes it."}
		},
			synopsis: "--id ID [--reason TEXT]",
			summary:  "Rewind a failed instance to before its failure",
			about: "Restarts a Failed instance from its last failure: the failed activities and\n" +
				"sub-orchestrations run again; steps that succeeded, received events included, are kept.\n" +
				"Fix the cause first (a setting, a bug), or it fails the same way.",
			example: `durable rewind --id 0ab8c55a66644d68a3a8b220b12d209c --reason "Orchestrator failed and needs to be revived."`},
		{name: "purge-history", newCmd: func() command { return &purgeCmd{} },
			synopsis: "(--id ID [--recursive] | [--created-after TIME] [--created-before TIME] [--runtime-status STATUS...]) [--json]",
			summary:  "Delete the state and history of finished instances",
			about: "With --id, deletes one finished instance; add --recursive to delete its sub-orchestrations\n" +
				"too, children first (an unfinished one is kept, with its ancestors: exit 4). Otherwise deletes every finished instance\n" +
				"created in the time range (any time by default) with one of the statuses (by default\n" +
				"Completed, Failed, Terminated and Canceled; only those may be purged). Instances that have\n" +
				"not finished are never touched. Shows progress on a terminal.",
			example: "durable purge-history --created-before 2018-11-14T19:35:00.0000000Z --runtime-status failed"},
		{name: "delete-task-hub", newCmd: func() command { return &deleteHubCmd{} },
			synopsis: "",
			summary:  "Delete every table, queue and blob container of the task hub",
			about: "Deletes all storage artifacts of the task hub: instances, history, queued messages and large\n" +
				"payloads. An app serving the hub fails until it is restarted, which creates an empty hub.\n" +
				"Shows progress on a terminal.",
			example: "durable delete-task-hub --task-hub-name UserTest"},
		{name: "suspend", newCmd: func() command {
			return &reasonCmd{do: (*client.Client).Suspend, done: "Sent the suspend request to instance %s."}
		},
			synopsis: "--id ID [--reason TEXT]",
			summary:  "Suspend a running instance",
			about: "Pauses a Running instance: it stays Suspended, keeping the events it receives, until\n" +
				"resumed. Not in Core Tools.",
			example: `durable suspend --id 0ab8c55a66644d68a3a8b220b12d209c --reason "Waiting for maintenance"`},
		{name: "resume", newCmd: func() command {
			return &reasonCmd{do: (*client.Client).Resume, done: "Sent the resume request to instance %s."}
		},
			synopsis: "--id ID [--reason TEXT]",
			summary:  "Resume a suspended instance",
			about:    "Continues a Suspended instance. Not in Core Tools.",
			example:  `durable resume --id 0ab8c55a66644d68a3a8b220b12d209c --reason "Maintenance done"`},
		{name: "restart", newCmd: func() command { return &restartCmd{} },
			synopsis: "--id ID [--new-instance-id] [--json]",
			summary:  "Start an instance's orchestrator again with the same input",
			about: "Starts the instance's orchestrator again with its original input, under the same ID (which\n" +
				"must have finished) or, with --new-instance-id, under a new random ID. Prints the ID\n" +
				"started. Not in Core Tools.",
			example: "durable restart --id 0ab8c55a66644d68a3a8b220b12d209c --new-instance-id"},
		{name: "dashboard", newCmd: func() command { return &dashboardCmd{} },
			synopsis: "[--port N]",
			summary:  "Serve the web dashboard of the task hub on this machine",
			about: "Serves the dashboard the app serves at /durabletask/dashboard/ (instances, histories as a\n" +
				"timeline, and actions) on http://127.0.0.1:PORT, against the task hub this tool opens, so it\n" +
				"works without a running app and on a hub in Azure. Prints the address; Ctrl-C stops it.\n" +
				"Actions only enqueue messages, as the other commands do: an app serving the hub carries them\n" +
				"out. Bulk actions over a filter run as an orchestration and need such an app. Not in Core Tools.",
			example: "durable dashboard --port 7072 --task-hub-name MyHub"},
		{name: "batch", newCmd: func() command { return &batchCmd{} },
			synopsis: "<" + operationNames("|") + ">\n" +
				"                           [--created-after TIME] [--created-before TIME] [--runtime-status STATUS...]\n" +
				"                           [--instance-id-prefix PREFIX] [--name NAME...] [--show-internal] [--reason TEXT]\n" +
				"                           [--event-name NAME --event-data JSON|@FILE] [--restart-with-new-instance-id=false]\n" +
				"                           [--recursive] [--batch-size N] [--dry-run] [--no-wait] [--json]",
			summary: "Terminate, suspend, resume, rewind, restart, raise an event to or purge every matching instance",
			about: "Applies one operation to every instance the filters select (those of get-instances). Without\n" +
				"--runtime-status, the operation takes the statuses it applies to: Pending, Running and Suspended\n" +
				"for terminate and raiseEvent, Pending and Running for suspend, Suspended for resume, Failed for\n" +
				"rewind, finished ones for purge and for restart in place; instances created after it starts are\n" +
				"never targets, nor are other bulk operations unless --show-internal (or --name) asks for them;\n" +
				"an operation never targets itself. The function app runs the operation as an orchestration\n" +
				"(DurableTask.Batch), a page at a time: it survives crashes, each instance is affected once,\n" +
				"and its progress is its custom status. The command starts it, shows a progress bar on a\n" +
				"terminal until it finishes, and prints the summary; it exits 4 when some instances failed.\n" +
				"With --no-wait it prints the bulk operation's instance ID instead. --dry-run prints how many\n" +
				"instances match and changes nothing. When no app serves the task hub, the operation stays\n" +
				"Pending until one runs.",
			example: `durable batch terminate --instance-id-prefix order- --runtime-status Running --reason "shop closed"`},
		{name: "replay-check", newCmd: func() command { return &replayCheckCmd{} },
			synopsis: "[--handler EXE] [--sample N] [--save DIR] [--created-after TIME] [--created-before TIME]\n" +
				"                           [--runtime-status STATUS...] [--name NAME...] [--version V...] [--json]",
			summary: "Check that the app's code still replays the instances in flight",
			about: "Builds the function app in --app-root (go build; or takes --handler), reads the histories of\n" +
				"the hub's unfinished instances (all, those the filters select, or --sample N of each\n" +
				"orchestrator and version) and has the app replay each against its registered orchestrators,\n" +
				"as its worker will after a deploy. Prints per orchestrator and version how many replay and,\n" +
				"for each that does not, where it first departs from its history. Exit 6 when any does not,\n" +
				"so that CI can gate a deploy on it. --save keeps the histories for tasktest.CheckReplayDir.",
			example: "durable replay-check --name ApprovalWorkflow --sample 50"},
	}
}

func lookup(name string) (spec, bool) {
	for _, s := range commands() {
		if s.name == name {
			return s, true
		}
	}
	return spec{}, false
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, s streams) int {
	if len(args) == 0 {
		printMainUsage(s.stderr)
		return exitBadArgs
	}
	switch name := args[0]; name {
	case "init":
		return runInit(ctx, args[1:], s)
	case "dev":
		return runDev(ctx, args[1:], s)
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			sp, ok := lookup(args[1])
			if !ok {
				fmt.Fprintf(s.stderr, "durable: unknown command %q; run 'durable help' for the list\n", args[1])
				return exitBadArgs
			}
			sp.printHelp(s.stdout, sp.flagSet(sp.newCmd(), &env{}))
			return exitOK
		}
		printMainUsage(s.stdout)
		return exitOK
	}
	sp, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(s.stderr, "durable: unknown command %q; run 'durable help' for the list\n", args[0])
		return exitBadArgs
	}
	return sp.execute(ctx, args[1:], s)
}

// flagSet builds the command's flag set: its own flags, then the hub flags.
func (sp spec) flagSet(cmd command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(sp.name, flag.ContinueOnError)
	// Errors and help are printed by execute, in this tool's style.
	fs.SetOutput(io.Discard)
	cmd.define(fs)
	e.hub.define(fs)
	return fs
}

func (sp spec) execute(ctx context.Context, args []string, s streams) int {
	cmd := sp.newCmd()
	e := &env{streams: s, logger: slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fs := sp.flagSet(cmd, e)
	var err error
	if pc, ok := cmd.(positionalCmd); ok && !(len(args) > 0 && isHelpFlag(args[0])) {
		args, err = pc.positional(args)
	}
	if err == nil {
		err = fs.Parse(normalizeArgs(fs, args))
	}
	if errors.Is(err, flag.ErrHelp) {
		sp.printHelp(s.stdout, fs)
		return exitOK
	}
	if err != nil {
		err = usageErrorf("%s", flagError(err))
	} else if fs.NArg() > 0 {
		err = usageErrorf("unexpected argument %q (flag values with spaces need quotes)", fs.Arg(0))
	}
	if err == nil {
		err = cmd.run(ctx, e)
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	msg := err.Error()
	switch code {
	case exitStorage:
		msg = "storage error: " + msg
	case exitInterrupted:
		msg = "interrupted: " + msg
	}
	fmt.Fprintf(s.stderr, "durable %s: %s\n", sp.name, msg)
	if isUsage(err) {
		fmt.Fprintf(s.stderr, "Run 'durable %s --help' for usage.\n", sp.name)
	}
	return code
}

func (sp spec) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: durable %s %s\n\n", sp.name, strings.TrimSpace(sp.synopsis+" [hub flags]"))
	fmt.Fprintf(w, "%s\n\n", sp.about)
	var hub flag.FlagSet
	(&hubFlags{}).define(&hub)
	isHub := func(name string) bool { return hub.Lookup(name) != nil }
	if sp.synopsis != "" {
		fmt.Fprintln(w, "Flags:")
		printFlags(w, fs, func(name string) bool { return !isHub(name) })
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Hub flags:")
	printFlags(w, fs, isHub)
	fmt.Fprintf(w, "\nExample:\n  %s\n", sp.example)
}

func printMainUsage(w io.Writer) {
	fmt.Fprint(w, `durable manages Durable Functions orchestration instances in a task hub in Azure Storage,
like the 'func durable' commands of Azure Functions Core Tools.

Usage: durable <command> [flags]

Commands:
`)
	for _, sp := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", sp.name, sp.summary)
	}
	fmt.Fprintf(w, "  %-20s %s\n", "init", "Write a new function app that uses this module (durable init --help)")
	fmt.Fprintf(w, "  %-20s %s\n", "dev", "Run a function app here: Azurite, the handler and the dev host (durable dev --help)")
	fmt.Fprint(w, `
Run 'durable <command> --help' (or 'durable help <command>') for its flags.

Where the task hub is: run from the function app's root, durable reads the connection from
local.settings.json "Values" and the hub name from host.json (extensions.durableTask.hubName),
as Core Tools does. Environment variables win over local.settings.json. Elsewhere, pass
--connection-string-setting (the name of the setting, looked up in the environment) and
--task-hub-name, or --app-root.

Results go to stdout, messages to stderr; --json prints the HTTP API's JSON shapes.

Exit codes:
  0    success
  1    unexpected error
  2    bad arguments or configuration
  3    instance or task hub not found
  4    the instance's status forbids the operation
  5    storage or connection error
  130  interrupted
`)
}
