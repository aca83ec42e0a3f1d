package azstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/durable-go/durable/internal/layout"
)

// PutInFlight records that this worker holds work for instance id that
// storage alone does not show (see layout.InFlightTable). Concurrent
// writes for one partition share entity-group batches.
func (h *Hub) PutInFlight(ctx context.Context, id string) error {
	p := h.PartitionOf(id)
	e := layout.InFlightEntity(p, id)
	body, err := e.JSON()
	if err != nil {
		return fmt.Errorf("encode in-flight row of %q: %w", id, err)
	}
	if err := h.inflighter.put(ctx, layout.InFlightPartitionKey(p), layout.EscapePartitionKey(id), body, false); err != nil {
		return fmt.Errorf("record %q as in flight: %w", id, err)
	}
	return nil
}

// DeleteInFlight removes the in-flight rows of instances, ignoring rows
// already gone.
func (h *Hub) DeleteInFlight(ctx context.Context, ids ...string) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		p := h.PartitionOf(id)
		body, err := layout.InFlightEntity(p, id).JSON()
		if err != nil {
			errs[i] = fmt.Errorf("encode in-flight key of %q: %w", id, err)
			continue
		}
		wg.Go(func() {
			errs[i] = h.inflighter.put(ctx, layout.InFlightPartitionKey(p), layout.EscapePartitionKey(id), body, true)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ListInFlight returns the IDs of the instances recorded as in flight in
// control-queue partition p.
func (h *Hub) ListInFlight(ctx context.Context, p int) ([]string, error) {
	filter := fmt.Sprintf("PartitionKey eq '%s'", layout.InFlightPartitionKey(p))
	sel := "PartitionKey,RowKey"
	pager := h.inflight.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	var ids []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list in-flight instances of partition %d: %w", p, err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return nil, fmt.Errorf("list in-flight instances of partition %d: %w", p, err)
			}
			rk, _ := ent.String("RowKey")
			id, err := layout.UnescapePartitionKey(rk)
			if err != nil {
				return nil, fmt.Errorf("list in-flight instances of partition %d: row %q: %w", p, rk, err)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
