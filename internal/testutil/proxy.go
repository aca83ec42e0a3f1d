package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// EnvLatency names the environment variable that puts a [StorageProxy] with that one-way
// delay (a Go duration: "2.5ms", "10ms") between benchmarks and Azurite. `make bench
// BENCH_LATENCY=10ms` sets it.
const EnvLatency = "BENCH_LATENCY"

// StorageProxy stands between storage clients and Azurite's blob, queue and table ports on
// loopback, for two reasons: storage on Azure is milliseconds away, not Azurite's
// microseconds, so it delays every request and every response by a fixed time each way;
// and it counts requests by kind, for every process that uses its connection string (the
// handler processes of the scale suite included, which no in-process counter can see).
//
// It is an HTTP proxy rather than a byte pipe so that it can tell requests apart. The delay
// is added once per request and once per response (headers), not per TCP segment: each
// storage call costs one round trip of 2 × delay, as on a real network with keep-alive
// connections, and concurrent calls overlap as they would there.
type StorageProxy struct {
	delay   time.Duration
	conn    string
	servers []*http.Server
	counts  [numKinds]atomic.Int64

	traceMu sync.Mutex
	tracing bool
	traced  []TracedRequest
}

// TracedRequest is one request a tracing StorageProxy forwarded: when it arrived, how long
// it took with the delays, what it was.
type TracedRequest struct {
	At     time.Time
	Took   time.Duration
	Kind   RequestKind
	Method string
	Path   string // the URL's path and query, unescaped
	Status int
	Failed bool // no answer from Azurite
}

// Trace starts recording every request (or stops, with on false); TakeTrace returns what
// was recorded and forgets it. A timeline of one orchestration's requests shows which of
// them wait for one another: the round trips a latency goal counts.
func (p *StorageProxy) Trace(on bool) {
	p.traceMu.Lock()
	defer p.traceMu.Unlock()
	p.tracing = on
}

// TakeTrace returns the requests recorded since tracing started or the last TakeTrace,
// in the order they arrived.
func (p *StorageProxy) TakeTrace() []TracedRequest {
	p.traceMu.Lock()
	defer p.traceMu.Unlock()
	out := p.traced
	p.traced = nil
	slices.SortFunc(out, func(a, b TracedRequest) int { return a.At.Compare(b.At) })
	return out
}

func (p *StorageProxy) record(r TracedRequest) {
	p.traceMu.Lock()
	defer p.traceMu.Unlock()
	if p.tracing {
		p.traced = append(p.traced, r)
	}
}

// RequestKind is what a storage request does, told from its method and path.
type RequestKind int

// The kinds a StorageProxy counts. Queue gets are split into those that returned messages
// and empty ones (idle polling); table reads into point reads (GET of one entity by its
// keys), queries (within a partition, over a range of partitions, table listings) and
// scans, because Azure Storage serves the first from the key and pages the others. A scan
// is a query of a hub's Instances or History table that names no partition: Azurite
// answers it in one request, but Azure Storage pages it over every partition it crosses,
// one per instance, so what it bills grows with the hub.
const (
	TableQuery RequestKind = iota
	TableScan
	TablePointRead
	TableWrite // insert, update, merge, delete of one entity, table create/delete
	TableBatch // one entity-group transaction, billed as one request
	QueuePut
	QueueGet      // a dequeue or peek that returned messages
	QueueGetEmpty // a dequeue or peek that returned none: idle polling
	QueueDelete
	QueueOther // visibility updates, queue create, metadata
	Blob
	numKinds
)

var kindNames = [numKinds]string{"table query", "table scan", "table point read", "table write", "table batch",
	"queue put", "queue get", "queue get (empty)", "queue delete", "queue other", "blob"}

func (k RequestKind) String() string { return kindNames[k] }

// RequestCounts is a snapshot of a StorageProxy's counters, by kind.
type RequestCounts [numKinds]int64

// Total is every request.
func (c RequestCounts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Table is every table request.
func (c RequestCounts) Table() int64 {
	return c[TableQuery] + c[TableScan] + c[TablePointRead] + c[TableWrite] + c[TableBatch]
}

// Queue is every queue request, empty polls included.
func (c RequestCounts) Queue() int64 {
	return c[QueuePut] + c[QueueGet] + c[QueueGetEmpty] + c[QueueDelete] + c[QueueOther]
}

// Sub returns c - o.
func (c RequestCounts) Sub(o RequestCounts) RequestCounts {
	for i := range c {
		c[i] -= o[i]
	}
	return c
}

// String lists the non-zero kinds: "total 42: table query 3, queue get (empty) 39".
func (c RequestCounts) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "total %d", c.Total())
	sep := ": "
	for k, v := range c {
		if v != 0 {
			fmt.Fprintf(&b, "%s%s %d", sep, RequestKind(k), v)
			sep = ", "
		}
	}
	return b.String()
}

