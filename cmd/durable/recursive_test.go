package main

import (
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// testRecursiveTerminateAndPurge runs the samples' ApprovalTree, seven
// instances in three levels, and ends and removes it from the root.
func testRecursiveTerminateAndPurge(t *testing.T, f *fixture) {
	f.startWorker("Server=db")
	tree := func(root string) []string {
		return []string{root, root + "-0", root + "-1", root + "-0-0", root + "-0-1", root + "-1-0", root + "-1-1"}
	}
	f.startNew("ApprovalTree", "cli-tree", "")
	for _, id := range tree("cli-tree") {
		f.waitStatus(id, history.StatusRunning)
	}

	// While part of the tree runs, a recursive purge of a finished node
	// keeps what still runs: exit 4, with the count on stderr.
	f.ok("terminate", "--id", "cli-tree-0", "--reason", "branch")
	f.waitStatus("cli-tree-0", history.StatusTerminated)
	r := f.fails(exitWrongState, "not finished (cli-tree-0-0, cli-tree-0-1)", "purge-history", "--id", "cli-tree-0", "--recursive")
	if !strings.Contains(r.stderr, "Purged 0 instance(s) of the tree of cli-tree-0.") {
		t.Errorf("incomplete recursive purge: stderr %q should count what was purged", r.stderr)
	}
	f.waitStatus("cli-tree-0", history.StatusTerminated)

	r = f.ok("terminate", "--id", "cli-tree", "--reason", "cancelled", "--recursive")
	if !strings.Contains(r.stdout, "recursive termination request to instance cli-tree") {
		t.Errorf("terminate --recursive printed %q", r.stdout)
	}
	for _, id := range []string{"cli-tree", "cli-tree-1", "cli-tree-1-0", "cli-tree-1-1"} {
		st := f.waitStatus(id, history.StatusTerminated)
		jsonEqual(t, id+" output", st.Output, `"cancelled"`)
	}
	// cli-tree-0 was terminated on its own, without its children, before
	// the root: the root's recursive terminate does not go through a
	// finished instance.
	for _, id := range []string{"cli-tree-0-0", "cli-tree-0-1"} {
		f.waitStatus(id, history.StatusRunning)
	}
	f.ok("terminate", "--id", "cli-tree-0-0")
	f.ok("terminate", "--id", "cli-tree-0-1")
	f.waitStatus("cli-tree-0-0", history.StatusTerminated)
	f.waitStatus("cli-tree-0-1", history.StatusTerminated)

	r = f.ok("purge-history", "--id", "cli-tree", "--recursive", "--json")
	jsonEqual(t, "purge --recursive --json", []byte(r.stdout), `{"instancesDeleted":7}`)
	for _, id := range tree("cli-tree") {
		f.fails(exitNotFound, "not found", "get-runtime-status", "--id", id)
	}
	f.fails(exitNotFound, "not found", "purge-history", "--id", "cli-tree", "--recursive")
}
