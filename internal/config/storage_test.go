package config

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// recordingTransport answers every request with 403 without touching the
// network, keeping what was sent so tests can see the URLs and credentials
// the clients really use.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rt *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, req)
	rt.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusForbidden,
		Status:     "403 Forbidden",
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader("")),
		Request:    req,
	}, nil
}

func (rt *recordingTransport) requests() []*http.Request {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]*http.Request(nil), rt.reqs...)
}

// countingPolicy counts the operations passing through a pipeline.
type countingPolicy struct {
	mu sync.Mutex
	n  int
}

func (p *countingPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return req.Next()
}

func (p *countingPolicy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// fakeCredential hands out a fixed token so bearer authentication can be
// exercised without Microsoft Entra ID.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// isSharedKeyAuth reports whether auth is a shared-key signature for account;
// the table client signs with the "SharedKeyLite" variant.
func isSharedKeyAuth(auth, account string) bool {
	return strings.HasPrefix(auth, "SharedKey "+account+":") || strings.HasPrefix(auth, "SharedKeyLite "+account+":")
}

func testClientOptions(rt *recordingTransport, counter *countingPolicy) ClientOptions {
	return ClientOptions{
		PerCallPolicies: []policy.Policy{counter},
		Retry:           &policy.RetryOptions{MaxRetries: -1},
		Transport:       rt,
	}
}

// touchAll sends one request through each of the three clients and returns
// the requests in table, queue, blob order.
func touchAll(t *testing.T, st *Storage, rt *recordingTransport) (table, queue, blob *http.Request) {
	t.Helper()
	ctx := context.Background()
	before := len(rt.requests())
	if _, err := st.Tables.GetProperties(ctx, nil); err == nil {
		t.Fatal("table request: want the fake 403")
	}
	if _, err := st.Queues.GetServiceProperties(ctx, nil); err == nil {
		t.Fatal("queue request: want the fake 403")
	}
	if _, err := st.Blobs.ServiceClient().GetProperties(ctx, nil); err == nil {
		t.Fatal("blob request: want the fake 403")
	}
	reqs := rt.requests()[before:]
	if len(reqs) != 3 {
		t.Fatalf("transport saw %d requests, want 3", len(reqs))
	}
	return reqs[0], reqs[1], reqs[2]
}

func TestOpenStorageDevelopmentStorage(t *testing.T) {
	rt := &recordingTransport{}
	counter := &countingPolicy{}
	settings := NewSettings(map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, false)
	st, err := OpenStorage(settings, "AzureWebJobsStorage", testClientOptions(rt, counter))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Emulator || st.AccountName != "devstoreaccount1" {
		t.Errorf("Emulator = %v, AccountName = %q", st.Emulator, st.AccountName)
	}
	if got := st.Blobs.URL(); got != "http://127.0.0.1:10000/devstoreaccount1" {
		t.Errorf("Blobs.URL() = %q", got)
	}
	if got := st.Queues.URL(); got != "http://127.0.0.1:10001/devstoreaccount1" {
		t.Errorf("Queues.URL() = %q", got)
	}

	table, queue, blob := touchAll(t, st, rt)
	for _, c := range []struct {
		req  *http.Request
		host string
		path string
	}{
		{table, "127.0.0.1:10002", "/devstoreaccount1"},
		{queue, "127.0.0.1:10001", "/devstoreaccount1"},
		{blob, "127.0.0.1:10000", "/devstoreaccount1"},
	} {
		if c.req.URL.Scheme != "http" || c.req.URL.Host != c.host || !strings.HasPrefix(c.req.URL.Path, c.path) {
			t.Errorf("request went to %s, want http://%s%s...", c.req.URL, c.host, c.path)
		}
		if auth := c.req.Header.Get("Authorization"); !isSharedKeyAuth(auth, "devstoreaccount1") {
			t.Errorf("%s: Authorization = %q, want shared key", c.req.URL, auth)
		}
	}
	if got := counter.count(); got != 3 {
		t.Errorf("per-call policy saw %d requests, want 3", got)
	}
}

func TestOpenStorageAccountKey(t *testing.T) {
	rt := &recordingTransport{}
	settings := NewSettings(map[string]string{"Conn": "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" + testKey}, false)
	st, err := OpenStorage(settings, "Conn", testClientOptions(rt, &countingPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Emulator || st.AccountName != "myacct" {
		t.Errorf("Emulator = %v, AccountName = %q", st.Emulator, st.AccountName)
	}
	table, queue, blob := touchAll(t, st, rt)
	for req, host := range map[*http.Request]string{
		table: "myacct.table.core.windows.net",
		queue: "myacct.queue.core.windows.net",
		blob:  "myacct.blob.core.windows.net",
	} {
		if req.URL.Scheme != "https" || req.URL.Host != host {
			t.Errorf("request went to %s, want https://%s", req.URL, host)
		}
		if auth := req.Header.Get("Authorization"); !isSharedKeyAuth(auth, "myacct") {
			t.Errorf("%s: Authorization = %q", req.URL, auth)
		}
	}
}

func TestOpenStorageSAS(t *testing.T) {
	rt := &recordingTransport{}
	cs := "BlobEndpoint=https://acct.blob.core.windows.net;QueueEndpoint=https://acct.queue.core.windows.net;TableEndpoint=https://acct.table.core.windows.net;SharedAccessSignature=sv=2022-11-02&sig=c2ln"
	st, err := OpenStorage(NewSettings(map[string]string{"Conn": cs}, false), "Conn", testClientOptions(rt, &countingPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	if st.AccountName != "acct" {
		t.Errorf("AccountName = %q", st.AccountName)
	}
	if got := st.Blobs.URL(); !strings.HasPrefix(got, "https://acct.blob.core.windows.net/?") || !strings.Contains(got, "sig=c2ln") {
		t.Errorf("Blobs.URL() = %q", got)
	}
	table, queue, blob := touchAll(t, st, rt)
	for _, req := range []*http.Request{table, queue, blob} {
		if req.URL.Query().Get("sig") != "c2ln" || req.URL.Query().Get("sv") != "2022-11-02" {
			t.Errorf("%s: SAS missing from the query", req.URL)
		}
		if auth := req.Header.Get("Authorization"); auth != "" {
			t.Errorf("%s: Authorization = %q, want none with SAS", req.URL, auth)
		}
	}
	if table.URL.Host != "acct.table.core.windows.net" {
		t.Errorf("table request went to %s", table.URL)
	}
}

func TestOpenStorageIdentity(t *testing.T) {
	rt := &recordingTransport{}
	var gotConn *connection
	factory := func(c *connection, _ ClientOptions) (azcore.TokenCredential, error) {
		gotConn = c
		return fakeCredential{}, nil
	}
	settings := NewSettings(map[string]string{
		"Conn__accountName": "idacct",
		"Conn__credential":  "managedidentity",
		"Conn__clientId":    "client-1",
	}, false)
	st, err := openStorage(settings, "Conn", testClientOptions(rt, &countingPolicy{}), factory)
	if err != nil {
		t.Fatal(err)
	}
	if gotConn == nil || gotConn.credential != "managedidentity" || gotConn.clientID != "client-1" {
		t.Fatalf("credential factory got %+v", gotConn)
	}
	if st.AccountName != "idacct" || st.Emulator {
		t.Errorf("AccountName = %q, Emulator = %v", st.AccountName, st.Emulator)
	}
	table, queue, blob := touchAll(t, st, rt)
	for req, host := range map[*http.Request]string{
		table: "idacct.table.core.windows.net",
		queue: "idacct.queue.core.windows.net",
		blob:  "idacct.blob.core.windows.net",
	} {
		if req.URL.Scheme != "https" || req.URL.Host != host {
			t.Errorf("request went to %s, want https://%s", req.URL, host)
		}
		if auth := req.Header.Get("Authorization"); auth != "Bearer fake-token" {
			t.Errorf("%s: Authorization = %q", req.URL, auth)
		}
	}
}

func TestOpenStorageIdentityServiceURIs(t *testing.T) {
	// The public entry point with real azidentity credentials: building them
	// contacts nothing, and no request is sent here.
	settings := NewSettings(map[string]string{
		"Conn__blobServiceUri":  "https://myblobs.blob.core.windows.net",
		"Conn__queueServiceUri": "https://myqueues.queue.core.windows.net/",
		"Conn__tableServiceUri": "https://mytables.table.core.windows.net",
	}, false)
	st, err := OpenStorage(settings, "Conn", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Blobs.URL(); got != "https://myblobs.blob.core.windows.net" {
		t.Errorf("Blobs.URL() = %q", got)
	}
	if got := st.Queues.URL(); got != "https://myqueues.queue.core.windows.net" {
		t.Errorf("Queues.URL() = %q", got)
	}
	if st.Tables == nil || st.AccountName != "myblobs" {
		t.Errorf("Tables = %v, AccountName = %q", st.Tables, st.AccountName)
	}
}

func TestNewIdentityCredentialKinds(t *testing.T) {
	cred, err := newIdentityCredential(&connection{credential: "ManagedIdentity", clientID: "00000000-0000-0000-0000-000000000001"}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cred.(*azidentity.ManagedIdentityCredential); !ok {
		t.Errorf("credential=managedidentity gave %T", cred)
	}
	cred, err = newIdentityCredential(&connection{}, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cred.(*azidentity.DefaultAzureCredential); !ok {
		t.Errorf("no credential setting gave %T", cred)
	}
}

func TestOpenStorageErrors(t *testing.T) {
	_, err := OpenStorage(NewSettings(nil, false), "AzureWebJobsStorage", ClientOptions{})
	want := `storage connection: app setting "AzureWebJobsStorage" is not set (and no identity-based settings AzureWebJobsStorage__accountName or AzureWebJobsStorage__*ServiceUri were found)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}

	boom := errors.New("no identity here")
	_, err = openStorage(NewSettings(map[string]string{"C__accountName": "acct"}, false), "C", ClientOptions{},
		func(*connection, ClientOptions) (azcore.TokenCredential, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `storage connection "C"`) {
		t.Errorf("credential failure error = %v", err)
	}
}
