package client_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

// treeIDs are the instance IDs of the samples' default ApprovalTree under
// root: the root, two children, four grandchildren.
func treeIDs(root string) []string {
	return []string{root, root + "-0", root + "-1", root + "-0-0", root + "-0-1", root + "-1-0", root + "-1-1"}
}

// startTree starts an ApprovalTree and waits until all seven instances run.
func startTree(t *testing.T, a *app.App, root string) {
	t.Helper()
	if _, err := a.Client.StartNew(context.Background(), "ApprovalTree", nil, client.StartOptions{InstanceID: root}); err != nil {
		t.Fatal(err)
	}
	for _, id := range treeIDs(root) {
		waitStatus(t, a.Client, id, history.StatusRunning)
	}
}

// requireGone checks that nothing of an instance is left in storage.
func requireGone(t *testing.T, hub *azstore.Hub, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := hub.GetInstance(ctx, id); !errors.Is(err, azstore.ErrNotFound) {
		t.Errorf("%s: instance row after the purge: %v", id, err)
	}
	if hs, err := hub.LoadHistory(ctx, id); err != nil || hs.Rows != 0 {
		t.Errorf("%s: history after the purge: %v rows, %v", id, hs, err)
	}
}

func TestRecursiveTerminateAndPurgeOfATree(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, true)
	defer stop(t, a, true)

	startTree(t, a, "rt")
	// A suspended node in the middle is terminated like the others, and
	// passes the terminate on to its children.
	if err := a.Client.Suspend(ctx, "rt-1", "hold"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "rt-1", history.StatusSuspended)
	if err := a.Client.TerminateWithOptions(ctx, "rt", client.TerminateOptions{Reason: "cancelled", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range treeIDs("rt") {
		if st := waitStatus(t, a.Client, id, history.StatusTerminated); string(st.Output) != `"cancelled"` {
			t.Errorf("%s: output %s, want the root's reason", id, st.Output)
		}
	}
	if err := a.Client.TerminateWithOptions(ctx, "rt", client.TerminateOptions{Recursive: true}); !errors.Is(err, client.ErrWrongState) {
		t.Fatalf("recursive terminate of a terminated root: %v, want ErrWrongState", err)
	}

	n, err := a.Client.PurgeWithOptions(ctx, "rt", client.PurgeOptions{Recursive: true})
	if err != nil || n != 7 {
		t.Fatalf("recursive purge: %d deleted, %v; want 7", n, err)
	}
	for _, id := range treeIDs("rt") {
		requireGone(t, a.Hub, id)
	}
	if _, err := a.Client.PurgeWithOptions(ctx, "rt", client.PurgeOptions{Recursive: true}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second recursive purge: %v, want ErrNotFound", err)
	}
}

func TestNonRecursiveTerminateLeavesTheTreeRunning(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, true)
	defer stop(t, a, true)

	startTree(t, a, "nr")
	// One leaf finishes on its own.
	if err := a.Client.RaiseEvent(ctx, "nr-0-0", "Approval", true); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "nr-0-0", history.StatusCompleted)
	if err := a.Client.TerminateWithOptions(ctx, "nr", client.TerminateOptions{Reason: "root only"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "nr", history.StatusTerminated)
	time.Sleep(time.Second) // what a recursive terminate would have reached by now
	for _, id := range []string{"nr-0", "nr-1", "nr-0-1", "nr-1-0", "nr-1-1"} {
		if st, err := a.Client.GetStatus(ctx, id, client.StatusOptions{}); err != nil || st.RuntimeStatus != history.StatusRunning {
			t.Fatalf("%s after a non-recursive terminate of the root: %v, %v; want Running", id, st, err)
		}
	}

	// A recursive purge leaves the running children with their subtrees
	// (the completed leaf under nr-0 included), and the root that names
	// them, so that the purge can be repeated once they finish.
	n, err := a.Client.PurgeWithOptions(ctx, "nr", client.PurgeOptions{Recursive: true})
	var incomplete *client.PurgeIncompleteError
	if !errors.As(err, &incomplete) || !errors.Is(err, client.ErrWrongState) || n != 0 || incomplete.Deleted != 0 ||
		!reflect.DeepEqual(incomplete.Unfinished, []string{"nr-0", "nr-1"}) {
		t.Fatalf("recursive purge of a tree still running: %d, %v; want none deleted and nr-0, nr-1 unfinished", n, err)
	}
	waitStatus(t, a.Client, "nr", history.StatusTerminated)
	waitStatus(t, a.Client, "nr-0-0", history.StatusCompleted)

	// Terminating a middle node recursively ends its subtree only.
	if err := a.Client.TerminateWithOptions(ctx, "nr-0", client.TerminateOptions{Reason: "branch", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "nr-0", history.StatusTerminated)
	waitStatus(t, a.Client, "nr-0-1", history.StatusTerminated)
	waitStatus(t, a.Client, "nr-1", history.StatusRunning)
	if err := a.Client.TerminateWithOptions(ctx, "nr-1", client.TerminateOptions{Reason: "branch", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"nr-1", "nr-1-0", "nr-1-1"} {
		waitStatus(t, a.Client, id, history.StatusTerminated)
	}
	n, err = a.Client.PurgeWithOptions(ctx, "nr", client.PurgeOptions{Recursive: true})
	if err != nil || n != 7 {
		t.Fatalf("repeated recursive purge: %d deleted, %v; want 7", n, err)
	}
	for _, id := range treeIDs("nr") {
		requireGone(t, a.Hub, id)
	}
}

func TestRecursiveTerminateOfAPendingRoot(t *testing.T) {
	ctx := context.Background()
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, true)
	defer stop(t, a, true)

	if _, err := a.Client.StartNew(ctx, "ApprovalTree", nil, client.StartOptions{InstanceID: "pt", StartAt: time.Now().Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "pt", history.StatusPending)
	if err := a.Client.TerminateWithOptions(ctx, "pt", client.TerminateOptions{Reason: "never mind", Recursive: true}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a.Client, "pt", history.StatusTerminated)
	// Whether the root ran before the terminate reached it (its children
	// then exist and are terminated in turn) or not (they never exist),
	// nothing of the tree is left running.
	time.Sleep(time.Second)
	for _, id := range treeIDs("pt")[1:] {
		_, err := a.Client.GetStatus(ctx, id, client.StatusOptions{})
		if errors.Is(err, client.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, a.Client, id, history.StatusTerminated)
	}
	if _, err := a.Client.PurgeWithOptions(ctx, "pt", client.PurgeOptions{Recursive: true}); err != nil {
		t.Fatalf("recursive purge: %v", err)
	}
	for _, id := range treeIDs("pt") {
		requireGone(t, a.Hub, id)
	}
}

func TestRecursiveOptionsRefuseWhatPlainCallsRefuse(t *testing.T) {
	ctx := context.Background()
	// No worker: the instance started stays Pending.
	a := newApp(t, testutil.UniqueHubName(t), map[string]string{}, false)
	if err := a.Hub.CreateIfNotExists(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Hub.Delete(ctx) }()
	if err := a.Client.TerminateWithOptions(ctx, "nope", client.TerminateOptions{Recursive: true}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("terminate of unknown: %v", err)
	}
	if err := a.Client.TerminateWithOptions(ctx, "a/b", client.TerminateOptions{Recursive: true}); !errors.Is(err, client.ErrBadArgument) {
		t.Fatalf("terminate of a bad ID: %v", err)
	}
	if _, err := a.Client.PurgeWithOptions(ctx, "nope", client.PurgeOptions{Recursive: true}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("purge of unknown: %v", err)
	}
	if _, err := a.Client.StartNew(ctx, "ApprovalTree", nil, client.StartOptions{InstanceID: "pending"}); err != nil {
		t.Fatal(err)
	}
	var se *client.StateError
	if n, err := a.Client.PurgeWithOptions(ctx, "pending", client.PurgeOptions{Recursive: true}); !errors.As(err, &se) || n != 0 {
		t.Fatalf("recursive purge of a pending root: %d, %v; want a StateError", n, err)
	}
	if n, err := a.Client.PurgeWithOptions(ctx, "pending", client.PurgeOptions{}); !errors.As(err, &se) || n != 0 {
		t.Fatalf("purge of a pending root: %d, %v; want a StateError", n, err)
	}
}
