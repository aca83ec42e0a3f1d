package client

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// InternalNamePrefix starts the names of the orchestrations the module
// runs for itself, such as BatchOrchestrator; apps must not give their own
// orchestrators such names. Their instances are bookkeeping, not the
// user's work: lists, counts, bulk operations and the dashboard leave them
// out unless asked for (Query.ShowInternal, or a Names filter naming them).
const InternalNamePrefix = "DurableTask."

// IsInternalName reports whether an orchestration name is an internal one.
func IsInternalName(name string) bool { return strings.HasPrefix(name, InternalNamePrefix) }

// hides reports whether q leaves out instances of the orchestration name.
// It is applied to rows as they are read (a scan's page, the rows an index
// page points to), so hiding adds no request and leaves the storage query
// as it was.
func (q Query) hides(name string) bool {
	// An entity's executions are named by its instance ID: entities have
	// their own list (ListEntities), as in Durable Functions.
	if entity.IsEntity(name) {
		return true
	}
	return IsInternalName(name) && !q.ShowInternal && !slices.Contains(q.Names, name)
}

// hasVersion reports whether q keeps instances of version v.
func (q Query) hasVersion(v string) bool {
	if len(q.Versions) == 0 {
		return true
	}
	for _, want := range q.Versions {
		if durable.CompareVersions(want, v) == 0 {
			return true
		}
	}
	return false
}

// EachMatch calls fn with every page of instances that q selects, from
// q.ContinuationToken on, until the last page or until fn fails. It is
// the one way the bulk operations, range purges, retention and counts
// walk a filter, so a better index serves all of them. q.PageSize is the
// page size (default 100, at most 1000).
func (c *Client) EachMatch(ctx context.Context, q Query, fn func(page *Page) error) error {
	for {
		page, err := c.ListInstances(ctx, q)
		if err != nil {
			return err
		}
		if len(page.Instances) > 0 || page.ContinuationToken == "" {
			if err := fn(page); err != nil {
				return err
			}
		}
		if page.ContinuationToken == "" {
			return nil
		}
		q.ContinuationToken = page.ContinuationToken
	}
}

// Counts is the number of instances per runtime status.
type Counts map[history.RuntimeStatus]int

// CountStatuses are the statuses every Counts names, zero or not, in the
// order surfaces show them.
var CountStatuses = []history.RuntimeStatus{history.StatusPending, history.StatusRunning, history.StatusSuspended,
	history.StatusCompleted, history.StatusFailed, history.StatusTerminated, history.StatusCanceled, history.StatusContinuedAsNew}

// CountInstances counts the instances that q selects, per runtime status;
// paging fields and ShowInput are ignored. Every status appears, with 0
// when none matched.
func (c *Client) CountInstances(ctx context.Context, q Query) (Counts, error) {
	return c.countMatching(ctx, q, nil)
}

// VersionCounts is the number of instances of one orchestrator and
// version, per runtime status.
type VersionCounts struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Counts  Counts `json:"counts"`
}

// CountByVersion counts the instances that q selects per orchestrator and
// version, and per runtime status within each (every status present),
// sorted by name, then by version as CompareVersions orders them: what is
// in flight of each version, so that a team knows when an old version's
// code can go.
func (c *Client) CountByVersion(ctx context.Context, q Query) ([]VersionCounts, error) {
	q.PageSize, q.ContinuationToken, q.ShowInput = 1000, "", false
	q.columns = []string{"Name", "Version", "RuntimeStatus", "CreatedTime"}
	groups := map[[2]string]Counts{}
	err := c.EachMatch(ctx, q, func(p *Page) error {
		for _, st := range p.Instances {
			k := [2]string{st.Name, st.Version}
			if groups[k] == nil {
				groups[k] = Counts{}
				for _, s := range CountStatuses {
					groups[k][s] = 0
				}
			}
			groups[k][st.RuntimeStatus]++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count instances by version: %w", err)
	}
	out := make([]VersionCounts, 0, len(groups))
	for k, n := range groups {
		out = append(out, VersionCounts{Name: k[0], Version: k[1], Counts: n})
	}
	slices.SortFunc(out, func(a, b VersionCounts) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), durable.CompareVersions(a.Version, b.Version),
			strings.Compare(a.Version, b.Version))
	})
	return mergeEqualVersions(out), nil
}

// mergeEqualVersions folds, in groups sorted as CountByVersion sorts them,
// the groups of one orchestrator whose versions compare equal ("1.0" and
// "01.0", "beta" and "Beta") into the first of them: the version filter
// takes them as one version, so one row of counts lists them all.
func mergeEqualVersions(sorted []VersionCounts) []VersionCounts {
	out := sorted[:0]
	for _, g := range sorted {
		if n := len(out); n > 0 && out[n-1].Name == g.Name && durable.CompareVersions(out[n-1].Version, g.Version) == 0 {
			for s, c := range g.Counts {
				out[n-1].Counts[s] += c
			}
			continue
		}
		out = append(out, g)
	}
	return out
}

// countMatching is CountInstances of the instances keep (nil: all) keeps.
func (c *Client) countMatching(ctx context.Context, q Query, keep func(*Status) bool) (Counts, error) {
	q.PageSize, q.ContinuationToken, q.ShowInput = 1000, "", false
	// What the filters and the verification of index rows need, and not
	// the outputs, which may live in blobs.
	q.columns = []string{"Name", "Version", "RuntimeStatus", "CreatedTime"}
	out := Counts{}
	for _, s := range CountStatuses {
		out[s] = 0
	}
	err := c.EachMatch(ctx, q, func(p *Page) error {
		for _, st := range p.Instances {
			if keep == nil || keep(st) {
				out[st.RuntimeStatus]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count instances: %w", err)
	}
	return out, nil
}
