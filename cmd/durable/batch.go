package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// --- batch -------------------------------------------------------------------

// batchCmd is `durable batch <operation>`: a bulk operation over every
// instance the filters select, run by the function app as an orchestration.
type batchCmd struct {
	op        string
	filter    filterFlags
	reason    string
	eventName string
	eventData string
	newID     setBool
	batchSize int
	recursive bool
	dryRun    bool
	noWait    bool
	json      jsonFlag
	// poll is how often the wait reads the bulk operation's status, and
	// pendingNote how long it may stay Pending before the command says no
	// app seems to run; tests shorten both.
	poll, pendingNote time.Duration
}

func (c *batchCmd) define(fs *flag.FlagSet) {
	c.filter.define(fs, "only instances with one of these `statuses` (several space- or comma-separated, or repeat\n"+
		"the flag); default: those the operation applies to")
	fs.StringVar(&c.reason, "reason", "", "reason, recorded by terminate (as the output), suspend, resume and rewind")
	fs.StringVar(&c.eventName, "event-name", "", "raiseEvent: the event's `name` (required)")
	fs.StringVar(&c.eventData, "event-data", "", "raiseEvent: the event's data, inline `JSON` or @path/to/file.json")
	c.newID.v = true
	fs.Var(&c.newID, "restart-with-new-instance-id", "restart: start each instance under a new ID; false restarts finished instances in place")
	fs.IntVar(&c.batchSize, "batch-size", client.DefaultBatchSize, "`number` of instances listed and handled per step (1..1000)")
	fs.BoolVar(&c.recursive, "recursive", false, "terminate, purge: reach each instance's sub-orchestrations too")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print how many instances match, per status, and change nothing")
	fs.BoolVar(&c.noWait, "no-wait", false, "print the bulk operation's instance ID and return without waiting for it")
	c.json.define(fs)
}

// positional takes the operation, the one argument before the flags.
func (c *batchCmd) positional(args []string) ([]string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return args, usageErrorf("the operation is required: durable batch <%s> [flags]", operationNames("|"))
	}
	c.op = args[0]
	return args[1:], nil
}

func operationNames(sep string) string {
	names := make([]string, len(client.BatchOperations))
	for i, op := range client.BatchOperations {
		names[i] = string(op)
	}
	return strings.Join(names, sep)
}

// request checks the command line and builds the request, before any
// storage is touched.
func (c *batchCmd) request() (client.BatchRequest, error) {
	op, err := client.ParseBatchOperation(c.op)
	if err != nil {
		return client.BatchRequest{}, usageErrorf("unknown operation %q: want one of %s", c.op, operationNames(", "))
	}
	filter, err := c.filter.query()
	if err != nil {
		return client.BatchRequest{}, err
	}
	if c.batchSize < 1 || c.batchSize > client.MaxBatchSize {
		return client.BatchRequest{}, usageErrorf("--batch-size must be 1..%d, not %d", client.MaxBatchSize, c.batchSize)
	}
	req := client.BatchRequest{Operation: op, Reason: c.reason, BatchSize: c.batchSize, Filter: filter}
	switch {
	case op == client.BatchRaiseEvent:
		if strings.TrimSpace(c.eventName) == "" {
			return req, usageErrorf("raiseEvent needs --event-name")
		}
		data, err := readJSONArg("event-data", c.eventData)
		if err != nil {
			return req, err
		}
		req.EventName = c.eventName
		if data != nil {
			req.EventData = data
		}
	case c.eventName != "" || c.eventData != "":
		return req, usageErrorf("--event-name and --event-data are only for raiseEvent, not %s", op)
	}
	if op == client.BatchRestart {
		req.RestartWithNewInstanceID = c.newID.v
	} else if c.newID.set {
		return req, usageErrorf("--restart-with-new-instance-id is only for restart, not %s", op)
	}
	req.Recursive = c.recursive
	if _, err := req.BatchInput(); err != nil {
		return req, badArgs(err)
	}
	return req, nil
}

func (c *batchCmd) run(ctx context.Context, e *env) error {
	req, err := c.request()
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	if c.dryRun {
		return c.printDryRun(ctx, e, t, req)
	}
	if !t.known {
		return t.missingHub(fmt.Errorf("start bulk %s: %w", req.Operation, client.ErrNotFound))
	}
	id, err := t.client.StartBatch(ctx, req)
	if err != nil {
		return t.missingHub(err)
	}
	if c.noWait {
		if c.json {
			return writeJSON(e.stdout, []byte(fmt.Sprintf(`{"id":%q}`, id)))
		}
		fmt.Fprintf(e.stdout, "Started bulk %s as instance %s; follow it with: durable get-runtime-status --id %s --show-output\n",
			req.Operation, id, id)
		return nil
	}
	fmt.Fprintf(e.stderr, "Started bulk %s as instance %s.\n", req.Operation, id)
	return c.wait(ctx, e, t, id)
}

