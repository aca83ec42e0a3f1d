package azstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// HistorySnapshot is an instance's current execution as stored.
type HistorySnapshot struct {
	// ExecutionID is the sentinel's execution; "" when the instance has no
	// history yet.
	ExecutionID string
	// Events are the current execution's events in sequence order.
	Events []history.Event
	// ETag is the sentinel row's ETag, the token for the next checkpoint.
	ETag azcore.ETag
	// Rows counts every history row of the instance, old executions too.
	Rows int
}

// LoadHistory reads an instance's history. Only rows of the sentinel's
// execution count: a continue-as-new overwrites rows in place, so rows of
// older executions may remain past the current one's end. Of those, only the
// first CheckpointEventCount count: rows past it belong to a checkpoint
// that was cut short between its batches, and are taken for what they are,
// not written yet (see WriteHistory).
func (h *Hub) LoadHistory(ctx context.Context, instanceID string) (*HistorySnapshot, error) {
	filter := fmt.Sprintf("PartitionKey eq '%s'", odataQuote(layout.EscapePartitionKey(instanceID)))
	pager := h.history.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	type row struct {
		seq  int
		exec string
		ev   history.Event
	}
	var rows []row
	snap := &HistorySnapshot{}
	committed := -1
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("load history of %q: %w", instanceID, err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return nil, fmt.Errorf("load history of %q: parse row: %w", instanceID, err)
			}
			snap.Rows++
			rk, _ := ent.String("RowKey")
			if rk == layout.SentinelRowKey {
				sen, err := layout.DecodeSentinelRow(ent)
				if err != nil {
					return nil, fmt.Errorf("load history of %q: %w", instanceID, err)
				}
				snap.ExecutionID, snap.ETag, committed = sen.ExecutionID, azcore.ETag(sen.ETag), sen.EventCount
				continue
			}
			seq, exec, ev, err := layout.DecodeHistoryRow(ctx, h.blobs, ent)
			if err != nil {
				return nil, fmt.Errorf("load history of %q: %w", instanceID, err)
			}
			rows = append(rows, row{seq, exec, ev})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].seq < rows[j].seq })
	for _, r := range rows {
		if committed >= 0 && len(snap.Events) == committed {
			break
		}
		if r.exec == snap.ExecutionID && r.seq == len(snap.Events) {
			snap.Events = append(snap.Events, r.ev)
		}
	}
	return snap, nil
}

// startRows is how many of an execution's first history rows LoadStart
// reads: a start is written at its beginning (the first episode's
// OrchestratorStarted, then ExecutionStarted).
const startRows = 4

// LoadStart reads the ExecutionStarted event of an instance's current
// execution, nil when it has none, reading the sentinel and the first rows
// only (one request, whatever the history's length); a history whose start
// is not among them is read whole.
func (h *Hub) LoadStart(ctx context.Context, instanceID string) (*history.Event, error) {
	filter := fmt.Sprintf("PartitionKey eq '%s' and (RowKey le '%s' or RowKey eq '%s')",
		odataQuote(layout.EscapePartitionKey(instanceID)), layout.RowKey(startRows-1), layout.SentinelRowKey)
	pager := h.history.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	var (
		exec   string
		starts = map[string]history.Event{} // by execution ID
	)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("load the start of %q: %w", instanceID, err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return nil, fmt.Errorf("load the start of %q: parse row: %w", instanceID, err)
			}
			if layout.IsSentinel(ent) {
				sen, err := layout.DecodeSentinelRow(ent)
				if err != nil {
					return nil, fmt.Errorf("load the start of %q: %w", instanceID, err)
				}
				exec = sen.ExecutionID
				continue
			}
			_, e, ev, err := layout.DecodeHistoryRow(ctx, h.blobs, ent)
			if err != nil {
				return nil, fmt.Errorf("load the start of %q: %w", instanceID, err)
			}
			if ev.Type == history.ExecutionStarted {
				starts[e] = ev
			}
		}
	}
	if exec == "" {
		return nil, nil // no history
	}
	if ev, ok := starts[exec]; ok {
		return &ev, nil
	}
	hs, err := h.LoadHistory(ctx, instanceID)
	if err != nil {
		return nil, err
	}
	for i := range hs.Events {
		if hs.Events[i].Type == history.ExecutionStarted {
			return &hs.Events[i], nil
		}
	}
	return nil, nil
}

// Checkpoint appends events to an instance's history.
type Checkpoint struct {
	InstanceID  string
	ExecutionID string
	// FirstSeq is the sequence number of Events[0] in the execution.
	FirstSeq int
	Events   []history.Event
	// ETag is the sentinel's ETag from the last load or checkpoint; empty
	// for an instance without history, whose sentinel is then inserted.
	ETag azcore.ETag
	// Rewrite marks a checkpoint that rewrites the current execution's
	// stored rows in place (a rewind): its batches but the last leave the
	// sentinel's event count as it was, so a write cut short shows the
	// execution at its old length, some rows rewritten, rather than cut.
	Rewrite bool
}

// maxBatchEvents leaves room for the sentinel in a 100-operation batch.
const maxBatchEvents = 99

// maxBatchBytes stays under the 4 MiB batch limit with room for framing.
const maxBatchBytes = 3 << 20

// FirstBatchEvents is how many events of a checkpoint the first batch holds
// at least: events past them may land in a later batch.
const FirstBatchEvents = maxBatchEvents

