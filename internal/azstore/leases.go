package azstore

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/durable-go/durable/internal/layout"
)

// Lease is one control-queue partition's row in the Partitions table, in
// the shape of the provider's table partition manager, plus NeedsRecovery.
// The rows' PartitionKey is the hub name rather than the provider's empty
// key: the Go table client refuses point operations on an empty key.
type Lease struct {
	Partition    int
	CurrentOwner string
	NextOwner    string
	OwnedSince   time.Time
	LastRenewal  time.Time
	ExpiresAt    time.Time
	IsDraining   bool
	// NeedsRecovery is set while an owner holds the partition and cleared
	// by a clean release: a new owner that finds it set (or takes over an
	// expired lease) must recover work its predecessor held in memory.
	NeedsRecovery bool
	etag          azcore.ETag
}

// ReadLeases returns every partition's lease, creating missing rows.
func (h *Hub) ReadLeases(ctx context.Context) ([]*Lease, error) {
	leases, err := h.listLeases(ctx)
	if err != nil {
		return nil, err
	}
	missing := false
	for i, l := range leases {
		if l == nil {
			missing = true
			body, _ := layout.Entity{"PartitionKey": h.name, "RowKey": layout.ControlQueue(h.name, i), "CurrentOwner": ""}.JSON()
			if _, err := h.leases.AddEntity(ctx, body, nil); err != nil && !isConflict(err) {
				return nil, fmt.Errorf("create lease row for partition %d: %w", i, err)
			}
		}
	}
	if missing {
		return h.listLeases(ctx)
	}
	return leases, nil
}

func (h *Hub) listLeases(ctx context.Context) ([]*Lease, error) {
	filter := fmt.Sprintf("PartitionKey eq '%s'", odataQuote(h.name))
	pager := h.leases.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	out := make([]*Lease, h.partitions)
	byName := map[string]int{}
	for i := range out {
		byName[layout.ControlQueue(h.name, i)] = i
	}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read partition leases: %w", err)
		}
		for _, raw := range page.Entities {
			ent, err := layout.ParseEntity(raw)
			if err != nil {
				return nil, fmt.Errorf("read partition leases: %w", err)
			}
			rk, _ := ent.String("RowKey")
			i, ok := byName[rk]
			if !ok {
				continue
			}
			l := &Lease{Partition: i, etag: azcore.ETag(ent.ETag())}
			l.CurrentOwner, _ = ent.String("CurrentOwner")
			l.NextOwner, _ = ent.String("NextOwner")
			l.OwnedSince, _ = ent.Time("OwnedSince")
			l.LastRenewal, _ = ent.Time("LastRenewal")
			l.ExpiresAt, _ = ent.Time("ExpiresAt")
			l.IsDraining, _ = ent.Bool("IsDraining")
			l.NeedsRecovery, _ = ent.Bool("NeedsRecovery")
			out[i] = l
		}
	}
	return out, nil
}

// WriteLease replaces a lease row if nobody changed it since it was read;
// ErrConflict otherwise. On success l carries the new ETag.
func (h *Hub) WriteLease(ctx context.Context, l *Lease) error {
	ent := layout.Entity{"PartitionKey": h.name, "RowKey": layout.ControlQueue(h.name, l.Partition),
		"CurrentOwner": l.CurrentOwner, "NextOwner": l.NextOwner, "IsDraining": l.IsDraining,
		"NeedsRecovery": l.NeedsRecovery}
	for name, t := range map[string]time.Time{"OwnedSince": l.OwnedSince, "LastRenewal": l.LastRenewal, "ExpiresAt": l.ExpiresAt} {
		if !t.IsZero() {
			ent[name] = t.UTC()
		}
	}
	body, err := ent.JSON()
	if err != nil {
		return fmt.Errorf("encode lease of partition %d: %w", l.Partition, err)
	}
	e := l.etag
	resp, err := h.leases.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &e, UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		if isConflict(err) {
			return fmt.Errorf("lease of partition %d: %w", l.Partition, ErrConflict)
		}
		return fmt.Errorf("write lease of partition %d: %w", l.Partition, err)
	}
	l.etag = resp.ETag
	return nil
}
