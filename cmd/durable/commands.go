package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// jsonFlag is --json, for commands that print a result.
type jsonFlag bool

func (j *jsonFlag) define(fs *flag.FlagSet) {
	fs.BoolVar((*bool)(j), "json", false, "print the result as JSON, in the shape of the Durable Functions HTTP API")
}

// idFlag is --id, the instance to act on.
type idFlag string

func (i *idFlag) define(fs *flag.FlagSet, usage string) {
	fs.StringVar((*string)(i), "id", "", usage)
}

// check reports a missing or malformed ID before anything is sent.
func (i idFlag) check() (string, error) {
	if i == "" {
		return "", usageErrorf("--id is required")
	}
	if err := layout.ValidateInstanceID(string(i)); err != nil {
		return "", usageErrorf("--id: %w", err)
	}
	return string(i), nil
}

// openInstance checks the --id flag, then opens the task hub: the start of
// every command that acts on one existing instance. The ID is checked first
// so that a usage error is reported without touching storage.
func (e *env) openInstance(ctx context.Context, i idFlag) (string, *target, error) {
	id, err := i.check()
	if err != nil {
		return "", nil, err
	}
	t, err := e.open(ctx)
	if err != nil {
		return "", nil, err
	}
	return id, t, nil
}

// --- start-new ---------------------------------------------------------------

type startNewCmd struct {
	functionName string
	input        string
	id           string
	version      string
	json         jsonFlag
}

func (c *startNewCmd) define(fs *flag.FlagSet) {
	fs.StringVar(&c.functionName, "function-name", "", "`name` of the orchestrator function to start (required)")
	fs.StringVar(&c.input, "input", "", "input of the orchestrator: inline `JSON`, or @path/to/file.json")
	fs.StringVar(&c.id, "id", "", "instance `ID` to use; a random one when omitted")
	fs.StringVar(&c.version, "version", "", "orchestration `version` to record; host.json's defaultVersion when omitted")
	c.json.define(fs)
}

func (c *startNewCmd) run(ctx context.Context, e *env) error {
	if strings.TrimSpace(c.functionName) == "" {
		return usageErrorf("--function-name is required")
	}
	if c.id != "" {
		if _, err := idFlag(c.id).check(); err != nil {
			return err
		}
	}
	input, err := readJSONArg("input", c.input)
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	if !t.known {
		// Like Core Tools, start-new works before any app has run against
		// the hub: the start message needs the hub's tables and queues.
		if err := t.hub.CreateIfNotExists(ctx); err != nil {
			return fmt.Errorf("create task hub %s: %w", t.hub.Name(), err)
		}
	}
	var in any
	if input != nil {
		// A nil json.RawMessage would be encoded as invalid input rather
		// than as no input.
		in = input
	}
	id, err := t.client.StartNew(ctx, c.functionName, in, client.StartOptions{InstanceID: c.id, Version: strings.TrimSpace(c.version)})
	if err != nil {
		return err
	}
	if c.json {
		return printStatusJSON(ctx, e, t, id)
	}
	fmt.Fprintf(e.stdout, "Started %s with instance ID %s\n", c.functionName, id)
	return nil
}

// printStatusJSON prints the status body of an instance just started: the
// CLI has no base URL for the HTTP API's check-status body, and the status
// carries the ID and more.
func printStatusJSON(ctx context.Context, e *env, t *target, id string) error {
	st, err := t.client.GetStatus(ctx, id, client.StatusOptions{})
	if err != nil {
		return fmt.Errorf("started %s, but reading its status failed: %w", id, err)
	}
	raw, err := statusJSON(st, apijson.StatusOptions{})
	if err != nil {
		return err
	}
	return writeJSON(e.stdout, raw)
}

// --- get-runtime-status --------------------------------------------------------

type statusCmd struct {
	id         idFlag
	showInput  bool
	showOutput bool
	json       jsonFlag
}

func (c *statusCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "instance `ID` (required)")
	fs.BoolVar(&c.showInput, "show-input", false, "include the instance's input")
	fs.BoolVar(&c.showOutput, "show-output", false, "include the instance's output (the failure details when Failed)")
	c.json.define(fs)
}

