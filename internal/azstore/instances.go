package azstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// GetInstance reads an instance row; ErrNotFound when there is none.
func (h *Hub) GetInstance(ctx context.Context, instanceID string) (*layout.InstanceRow, error) {
	row, err := h.GetInstanceColumns(ctx, instanceID, nil)
	if err == nil && row == nil {
		return nil, fmt.Errorf("instance %q: %w", instanceID, ErrNotFound)
	}
	return row, err
}

// GetInstanceColumns reads an instance row like GetInstance, keeping only
// the given columns (all when nil), so that a payload left out is not
// downloaded from its blob; nil when there is no such row.
func (h *Hub) GetInstanceColumns(ctx context.Context, instanceID string, columns []string) (*layout.InstanceRow, error) {
	resp, err := h.instances.GetEntity(ctx, layout.EscapePartitionKey(instanceID), "", nil)
	if err != nil {
		if isStatus(err, 404) {
			return nil, nil
		}
		return nil, fmt.Errorf("read instance %q: %w", instanceID, err)
	}
	ent, err := layout.ParseEntity(resp.Value)
	if err != nil {
		return nil, fmt.Errorf("parse instance %q: %w", instanceID, err)
	}
	if columns != nil {
		keep := map[string]bool{"PartitionKey": true, "RowKey": true}
		for _, c := range columns {
			keep[c] = true
		}
		for k := range ent {
			col, _, _ := strings.Cut(k, "@")
			if !keep[col] && !strings.HasPrefix(k, "odata.") {
				delete(ent, k)
			}
		}
	}
	row, err := layout.DecodeInstanceRow(ctx, h.blobs, ent)
	if err != nil {
		return nil, fmt.Errorf("decode instance %q: %w", instanceID, err)
	}
	row.ETag = string(resp.ETag)
	return &row, nil
}

// InsertInstance creates an instance row; ErrConflict when one exists.
func (h *Hub) InsertInstance(ctx context.Context, row *layout.InstanceRow) error {
	body, err := h.encodeInstance(ctx, row)
	if err != nil {
		return err
	}
	if _, err := h.instances.AddEntity(ctx, body, nil); err != nil {
		if isConflict(err) {
			return fmt.Errorf("instance %q: %w", row.InstanceID, ErrConflict)
		}
		return fmt.Errorf("insert instance %q: %w", row.InstanceID, err)
	}
	return nil
}

// ReplaceInstance overwrites an instance row if its ETag still matches;
// ErrConflict otherwise.
func (h *Hub) ReplaceInstance(ctx context.Context, row *layout.InstanceRow, etag string) error {
	body, err := h.encodeInstance(ctx, row)
	if err != nil {
		return err
	}
	e := azcore.ETag(etag)
	if _, err := h.instances.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &e, UpdateMode: aztables.UpdateModeReplace}); err != nil {
		if isConflict(err) || isStatus(err, 404) {
			return fmt.Errorf("instance %q: %w", row.InstanceID, ErrConflict)
		}
		return fmt.Errorf("replace instance %q: %w", row.InstanceID, err)
	}
	return nil
}

// PatchInstance merges the patch's columns into an instance row, creating
// the row when it is missing (a sub-orchestration's first checkpoint does
// that). extra adds columns the patch type does not cover, such as
// CreatedTime for such a row.
func (h *Hub) PatchInstance(ctx context.Context, instanceID string, patch layout.InstancePatch, extra map[string]any) error {
	ent, err := layout.EncodeInstancePatch(ctx, h.blobs, instanceID, patch)
	if err != nil {
		return err
	}
	for k, v := range extra {
		ent[k] = v
	}
	body, err := ent.JSON()
	if err != nil {
		return fmt.Errorf("encode instance update of %q: %w", instanceID, err)
	}
	if _, err := h.instances.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
		return fmt.Errorf("update instance %q: %w", instanceID, err)
	}
	return nil
}

// DeleteInstanceRow removes an instance row; ErrNotFound when absent.
func (h *Hub) DeleteInstanceRow(ctx context.Context, instanceID string) error {
	return h.DeleteInstanceRowIfMatch(ctx, instanceID, "")
}

