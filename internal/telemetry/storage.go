package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Storage services, as AttrStorageService names them.
const (
	StorageTable = "table"
	StorageQueue = "queue"
	StorageBlob  = "blob"
)

// storageKey is one attribute set of durabletask.storage.requests.
type storageKey struct {
	service, operation string
	status             int // 0: no response
}

// StoragePolicy returns the azcore pipeline policy that counts the HTTP
// requests of the client of service (StorageTable, StorageQueue or
// StorageBlob) in durabletask.storage.requests. It belongs among the
// per-retry policies, so that each attempt of a retried operation counts,
// throttled ones included. Nil with metrics off.
func (m *Metrics) StoragePolicy(service string) policy.Policy {
	if m == nil {
		return nil
	}
	return storagePolicy{m: m, service: service}
}

type storagePolicy struct {
	m       *Metrics
	service string
}

func (p storagePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	k := storageKey{service: p.service, operation: storageOperation(p.service, req.Raw())}
	if resp != nil {
		k.status = resp.StatusCode
	}
	p.m.storage.Add(context.Background(), 1, p.m.storageAttrsOf(k))
	return resp, err
}

// storageAttrsOf returns the attribute set of k, built once.
func (m *Metrics) storageAttrsOf(k storageKey) metric.MeasurementOption {
	if o, ok := m.storageAttrs.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	attrs := []attribute.KeyValue{AttrStorageService.String(k.service), AttrStorageOperation.String(k.operation),
		AttrStorageThrottled.Bool(k.status == http.StatusTooManyRequests || k.status == http.StatusServiceUnavailable)}
	switch {
	case k.status == 0:
		attrs = append(attrs, AttrErrorType.String("transport"))
	case k.status >= 400:
		attrs = append(attrs, AttrErrorType.String(strconv.Itoa(k.status)))
	}
	o, _ := m.storageAttrs.LoadOrStore(k, metric.WithAttributes(attrs...))
	return o.(metric.MeasurementOption)
}

// storageOperation names what a storage request does, from its method and
// URL alone (the data-plane clients name no operation in the request), in
// a few words: the counter's operation attribute stays low in cardinality
// whatever the queue, table or blob names.
func storageOperation(service string, r *http.Request) string {
	q := r.URL.Query()
	comp := q.Get("comp")
	path := strings.TrimSuffix(r.URL.Path, "/")
	last := path[strings.LastIndexByte(path, '/')+1:]
	method := r.Method
	if m := r.Header.Get("X-HTTP-Method"); m != "" {
		method = m
	}
	switch service {
	case StorageQueue:
		switch {
		case comp == "list":
			return "list_queues"
		case last == "messages":
			switch method {
			case http.MethodGet:
				if q.Get("peekonly") == "true" {
					return "peek"
				}
				return "dequeue"
			case http.MethodPost:
				return "enqueue"
			case http.MethodDelete:
				return "clear"
			}
		case strings.HasSuffix(strings.TrimSuffix(path, "/"+last), "/messages"):
			switch method {
			case http.MethodDelete:
				return "delete_message"
			case http.MethodPut:
				return "update_message"
			}
		case comp == "metadata" && method == http.MethodPut:
			return "set_queue_metadata"
		case comp == "metadata" || method == http.MethodGet || method == http.MethodHead:
			return "get_queue_properties"
		case method == http.MethodPut:
			return "create_queue"
		case method == http.MethodDelete:
			return "delete_queue"
		}
	case StorageTable:
		switch {
		case last == "$batch":
			return "batch"
		case last == "Tables" || strings.HasPrefix(last, "Tables("):
			switch method {
			case http.MethodPost:
				return "create_table"
			case http.MethodDelete:
				return "delete_table"
			}
			return "query_tables"
		case strings.Contains(last, "PartitionKey="):
			switch method {
			case http.MethodGet:
				return "get_entity"
			case http.MethodPut:
				return "update_entity"
			case "MERGE", http.MethodPatch:
				return "merge_entity"
			case http.MethodDelete:
				return "delete_entity"
			}
		case method == http.MethodGet:
			return "query_entities"
		case method == http.MethodPost:
			return "insert_entity"
		}
	case StorageBlob:
		container := q.Get("restype") == "container"
		switch {
		case comp == "lease":
			if container {
				return "container_lease"
			}
			return "lease"
		case comp == "list":
			return "list"
		case container && method == http.MethodPut:
			return "create_container"
		case container && method == http.MethodDelete:
			return "delete_container"
		case container:
			return "get_container_properties"
		case method == http.MethodGet:
			return "download"
		case method == http.MethodHead:
			return "get_properties"
		case method == http.MethodPut:
			return "upload"
		case method == http.MethodDelete:
			return "delete"
		}
	}
	return strings.ToLower(method)
}