func (c *statusCmd) run(ctx context.Context, e *env) error {
	id, t, err := e.openInstance(ctx, c.id)
	if err != nil {
		return err
	}
	st, err := t.client.GetStatus(ctx, id, client.StatusOptions{HideInput: !c.showInput, ShowTraceID: true})
	if err != nil {
		return t.explainNotFound(err)
	}
	if !c.showOutput {
		st.Output = nil
	}
	if c.json {
		raw, err := statusJSON(st, apijson.StatusOptions{})
		if err != nil {
			return err
		}
		return writeJSON(e.stdout, raw)
	}
	tw := newTable(e.stdout, "Name:", st.Name)
	tw.row("Instance ID:", st.InstanceID)
	tw.row("Runtime status:", string(st.RuntimeStatus))
	if st.Version != "" {
		tw.row("Version:", st.Version)
	}
	tw.row("Created time:", formatTime(st.CreatedTime))
	tw.row("Last updated time:", formatTime(st.LastUpdatedTime))
	if st.TraceID != "" {
		tw.row("Trace ID:", st.TraceID)
	}
	if st.CustomStatus != nil {
		tw.row("Custom status:", string(st.CustomStatus))
	}
	if c.showInput {
		tw.row("Input:", jsonOrNull(st.Input))
	}
	if c.showOutput {
		tw.row("Output:", jsonOrNull(st.Output))
		// The output holds the failure's type and message only; its causes,
		// whether retrying could help and its properties are in the details.
		for f, depth := st.FailureDetails, 0; f != nil && depth < maxFailureDepth; f, depth = f.InnerFailure, depth+1 {
			label := "Caused by:"
			if depth == 0 {
				label = "Failure:"
			}
			tw.row(label, failureLine(f))
		}
	}
	return tw.flush()
}

// maxFailureDepth bounds the inner failures printed, against a history
// written by another tool with a very deep (or hostile) chain.
const maxFailureDepth = 32

// failureLine is one failure on one line: "Type: message", then
// "[non-retriable]" and the properties as JSON when it has them.
func failureLine(f *history.FailureDetails) string {
	line := oneLine(f.ErrorType + ": " + f.ErrorMessage)
	if f.IsNonRetriable {
		line += " [non-retriable]"
	}
	if len(f.Properties) > 0 {
		if b, err := json.Marshal(f.Properties); err == nil {
			line += " properties=" + string(b)
		}
	}
	return line
}

func jsonOrNull(raw json.RawMessage) string {
	if raw == nil {
		return "null"
	}
	return oneLine(string(raw))
}

// --- get-history ---------------------------------------------------------------

type historyCmd struct {
	id   idFlag
	json jsonFlag
	raw  bool
}

func (c *historyCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "instance `ID` (required)")
	c.json.define(fs)
	fs.BoolVar(&c.raw, "raw", false, "print the engine's own history events as JSON, as tasktest.ParseHistory reads them for replay (implies --json)")
}

func (c *historyCmd) run(ctx context.Context, e *env) error {
	id, t, err := e.openInstance(ctx, c.id)
	if err != nil {
		return err
	}
	st, err := t.client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true, ShowHistoryOutput: true, HideInput: true})
	if err != nil {
		return t.explainNotFound(err)
	}
	if c.raw {
		// The HTTP API's shape leaves out inputs, event IDs and the
		// episode boundaries, all of which a replay needs; the engine's own
		// events round-trip through JSON.
		raw, err := rawHistory(st.History)
		if err != nil {
			return internalError(fmt.Errorf("render raw history of %s: %w", id, err))
		}
		return writeJSON(e.stdout, raw)
	}
	if c.json {
		raw, err := apijson.HistoryEvents(st.History, true)
		if err != nil {
			return internalError(fmt.Errorf("render history of %s: %w", id, err))
		}
		return writeJSON(e.stdout, raw)
	}
	if len(st.History) == 0 {
		fmt.Fprintf(e.stdout, "Instance %s has no history yet (it is %s).\n", id, st.RuntimeStatus)
		return nil
	}
	// Results name their task only by the scheduling event's ID.
	scheduled := make(map[int]string)
	for _, ev := range st.History {
		if ev.Type == history.TaskScheduled || ev.Type == history.SubOrchestrationInstanceCreated {
			scheduled[ev.EventID] = ev.Name
		}
	}
	tw := newTable(e.stdout, "TIMESTAMP", "EVENT TYPE", "EVENT ID", "NAME", "DETAILS")
	for _, ev := range st.History {
		// The HTTP API leaves these two out too: they bracket every
		// episode and say nothing about the orchestration.
		if ev.Type == history.OrchestratorStarted || ev.Type == history.OrchestratorCompleted {
			continue
		}
		name := ev.Name
		if name == "" && ev.IsTaskResult() {
			name = scheduled[ev.TaskScheduledID]
		}
		tw.row(ev.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Type.String(), strconv.Itoa(ev.EventID), name, eventDetails(&ev))
	}
	return tw.flush()
}

