// Package azstore is the Azure Storage backend of the durable-task engine:
// one Hub per task hub, holding the Instances, History and Partitions
// tables, the control and work-item queues and the large-message container,
// laid out as internal/layout describes.
//
// It knows storage, not orchestration semantics: the worker and the
// management client decide what to write, and this package writes it with
// the fewest requests it can.
package azstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/durable-go/durable/internal/layout"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrNotFound means the instance (or row) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: another writer got there
	// first (an existing instance, or another worker's checkpoint).
	ErrConflict = errors.New("conflict")
)

// Clients are the service clients a Hub is built on. The table client's
// pipeline must include Policies() so checkpoints can read batch ETags.
type Clients struct {
	Tables *aztables.ServiceClient
	Queues *azqueue.ServiceClient
	Blobs  *azblob.Client
}

// Options configure a Hub.
type Options struct {
	// HubName is the task hub name (validated).
	HubName string
	// PartitionCount is used when the hub is created; an existing hub keeps
	// the count recorded in its taskhub.json.
	PartitionCount int
	// Logger receives storage-level warnings.
	Logger *slog.Logger
	// WakeQueue, when set, is the queue that Wake writes to: a queue the
	// function app has a trigger on, so that work for a scaled-in app makes
	// the Functions host start it. The engine's own queues are not triggers.
	WakeQueue string
}

// Hub is one task hub in one storage account. It is safe for concurrent use.
type Hub struct {
	name       string
	partitions int
	clients    Clients
	instances  *aztables.Client
	history    *aztables.Client
	leases     *aztables.Client
	index      *aztables.Client
	indexer    *indexWriter
	inflight   *aztables.Client
	inflighter *indexWriter
	control    []*azqueue.QueueClient
	workItems  *azqueue.QueueClient
	poison     *azqueue.QueueClient
	wake       *azqueue.QueueClient
	blobs      *blobStore
	logger     *slog.Logger
	seq        sequence
}

