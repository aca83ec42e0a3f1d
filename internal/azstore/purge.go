package azstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/durable-go/durable/internal/layout"
)

// The storage primitives of a bulk purge. They let the management client
// delete many instances with few requests: one History query for many
// partitions, one entity-group batch per instance, one blob listing for many
// instances, and an ETag-checked delete of each instance row.

// HistoryKeys are the keys of one instance's History rows.
type HistoryKeys struct {
	// RowKeys are every row of the partition but the sentinel.
	RowKeys []string
	// SentinelETag is the sentinel row's ETag, "" when it has none.
	SentinelETag string
	// ExecutionID is the execution the sentinel names: the one whose
	// checkpoint is the last committed.
	ExecutionID string
}

// ErrBudget reports that a range read stopped because it returned more
// rows of other partitions than the caller allowed.
var ErrBudget = errors.New("read budget exhausted")

// ScanHistoryKeys reads the History row keys of every partition from
// loPK to hiPK (escaped instance IDs, both inclusive) in one range query
// that selects the keys only, and returns those of the partitions in want.
// A range query costs one pass over the range on the Table service (and
// one table scan on Azurite, whose queries are all scans) whatever the
// number of partitions, where a query per instance costs that each time.
//
// Rows of partitions not in want are read and dropped; when more than
// budget of them come back (budget <= 0: no limit), the read stops with
// ErrBudget, and what it returns is complete only for the wanted
// partitions up to the key reached, which it also returns (every wanted
// partition below it is complete).
func (h *Hub) ScanHistoryKeys(ctx context.Context, loPK, hiPK string, want map[string]bool, budget int) (map[string]*HistoryKeys, string, error) {
	var filter string
	if loPK == hiPK {
		filter = fmt.Sprintf("PartitionKey eq '%s'", odataQuote(loPK))
	} else {
		filter = fmt.Sprintf("PartitionKey ge '%s' and PartitionKey le '%s'", odataQuote(loPK), odataQuote(hiPK))
	}
	sel := "PartitionKey,RowKey,ExecutionId"
	pager := h.history.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	out := make(map[string]*HistoryKeys, len(want))
	other := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("list history keys of %q..%q: %w", loPK, hiPK, err)
		}
		var last string
		for _, raw := range page.Entities {
			var k struct {
				PartitionKey string `json:"PartitionKey"`
				RowKey       string `json:"RowKey"`
				ExecutionID  string `json:"ExecutionId"`
				ETag         string `json:"odata.etag"`
			}
			if err := json.Unmarshal(raw, &k); err != nil {
				return nil, "", fmt.Errorf("list history keys of %q..%q: parse row: %w", loPK, hiPK, err)
			}
			last = k.PartitionKey
			if !want[k.PartitionKey] {
				other++
				continue
			}
			hk := out[k.PartitionKey]
			if hk == nil {
				hk = &HistoryKeys{}
				out[k.PartitionKey] = hk
			}
			if k.RowKey == layout.SentinelRowKey {
				hk.SentinelETag, hk.ExecutionID = k.ETag, k.ExecutionID
			} else {
				hk.RowKeys = append(hk.RowKeys, k.RowKey)
			}
		}
		if budget > 0 && other > budget && pager.More() {
			// Partitions before the last one seen are complete; the last
			// one may continue on the next page.
			delete(out, last)
			return out, last, ErrBudget
		}
	}
	return out, "", nil
}

// DeleteHistoryRows deletes the given History rows of an instance in
// entity-group batches of at most 100. With a sentinel ETag, the first
// batch also deletes the sentinel on that ETag, so a checkpoint written
// since the keys were read (a rewind, a restart under the same ID) fails
// the whole batch with ErrConflict instead of losing the new rows; rows
// that are already gone (another purge) give ErrConflict too.
func (h *Hub) DeleteHistoryRows(ctx context.Context, instanceID string, k *HistoryKeys) error {
	pk := layout.EscapePartitionKey(instanceID)
	keys := k.RowKeys
	first := true
	for first || len(keys) > 0 {
		var batch []aztables.TransactionAction
		if first && k.SentinelETag != "" {
			body, _ := layout.Entity{"PartitionKey": pk, "RowKey": layout.SentinelRowKey}.JSON()
			e := azcore.ETag(k.SentinelETag)
			batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body, IfMatch: &e})
		}
		first = false
		n := min(100-len(batch), len(keys))
		for _, rk := range keys[:n] {
			body, _ := layout.Entity{"PartitionKey": pk, "RowKey": rk}.JSON()
			batch = append(batch, aztables.TransactionAction{ActionType: aztables.TransactionTypeDelete, Entity: body})
		}
		keys = keys[n:]
		if len(batch) == 0 {
			return nil
		}
		cctx, capture := withCapture(ctx)
		if _, err := h.history.SubmitTransaction(cctx, batch, nil); err != nil {
			// As in WriteHistory: the real status of a failed operation is
			// inside the batch answer.
			if code := failedBatchStatus(capture.body); code == 404 || code == 412 || isStatus(err, 404) || isStatus(err, 412) {
				return fmt.Errorf("delete history of %q: %w", instanceID, ErrConflict)
			}
			return fmt.Errorf("delete history of %q (%d rows): %w", instanceID, len(batch), err)
		}
	}
	return nil
}

// ListBlobNames lists the names of the large-message blobs starting with
// prefix, in name order, reading at most maxPages listing pages (5,000
// names each); complete is false when there were more. A missing container
// holds no blobs.
func (h *Hub) ListBlobNames(ctx context.Context, prefix string, maxPages int) (names []string, complete bool, err error) {
	opts := &azblob.ListBlobsFlatOptions{}
	if prefix != "" {
		opts.Prefix = &prefix
	}
	pager := h.blobs.client.NewListBlobsFlatPager(h.blobs.container, opts)
	for pages := 0; pager.More(); pages++ {
		if pages == maxPages {
			return names, false, nil
		}
		page, err := pager.NextPage(ctx)
		if err != nil {
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return names, true, nil
			}
			return nil, false, fmt.Errorf("list blobs %s/%s*: %w", h.blobs.container, prefix, err)
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name != nil {
				names = append(names, *item.Name)
			}
		}
	}
	return names, true, nil
}

// DeleteBlob deletes one large-message blob; a missing one is no error.
func (h *Hub) DeleteBlob(ctx context.Context, name string) error {
	if _, err := h.blobs.client.DeleteBlob(ctx, h.blobs.container, name, nil); err != nil &&
		!bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		return fmt.Errorf("delete blob %s/%s: %w", h.blobs.container, name, err)
	}
	return nil
}

// DeleteInstanceRowIfMatch removes an instance row if it still has the
// given ETag (any row when etag is ""): ErrConflict when the row changed
// since it was read, ErrNotFound when it is gone.
func (h *Hub) DeleteInstanceRowIfMatch(ctx context.Context, instanceID, etag string) error {
	var opts *aztables.DeleteEntityOptions
	if etag != "" {
		e := azcore.ETag(etag)
		opts = &aztables.DeleteEntityOptions{IfMatch: &e}
	}
	if _, err := h.instances.DeleteEntity(ctx, layout.EscapePartitionKey(instanceID), "", opts); err != nil {
		switch {
		case isStatus(err, 404):
			return fmt.Errorf("instance %q: %w", instanceID, ErrNotFound)
		case isStatus(err, 412):
			return fmt.Errorf("instance %q changed: %w", instanceID, ErrConflict)
		}
		return fmt.Errorf("delete instance %q: %w", instanceID, err)
	}
	return nil
}