// StartStorageProxy starts a proxy in front of the blob, queue and table endpoints of the
// connection string conn (which must name them explicitly, as Azurite's do), with delay
// added each way. Its ConnectionString points clients at it.
func StartStorageProxy(conn string, delay time.Duration) (*StorageProxy, error) {
	p := &StorageProxy{delay: delay}
	parts := strings.Split(strings.TrimSuffix(strings.TrimSpace(conn), ";"), ";")
	found := 0
	for i, part := range parts {
		key, value, ok := strings.Cut(part, "=")
		if !ok || (key != "BlobEndpoint" && key != "QueueEndpoint" && key != "TableEndpoint") {
			continue
		}
		target, err := url.Parse(value)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("storage proxy: %s: %w", key, err)
		}
		addr, err := p.serve(target, key)
		if err != nil {
			p.Close()
			return nil, err
		}
		proxied := *target
		proxied.Host = addr
		parts[i] = key + "=" + proxied.String()
		found++
	}
	if found != 3 {
		p.Close()
		return nil, errors.New("storage proxy: the connection string must name BlobEndpoint, QueueEndpoint and TableEndpoint")
	}
	p.conn = strings.Join(parts, ";") + ";"
	return p, nil
}

// serve listens on a free loopback port and forwards what arrives to target's host.
func (p *StorageProxy) serve(target *url.URL, service string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("storage proxy: listen for %s: %w", service, err)
	}
	upstream := &url.URL{Scheme: target.Scheme, Host: target.Host}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.Transport = &delayTransport{p: p, service: service, next: &http.Transport{
		// As many idle connections as clients keep open: a new connection per request
		// would add a handshake that a real client's pool avoids.
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	// The SDKs see Azurite's own errors, not the proxy's, when Azurite is down.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, err.Error())
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: time.Minute}
	p.servers = append(p.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// delayTransport adds the delay before the request leaves and after the response's headers
// arrive, and counts the request.
type delayTransport struct {
	p       *StorageProxy
	service string
	next    http.RoundTripper
}

func (d *delayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	at := time.Now()
	path, _ := url.PathUnescape(req.URL.RequestURI())
	if err := sleep(req.Context(), d.p.delay); err != nil {
		return nil, err
	}
	kind := classify(d.service, req)
	resp, err := d.next.RoundTrip(req)
	if err != nil {
		d.p.record(TracedRequest{At: at, Took: time.Since(at), Kind: kind, Method: req.Method, Path: path, Failed: true})
		return nil, err
	}
	if kind == QueueGet && resp.StatusCode == http.StatusOK {
		// Only the body tells an empty poll; queue answers are small.
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if !bytes.Contains(b, []byte("<QueueMessage>")) {
			kind = QueueGetEmpty
		}
	}
	d.p.counts[kind].Add(1)
	if err := sleep(req.Context(), d.p.delay); err != nil {
		resp.Body.Close()
		return nil, err
	}
	d.p.record(TracedRequest{At: at, Took: time.Since(at), Kind: kind, Method: req.Method, Path: path, Status: resp.StatusCode})
	return resp, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// classify tells a request's kind from the endpoint it came through and its method and path.
// This is the one place to refine what the proxy counts.
func classify(service string, req *http.Request) RequestKind {
	path := req.URL.Path
	switch service {
	case "TableEndpoint":
		switch {
		case strings.HasSuffix(path, "$batch"):
			return TableBatch
		case req.Method == http.MethodGet && strings.Contains(path, "(PartitionKey="):
			return TablePointRead
		case req.Method == http.MethodGet && (strings.HasSuffix(path, "Instances()") || strings.HasSuffix(path, "History()")) &&
			!strings.Contains(req.URL.Query().Get("$filter"), "PartitionKey eq"):
			return TableScan
		case req.Method == http.MethodGet:
			return TableQuery
		}
		return TableWrite
	case "QueueEndpoint":
		if !strings.HasSuffix(path, "/messages") && !strings.Contains(path, "/messages/") {
			return QueueOther
		}
		switch req.Method {
		case http.MethodPost:
			return QueuePut
		case http.MethodGet:
			return QueueGet
		case http.MethodDelete:
			return QueueDelete
		}
		return QueueOther
	}
	return Blob
}

// ConnectionString is conn with its endpoints pointed at the proxy.
func (p *StorageProxy) ConnectionString() string { return p.conn }

// Delay is the delay added each way.
func (p *StorageProxy) Delay() time.Duration { return p.delay }

// Counts reads the counters.
func (p *StorageProxy) Counts() RequestCounts {
	var c RequestCounts
	for i := range c {
		c[i] = p.counts[i].Load()
	}
	return c
}

// Close stops the proxy's listeners and drops its connections.
func (p *StorageProxy) Close() {
	for _, s := range p.servers {
		_ = s.Close()
	}
}

// ProxiedStorage is [Storage] through a StorageProxy with delay added each way, closed when
// the test ends.
func ProxiedStorage(t testing.TB, delay time.Duration) (*StorageProxy, string) {
	t.Helper()
	p, err := StartStorageProxy(Storage(t), delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, p.ConnectionString()
}

// LatencyFromEnv parses BENCH_LATENCY: 0 when unset or empty.
func LatencyFromEnv() (time.Duration, error) {
	s := os.Getenv(EnvLatency)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 2.5ms", EnvLatency, s)
	}
	return d, nil
}
