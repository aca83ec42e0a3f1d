package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Endpoints are the service endpoints a storage connection resolves to,
// for messages that must name where the app looks for its storage.
type Endpoints struct {
	Blob, Queue, Table string
	// Emulator is true for UseDevelopmentStorage or a loopback endpoint:
	// Azurite on this machine, which the developer has to start.
	Emulator bool
	// DevelopmentStorage is true for "UseDevelopmentStorage=true", which
	// always means Azurite's default ports 10000-10002.
	DevelopmentStorage bool
}

// StorageEndpoints resolves the connection called connectionName as
// OpenStorage does, without building any client.
func StorageEndpoints(settings *Settings, connectionName string) (Endpoints, error) {
	c, err := resolveConnection(settings, connectionName)
	if err != nil {
		return Endpoints{}, err
	}
	cs, _ := settings.Get(connectionName)
	dev := false
	if m, err := ParseConnectionString(cs); err == nil && strings.EqualFold(m[csUseDevelopmentStorage], "true") {
		dev = true
	}
	return Endpoints{Blob: c.blob, Queue: c.queue, Table: c.table, Emulator: c.emulator, DevelopmentStorage: dev}, nil
}

// IsUnreachable reports whether err is a failure to reach storage at all
// (connection refused, no route, a name that does not resolve), as opposed
// to an answer from it. Such a failure says nothing about the request, so
// the HTTP API answers it with 503 and callers can tell the user to start
// the emulator or fix the connection setting instead of retrying blindly.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// Probe dials each endpoint's host once (TCP only, no request) and returns
// the first endpoint it could not reach with the failure. It is how an app
// tells "storage is not running" in a fraction of a second, where the
// SDK's retries of a refused connection take about ten.
func (e Endpoints) Probe(ctx context.Context, timeout time.Duration) (string, error) {
	seen := map[string]bool{}
	for _, ep := range []string{e.Table, e.Queue, e.Blob} {
		addr, err := dialAddress(ep)
		if err != nil {
			return ep, err
		}
		if seen[addr] {
			continue
		}
		seen[addr] = true
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return ep, fmt.Errorf("storage endpoint %s: %w", ep, err)
		}
		_ = conn.Close()
	}
	return "", nil
}

// dialAddress is host:port of an http(s) endpoint URL, with the scheme's
// default port when it names none.
func dialAddress(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("storage endpoint %q is not an absolute URL", endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
