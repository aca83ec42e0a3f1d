package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// Purging many instances: selection (EachMatch, a list of IDs) feeds
// batches of instance rows into one pipeline, which per batch reads the
// History keys of up to purgeChunk instances in one range query and the
// names of their payload blobs in one listing, and then deletes instances
// with purgeConcurrency at a time: History rows in entity-group batches,
// blobs, and last the instance row, on the ETag it was selected with. An
// interrupted purge leaves each instance either untouched, or with its row
// (and so selectable again) but part of its history gone; running the purge
// again finishes it.
//
// Requests per instance of a range purge without large payloads: one
// History batch and one row delete, plus a share of the page read (1/1000),
// the key query (about 1/100 per 25 rows of history) and the blob listing
// (1/1000).

const (
	// purgePageSize is the page of a range purge's selection; the next
	// page is read while this one is deleted.
	purgePageSize = 1000
	// purgeChunk is how many instances share one History key query. Larger
	// chunks save queries but make the first deletes of a page wait longer.
	purgeChunk = 100
	// defaultPurgeConcurrency is how many instances are deleted at once;
	// Azurite, one Node process, gains nothing from more (see BENCHMARKS.md).
	defaultPurgeConcurrency = 8
	// otherRowsPerInstance bounds the History rows of unselected instances a
	// key query may read per selected one (one answer page) before the
	// rest of the chunk falls back to a query per instance: a sparse
	// selection then costs at most about twice the requests of the
	// per-instance queries, never a scan of a huge table per chunk.
	otherRowsPerInstance = 1000
)

// purgeTarget is an instance selected for purging.
type purgeTarget struct {
	id string
	// etag is the instance row's ETag at selection; "" deletes the row
	// whatever it holds by then.
	etag string
	// created is the row's CreatedTime, which names its index row.
	created time.Time
}

// purgeJob is an instance ready to be deleted.
type purgeJob struct {
	purgeTarget
	// keys are the instance's History keys; nil when they must be read.
	keys *azstore.HistoryKeys
	// blobs are the instance's payload blobs when blobsKnown.
	blobs      []string
	blobsKnown bool
	// err fails the job without touching storage.
	err error
}

func (c *Client) purgeConcurrency() int {
	if c.opts.PurgeConcurrency > 0 {
		return c.opts.PurgeConcurrency
	}
	return defaultPurgeConcurrency
}

// runPurge deletes every instance of every batch read from batches until
// the channel closes, calling report once per instance (never two calls at
// once) with nil for an instance deleted, a StateError for one found
// unfinished on a second look, or the error that stopped it. The targets
// must be finished instances; a target whose row changed since it was read
// is read again and purged only if it is still finished.
func (c *Client) runPurge(ctx context.Context, batches <-chan []purgeTarget, report func(id string, err error)) {
	jobs := make(chan *purgeJob, purgeChunk)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		// index holds the index rows of purged instances, deleted a
		// hundred at a time: they share entity-group batches far better
		// than one at a time. Rows a crash leaves behind point to nothing;
		// readers skip them and delete them.
		index []layout.IndexEntry
	)
	forget := func(all bool) {
		mu.Lock()
		var rows []layout.IndexEntry
		if len(index) >= purgeChunk || (all && len(index) > 0) {
			rows, index = index, nil
		}
		mu.Unlock()
		if len(rows) == 0 {
			return
		}
		if err := c.hub.DeleteIndex(context.WithoutCancel(ctx), rows); err != nil {
			c.opts.Logger.Debug("removing purged instances' index rows failed; readers will", "rows", len(rows), "error", err)
		}
	}
	for range c.purgeConcurrency() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := j.err
				var created time.Time
				if err == nil {
					created, err = c.purgeJob(ctx, j)
				}
				mu.Lock()
				if err == nil && !created.IsZero() {
					index = append(index, c.hub.IndexEntryOf(j.id, created))
				}
				report(j.id, err)
				mu.Unlock()
				forget(false)
			}
		}()
	}
	for batch := range batches {
		c.preparePurge(ctx, batch, jobs)
	}
	close(jobs)
	wg.Wait()
	forget(true)
}