// WriteHistory writes a checkpoint in entity-group batches and returns the
// sentinel's new ETag. Each batch carries the sentinel, with the ETag check
// and the count of the execution's events committed once the batch lands,
// so the checkpoint is all or nothing as a reader sees it when it fits one
// batch, and else a prefix of it: a crash between batches leaves the
// events up to the end of the last batch written, never a gap and never a
// batch taken for the end. The caller keeps what the rest came from (its
// messages undeleted) until WriteHistory returns; a new execution, which
// overwrites its predecessor's rows in place, must hold in its first batch
// every event that exists nowhere else (see FirstBatchEvents).
//
// ErrConflict means another worker checkpointed the instance meanwhile: the
// caller must drop its copy, never merge.
func (h *Hub) WriteHistory(ctx context.Context, cp Checkpoint) (azcore.ETag, error) {
	etag, _, err := h.WriteHistoryCounted(ctx, cp)
	return etag, err
}

// WriteHistoryCounted is WriteHistory that also returns how many of
// cp.Events are committed, on error too: the batches that landed.
func (h *Hub) WriteHistoryCounted(ctx context.Context, cp Checkpoint) (azcore.ETag, int, error) {
	bodies := make([][]byte, len(cp.Events))
	for i, ev := range cp.Events {
		ent, err := layout.EncodeHistoryRow(ctx, h.blobs, cp.InstanceID, cp.ExecutionID, cp.FirstSeq+i, ev)
		if err != nil {
			return "", 0, fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, err)
		}
		body, err := ent.JSON()
		if err != nil {
			return "", 0, fmt.Errorf("checkpoint of %q: encode row %d: %w", cp.InstanceID, cp.FirstSeq+i, err)
		}
		bodies[i] = body
	}
	// Batch boundaries: at most maxBatchEvents rows and maxBatchBytes each.
	var ends []int
	size := 0
	for i, body := range bodies {
		start := 0
		if len(ends) > 0 {
			start = ends[len(ends)-1]
		}
		if i > start && (i-start == maxBatchEvents || size+len(body) > maxBatchBytes) {
			ends = append(ends, i)
			size = 0
		}
		size += len(body)
	}
	ends = append(ends, len(bodies))

	etag := cp.ETag
	start := 0
	for n, end := range ends {
		batch := make([]aztables.TransactionAction, 0, end-start+1)
		for _, body := range bodies[start:end] {
			// InsertReplace makes a retried checkpoint idempotent and lets a
			// new execution overwrite the rows of the one it continued from.
			batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: body})
		}
		last := n == len(ends)-1
		count := cp.FirstSeq + end
		if cp.Rewrite && !last {
			count = -1
		}
		sentinel := layout.SentinelRow(cp.InstanceID, cp.ExecutionID, count, last, time.Now().UTC())
		body, err := sentinel.JSON()
		if err != nil {
			return "", start, fmt.Errorf("encode sentinel of %q: %w", cp.InstanceID, err)
		}
		act := aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd, Entity: body}
		if etag != "" {
			e := etag
			act = aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateMerge, Entity: body, IfMatch: &e}
		}
		batch = append(batch, act)
		cctx, capture := withCapture(ctx)
		if _, err := h.history.SubmitTransaction(cctx, batch, nil); err != nil {
			// A failed operation inside a batch comes back as a 202 whose
			// body holds the real status; aztables reports only the 202.
			if code := failedBatchStatus(capture.body); code == 409 || code == 412 || code == 404 {
				return "", start, fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, ErrConflict)
			}
			if isConflict(err) || isStatus(err, 404) {
				return "", start, fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, ErrConflict)
			}
			return "", start, fmt.Errorf("checkpoint of %q (%d rows): %w", cp.InstanceID, len(batch), err)
		}
		if next, ok := lastETag(capture.body); ok {
			etag = next
		} else {
			// Not every service echoes ETags in batch answers; read it back.
			resp, err := h.history.GetEntity(ctx, layout.EscapePartitionKey(cp.InstanceID), layout.SentinelRowKey, nil)
			if err != nil {
				return "", end, fmt.Errorf("read sentinel of %q after checkpoint: %w", cp.InstanceID, err)
			}
			etag = resp.ETag
		}
		start = end
	}
	return etag, len(cp.Events), nil
}

// DeleteHistory removes every history row of an instance and returns how
// many rows it removed.
func (h *Hub) DeleteHistory(ctx context.Context, instanceID string) (int, error) {
	pk := layout.EscapePartitionKey(instanceID)
	filter := fmt.Sprintf("PartitionKey eq '%s'", odataQuote(pk))
	sel := "PartitionKey,RowKey"
	pager := h.history.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	var keys []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list history of %q: %w", instanceID, err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return 0, fmt.Errorf("list history of %q: %w", instanceID, err)
			}
			rk, _ := ent.String("RowKey")
			keys = append(keys, rk)
		}
	}
	for start := 0; start < len(keys); start += 100 {
		end := min(start+100, len(keys))
		var batch []aztables.TransactionAction
		for _, rk := range keys[start:end] {
			body, _ := layout.Entity{"PartitionKey": pk, "RowKey": rk}.JSON()
			batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body})
		}
		if _, err := h.history.SubmitTransaction(ctx, batch, nil); err != nil {
			return start, fmt.Errorf("delete history of %q: %w", instanceID, err)
		}
	}
	return len(keys), nil
}
