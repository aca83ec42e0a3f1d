package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStorageProxy checks the two things the benchmarks rely on: a request through the
// proxy takes at least a round trip (2 × delay), and it is counted under the right kind.
func TestStorageProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/messages") && r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "<QueueMessagesList></QueueMessagesList>")
			return
		}
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer backend.Close()
	u := backend.URL + "/devstoreaccount1"
	conn := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=x;BlobEndpoint=" + u +
		";QueueEndpoint=" + u + ";TableEndpoint=" + u + ";"
	const delay = 20 * time.Millisecond
	p, err := StartStorageProxy(conn, delay)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	endpoints := map[string]string{}
	for _, part := range strings.Split(p.ConnectionString(), ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.HasSuffix(k, "Endpoint") {
			endpoints[k] = v
		}
	}
	if len(endpoints) != 3 || endpoints["TableEndpoint"] == u {
		t.Fatalf("endpoints not proxied: %s", p.ConnectionString())
	}
	do := func(method, url string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if took := time.Since(t0); took < 2*delay {
			t.Errorf("%s %s took %v, less than a round trip of %v", method, url, took, 2*delay)
		}
	}
	do(http.MethodGet, endpoints["TableEndpoint"]+"/HubInstances(PartitionKey='a',RowKey='')")
	do(http.MethodGet, endpoints["TableEndpoint"]+"/HubInstances()?$filter=x")
	do(http.MethodGet, endpoints["TableEndpoint"]+"/HubHistory()?$filter=PartitionKey%20eq%20'a'")
	do(http.MethodGet, endpoints["TableEndpoint"]+"/HubInstanceIndex()?$filter=PartitionKey%20ge%20'a'")
	do(http.MethodPost, endpoints["TableEndpoint"]+"/$batch")
	do(http.MethodGet, endpoints["QueueEndpoint"]+"/hub-control-00/messages")
	do(http.MethodGet, endpoints["BlobEndpoint"]+"/hub-leases/x")
	want := RequestCounts{}
	// A query of the Instances table naming no partition is a scan; one within a partition, or
	// of another table, is not.
	want[TablePointRead], want[TableScan], want[TableQuery], want[TableBatch], want[QueueGetEmpty], want[Blob] = 1, 1, 2, 1, 1, 1
	if got := p.Counts(); got != want {
		t.Errorf("counts %v, want %v", got, want)
	}
}
