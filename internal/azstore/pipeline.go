package azstore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Policies returns the pipeline policies a Hub needs on its table client.
// aztables' SubmitTransaction drops the per-operation ETags of a batch, and
// a checkpoint needs the sentinel's new ETag for the next one; reading it
// back would cost a request per checkpoint, so the raw batch answer is kept.
func Policies() []policy.Policy { return []policy.Policy{capturePolicy{}} }

type captureKey struct{}

type responseCapture struct{ body []byte }

func withCapture(ctx context.Context) (context.Context, *responseCapture) {
	c := &responseCapture{}
	return context.WithValue(ctx, captureKey{}, c), c
}

type capturePolicy struct{}

func (capturePolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	c, ok := req.Raw().Context().Value(captureKey{}).(*responseCapture)
	if !ok || err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if rerr != nil {
		return resp, rerr
	}
	c.body = b
	return resp, nil
}

var (
	etagLine   = regexp.MustCompile(`(?im)^etag:\s*(.+?)\s*$`)
	statusLine = regexp.MustCompile(`(?m)^HTTP/1\.1 (\d{3})`)
)

// failedBatchStatus is the status of the first failed operation in a batch
// answer, or 0 when there is none.
func failedBatchStatus(body []byte) int {
	for _, m := range statusLine.FindAllSubmatch(body, -1) {
		code := 0
		for _, d := range m[1] {
			code = code*10 + int(d-'0')
		}
		if code >= 300 {
			return code
		}
	}
	return 0
}

// lastETag is the ETag of the last operation in a batch answer.
func lastETag(body []byte) (azcore.ETag, bool) {
	m := etagLine.FindAllSubmatch(body, -1)
	if len(m) == 0 {
		return "", false
	}
	return azcore.ETag(m[len(m)-1][1]), true
}

// RequestCounter is a pipeline policy that counts storage requests by kind,
// so benchmarks can report requests per orchestration. Empty dequeues are
// counted apart: they are idle polling, not work.
type RequestCounter struct {
	total       atomic.Int64
	emptyPolls  atomic.Int64
	tableBatch  atomic.Int64
	tableOther  atomic.Int64
	queuePut    atomic.Int64
	queueGet    atomic.Int64
	queueDelete atomic.Int64
	queueOther  atomic.Int64
	blob        atomic.Int64
}

// RequestCounts is a snapshot of a RequestCounter.
type RequestCounts struct {
	Total, EmptyPolls, TableBatch, TableOther, QueuePut, QueueGet, QueueDelete, QueueOther, Blob int64
}

// Work is every request except empty polls.
func (c RequestCounts) Work() int64 { return c.Total - c.EmptyPolls }

// Sub returns c - o.
func (c RequestCounts) Sub(o RequestCounts) RequestCounts {
	return RequestCounts{c.Total - o.Total, c.EmptyPolls - o.EmptyPolls, c.TableBatch - o.TableBatch,
		c.TableOther - o.TableOther, c.QueuePut - o.QueuePut, c.QueueGet - o.QueueGet,
		c.QueueDelete - o.QueueDelete, c.QueueOther - o.QueueOther, c.Blob - o.Blob}
}

// Snapshot reads the counters.
func (r *RequestCounter) Snapshot() RequestCounts {
	return RequestCounts{r.total.Load(), r.emptyPolls.Load(), r.tableBatch.Load(), r.tableOther.Load(),
		r.queuePut.Load(), r.queueGet.Load(), r.queueDelete.Load(), r.queueOther.Load(), r.blob.Load()}
}

// Do implements policy.Policy.
func (r *RequestCounter) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	raw := req.Raw()
	r.total.Add(1)
	host, path := raw.URL.Host, raw.URL.Path
	switch {
	case strings.Contains(path, "$batch"):
		r.tableBatch.Add(1)
	case strings.HasSuffix(path, "/messages") || strings.Contains(path, "/messages/"):
		switch raw.Method {
		case http.MethodPost:
			r.queuePut.Add(1)
		case http.MethodGet:
			r.queueGet.Add(1)
			if resp != nil && resp.Body != nil && resp.StatusCode == http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(b))
				if !bytes.Contains(b, []byte("<QueueMessage>")) {
					r.emptyPolls.Add(1)
				}
			}
		case http.MethodDelete:
			r.queueDelete.Add(1)
		default:
			r.queueOther.Add(1)
		}
	case isTableRequest(raw, host, path):
		r.tableOther.Add(1)
	case isQueueRequest(host):
		r.queueOther.Add(1)
	default:
		r.blob.Add(1)
	}
	return resp, err
}

// The service is told by host (account.table.core.windows.net) in Azure; an
// emulator on arbitrary ports is told by the OData header every table
// request carries.
func isTableRequest(raw *http.Request, host, path string) bool {
	if strings.Contains(host, ".table.") || strings.Contains(path, "Tables") || strings.Contains(path, "(PartitionKey=") {
		return true
	}
	// The SDK sets some headers with non-canonical keys, so look at all.
	for k, vs := range raw.Header {
		if strings.EqualFold(k, "DataServiceVersion") {
			return true
		}
		if strings.EqualFold(k, "Accept") {
			for _, v := range vs {
				if strings.Contains(v, "odata") {
					return true
				}
			}
		}
	}
	return false
}

func isQueueRequest(host string) bool {
	return strings.Contains(host, ".queue.") || strings.HasSuffix(host, ":10001")
}
