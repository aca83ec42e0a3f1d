package client

import (
	"context"
	"encoding/json"
	"fmt"

	iclient "github.com/durable-go/durable/internal/client"
)

// BatchOrchestrator is the name of the built-in orchestration that runs
// bulk operations, which every function app built with this module serves.
const BatchOrchestrator = InternalNamePrefix + "Batch"

// StartBatch starts a bulk operation and returns the ID of the instance
// that runs it. The operation runs in the function app (it need not be
// running yet), page by page, and survives crashes: each selected instance
// is affected once, even when a step runs again after a crash. Follow it
// with BatchStatus, or WaitForCompletion and BatchStatus. An invalid
// request is an ErrBadArgument.
func (c *Client) StartBatch(ctx context.Context, req BatchRequest) (string, error) {
	id, err := c.c.StartBatch(ctx, req.internal())
	return id, publicError(err)
}

// BatchStatus reads a bulk operation's state: its instance status, its
// progress (nil before it has started) and, once it completed, its
// summary (nil until then). A bulk operation that failed as a whole (its
// task hub went away, say) has status Failed and its error as output.
func (c *Client) BatchStatus(ctx context.Context, batchID string) (*Status, *BatchProgress, *BatchSummary, error) {
	ist, err := c.c.GetStatus(ctx, batchID, iclient.StatusOptions{HideInput: true})
	if err != nil {
		return nil, nil, nil, publicError(err)
	}
	st := publicStatus(ist)
	if st.Name != BatchOrchestrator {
		return nil, nil, nil, fmt.Errorf("%w: instance %q is a %s, not a bulk operation", ErrBadArgument, batchID, st.Name)
	}
	var prog *BatchProgress
	if len(st.CustomStatus) > 0 && string(st.CustomStatus) != "null" {
		prog = &BatchProgress{}
		if err := json.Unmarshal(st.CustomStatus, prog); err != nil {
			return nil, nil, nil, fmt.Errorf("progress of bulk operation %q: %w", batchID, err)
		}
	}
	var sum *BatchSummary
	if st.RuntimeStatus == StatusCompleted {
		sum = &BatchSummary{}
		if err := json.Unmarshal(st.Output, sum); err != nil {
			return nil, nil, nil, fmt.Errorf("summary of bulk operation %q: %w", batchID, err)
		}
	}
	return st, prog, sum, nil
}