// preparePurge reads what deleting batch needs and queues its jobs. Jobs
// are queued chunk by chunk, so the workers delete one chunk while the
// keys of the next are read.
func (c *Client) preparePurge(ctx context.Context, batch []purgeTarget, jobs chan<- *purgeJob) {
	send := func(j *purgeJob) {
		if err := ctx.Err(); err != nil && j.err == nil {
			j.err = fmt.Errorf("purge %q: %w", j.id, err)
		}
		jobs <- j
	}
	batch = sortedTargets(batch)
	names, blobsKnown, blobErr := c.payloadBlobs(ctx, batch)
	for start := 0; start < len(batch); start += purgeChunk {
		chunk := batch[start:min(start+purgeChunk, len(batch))]
		want := make(map[string]bool, len(chunk))
		for _, t := range chunk {
			want[layout.EscapePartitionKey(t.id)] = true
		}
		var (
			keys    map[string]*azstore.HistoryKeys
			reached string
			err     = blobErr
		)
		if err == nil && ctx.Err() == nil {
			lo, hi := layout.EscapePartitionKey(chunk[0].id), layout.EscapePartitionKey(chunk[len(chunk)-1].id)
			keys, reached, err = c.hub.ScanHistoryKeys(ctx, lo, hi, want, otherRowsPerInstance*len(chunk))
			if errors.Is(err, azstore.ErrBudget) {
				err = nil
			}
		}
		for _, t := range chunk {
			j := &purgeJob{purgeTarget: t, blobsKnown: blobsKnown}
			if err != nil {
				j.err = fmt.Errorf("purge %q: %w", t.id, err)
			}
			pk := layout.EscapePartitionKey(t.id)
			if keys != nil && (reached == "" || pk < reached) {
				if j.keys = keys[pk]; j.keys == nil {
					j.keys = &azstore.HistoryKeys{} // no history at all
				}
			}
			if blobsKnown {
				j.blobs = blobsOf(names, t.id)
			}
			send(j)
		}
	}
}

// sortedTargets returns the targets in PartitionKey order without
// duplicates, so that each chunk is a narrow key range.
func sortedTargets(batch []purgeTarget) []purgeTarget {
	out := append([]purgeTarget(nil), batch...)
	sort.SliceStable(out, func(i, j int) bool {
		return layout.EscapePartitionKey(out[i].id) < layout.EscapePartitionKey(out[j].id)
	})
	n := 0
	for i, t := range out {
		if i > 0 && t.id == out[n-1].id {
			continue
		}
		out[n] = t
		n++
	}
	return out[:n]
}

// payloadBlobs lists the large-message blobs of a batch at once: one
// listing under the IDs' common prefix, a single request when the
// container holds none of them (the common case: most payloads fit in
// their rows). When the listing would take more pages than the batch has
// instances per five, known is false and each instance lists its own.
func (c *Client) payloadBlobs(ctx context.Context, batch []purgeTarget) (names []string, known bool, err error) {
	if len(batch) == 0 {
		return nil, true, nil
	}
	ids := make([]string, len(batch))
	for i, t := range batch {
		ids[i] = t.id
	}
	names, complete, err := c.hub.ListBlobNames(ctx, commonBlobPrefix(ids), 1+len(batch)/5)
	if err != nil {
		return nil, false, err
	}
	return names, complete, nil
}

// commonBlobPrefix is the longest prefix of every ID that is also a prefix
// of every escaped ID: instance blobs are named under the escaped ID and
// message blobs under the raw one.
func commonBlobPrefix(ids []string) string {
	first := ids[0]
	end := 0
	for i, r := range first {
		if layout.EscapePartitionKey(string(r)) != string(r) || r == utf8.RuneError {
			break
		}
		next := i + utf8.RuneLen(r)
		shared := true
		for _, id := range ids[1:] {
			if len(id) < next || id[i:next] != first[i:next] {
				shared = false
				break
			}
		}
		if !shared {
			break
		}
		end = next
	}
	return first[:end]
}

// blobsOf picks the blobs of one instance out of a sorted listing.
func blobsOf(names []string, id string) []string {
	var out []string
	prefixes := []string{layout.BlobPrefix(id)}
	if raw := id + "/"; raw != prefixes[0] {
		prefixes = append(prefixes, raw)
	}
	for _, p := range prefixes {
		for i := sort.SearchStrings(names, p); i < len(names) && strings.HasPrefix(names[i], p); i++ {
			out = append(out, names[i])
		}
	}
	return out
}