// printDryRun counts the instances the operation would handle now: the
// filter with the operation's default statuses, without internal
// instances unless --show-internal asks for them.
func (c *batchCmd) printDryRun(ctx context.Context, e *env, t *target, req client.BatchRequest) error {
	in, err := req.BatchInput()
	if err != nil {
		return badArgs(err)
	}
	counts, err := t.client.CountBatchTargets(ctx, in.Filter)
	if err != nil {
		return t.missingHub(err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if c.json {
		b, err := json.Marshal(map[string]any{"operation": req.Operation, "matched": total, "counts": counts})
		if err != nil {
			return internalError(err)
		}
		return writeJSON(e.stdout, b)
	}
	fmt.Fprintf(e.stdout, "%d instances match; bulk %s would handle them (dry run: nothing was sent).\n", total, req.Operation)
	for _, s := range client.CountStatuses {
		if counts[s] > 0 {
			fmt.Fprintf(e.stdout, "  %-16s %d\n", s, counts[s])
		}
	}
	return nil
}

// wait follows the bulk operation with a progress line until it finishes,
// then prints its summary. A bulk operation that stays Pending means no
// app serves the hub: the command says so and leaves it queued.
func (c *batchCmd) wait(ctx context.Context, e *env, t *target, id string) error {
	poll, note := c.poll, c.pendingNote
	if poll <= 0 {
		poll = time.Second
	}
	if note <= 0 {
		note = 15 * time.Second
	}
	progress, finish := e.progress("bulk operation")
	defer finish()
	started := time.Now()
	for {
		st, err := t.client.GetStatus(ctx, id, client.StatusOptions{HideInput: true})
		if err != nil {
			return err
		}
		var prog client.BatchProgress
		if len(st.CustomStatus) > 0 && json.Unmarshal(st.CustomStatus, &prog) == nil && progress != nil {
			progress(prog.Matched, prog.Total)
		}
		switch {
		case st.RuntimeStatus == history.StatusCompleted:
			finish()
			return c.printSummary(e, st)
		case st.RuntimeStatus.IsTerminal():
			finish()
			// Not a storage error of this command: the operation itself
			// gave up (its task hub went away, say).
			return &cliError{code: exitUnexpected, err: fmt.Errorf("bulk operation %s ended %s: %s", id, st.RuntimeStatus, st.Output)}
		case st.RuntimeStatus == history.StatusPending && time.Since(started) > note:
			finish()
			fmt.Fprintf(e.stderr, "The bulk operation %s is still Pending: no app seems to be running against task hub %s.\n"+
				"It runs when the app runs; follow it with: durable get-runtime-status --id %s --show-output\n", id, t.hub.Name(), id)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting for bulk operation %s, which goes on: %w", id, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (c *batchCmd) printSummary(e *env, st *client.Status) error {
	var sum client.BatchSummary
	if err := json.Unmarshal(st.Output, &sum); err != nil {
		return internalError(fmt.Errorf("read the summary of bulk operation %s: %w", st.InstanceID, err))
	}
	if c.json {
		if err := writeJSON(e.stdout, st.Output); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "Bulk %s: %d matched, %d succeeded, %d failed.\n", sum.Operation, sum.Matched, sum.Succeeded, sum.Failed)
		for _, be := range sum.Errors {
			fmt.Fprintf(e.stdout, "  %s: %s\n", be.InstanceID, oneLine(be.Error))
		}
		if more := sum.Failed - len(sum.Errors); more > 0 {
			fmt.Fprintf(e.stdout, "  … and %d more\n", more)
		}
	}
	if sum.Failed > 0 {
		return &cliError{code: exitWrongState, err: fmt.Errorf("%d of %d instances failed", sum.Failed, sum.Matched)}
	}
	return nil
}

// setBool is a boolean flag that knows whether the command line gave it,
// to refuse it where it does not apply rather than ignore it.
type setBool struct{ v, set bool }

func (b *setBool) String() string   { return strconv.FormatBool(b != nil && b.v) }
func (b *setBool) IsBoolFlag() bool { return true }
func (b *setBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}
