package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStorageEndpointsAndProbe(t *testing.T) {
	dev, err := StorageEndpoints(NewSettings(map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, false), "AzureWebJobsStorage")
	if err != nil {
		t.Fatal(err)
	}
	if !dev.Emulator || !dev.DevelopmentStorage || dev.Table != "http://127.0.0.1:10002/devstoreaccount1" {
		t.Errorf("UseDevelopmentStorage=true: %+v", dev)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up := fmt.Sprintf("http://%s/devstoreaccount1", ln.Addr())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Sprintf("http://%s/devstoreaccount1", closed.Addr())
	closed.Close()

	ctx := context.Background()
	if ep, err := (Endpoints{Blob: up, Queue: up, Table: up}).Probe(ctx, time.Second); err != nil {
		t.Errorf("a listening endpoint: %s %v", ep, err)
	}
	ep, err := (Endpoints{Blob: up, Queue: down, Table: up}).Probe(ctx, time.Second)
	if ep != down || !IsUnreachable(err) || !strings.Contains(err.Error(), down) {
		t.Errorf("a closed port: %q %v (unreachable %v)", ep, err, IsUnreachable(err))
	}
}

func TestIsUnreachable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("409 Conflict"), false},
		{fmt.Errorf("start: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), true},
		{fmt.Errorf("start: %w", &net.DNSError{Err: "no such host", Name: "nope.invalid"}), true},
		{fmt.Errorf("start: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}), false},
	} {
		if got := IsUnreachable(c.err); got != c.want {
			t.Errorf("IsUnreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
