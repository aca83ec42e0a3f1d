package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// TerminateOptions adjust TerminateWithOptions.
type TerminateOptions struct {
	// Reason is the terminated instance's output.
	Reason string
	// Recursive terminates the instance's whole tree of sub-orchestrations
	// too: every one of them that has not finished ends as Terminated with
	// the same reason.
	Recursive bool
}

// PurgeOptions adjust PurgeWithOptions.
type PurgeOptions struct {
	// Recursive purges the instance's whole tree of sub-orchestrations
	// too, children before parents.
	Recursive bool
}

// maxTreeDepth bounds how deep a recursive purge follows sub-orchestrations,
// as rewind does: a deeper tree is almost surely an ID reused in a loop.
const maxTreeDepth = 32

// TerminateWithOptions is Terminate with options. A recursive terminate is
// carried out by the engine, not by this client walking the tree: the
// terminate message carries the recursive flag, and the episode that
// terminates an instance also sends, with the same checkpoint, a recursive
// terminate to each of its sub-orchestrations that has not finished. So
// the whole tree ends even when children are created while the request is
// on its way, and no crash leaves part of it running. It takes effect
// asynchronously, like Terminate.
func (c *Client) TerminateWithOptions(ctx context.Context, id string, o TerminateOptions) error {
	if !o.Recursive {
		return c.Terminate(ctx, id, o.Reason)
	}
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if row.RuntimeStatus.IsTerminal() {
		return fmt.Errorf("%w: instance %q is already %s", ErrWrongState, id, row.RuntimeStatus)
	}
	r, _ := json.Marshal(o.Reason) // a string always encodes
	return c.signal(ctx, id, history.Event{Type: history.ExecutionTerminated, EventID: -1, Timestamp: time.Now().UTC(),
		Input: string(r), Recursive: true}, "terminate")
}

// PurgeIncompleteError reports a recursive purge that had to leave part of
// the tree because some instances in it have not finished. It is an
// ErrWrongState.
type PurgeIncompleteError struct {
	// InstanceID is the root of the purge.
	InstanceID string
	// Deleted is how many instances the purge deleted.
	Deleted int
	// Unfinished are the IDs of the instances found not finished, sorted.
	Unfinished []string
}

// Error counts what was deleted and names what was not finished.
func (e *PurgeIncompleteError) Error() string {
	return fmt.Sprintf("recursive purge of %q deleted %d instances but left the tree in part: %d not finished (%s), and their ancestors were kept",
		e.InstanceID, e.Deleted, len(e.Unfinished), strings.Join(e.Unfinished, ", "))
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *PurgeIncompleteError) Unwrap() error { return ErrWrongState }

// PurgeWithOptions is Purge with options, and returns how many instances
// it deleted. Like Purge, it fails with ErrNotFound for an unknown ID and
// with a StateError when the instance has not finished.
//
// A recursive purge goes children first: it reads the instance's history,
// purges each sub-orchestration it created (depth first, the same way),
// and only then the instance itself. The parent's history, which is what
// names the children, is thus deleted last, and a purge that was
// interrupted can simply be repeated. Children that no longer exist were
// purged before and are skipped. An instance that has not finished is left
// as it is, with its subtree, and so are its ancestors up to the root:
// purging them would lose the only record of where it is, so that a purge
// repeated once it has finished could not find it. The purge then deletes
// everything else and returns a *PurgeIncompleteError that counts the
// instances deleted and names the unfinished ones. Only the current
// execution's children are found: an instance that continued as new does
// not keep the history of earlier executions.
func (c *Client) PurgeWithOptions(ctx context.Context, id string, o PurgeOptions) (int, error) {
	if !o.Recursive {
		if err := c.Purge(ctx, id); err != nil {
			return 0, err
		}
		return 1, nil
	}
	row, err := c.instance(ctx, id)
	if err != nil {
		return 0, err
	}
	if !row.RuntimeStatus.IsTerminal() {
		return 0, &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "purge"}
	}
	p := &treePurge{c: c, seen: map[string]bool{id: true}, io: make(chan struct{}, purgeParallelism)}
	if _, err := p.purge(ctx, id, 0); err != nil {
		return p.deleted, err
	}
	if len(p.unfinished) > 0 {
		sort.Strings(p.unfinished)
		return p.deleted, &PurgeIncompleteError{InstanceID: id, Deleted: p.deleted, Unfinished: p.unfinished}
	}
	return p.deleted, nil
}

// treePurge is the state of one recursive purge; siblings are purged in
// parallel, so it is guarded by mu.
type treePurge struct {
	c *Client
	// io bounds the storage calls in flight for the whole tree. It is held
	// around each call, never while waiting for children, which would
	// deadlock a tree deeper than its capacity.
	io         chan struct{}
	mu         sync.Mutex
	seen       map[string]bool
	deleted    int
	unfinished []string
}

// purgeParallelism bounds the storage calls of one recursive purge: a
// fan-out parent may have hundreds of children.
const purgeParallelism = 8

// do runs one storage call within the purge's bound.
func (p *treePurge) do(fn func() error) error {
	p.io <- struct{}{}
	defer func() { <-p.io }()
	return fn()
}

// purge purges id's subtree, then id, and reports whether id is gone. The
// caller has marked id as seen.
func (p *treePurge) purge(ctx context.Context, id string, depth int) (gone bool, err error) {
	if depth > maxTreeDepth {
		return false, fmt.Errorf("recursive purge of %q: sub-orchestrations nest more than %d deep", id, maxTreeDepth)
	}
	var row *layout.InstanceRow
	err = p.do(func() (err error) { row, err = p.c.hub.GetInstance(ctx, id); return err })
	if errors.Is(err, azstore.ErrNotFound) {
		// Purged already (the row goes last), or a child whose start never
		// got through.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("recursive purge: read instance %q: %w", id, err)
	}
	if !row.RuntimeStatus.IsTerminal() {
		p.mu.Lock()
		p.unfinished = append(p.unfinished, id)
		p.mu.Unlock()
		return false, nil
	}
	var hs *azstore.HistorySnapshot
	err = p.do(func() (err error) { hs, err = p.c.hub.LoadHistory(ctx, id); return err })
	if err != nil {
		return false, fmt.Errorf("recursive purge: read history of %q: %w", id, err)
	}
	var children []string
	p.mu.Lock()
	for _, e := range hs.Events {
		// seen guards against cycles and against a child listed twice: an
		// instance ID reused by orchestrations that start each other.
		if e.Type == history.SubOrchestrationInstanceCreated && e.InstanceID != "" && !p.seen[e.InstanceID] {
			p.seen[e.InstanceID] = true
			children = append(children, e.InstanceID)
		}
	}
	p.mu.Unlock()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		kept     bool
	)
	for _, child := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			childGone, err := p.purge(ctx, child, depth+1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			kept = kept || !childGone
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return false, firstErr
	}
	if kept {
		return false, nil
	}
	// Purge checks the status again: the instance may have been restarted
	// since it was read.
	if err := p.do(func() error { return p.c.Purge(ctx, id) }); err != nil {
		var se *StateError
		switch {
		case errors.Is(err, ErrNotFound):
			return true, nil
		case errors.As(err, &se):
			p.mu.Lock()
			p.unfinished = append(p.unfinished, id)
			p.mu.Unlock()
			return false, nil
		}
		return false, fmt.Errorf("recursive purge: %w", err)
	}
	p.mu.Lock()
	p.deleted++
	p.mu.Unlock()
	return true, nil
}
