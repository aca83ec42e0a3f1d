package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/layout"
)

// indexState caches whether the hub's instance index is complete. Once it
// is, it stays so; until then the client asks again at most every
// indexRecheck, since a worker may be backfilling it.
type indexState struct {
	mu       sync.Mutex
	complete bool
	checked  time.Time
}

const indexRecheck = 30 * time.Second

// useIndex reports whether q is best served by the instance index: it
// has a lower bound on CreatedTime, and the index lists every instance.
//
// An open start ("everything created before T", or from the Table
// service's earliest date, which the CLI sends for no bound) usually spans
// most of the hub, and there the server-side filter of a scan, which
// returns only matching rows, costs fewer requests than a point read per
// instance in the range.
func (c *Client) useIndex(ctx context.Context, q Query) bool {
	if c.opts.IgnoreIndex || q.CreatedFrom.IsZero() || !q.CreatedFrom.After(layout.MinTableTime()) {
		return false
	}
	s := c.index
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.complete || time.Since(s.checked) < indexRecheck {
		return s.complete
	}
	ok, err := c.hub.IndexComplete(ctx)
	if err != nil {
		// The scan is always right, only slower.
		c.opts.Logger.Debug("reading the instance index marker failed; scanning instead", "error", err)
		return false
	}
	s.complete, s.checked = ok, time.Now()
	return ok
}

// Continuation tokens are a position: in the Instances table (partition
// and row key), or, starting with indexToken, in the instance index.
const indexToken = "\x01"

func encodeToken(pos string) string { return base64.RawURLEncoding.EncodeToString([]byte(pos)) }

func decodeToken(tok string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.Contains(string(raw), "\x00") {
		return "", fmt.Errorf("%w: malformed continuation token", ErrBadArgument)
	}
	return string(raw), nil
}

// staleAfter is how old an index row without its instance row must be
// before a reader deletes it: younger ones may belong to a start that is
// writing its instance row right now.
const staleAfter = 10 * time.Minute

// indexReadParallelism bounds the instance rows read at once for one page.
const indexReadParallelism = 16

// listByIndex serves ListInstances for a created-time range from the
// instance index: it reads the index rows in the range, then the instance
// rows they point to, keeping those that still match. Its cost follows the
// instances created in the range, not the size of the hub.
func (c *Client) listByIndex(ctx context.Context, q Query, size int, after string) (*Page, error) {
	iq := azstore.IndexQuery{From: q.CreatedFrom, To: q.CreatedTo}
	if after != "" {
		iq.AfterPartitionKey, iq.AfterRowKey, _ = strings.Cut(after, "\x00")
	}
	cols := q.readColumns()
	// Filters the index cannot apply mean reading more rows than a page
	// keeps; read ahead a little then.
	filtered := len(q.Statuses) > 0 || len(q.Names) > 0 || q.InstanceIDPrefix != "" || len(q.Versions) > 0
	out := &Page{}
	for {
		need := size - len(out.Instances)
		top := need
		if filtered {
			top = min(1000, 4*need)
		}
		iq.Top = int32(max(top, 10))
		entries, more, err := c.hub.QueryIndex(ctx, iq)
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		rows, err := c.readRows(ctx, entries, cols)
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		var stale []layout.IndexEntry
		stopped := -1
		for i, e := range entries {
			row := rows[i]
			iq.AfterPartitionKey, iq.AfterRowKey = e.PartitionKey, e.RowKey
			switch {
			case row == nil:
				if time.Since(e.CreatedTime) > staleAfter {
					stale = append(stale, e)
				}
				continue
			case row.CreatedTime.After(e.CreatedTime):
				// Restarted or continued as new since: the instance has a
				// newer row. (An older CreatedTime is a write-ahead whose
				// instance row is being written: keep it.)
				stale = append(stale, e)
				continue
			case !row.CreatedTime.Equal(e.CreatedTime) || !matchesRow(row, q):
				continue
			}
			out.Instances = append(out.Instances, statusFromRow(row, q.ShowInput))
			if len(out.Instances) == size {
				stopped = i
				break
			}
		}
		if len(stale) > 0 {
			if err := c.hub.DeleteIndex(ctx, stale); err != nil {
				c.opts.Logger.Debug("removing stale index rows failed", "error", err)
			}
		}
		if stopped >= 0 || !more {
			if more || (stopped >= 0 && stopped < len(entries)-1) {
				out.ContinuationToken = encodeToken(indexToken + iq.AfterPartitionKey + "\x00" + iq.AfterRowKey)
			}
			return out, nil
		}
	}
}

// readRows reads the instance rows that index entries point to, in
// parallel; a missing row is nil.
func (c *Client) readRows(ctx context.Context, entries []layout.IndexEntry, cols []string) ([]*layout.InstanceRow, error) {
	rows := make([]*layout.InstanceRow, len(entries))
	var g errgroup.Group
	g.SetLimit(indexReadParallelism)
	for i, e := range entries {
		g.Go(func() (err error) {
			rows[i], err = c.hub.GetInstanceColumns(ctx, e.InstanceID, cols)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rows, nil
}

// matchesRow applies the filters the index does not: statuses, names and
// the ID prefix (the time range the index applied).
func matchesRow(row *layout.InstanceRow, q Query) bool {
	if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, row.RuntimeStatus) {
		return false
	}
	if len(q.Names) > 0 && !slices.Contains(q.Names, row.Name) {
		return false
	}
	if q.hides(row.Name) || !q.hasVersion(row.Version) {
		return false
	}
	return strings.HasPrefix(row.InstanceID, q.InstanceIDPrefix)
}
