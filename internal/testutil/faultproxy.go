package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultProxy is a reverse proxy on the loopback interface in front of one storage service
// endpoint (Azurite's table port, say). It passes every request through until told to fail
// them ([FaultProxy.ServerBusy]); then it answers each one itself as Azure Storage does when
// it throttles or fails over: 503 with x-ms-error-code ServerBusy and the service's error
// body, without forwarding it. Only the clients given [FaultProxy.URL] suffer: the other
// services, and other clients of the same one, keep working.
type FaultProxy struct {
	srv     *http.Server
	ln      net.Listener
	busy    atomic.Bool
	refused atomic.Int64 // requests answered 503 so far
	wg      sync.WaitGroup
}

// StartFaultProxy starts a proxy in front of target (scheme and host, such as
// "http://127.0.0.1:10002"; a path is kept) and stops it when the test ends.
func StartFaultProxy(tb testing.TB, target string) *FaultProxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		tb.Fatalf("testutil: fault proxy target %q is not an absolute URL", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testutil: fault proxy listener: %v", err)
	}
	p := &FaultProxy{ln: ln}
	rp := &httputil.ReverseProxy{
		// SetURL also sets the outgoing Host to the target's, as a direct client would.
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 30 * time.Second}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.Serve(ln)
	}()
	tb.Cleanup(p.Close)
	return p
}

// URL is the proxy's base URL, "http://127.0.0.1:<port>", to use in place of the target's
// scheme and host.
func (p *FaultProxy) URL() string { return "http://" + p.ln.Addr().String() }

// ServerBusy starts (true) or ends (false) the brown-out: while it lasts every request is
// answered 503 ServerBusy.
func (p *FaultProxy) ServerBusy(on bool) { p.busy.Store(on) }

// Refused counts the requests answered 503 so far.
func (p *FaultProxy) Refused() int64 { return p.refused.Load() }

// Close stops the proxy; it is registered as a cleanup and safe to call again.
func (p *FaultProxy) Close() {
	_ = p.srv.Close()
	p.wg.Wait()
}

func (p *FaultProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.busy.Load() {
			next.ServeHTTP(w, r)
			return
		}
		p.refused.Add(1)
		// Read the body as the service would before answering, so that the client sees
		// the answer and not a reset connection.
		_, _ = io.Copy(io.Discard, r.Body)
		writeServerBusy(w, r)
	})
}

// writeServerBusy answers r as a throttling Azure Storage service does: 503, the error
// code in x-ms-error-code, and a body in the format the request accepts (the table
// service's JSON for JSON clients, the storage XML otherwise).
func writeServerBusy(w http.ResponseWriter, r *http.Request) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	reqID := fmt.Sprintf("%s-%s-%s-%s-%s", hex.EncodeToString(id[0:4]), hex.EncodeToString(id[4:6]),
		hex.EncodeToString(id[6:8]), hex.EncodeToString(id[8:10]), hex.EncodeToString(id[10:16]))
	now := time.Now().UTC()
	msg := fmt.Sprintf("The server is busy.\nRequestId:%s\nTime:%s", reqID, now.Format("2006-01-02T15:04:05.0000000Z"))
	h := w.Header()
	h.Set("x-ms-error-code", "ServerBusy")
	h.Set("x-ms-request-id", reqID)
	h.Set("Date", now.Format(http.TimeFormat))
	if v := r.Header.Get("x-ms-version"); v != "" {
		h.Set("x-ms-version", v)
	}
	if strings.Contains(r.Header.Get("Accept"), "json") {
		h.Set("Content-Type", "application/json;odata=minimalmetadata;streaming=true;charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US","value":%q}}}`, msg)
		return
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>%s</Message></Error>`, msg)
}

// EndpointHost returns the scheme and host of the endpoint key (such as "TableEndpoint")
// of conn, the target for a [FaultProxy] in front of that service. conn must name the
// endpoint explicitly, as Azurite's connection strings do.
func EndpointHost(conn, key string) (string, error) {
	_, u, err := endpoint(conn, key)
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host, nil
}

// ConnectionStringWith returns conn with the endpoint key moved to base, keeping its path:
// "http://127.0.0.1:10002/devstoreaccount1" becomes base+"/devstoreaccount1". The account
// and key stay: shared-key signatures cover the path, not the host.
func ConnectionStringWith(conn, key, base string) (string, error) {
	parts, u, err := endpoint(conn, key)
	if err != nil {
		return "", err
	}
	for i, part := range parts {
		if k, _, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			parts[i] = k + "=" + strings.TrimRight(base, "/") + u.Path
		}
	}
	return strings.Join(parts, ";"), nil
}

// endpoint splits conn into its parts and parses the endpoint key.
func endpoint(conn, key string) ([]string, *url.URL, error) {
	parts := strings.Split(conn, ";")
	for _, part := range parts {
		k, v, ok := strings.Cut(part, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), key) {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || u.Host == "" {
			return nil, nil, fmt.Errorf("%s of the connection string is not an absolute URL", key)
		}
		return parts, u, nil
	}
	return nil, nil, fmt.Errorf("the connection string has no %s", key)
}