// rawHistory encodes history events as the engine's JSON, an array even
// when empty, without HTML escaping so payloads read as they were written.
func rawHistory(events []history.Event) ([]byte, error) {
	if events == nil {
		events = []history.Event{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(events); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// eventDetails summarizes the type-specific fields of a history event.
// addFailure adds a history event's failure: its type and message, then
// what the table would otherwise hide: nonRetriable, its properties, and
// the innermost cause (the error the failure started from).
func addFailure(add func(key, val string), fd *history.FailureDetails) {
	if fd == nil {
		return
	}
	add("failure", fd.ErrorType+": "+fd.ErrorMessage)
	if fd.IsNonRetriable {
		add("nonRetriable", "true")
	}
	if len(fd.Properties) > 0 {
		if b, err := json.Marshal(fd.Properties); err == nil {
			add("properties", string(b))
		}
	}
	cause := fd.InnerFailure
	for depth := 0; cause != nil && cause.InnerFailure != nil && depth < maxFailureDepth; depth++ {
		cause = cause.InnerFailure
	}
	if cause != nil {
		add("cause", cause.ErrorType+": "+cause.ErrorMessage)
	}
}

func eventDetails(ev *history.Event) string {
	var parts []string
	add := func(key, val string) {
		if val != "" {
			parts = append(parts, key+"="+oneLine(val))
		}
	}
	switch ev.Type {
	case history.ExecutionStarted, history.TaskScheduled, history.EventRaised:
		add("input", ev.Input)
	case history.ExecutionCompleted, history.ContinueAsNew:
		add("status", string(ev.OrchestrationStatus))
		add("result", ev.Result)
		addFailure(add, ev.FailureDetails)
	case history.ExecutionTerminated:
		add("reason", ev.Input)
		if ev.Recursive {
			add("recursive", "true")
		}
	case history.TaskCompleted, history.SubOrchestrationInstanceCompleted:
		add("scheduledId", strconv.Itoa(ev.TaskScheduledID))
		add("result", ev.Result)
	case history.TaskFailed, history.SubOrchestrationInstanceFailed:
		add("scheduledId", strconv.Itoa(ev.TaskScheduledID))
		add("reason", ev.Reason)
		addFailure(add, ev.FailureDetails)
	case history.SubOrchestrationInstanceCreated, history.EventSent:
		add("instance", ev.InstanceID)
		add("input", ev.Input)
	case history.TimerCreated:
		add("fireAt", formatTime(ev.FireAt))
	case history.TimerFired:
		add("timerId", strconv.Itoa(ev.TimerID))
		add("fireAt", formatTime(ev.FireAt))
	case history.GenericEvent:
		add("data", ev.Data)
	case history.ExecutionSuspended, history.ExecutionResumed:
		add("reason", ev.Reason)
	}
	return strings.Join(parts, " ")
}

// --- get-instances ---------------------------------------------------------------

type instancesCmd struct {
	top          int
	continuation string
	filter       filterFlags
	count        bool
	byVersion    bool
	showInput    bool
	json         jsonFlag
}

func (c *instancesCmd) define(fs *flag.FlagSet) {
	fs.IntVar(&c.top, "top", 10, "`number` of instances per page")
	fs.StringVar(&c.continuation, "continuation-token", "", "`token` printed by the previous page, to get the next one")
	c.filter.define(fs, "only instances with one of these `statuses`: Pending, Running, Completed, ContinuedAsNew,\n"+
		"Failed, Canceled, Terminated, Suspended (several space- or comma-separated, or repeat the flag)")
	fs.BoolVar(&c.count, "count", false, "print the number of matching instances per runtime status instead of a page")
	fs.BoolVar(&c.byVersion, "by-version", false, "with --count: count per orchestrator and version (what is in flight of each version)")
	fs.BoolVar(&c.showInput, "show-input", false, "include each instance's input (JSON only)")
	c.json.define(fs)
}

func (c *instancesCmd) run(ctx context.Context, e *env) error {
	if c.byVersion && !c.count {
		return usageErrorf("--by-version goes with --count")
	}
	if c.count {
		return c.printCounts(ctx, e)
	}
	// The table service returns at most 1000 rows per request.
	if c.top < 1 || c.top > 1000 {
		return usageErrorf("--top must be 1..1000, not %d", c.top)
	}
	q, err := c.filter.query()
	if err != nil {
		return err
	}
	q.PageSize, q.ContinuationToken, q.ShowInput = c.top, c.continuation, c.showInput
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	page, err := t.client.ListInstances(ctx, q)
	if err != nil {
		return t.missingHub(err)
	}
	return printPage(e, bool(c.json), listPage{token: page.ContinuationToken, rows: len(page.Instances), empty: "No instances found.", gap: true,
		json: func() ([]byte, error) {
			raw, err := apijson.Statuses(page.Instances)
			if err != nil {
				return nil, fmt.Errorf("render instances: %w", err)
			}
			return raw, nil
		},
		table: func() error {
			// A VERSION column only when some instance has a version, so that
			// the table of a hub without versions keeps its shape.
			versioned := slices.ContainsFunc(page.Instances, func(st *client.Status) bool { return st.Version != "" })
			cols := []string{"INSTANCE ID", "NAME", "RUNTIME STATUS", "CREATED TIME", "LAST UPDATED TIME"}
			if versioned {
				cols = slices.Insert(cols, 2, "VERSION")
			}
			tw := newTable(e.stdout, cols...)
			for _, st := range page.Instances {
				row := []string{st.InstanceID, st.Name, string(st.RuntimeStatus), formatTime(st.CreatedTime), formatTime(st.LastUpdatedTime)}
				if versioned {
					row = slices.Insert(row, 2, cmp.Or(st.Version, "-"))
				}
				tw.row(row...)
			}
			return tw.flush()
		}})
}

// printCounts serves get-instances --count.
func (c *instancesCmd) printCounts(ctx context.Context, e *env) error {
	if c.continuation != "" {
		return usageErrorf("--count counts every match; it cannot be combined with --continuation-token")
	}
	q, err := c.filter.query()
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	if c.byVersion {
		return c.printVersionCounts(ctx, e, t, q)
	}
	counts, err := t.client.CountInstances(ctx, q)
	if err != nil {
		return t.missingHub(err)
	}
	if c.json {
		raw, err := json.Marshal(counts)
		if err != nil {
			return internalError(fmt.Errorf("render counts: %w", err))
		}
		return writeJSON(e.stdout, raw)
	}
	tw := newTable(e.stdout, "RUNTIME STATUS", "INSTANCES")
	total := 0
	for _, st := range client.CountStatuses {
		if len(c.filter.statuses) > 0 && !containsStatus(c.filter.statuses, st) {
			continue
		}
		tw.row(string(st), strconv.Itoa(counts[st]))
		total += counts[st]
	}
	tw.row("Total", strconv.Itoa(total))
	return tw.flush()
}

// printVersionCounts serves get-instances --count --by-version: a row per
// orchestrator and version, a column per runtime status asked for (or, by
// default, per status some instance has).
func (c *instancesCmd) printVersionCounts(ctx context.Context, e *env, t *target, q client.Query) error {
	groups, err := t.client.CountByVersion(ctx, q)
	if err != nil {
		return t.missingHub(err)
	}
	if c.json {
		raw, err := json.Marshal(groups)
		if err != nil {
			return internalError(fmt.Errorf("render counts: %w", err))
		}
		return writeJSON(e.stdout, raw)
	}
	if len(groups) == 0 {
		fmt.Fprintln(e.stdout, "No instances found.")
		return nil
	}
	var statuses []history.RuntimeStatus
	for _, st := range client.CountStatuses {
		shown := containsStatus(c.filter.statuses, st)
		if len(c.filter.statuses) == 0 {
			shown = slices.ContainsFunc(groups, func(g client.VersionCounts) bool { return g.Counts[st] > 0 })
		}
		if shown {
			statuses = append(statuses, st)
		}
	}
	header := []string{"ORCHESTRATOR", "VERSION"}
	for _, st := range statuses {
		header = append(header, strings.ToUpper(string(st)))
	}
	tw := newTable(e.stdout, append(header, "TOTAL")...)
	for _, g := range groups {
		row := []string{g.Name, cmp.Or(g.Version, "-")}
		total := 0
		for _, st := range statuses {
			row = append(row, strconv.Itoa(g.Counts[st]))
			total += g.Counts[st]
		}
		tw.row(append(row, strconv.Itoa(total))...)
	}
	return tw.flush()
}

// checkRange rejects an empty time range, which is always a mistake.
func checkRange(after, before timeValue) error {
	if after.set && before.set && !after.t.Before(before.t) {
		return usageErrorf("--created-after (%s) must be before --created-before (%s)", formatTime(after.t), formatTime(before.t))
	}
	return nil
}

// --- terminate, raise-event, rewind, suspend, resume ------------------------------

type raiseEventCmd struct {
	id        idFlag
	eventName string
	eventData string
}

func (c *raiseEventCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "instance `ID` (required)")
	fs.StringVar(&c.eventName, "event-name", "", "`name` of the event (required)")
	fs.StringVar(&c.eventData, "event-data", "", "event data: inline `JSON`, or @path/to/file.json")
}

func (c *raiseEventCmd) run(ctx context.Context, e *env) error {
	id, err := c.id.check()
	if err != nil {
		return err
	}
	if strings.TrimSpace(c.eventName) == "" {
		return usageErrorf("--event-name is required")
	}
	data, err := readJSONArg("event-data", c.eventData)
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	var d any
	if data != nil {
		d = data
	}
	if err := t.client.RaiseEvent(ctx, id, c.eventName, d); err != nil {
		return t.explainNotFound(err)
	}
	fmt.Fprintf(e.stdout, "Raised event %s for instance %s.\n", c.eventName, id)
	return nil
}

// reasonCmd is a command that takes an instance and a reason: terminate,
// rewind, suspend and resume.
type reasonCmd struct {
	id     idFlag
	reason string
	// do performs the operation; done is the message on success, with a
	// %s for the ID.
	do   func(c *client.Client, ctx context.Context, id, reason string) error
	done string
	// reasonUsage is the help text of --reason; empty means the default,
	// which fits commands that record the reason in the history.
	reasonUsage string
}

func (c *reasonCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "instance `ID` (required)")
	usage := c.reasonUsage
	if usage == "" {
		usage = "reason, recorded in the instance's history"
	}
	fs.StringVar(&c.reason, "reason", "", usage)
}

func (c *reasonCmd) run(ctx context.Context, e *env) error {
	id, t, err := e.openInstance(ctx, c.id)
	if err != nil {
		return err
	}
	if err := c.do(t.client, ctx, id, c.reason); err != nil {
		return t.explainNotFound(err)
	}
	fmt.Fprintf(e.stdout, c.done+"\n", id)
	return nil
}

// --- restart ---------------------------------------------------------------------

type restartCmd struct {
	id    idFlag
	newID bool
	json  jsonFlag
}

func (c *restartCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "instance `ID` (required)")
	fs.BoolVar(&c.newID, "new-instance-id", false, "start under a new random ID instead of reusing the finished instance's ID")
	c.json.define(fs)
}

