package azstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/durable-go/durable/internal/layout"
)

// indexWriteTimeout bounds one index write. A write outlives the caller
// that queued it (others may share its batch), so it cannot use the
// caller's context.
const indexWriteTimeout = 30 * time.Second

// indexWriter writes a table's rows (the index's, the in-flight table's)
// with group commit: rows for one table partition queue up while a write
// for that partition is in flight and go in the next entity-group batch
// together. An idle hub pays one request per row, as before batching; a
// burst pays about one request per hundred.
type indexWriter struct {
	table *aztables.Client
	// what names the rows in errors.
	what string
	mu   sync.Mutex
	// queues holds, per partition key, the batches waiting for the
	// partition's drainer; a key is present while its drainer runs.
	queues map[string][]*indexBatch
}

type indexBatch struct {
	// del says whether the batch deletes its rows rather than writes
	// them; a batch does one or the other.
	del  bool
	rows map[string][]byte // RowKey → entity JSON
	done chan struct{}
	err  error
}

func newIndexWriter(t *aztables.Client, what string) *indexWriter {
	return &indexWriter{table: t, what: what, queues: map[string][]*indexBatch{}}
}

// put queues one row to write, or with del to delete, and waits until
// that is done or ctx ends.
func (w *indexWriter) put(ctx context.Context, pk, rk string, body []byte, del bool) error {
	w.mu.Lock()
	q, draining := w.queues[pk]
	var b *indexBatch
	if n := len(q); n > 0 && len(q[n-1].rows) < maxBatchEvents+1 && q[n-1].del == del {
		b = q[n-1]
	} else {
		b = &indexBatch{del: del, rows: map[string][]byte{}, done: make(chan struct{})}
		w.queues[pk] = append(q, b)
	}
	b.rows[rk] = body
	if !draining {
		go w.drain(pk)
	}
	w.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return fmt.Errorf("write %s row %s/%s: %w", w.what, pk, rk, ctx.Err())
	}
}

// drain writes the partition's batches one after another until none waits.
func (w *indexWriter) drain(pk string) {
	for {
		w.mu.Lock()
		q := w.queues[pk]
		if len(q) == 0 {
			delete(w.queues, pk)
			w.mu.Unlock()
			return
		}
		b := q[0]
		w.queues[pk] = q[1:]
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), indexWriteTimeout)
		if b.del {
			b.err = w.delete(ctx, pk, b.rows)
		} else {
			b.err = w.write(ctx, pk, b.rows)
		}
		cancel()
		close(b.done)
	}
}

func (w *indexWriter) write(ctx context.Context, pk string, rows map[string][]byte) error {
	if len(rows) == 1 {
		for rk, body := range rows {
			if _, err := w.table.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
				return fmt.Errorf("write %s row %s/%s: %w", w.what, pk, rk, err)
			}
		}
		return nil
	}
	batch := make([]aztables.TransactionAction, 0, len(rows))
	for _, body := range rows {
		batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: body})
	}
	if _, err := w.table.SubmitTransaction(ctx, batch, nil); err != nil {
		return fmt.Errorf("write %d %s rows in %s: %w", len(rows), w.what, pk, err)
	}
	return nil
}

// delete removes rows in one entity-group batch. A batch fails whole when
// one of its rows is gone (another reader removed it as stale), so then
// each row is deleted alone, a missing one counting as deleted.
func (w *indexWriter) delete(ctx context.Context, pk string, rows map[string][]byte) error {
	if len(rows) > 1 {
		batch := make([]aztables.TransactionAction, 0, len(rows))
		for _, body := range rows {
			batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body})
		}
		if _, err := w.table.SubmitTransaction(ctx, batch, nil); err == nil {
			return nil
		}
	}
	var errs []error
	for rk := range rows {
		if _, err := w.table.DeleteEntity(ctx, pk, rk, nil); err != nil && !isStatus(err, 404) &&
			!hasTableCode(err, aztables.TableNotFound, aztables.ResourceNotFound) {
			errs = append(errs, fmt.Errorf("delete %s row %s/%s: %w", w.what, pk, rk, err))
		}
	}
	return errors.Join(errs...)
}

// PutIndex records that instance id was created at created, before the
// instance row says so. A hub whose index table does not exist (made by a
// version without it) has nothing to keep in step: the write is skipped,
// and the hub's first worker indexes the instance with the rest.
func (h *Hub) PutIndex(ctx context.Context, id string, created time.Time) error {
	e := h.IndexEntryOf(id, created)
	body, err := e.Entity().JSON()
	if err != nil {
		return fmt.Errorf("encode index row of %q: %w", id, err)
	}
	err = h.indexer.put(ctx, e.PartitionKey, e.RowKey, body, false)
	if err != nil && hasTableCode(err, aztables.TableNotFound, aztables.ResourceNotFound) {
		return nil
	}
	return err
}

