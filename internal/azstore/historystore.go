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
// older executions may remain past the current one's end.
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
				snap.ExecutionID, _ = ent.String("ExecutionId")
				snap.ETag = azcore.ETag(ent.ETag())
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
		if r.exec == snap.ExecutionID && r.seq == len(snap.Events) {
			snap.Events = append(snap.Events, r.ev)
		}
	}
	return snap, nil
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
}

// maxBatchEvents leaves room for the sentinel in a 100-operation batch.
const maxBatchEvents = 99

// maxBatchBytes stays under the 4 MiB batch limit with room for framing.
const maxBatchBytes = 3 << 20

// WriteHistory writes a checkpoint in entity-group batches, each carrying
// the sentinel with the ETag check, and returns the sentinel's new ETag.
// ErrConflict means another worker checkpointed the instance meanwhile:
// the caller must drop its copy, never merge.
func (h *Hub) WriteHistory(ctx context.Context, cp Checkpoint) (azcore.ETag, error) {
	etag := cp.ETag
	var batch []aztables.TransactionAction
	size := 0
	flush := func() error {
		sentinel := layout.SentinelRow(cp.InstanceID, cp.ExecutionID, time.Now().UTC())
		body, err := sentinel.JSON()
		if err != nil {
			return fmt.Errorf("encode sentinel of %q: %w", cp.InstanceID, err)
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
				return fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, ErrConflict)
			}
			if isConflict(err) || isStatus(err, 404) {
				return fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, ErrConflict)
			}
			return fmt.Errorf("checkpoint of %q (%d rows): %w", cp.InstanceID, len(batch), err)
		}
		if next, ok := lastETag(capture.body); ok {
			etag = next
		} else {
			// Not every service echoes ETags in batch answers; read it back.
			resp, err := h.history.GetEntity(ctx, layout.EscapePartitionKey(cp.InstanceID), layout.SentinelRowKey, nil)
			if err != nil {
				return fmt.Errorf("read sentinel of %q after checkpoint: %w", cp.InstanceID, err)
			}
			etag = resp.ETag
		}
		batch, size = batch[:0], 0
		return nil
	}
	for i, ev := range cp.Events {
		ent, err := layout.EncodeHistoryRow(ctx, h.blobs, cp.InstanceID, cp.ExecutionID, cp.FirstSeq+i, ev)
		if err != nil {
			return "", fmt.Errorf("checkpoint of %q: %w", cp.InstanceID, err)
		}
		body, err := ent.JSON()
		if err != nil {
			return "", fmt.Errorf("checkpoint of %q: encode row %d: %w", cp.InstanceID, cp.FirstSeq+i, err)
		}
		if len(batch) > 0 && (len(batch) == maxBatchEvents || size+len(body) > maxBatchBytes) {
			if err := flush(); err != nil {
				return "", err
			}
		}
		// InsertReplace makes a retried checkpoint idempotent and lets a new
		// execution overwrite the rows of the one it continued from.
		batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: body})
		size += len(body)
	}
	if err := flush(); err != nil {
		return "", err
	}
	return etag, nil
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