// Open returns a Hub without touching storage; call CreateIfNotExists (the
// worker does) before using queues.
func Open(c Clients, o Options) (*Hub, error) {
	if err := layout.ValidateHubName(o.HubName); err != nil {
		return nil, fmt.Errorf("open task hub: %w", err)
	}
	if o.PartitionCount == 0 {
		o.PartitionCount = 4
	}
	if o.PartitionCount < 1 || o.PartitionCount > 16 {
		return nil, fmt.Errorf("open task hub %q: partition count %d is out of range 1..16", o.HubName, o.PartitionCount)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &Hub{name: o.HubName, clients: c, logger: o.Logger,
		instances: c.Tables.NewClient(layout.InstancesTable(o.HubName)),
		history:   c.Tables.NewClient(layout.HistoryTable(o.HubName)),
		leases:    c.Tables.NewClient(layout.PartitionsTable(o.HubName)),
		index:     c.Tables.NewClient(layout.InstanceIndexTable(o.HubName)),
		inflight:  c.Tables.NewClient(layout.InFlightTable(o.HubName)),
		workItems: c.Queues.NewQueueClient(layout.WorkItemQueue(o.HubName)),
		poison:    c.Queues.NewQueueClient(layout.PoisonQueue(o.HubName)),
		blobs:     &blobStore{client: c.Blobs, container: layout.LargeMessagesContainer(o.HubName)},
	}
	h.indexer = newIndexWriter(h.index, "index")
	h.inflighter = newIndexWriter(h.inflight, "in-flight")
	if o.WakeQueue != "" {
		h.wake = c.Queues.NewQueueClient(o.WakeQueue)
	}
	h.setPartitions(o.PartitionCount)
	return h, nil
}

func (h *Hub) setPartitions(n int) {
	h.partitions = n
	h.control = make([]*azqueue.QueueClient, n)
	for i := range h.control {
		h.control[i] = h.clients.Queues.NewQueueClient(layout.ControlQueue(h.name, i))
	}
}

// Name is the task hub name.
func (h *Hub) Name() string { return h.name }

// PartitionCount is the number of control queues.
func (h *Hub) PartitionCount() int { return h.partitions }

// PartitionOf maps an instance ID to its control-queue partition.
func (h *Hub) PartitionOf(instanceID string) int {
	return layout.PartitionIndex(instanceID, h.partitions)
}

type taskHubInfo struct {
	TaskHubName    string    `json:"TaskHubName"`
	CreatedAt      time.Time `json:"CreatedAt"`
	PartitionCount int       `json:"PartitionCount"`
}

// CreateIfNotExists creates every table, queue and container of the hub.
// An existing hub's recorded partition count wins over the configured one,
// because instances are already spread over its queues.
func (h *Hub) CreateIfNotExists(ctx context.Context) error {
	leases := layout.LeasesContainer(h.name)
	for _, c := range []string{layout.LargeMessagesContainer(h.name), leases} {
		if _, err := h.clients.Blobs.CreateContainer(ctx, c, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("create container %s: %w", c, err)
		}
	}
	info := taskHubInfo{TaskHubName: h.name, CreatedAt: time.Now().UTC(), PartitionCount: h.partitions}
	body, _ := json.Marshal(info)
	anyETag := azcore.ETagAny
	_, err := h.clients.Blobs.UploadBuffer(ctx, leases, "taskhub.json", body, &azblob.UploadBufferOptions{
		AccessConditions: &azblob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &anyETag}}})
	if err != nil {
		if !bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) {
			return fmt.Errorf("write %s/taskhub.json: %w", leases, err)
		}
		existing, err := h.readTaskHubInfo(ctx)
		if err != nil {
			return err
		}
		if existing.PartitionCount != h.partitions && existing.PartitionCount >= 1 && existing.PartitionCount <= 16 {
			h.logger.Warn("task hub already exists with another partition count; using it",
				"hub", h.name, "configured", h.partitions, "existing", existing.PartitionCount)
			h.setPartitions(existing.PartitionCount)
		}
	}
	newHub := false
	for _, t := range h.tables() {
		_, err := h.clients.Tables.CreateTable(ctx, t, nil)
		switch {
		case err == nil:
			newHub = newHub || t == layout.InstancesTable(h.name)
		case !hasTableCode(err, aztables.TableAlreadyExists):
			return fmt.Errorf("create table %s: %w", t, err)
		}
	}
	if newHub {
		// No instance predates the index: it is complete from the start.
		// (Had the hub existed, its first worker backfills the index.)
		if err := h.markIndexComplete(ctx); err != nil {
			return err
		}
	}
	// The Durable Task Framework creates the partitions' lease rows with the
	// hub, so tools see them on a hub that no worker has run yet.
	if _, err := h.ReadLeases(ctx); err != nil {
		return err
	}
	queues := append([]*azqueue.QueueClient{h.workItems, h.poison}, h.control...)
	if h.wake != nil {
		queues = append(queues, h.wake)
	}
	for _, q := range queues {
		if _, err := q.Create(ctx, nil); err != nil && !isQueueExists(err) {
			return fmt.Errorf("create queue %s: %w", q.URL(), err)
		}
	}
	return nil
}

// tables are the hub's tables; Instances comes before the index, whose
// completeness depends on whether Instances was new.
func (h *Hub) tables() []string {
	return []string{layout.InstancesTable(h.name), layout.HistoryTable(h.name), layout.PartitionsTable(h.name),
		layout.InstanceIndexTable(h.name), layout.InFlightTable(h.name)}
}