// DeleteIndex removes index rows, ignoring those already gone. Concurrent
// deletes in one table partition share batches, as writes do. Stale rows
// are harmless (readers check them), so callers may treat a failure as a
// warning.
func (h *Hub) DeleteIndex(ctx context.Context, entries []layout.IndexEntry) error {
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	for i, e := range entries {
		body, err := layout.Entity{"PartitionKey": e.PartitionKey, "RowKey": e.RowKey}.JSON()
		if err != nil {
			errs[i] = fmt.Errorf("encode index key %s/%s: %w", e.PartitionKey, e.RowKey, err)
			continue
		}
		wg.Go(func() { errs[i] = h.indexer.put(ctx, e.PartitionKey, e.RowKey, body, true) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// IndexEntryOf is the index row an instance row points back to.
func (h *Hub) IndexEntryOf(id string, created time.Time) layout.IndexEntry {
	return layout.NewIndexEntry(id, h.PartitionOf(id), created)
}

// IndexQuery selects index rows by creation time.
type IndexQuery struct {
	// From and To bound CreatedTime: from inclusive, to exclusive; zero
	// values do not bound.
	From, To time.Time
	// AfterPartitionKey and AfterRowKey, when set, resume after that row.
	AfterPartitionKey, AfterRowKey string
	// Top caps the rows returned.
	Top int32
}

// QueryIndex reads index rows matching q in key order: the next rows
// after q's position, at most q.Top, and whether more may follow.
func (h *Hub) QueryIndex(ctx context.Context, q IndexQuery) ([]layout.IndexEntry, bool, error) {
	parts := []string{fmt.Sprintf("PartitionKey lt '%s'", layout.IndexMarkerPartitionKey)}
	if !q.From.IsZero() {
		parts = append(parts, fmt.Sprintf("PartitionKey ge '%s'", layout.IndexHourKey(q.From)),
			fmt.Sprintf("RowKey ge '%s'", layout.FormatTime(q.From)))
	}
	if !q.To.IsZero() {
		// "." sorts after the "-pp" of every partition key of To's hour.
		parts = append(parts, fmt.Sprintf("PartitionKey lt '%s.'", layout.IndexHourKey(q.To)),
			fmt.Sprintf("RowKey lt '%s'", layout.FormatTime(q.To)))
	}
	if q.AfterPartitionKey != "" {
		pk, rk := odataQuote(q.AfterPartitionKey), odataQuote(q.AfterRowKey)
		parts = append(parts, fmt.Sprintf("(PartitionKey gt '%s' or (PartitionKey eq '%s' and RowKey gt '%s'))", pk, pk, rk))
	}
	filter := strings.Join(parts, " and ")
	sel := "PartitionKey,RowKey,InstanceId,CreatedTime"
	opts := &aztables.ListEntitiesOptions{Filter: &filter, Select: &sel}
	if q.Top > 0 {
		opts.Top = &q.Top
	}
	pager := h.index.NewListEntitiesPager(opts)
	var out []layout.IndexEntry
	// The service may answer a page with no rows and a continuation (it
	// stops at partition ranges and time limits); read on until a row
	// comes or the query ends.
	for pager.More() && len(out) == 0 {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("query instance index (%s): %w", filter, err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return nil, false, fmt.Errorf("query instance index: parse row: %w", err)
			}
			if e, ok := layout.ParseIndexEntry(ent); ok {
				out = append(out, e)
			}
		}
	}
	return out, pager.More(), nil
}

// IndexComplete reports whether the index lists every instance, so that
// queries may use it: true once the marker row exists.
func (h *Hub) IndexComplete(ctx context.Context) (bool, error) {
	_, err := h.index.GetEntity(ctx, layout.IndexMarkerPartitionKey, layout.IndexMarkerRowKey, nil)
	switch {
	case err == nil:
		return true, nil
	case isStatus(err, 404):
		return false, nil
	}
	return false, fmt.Errorf("read instance index marker: %w", err)
}

func (h *Hub) markIndexComplete(ctx context.Context) error {
	body, err := layout.Entity{"PartitionKey": layout.IndexMarkerPartitionKey, "RowKey": layout.IndexMarkerRowKey,
		"CompletedAt": time.Now().UTC()}.JSON()
	if err != nil {
		return fmt.Errorf("encode instance index marker: %w", err)
	}
	if _, err := h.index.UpsertEntity(ctx, body, nil); err != nil {
		return fmt.Errorf("write instance index marker: %w", err)
	}
	return nil
}

// BackfillIndex indexes every instance row of the hub, then marks the
// index complete; it returns how many rows it indexed. A hub made by an
// earlier version needs it once. It reads the Instances table once
// (CreatedTime only) and writes index rows in entity-group batches; an
// interrupted backfill is simply run again, since the writes are upserts.
func (h *Hub) BackfillIndex(ctx context.Context) (int, error) {
	sel := "PartitionKey,RowKey,CreatedTime"
	pager := h.instances.NewListEntitiesPager(&aztables.ListEntitiesOptions{Select: &sel})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("backfill instance index: read instances: %w", err)
		}
		byPK := map[string][]aztables.TransactionAction{}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return n, fmt.Errorf("backfill instance index: parse row: %w", err)
			}
			pk, _ := ent.String("PartitionKey")
			id, err := layout.UnescapePartitionKey(pk)
			if err != nil || id == "" {
				continue
			}
			created, err := ent.Time("CreatedTime")
			if err != nil || created.IsZero() {
				continue
			}
			ie := h.IndexEntryOf(id, created)
			body, err := ie.Entity().JSON()
			if err != nil {
				return n, fmt.Errorf("backfill instance index: encode row of %q: %w", id, err)
			}
			byPK[ie.PartitionKey] = append(byPK[ie.PartitionKey], aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: body})
		}
		for pk, acts := range byPK {
			for start := 0; start < len(acts); start += 100 {
				end := min(start+100, len(acts))
				if _, err := h.index.SubmitTransaction(ctx, acts[start:end], nil); err != nil {
					return n, fmt.Errorf("backfill instance index: write %d rows in %s: %w", end-start, pk, err)
				}
				n += end - start
			}
		}
	}
	if err := h.markIndexComplete(ctx); err != nil {
		return n, err
	}
	return n, nil
}