// purgeJob deletes one instance, reading it again once if it changed
// since it was selected, and returns the CreatedTime of the row it
// deleted (zero when it found none), which names its index row.
func (c *Client) purgeJob(ctx context.Context, j *purgeJob) (time.Time, error) {
	for attempt := 0; ; attempt++ {
		err := c.deleteInstance(ctx, j)
		if !errors.Is(err, azstore.ErrConflict) {
			return j.created, err
		}
		if attempt == 1 {
			return time.Time{}, fmt.Errorf("%w: instance %q changed while being purged; try again", ErrWrongState, j.id)
		}
		// Changed since selection (a rewind, a restart under the same ID,
		// another purge): go on only if it is still finished.
		row, err := c.hub.GetInstance(ctx, j.id)
		if errors.Is(err, azstore.ErrNotFound) {
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("purge %q: %w", j.id, err)
		}
		if !row.RuntimeStatus.IsTerminal() {
			return time.Time{}, &StateError{InstanceID: j.id, Status: row.RuntimeStatus, Op: "purge"}
		}
		j = &purgeJob{purgeTarget: purgeTarget{id: j.id, etag: row.ETag, created: row.CreatedTime}}
	}
}

// deleteInstance removes history, then blobs, then the row, so that an
// interrupted purge leaves the row to find again. A row already gone
// counts as deleted: another purge got there first.
func (c *Client) deleteInstance(ctx context.Context, j *purgeJob) error {
	keys := j.keys
	if keys == nil {
		pk := layout.EscapePartitionKey(j.id)
		m, _, err := c.hub.ScanHistoryKeys(ctx, pk, pk, map[string]bool{pk: true}, 0)
		if err != nil {
			return fmt.Errorf("purge %q: %w", j.id, err)
		}
		if keys = m[pk]; keys == nil {
			keys = &azstore.HistoryKeys{}
		}
	}
	if err := c.hub.DeleteHistoryRows(ctx, j.id, keys); err != nil {
		return fmt.Errorf("purge %q: %w", j.id, err)
	}
	if j.blobsKnown {
		for _, name := range j.blobs {
			if err := c.hub.DeleteBlob(ctx, name); err != nil {
				return fmt.Errorf("purge %q: %w", j.id, err)
			}
		}
	} else if _, err := c.hub.DeleteInstanceBlobs(ctx, j.id); err != nil {
		return fmt.Errorf("purge %q: %w", j.id, err)
	}
	if err := c.hub.DeleteInstanceRowIfMatch(ctx, j.id, j.etag); err != nil && !errors.Is(err, azstore.ErrNotFound) {
		return fmt.Errorf("purge %q: %w", j.id, err)
	}
	return nil
}

// Purge removes one finished instance: its history, blobs and row. It
// returns ErrNotFound for an unknown ID and a StateError for an instance
// that has not finished.
func (c *Client) Purge(ctx context.Context, id string) error {
	row, err := c.instance(ctx, id)
	if err != nil {
		return err
	}
	if !row.RuntimeStatus.IsTerminal() {
		return &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "purge"}
	}
	batches := make(chan []purgeTarget, 1)
	batches <- []purgeTarget{{id: id, etag: row.ETag, created: row.CreatedTime}}
	close(batches)
	var out error
	c.runPurge(ctx, batches, func(_ string, err error) { out = err })
	return out
}

// PurgeMany removes the finished instances among ids, many at a time, and
// returns how many it removed. report, when set, is called once per ID
// (never two calls at once) with nil for a removed instance, ErrNotFound
// or ErrBadArgument for an ID that names none, a StateError for an
// instance that has not finished (left alone), or the storage error that
// stopped it. The returned error is the first storage error, if any; the
// other IDs are still tried.
func (c *Client) PurgeMany(ctx context.Context, ids []string, report func(id string, err error)) (int, error) {
	if report == nil {
		report = func(string, error) {}
	}
	var (
		mu       sync.Mutex
		deleted  int
		firstErr error
	)
	record := func(id string, err error) {
		mu.Lock()
		defer mu.Unlock()
		var se *StateError
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrBadArgument), errors.As(err, &se):
		case firstErr == nil:
			firstErr = err
		}
		report(id, err)
	}
	batches := make(chan []purgeTarget, 1)
	go func() {
		defer close(batches)
		for start := 0; start < len(ids); start += purgePageSize {
			targets := c.readTargets(ctx, ids[start:min(start+purgePageSize, len(ids))], record)
			if len(targets) > 0 {
				batches <- targets
			}
		}
	}()
	// record is called by runPurge under its own lock and by readTargets
	// concurrently with it, hence record's own lock.
	c.runPurge(ctx, batches, record)
	return deleted, firstErr
}

