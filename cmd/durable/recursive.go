package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/durable-go/durable/internal/client"
)

// terminateCmd is the terminate command: a reasonCmd with --recursive.
type terminateCmd struct {
	reasonCmd
	recursive bool
}

func newTerminateCmd() *terminateCmd {
	c := &terminateCmd{reasonCmd: reasonCmd{
		done:        "Sent the termination request to instance %s; it ends as Terminated when the app processes it.",
		reasonUsage: "reason for terminating, recorded as the instance's output"}}
	c.do = func(cl *client.Client, ctx context.Context, id, reason string) error {
		return cl.TerminateWithOptions(ctx, id, client.TerminateOptions{Reason: reason, Recursive: c.recursive})
	}
	return c
}

func (c *terminateCmd) define(fs *flag.FlagSet) {
	c.reasonCmd.define(fs)
	fs.BoolVar(&c.recursive, "recursive", false, "terminate the instance's sub-orchestrations too, and theirs: the whole tree")
}

func (c *terminateCmd) run(ctx context.Context, e *env) error {
	if c.recursive {
		c.done = "Sent the recursive termination request to instance %s; it and its unfinished sub-orchestrations end as Terminated when the app processes it."
	}
	return c.reasonCmd.run(ctx, e)
}

// purgeTree purges an instance and its tree of sub-orchestrations. When
// part of the tree has not finished, what was purged is reported on
// stderr before the error, since the count is not in the exit code.
func purgeTree(ctx context.Context, e *env, t *target, id string) (int, error) {
	n, err := t.client.PurgeWithOptions(ctx, id, client.PurgeOptions{Recursive: true})
	var incomplete *client.PurgeIncompleteError
	if errors.As(err, &incomplete) {
		fmt.Fprintf(e.stderr, "Purged %d instance(s) of the tree of %s.\n", n, id)
	}
	return n, purgeAdvice(t.explainNotFound(err), id, true)
}
