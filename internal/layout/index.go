package layout

import (
	"fmt"
	"strings"
	"time"
)

// The instance index is this project's addition to the task-hub layout: a
// table that lists instances by creation time, because the Instances table
// (one partition per instance) can answer a created-time range only by
// scanning every row. The Durable Task Framework neither writes nor reads
// it; the Instances table stays the record of every instance.
//
// One row per (instance, CreatedTime):
//
//	PartitionKey  "yyyyMMddHH-pp": the UTC hour of CreatedTime and the
//	              instance's control-queue partition, so that one hour's
//	              starts spread over as many table partitions as the hub
//	              has queues, and the rows one worker writes together share
//	              a partition (one entity-group batch)
//	RowKey        CreatedTime as FormatTime writes it, "|", the escaped ID
//	InstanceId    the instance ID
//	CreatedTime   the instance row's CreatedTime
//
// A row is a hint, never the truth: it is written before the instance row
// that it points to, so every instance row has one, and a reader keeps an
// index row only when the instance row exists with the same CreatedTime. A
// row left by a start that failed, a restart or a continue-as-new (both
// give the instance a new CreatedTime) is skipped and deleted when read.

// InstanceIndexTable names the hub's instance index table.
func InstanceIndexTable(hub string) string { return hub + "InstanceIndex" }

// IndexMarkerPartitionKey and IndexMarkerRowKey name the row that records
// that the index lists every instance of the hub. A hub created with the
// index has it from the start; an older hub gets it once a worker has
// indexed the rows it already had. It sorts after every hour bucket.
const (
	IndexMarkerPartitionKey = "~index"
	IndexMarkerRowKey       = "complete"
)

// IndexPartitionKey is the index partition of an instance created at t.
func IndexPartitionKey(t time.Time, partition int) string {
	return fmt.Sprintf("%s-%02d", IndexHourKey(t), partition)
}

// IndexHourKey is the part of IndexPartitionKey that orders by time: every
// partition key of t's hour starts with it, and sorts after it.
func IndexHourKey(t time.Time) string { return t.UTC().Format("2006010215") }

// IndexRowKey is the index row key of instance id created at t. Times have
// a fixed width, so row keys order by time, and a bound on CreatedTime is a
// bound on row keys: FormatTime(from) <= key < FormatTime(to).
func IndexRowKey(t time.Time, id string) string { return FormatTime(t) + "|" + EscapePartitionKey(id) }

// IndexEntry is one index row.
type IndexEntry struct {
	PartitionKey, RowKey string
	InstanceID           string
	CreatedTime          time.Time
}

// NewIndexEntry is the index row of instance id, in the given
// control-queue partition, created at t.
func NewIndexEntry(id string, partition int, t time.Time) IndexEntry {
	t = t.UTC()
	return IndexEntry{PartitionKey: IndexPartitionKey(t, partition), RowKey: IndexRowKey(t, id), InstanceID: id, CreatedTime: t}
}

// Entity is the row as stored.
func (e IndexEntry) Entity() Entity {
	return Entity{propPartitionKey: e.PartitionKey, propRowKey: e.RowKey, "InstanceId": e.InstanceID, colCreatedTime: e.CreatedTime}
}

// ParseIndexEntry reads an index row; ok is false for the marker row and
// for rows this version does not understand.
func ParseIndexEntry(e Entity) (IndexEntry, bool) {
	pk, rk := e.str(propPartitionKey), e.str(propRowKey)
	if pk == IndexMarkerPartitionKey || pk == "" {
		return IndexEntry{}, false
	}
	d := decoder{e: e}
	ie := IndexEntry{PartitionKey: pk, RowKey: rk, InstanceID: d.str("InstanceId"), CreatedTime: d.time(colCreatedTime)}
	if d.err != nil || ie.InstanceID == "" || !strings.HasPrefix(rk, FormatTime(ie.CreatedTime)+"|") {
		return IndexEntry{}, false
	}
	return ie, true
}