// UseRecordedPartitionCount adopts the partition count recorded in the
// hub's {hub}-leases/taskhub.json, which a client must use to find an
// instance's control queue, and reports whether it found one. A missing
// file, a damaged one or a count out of range leaves the configured count:
// a damaged file must not stop management.
func (h *Hub) UseRecordedPartitionCount(ctx context.Context) (bool, error) {
	info, err := h.readTaskHubInfo(ctx)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) || errors.Is(err, errTaskHubInfoDamaged) {
			return false, nil
		}
		return false, err
	}
	if info.PartitionCount < 1 || info.PartitionCount > 16 {
		return false, nil
	}
	h.setPartitions(info.PartitionCount)
	return true, nil
}

var errTaskHubInfoDamaged = errors.New("damaged")

func (h *Hub) readTaskHubInfo(ctx context.Context) (*taskHubInfo, error) {
	leases := layout.LeasesContainer(h.name)
	resp, err := h.clients.Blobs.DownloadStream(ctx, leases, "taskhub.json", nil)
	if err != nil {
		return nil, fmt.Errorf("read %s/taskhub.json: %w", leases, err)
	}
	defer resp.Body.Close()
	var info taskHubInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("decode %s/taskhub.json: %w (%w)", leases, err, errTaskHubInfoDamaged)
	}
	return &info, nil
}

// Delete removes every table, queue and container of the hub. Missing
// artifacts are not an error, so a half-deleted hub can be deleted again.
func (h *Hub) Delete(ctx context.Context) error {
	_, err := h.DeleteExisting(ctx)
	return err
}

// DeleteExisting is Delete that also reports how many of the hub's
// tables, queues and containers existed.
func (h *Hub) DeleteExisting(ctx context.Context) (int, error) {
	var errs []error
	found := 0
	for _, t := range h.tables() {
		_, err := h.clients.Tables.DeleteTable(ctx, t, nil)
		switch {
		case err == nil:
			found++
		case !hasTableCode(err, aztables.ResourceNotFound, aztables.TableNotFound) && !isStatus(err, http.StatusNotFound):
			errs = append(errs, fmt.Errorf("delete table %s: %w", t, err))
		}
	}
	queues := append([]*azqueue.QueueClient{h.workItems, h.poison}, h.control...)
	for _, q := range queues {
		_, err := q.Delete(ctx, nil)
		switch {
		case err == nil:
			found++
		case !isStatus(err, http.StatusNotFound):
			errs = append(errs, fmt.Errorf("delete queue %s: %w", q.URL(), err))
		}
	}
	for _, c := range []string{layout.LargeMessagesContainer(h.name), layout.LeasesContainer(h.name)} {
		_, err := h.clients.Blobs.DeleteContainer(ctx, c, nil)
		switch {
		case err == nil:
			found++
		case !bloberror.HasCode(err, bloberror.ContainerNotFound):
			errs = append(errs, fmt.Errorf("delete container %s: %w", c, err))
		}
	}
	return found, errors.Join(errs...)
}

// IsHubMissing reports a storage error saying that a table, queue or
// container of the hub does not exist: the hub is not created yet, or it
// was deleted under a running app.
func IsHubMissing(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode {
	case "TableNotFound", "QueueNotFound", "ContainerNotFound":
		return true
	}
	return false
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// isMessageGone reports whether a queue operation on a dequeued message
// failed because this holder's pop receipt no longer names it: the message
// is gone (404 MessageNotFound) or someone dequeued it again after its
// visibility ran out (400 PopReceiptMismatch). Both are the ordinary
// conflict of an at-least-once queue, not a storage failure.
func isMessageGone(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusNotFound || re.ErrorCode == "PopReceiptMismatch" || re.ErrorCode == "MessageNotFound"
}

func hasTableCode(err error, codes ...aztables.TableErrorCode) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range codes {
		if re.ErrorCode == string(c) {
			return true
		}
	}
	return false
}

func isQueueExists(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.ErrorCode == "QueueAlreadyExists" || re.StatusCode == http.StatusConflict)
}

// isConflict reports a lost conditional write: 409 (exists) or 412 (ETag).
func isConflict(err error) bool {
	return isStatus(err, http.StatusConflict) || isStatus(err, http.StatusPreconditionFailed)
}