func (c *restartCmd) run(ctx context.Context, e *env) error {
	id, t, err := e.openInstance(ctx, c.id)
	if err != nil {
		return err
	}
	started, err := t.client.Restart(ctx, id, c.newID)
	if err != nil {
		return t.explainNotFound(err)
	}
	if c.json {
		return printStatusJSON(ctx, e, t, started)
	}
	fmt.Fprintf(e.stdout, "Restarted instance %s as %s\n", id, started)
	return nil
}

// --- purge-history -----------------------------------------------------------------

type purgeCmd struct {
	id            idFlag
	createdAfter  timeValue
	createdBefore timeValue
	statuses      statusList
	json          jsonFlag
	recursive     bool
}

func (c *purgeCmd) define(fs *flag.FlagSet) {
	c.id.define(fs, "purge only the instance with this `ID`")
	fs.BoolVar(&c.recursive, "recursive", false, "with --id: purge the instance's sub-orchestrations too, and theirs (children first)")
	fs.Var(&c.createdAfter, "created-after", "purge instances created at or after this ISO 8601 `time` (UTC unless it names a zone)")
	fs.Var(&c.createdBefore, "created-before", "purge instances created before this ISO 8601 `time` (default now)")
	fs.Var(&c.statuses, "runtime-status", "purge instances with one of these `statuses`: Completed, Failed, Terminated, Canceled\n"+
		"(several space- or comma-separated, or repeat the flag; default all four)")
	c.json.define(fs)
}