func (h *Hub) encodeInstance(ctx context.Context, row *layout.InstanceRow) ([]byte, error) {
	ent, err := layout.EncodeInstanceRow(ctx, h.blobs, *row)
	if err != nil {
		return nil, fmt.Errorf("encode instance %q: %w", row.InstanceID, err)
	}
	body, err := ent.JSON()
	if err != nil {
		return nil, fmt.Errorf("encode instance %q: %w", row.InstanceID, err)
	}
	return body, nil
}

// InstanceQuery filters instance rows. Empty fields do not filter.
type InstanceQuery struct {
	Statuses []history.RuntimeStatus
	// CreatedFrom and CreatedTo bound CreatedTime (inclusive, exclusive)
	// as OData date-time literals; use layout.FormatTime.
	CreatedFrom, CreatedTo string
	// InstanceIDPrefix matches escaped PartitionKeys by range.
	InstanceIDPrefix string
	// Names keeps rows of these orchestrators (any of them).
	Names []string
	// Top caps one page; 0 means the service's page size.
	Top int32
	// Continuation resumes a previous page.
	Continuation string
	// Columns limits the columns read; nil reads all.
	Columns []string
}

// InstancePage is one page of a query.
type InstancePage struct {
	Rows []*layout.InstanceRow
	// Continuation is "" on the last page.
	Continuation string
}

// QueryInstances reads one page of instance rows matching q.
func (h *Hub) QueryInstances(ctx context.Context, q InstanceQuery) (*InstancePage, error) {
	filter := q.filter()
	opts := &aztables.ListEntitiesOptions{}
	if filter != "" {
		opts.Filter = &filter
	}
	if q.Top > 0 {
		opts.Top = &q.Top
	}
	if len(q.Columns) > 0 {
		sel := strings.Join(append([]string{"PartitionKey", "RowKey"}, q.Columns...), ",")
		opts.Select = &sel
	}
	if q.Continuation != "" {
		pk, rk, ok := strings.Cut(q.Continuation, "\x00")
		if !ok {
			return nil, fmt.Errorf("query instances: malformed continuation token")
		}
		opts.NextPartitionKey, opts.NextRowKey = &pk, &rk
	}
	pager := h.instances.NewListEntitiesPager(opts)
	page, err := pager.NextPage(ctx)
	if err != nil {
		return nil, fmt.Errorf("query instances (%s): %w", filter, err)
	}
	out := &InstancePage{}
	for _, raw := range page.Entities {
		ent, err := layout.ParseEntity(raw)
		if err != nil {
			return nil, fmt.Errorf("query instances: parse row: %w", err)
		}
		row, err := layout.DecodeInstanceRow(ctx, h.blobs, ent)
		if err != nil {
			return nil, fmt.Errorf("query instances: %w", err)
		}
		out.Rows = append(out.Rows, &row)
	}
	if page.NextPartitionKey != nil {
		rk := ""
		if page.NextRowKey != nil {
			rk = *page.NextRowKey
		}
		out.Continuation = *page.NextPartitionKey + "\x00" + rk
	}
	return out, nil
}

func (q InstanceQuery) filter() string {
	var parts []string
	if len(q.Statuses) > 0 {
		var ors []string
		for _, s := range q.Statuses {
			ors = append(ors, fmt.Sprintf("RuntimeStatus eq '%s'", odataQuote(string(s))))
		}
		parts = append(parts, "("+strings.Join(ors, " or ")+")")
	}
	if len(q.Names) > 0 {
		var ors []string
		for _, n := range q.Names {
			ors = append(ors, fmt.Sprintf("Name eq '%s'", odataQuote(n)))
		}
		parts = append(parts, "("+strings.Join(ors, " or ")+")")
	}
	if q.CreatedFrom != "" {
		parts = append(parts, fmt.Sprintf("CreatedTime ge datetime'%s'", q.CreatedFrom))
	}
	if q.CreatedTo != "" {
		parts = append(parts, fmt.Sprintf("CreatedTime lt datetime'%s'", q.CreatedTo))
	}
	if q.InstanceIDPrefix != "" {
		lo := layout.EscapePartitionKey(q.InstanceIDPrefix)
		// The next key after every string with this prefix: bump the last
		// byte. Escaping keeps the prefix property, so one range suffices.
		r := []rune(lo)
		r[len(r)-1]++
		hi := string(r)
		parts = append(parts, fmt.Sprintf("PartitionKey ge '%s' and PartitionKey lt '%s'", odataQuote(lo), odataQuote(hi)))
	}
	return strings.Join(parts, " and ")
}

func odataQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }
