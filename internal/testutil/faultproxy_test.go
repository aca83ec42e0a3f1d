package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFaultProxy checks that the proxy passes requests through, answers 503 ServerBusy
// with the service's error body while busy, and passes through again afterwards.
func TestFaultProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+" "+r.URL.Path)
	}))
	defer backend.Close()
	p := StartFaultProxy(t, backend.URL)
	get := func(accept string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodGet, p.URL()+"/devstoreaccount1/Tables", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	wantThrough := strings.TrimPrefix(backend.URL, "http://") + " /devstoreaccount1/Tables"
	if code, _, body := get("application/json"); code != 200 || body != wantThrough {
		t.Fatalf("through the proxy: %d %q, want 200 %q", code, body, wantThrough)
	}
	p.ServerBusy(true)
	code, h, body := get("application/json;odata=minimalmetadata")
	if code != 503 || h.Get("x-ms-error-code") != "ServerBusy" || !strings.Contains(body, `"code":"ServerBusy"`) {
		t.Fatalf("busy, JSON: %d %v %q", code, h, body)
	}
	if code, _, body := get("application/xml"); code != 503 || !strings.Contains(body, "<Code>ServerBusy</Code>") {
		t.Fatalf("busy, XML: %d %q", code, body)
	}
	p.ServerBusy(false)
	if code, _, _ := get("application/json"); code != 200 || p.Refused() != 2 {
		t.Fatalf("after the brown-out: %d, %d refused, want 200 and 2", code, p.Refused())
	}

	conn := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:3/devstoreaccount1;"
	if host, err := EndpointHost(conn, "TableEndpoint"); err != nil || host != "http://127.0.0.1:3" {
		t.Fatalf("EndpointHost: %q %v", host, err)
	}
	got, err := ConnectionStringWith(conn, "TableEndpoint", "http://127.0.0.1:9")
	want := strings.Replace(conn, "127.0.0.1:3", "127.0.0.1:9", 1)
	if err != nil || got != want {
		t.Fatalf("ConnectionStringWith:\n%s\nwant\n%s (%v)", got, want, err)
	}
}