func (c *purgeCmd) run(ctx context.Context, e *env) error {
	if c.id != "" && (c.createdAfter.set || c.createdBefore.set || len(c.statuses) > 0) {
		return usageErrorf("--id purges one instance; it cannot be combined with --created-after, --created-before or --runtime-status")
	}
	if c.recursive && c.id == "" {
		return usageErrorf("--recursive purges the tree of one instance: it needs --id")
	}
	for _, st := range c.statuses {
		if !st.IsTerminal() {
			return usageErrorf("--runtime-status %s: only finished instances (Completed, Failed, Terminated, Canceled) can be purged", st)
		}
	}
	if err := checkRange(c.createdAfter, c.createdBefore); err != nil {
		return err
	}
	var id string
	if c.id != "" {
		var err error
		if id, err = c.id.check(); err != nil {
			return err
		}
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	n := 1
	switch {
	case id != "" && c.recursive:
		if n, err = purgeTree(ctx, e, t, id); err != nil {
			return err
		}
	case id != "":
		if err := t.client.Purge(ctx, id); err != nil {
			return purgeAdvice(t.explainNotFound(err), id, false)
		}
	default:
		// Without --created-after, start at the earliest date-time Azure
		// Table storage holds, as Core Tools starts at DateTime.MinValue.
		q := client.PurgeQuery{CreatedFrom: layout.MinTableTime(), CreatedTo: c.createdBefore.t, Statuses: c.statuses}
		if c.createdAfter.set {
			q.CreatedFrom = c.createdAfter.t
		}
		progress, finish := e.progress("Purging instances")
		n, err = t.client.PurgeRange(ctx, q, progress)
		finish()
		if err != nil {
			return t.missingHub(err)
		}
	}
	if c.json {
		return writeJSON(e.stdout, fmt.Appendf(nil, `{"instancesDeleted":%d}`, n))
	}
	if id != "" && !c.recursive {
		fmt.Fprintf(e.stdout, "Purged instance %s.\n", id)
	} else {
		fmt.Fprintf(e.stdout, "Purged %d instance(s).\n", n)
	}
	return nil
}

// purgeAdvice says what to do when an instance could not be purged because
// it has not finished: "it is Running" alone left users guessing whether a
// flag would force it. None does, on purpose: purging a running instance
// would delete history the engine is still writing.
func purgeAdvice(err error, id string, recursive bool) error {
	var se *client.StateError
	var incomplete *client.PurgeIncompleteError
	switch {
	case errors.As(err, &se) && !se.Status.IsTerminal():
		return fmt.Errorf("%w; only finished instances can be purged (no flag forces it): terminate it first "+
			"(durable terminate --id %s), then run purge-history again", err, id)
	case recursive && errors.As(err, &incomplete):
		return fmt.Errorf("%w; terminate the tree first (durable terminate --id %s --recursive), then run purge-history again", err, id)
	}
	return err
}

// --- delete-task-hub -------------------------------------------------------------------

type deleteHubCmd struct{}

func (c *deleteHubCmd) define(*flag.FlagSet) {}

func (c *deleteHubCmd) run(ctx context.Context, e *env) error {
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	// A hub without taskhub.json may still have leftovers (a crash while
	// creating or deleting it), so delete anyway: deleting is idempotent.
	progress, finish := e.progress("Deleting task hub " + t.hub.Name())
	err = t.client.DeleteTaskHub(ctx, progress)
	finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Deleted task hub %s.\n", t.hub.Name())
	return nil
}