// readTargets reads the rows of ids, purgeConcurrency at a time, and
// returns the finished ones; the others are reported at once.
func (c *Client) readTargets(ctx context.Context, ids []string, report func(id string, err error)) []purgeTarget {
	var (
		mu  sync.Mutex
		out []purgeTarget
		g   errgroup.Group
	)
	g.SetLimit(c.purgeConcurrency())
	for _, id := range ids {
		g.Go(func() error {
			row, err := c.instance(ctx, id)
			if err == nil && !row.RuntimeStatus.IsTerminal() {
				err = &StateError{InstanceID: id, Status: row.RuntimeStatus, Op: "purge"}
			}
			if err != nil {
				report(id, err)
				return nil
			}
			mu.Lock()
			out = append(out, purgeTarget{id: id, etag: row.ETag, created: row.CreatedTime})
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // every failure went to report
	return out
}

// terminalStatuses are the statuses an instance can be purged in.
var terminalStatuses = []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed,
	history.StatusTerminated, history.StatusCanceled}

// PurgeRange removes every finished instance created in the range with one
// of the statuses, and returns how many it removed. progress, when set, is
// told of each removal as it happens (total 0: unknown in advance).
// Finished internal instances (finished bulk operations) are removed too:
// a purge by age is housekeeping, as in Durable Functions, and nothing
// else would ever reclaim their rows; a running bulk operation is never
// finished, so never purged.
func (c *Client) PurgeRange(ctx context.Context, q PurgeQuery, progress Progress) (int, error) {
	if q.CreatedFrom.IsZero() {
		return 0, fmt.Errorf("%w: createdTimeFrom is required to purge by range", ErrBadArgument)
	}
	if q.CreatedTo.IsZero() {
		q.CreatedTo = time.Now().UTC()
	}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = terminalStatuses
	}
	for _, s := range statuses {
		if !s.IsTerminal() {
			return 0, fmt.Errorf("%w: only finished instances can be purged (Completed, Failed, Terminated, Canceled), not %s",
				ErrBadArgument, s)
		}
	}
	return c.PurgeMatching(ctx, Query{CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo, Statuses: statuses, ShowInternal: true},
		nil, progress)
}

// PurgeMatching removes the finished instances that q selects (walked
// with EachMatch; paging fields are ignored) and, when pick is set, that
// pick accepts, and returns how many it removed. The next page of matches
// is read while the current one is deleted. It stops at the first storage
// error and returns it with the count so far; instances that turn out to
// be unfinished, or that keep changing while being purged, are left alone
// without error. progress, when set, is told of each removal (total 0).
func (c *Client) PurgeMatching(ctx context.Context, q Query, pick func(*Status) bool, progress Progress) (int, error) {
	q.PageSize, q.ContinuationToken, q.ShowInput = purgePageSize, "", false
	// What the filters, the index's check and pick (retention reads the
	// times) need: never an output, which may live in a blob.
	q.columns = []string{"Name", "RuntimeStatus", "CreatedTime", "LastUpdatedTime", "CompletedTime"}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	batches := make(chan []purgeTarget, 1)
	var selectErr error
	go func() {
		defer close(batches)
		selectErr = c.EachMatch(ctx, q, func(p *Page) error {
			var targets []purgeTarget
			for _, st := range p.Instances {
				// The filter asks for finished instances; an index that
				// lags behind the rows must not change what is deleted.
				if st.RuntimeStatus.IsTerminal() && (pick == nil || pick(st)) {
					targets = append(targets, purgeTarget{id: st.InstanceID, etag: st.etag, created: st.CreatedTime})
				}
			}
			if len(targets) == 0 {
				return nil
			}
			select {
			case batches <- targets:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
	}()

	var (
		deleted  int
		firstErr error
	)
	c.runPurge(ctx, batches, func(id string, err error) {
		switch {
		case err == nil:
			deleted++
			if progress != nil {
				progress(deleted, 0)
			}
		case errors.Is(err, ErrWrongState):
			// Unfinished after all, or changing under the purge: not an
			// instance to delete now, and no reason to stop the others.
		case firstErr == nil:
			firstErr = err
			cancel(err)
		}
	})
	if firstErr != nil {
		return deleted, firstErr
	}
	if selectErr != nil {
		return deleted, fmt.Errorf("select instances to purge: %w", selectErr)
	}
	return deleted, ctx.Err()
}
