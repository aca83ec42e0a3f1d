package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
)

// entityFlags are --name and --key, the entity to act on.
type entityFlags struct {
	name, key string
}

func (f *entityFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "entity `name` (required; not case sensitive)")
	fs.StringVar(&f.key, "key", "", "entity `key` (may be empty)")
}

func (f entityFlags) id() (entity.ID, error) {
	if strings.TrimSpace(f.name) == "" {
		return entity.ID{}, usageErrorf("--name is required")
	}
	id, err := entity.NewID(f.name, f.key)
	if err != nil {
		return entity.ID{}, usageErrorf("%w", err)
	}
	return id, nil
}

// --- signal-entity ---------------------------------------------------------------

type signalEntityCmd struct {
	entity    entityFlags
	operation string
	input     string
}

func (c *signalEntityCmd) define(fs *flag.FlagSet) {
	c.entity.define(fs)
	fs.StringVar(&c.operation, "operation", "", "`name` of the operation (required)")
	fs.StringVar(&c.input, "input", "", "input of the operation: inline `JSON`, or @path/to/file.json")
}

func (c *signalEntityCmd) run(ctx context.Context, e *env) error {
	id, err := c.entity.id()
	if err != nil {
		return err
	}
	if strings.TrimSpace(c.operation) == "" {
		return usageErrorf("--operation is required")
	}
	in, err := readJSONArg("input", c.input)
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	var input any
	if in != nil {
		input = in
	}
	if _, err := t.client.SignalEntity(ctx, id, c.operation, input, time.Time{}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Signalled %s to entity %s.\n", c.operation, id)
	return nil
}

// --- get-entity ---------------------------------------------------------------

type getEntityCmd struct {
	entity entityFlags
	json   jsonFlag
}

func (c *getEntityCmd) define(fs *flag.FlagSet) {
	c.entity.define(fs)
	c.json.define(fs)
}

func (c *getEntityCmd) run(ctx context.Context, e *env) error {
	id, err := c.entity.id()
	if err != nil {
		return err
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	md, err := t.client.GetEntity(ctx, id, true)
	if errors.Is(err, client.ErrEntityNotFound) {
		return notFound(t.explainNotFound(err))
	}
	if err != nil {
		return err
	}
	if c.json {
		// The HTTP API's body: the state itself.
		return writeJSON(e.stdout, md.State)
	}
	tw := newTable(e.stdout, "FIELD", "VALUE")
	tw.row("Entity", id.String())
	tw.row("Last operation", formatTime(md.LastOperationTime))
	if md.LockedBy != "" {
		tw.row("Locked by", md.LockedBy)
	}
	if md.BacklogQueueSize > 0 {
		tw.row("Waiting operations", strconv.Itoa(md.BacklogQueueSize))
	}
	tw.row("State", string(md.State))
	return tw.flush()
}

// --- get-entities ---------------------------------------------------------------

type getEntitiesCmd struct {
	name                       string
	lastOpAfter, lastOpBefore  timeValue
	fetchState, includeDeleted bool
	top                        int
	continuation               string
	json                       jsonFlag
}

func (c *getEntitiesCmd) define(fs *flag.FlagSet) {
	fs.StringVar(&c.name, "name", "", "only entities of this `name`")
	fs.Var(&c.lastOpAfter, "last-operation-after", "only entities whose last operation ran at or after this ISO 8601 `time`")
	fs.Var(&c.lastOpBefore, "last-operation-before", "only entities whose last operation ran before this ISO 8601 `time`")
	fs.BoolVar(&c.fetchState, "fetch-state", false, "include each entity's state")
	fs.BoolVar(&c.includeDeleted, "include-deleted", false, "include entities without state")
	fs.IntVar(&c.top, "top", 10, "`number` of entities per page")
	fs.StringVar(&c.continuation, "continuation-token", "", "`token` printed by the previous page, to get the next one")
	c.json.define(fs)
}

func (c *getEntitiesCmd) run(ctx context.Context, e *env) error {
	if c.top < 1 || c.top > 1000 {
		return usageErrorf("--top must be 1..1000, not %d", c.top)
	}
	if c.name != "" {
		if _, err := entity.NewID(c.name, ""); err != nil {
			return usageErrorf("--name: %w", err)
		}
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	page, err := t.client.ListEntities(ctx, client.EntityQuery{Name: c.name, LastOperationFrom: c.lastOpAfter.t,
		LastOperationTo: c.lastOpBefore.t, FetchState: c.fetchState, IncludeDeleted: c.includeDeleted, PageSize: c.top,
		ContinuationToken: c.continuation})
	if err != nil {
		return t.missingHub(err)
	}
	return printPage(e, bool(c.json), listPage{token: page.ContinuationToken, rows: len(page.Entities), empty: "No entities found.",
		json: func() ([]byte, error) { return apijson.Entities(page.Entities) },
		table: func() error {
			cols := []string{"ENTITY", "LAST OPERATION", "LOCKED BY"}
			if c.fetchState {
				cols = append(cols, "STATE")
			}
			tw := newTable(e.stdout, cols...)
			for _, md := range page.Entities {
				row := []string{md.ID.String(), formatTime(md.LastOperationTime), orDash(md.LockedBy)}
				if c.fetchState {
					row = append(row, string(md.State))
				}
				tw.row(row...)
			}
			return tw.flush()
		}})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// --- clean-entity-storage ---------------------------------------------------------------

type cleanEntityStorageCmd struct {
	removeEmpty, releaseLocks bool
	emptyFor                  time.Duration
	json                      jsonFlag
}

func (c *cleanEntityStorageCmd) define(fs *flag.FlagSet) {
	fs.BoolVar(&c.removeEmpty, "remove-empty", false, "remove entities without state, lock or waiting operation")
	fs.BoolVar(&c.releaseLocks, "release-orphaned-locks", false, "release locks whose orchestration no longer runs")
	fs.DurationVar(&c.emptyFor, "empty-for", entity.ReorderWindow,
		"how long an empty entity must have been idle to be removed (`duration`); shorter than a message can\ntake to be redelivered lets a late copy of one run again")
	c.json.define(fs)
}

func (c *cleanEntityStorageCmd) run(ctx context.Context, e *env) error {
	if !c.removeEmpty && !c.releaseLocks {
		return usageErrorf("say what to clean: --remove-empty, --release-orphaned-locks or both")
	}
	if c.emptyFor <= 0 {
		return usageErrorf("--empty-for must be positive, not %s", c.emptyFor)
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	res, err := t.client.CleanEntityStorage(ctx, client.CleanEntityOptions{RemoveEmptyEntities: c.removeEmpty,
		ReleaseOrphanedLocks: c.releaseLocks, EmptyFor: c.emptyFor})
	if err != nil {
		return t.missingHub(err)
	}
	if c.json {
		b, err := json.Marshal(map[string]int{"emptyEntitiesRemoved": res.EmptyEntitiesRemoved,
			"orphanedLocksReleased": res.OrphanedLocksReleased})
		if err != nil {
			return internalError(err)
		}
		return writeJSON(e.stdout, b)
	}
	fmt.Fprintf(e.stdout, "Removed %d empty entities; released %d orphaned locks.\n", res.EmptyEntitiesRemoved, res.OrphanedLocksReleased)
	return nil
}
