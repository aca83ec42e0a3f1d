package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/durable-go/durable/client"
)

// A client that knows the app's orchestrators refuses an unknown name as
// the HTTP API does (400, ErrBadArgument), before touching storage.
func TestStartNewOfAnUnknownOrchestrator(t *testing.T) {
	c, err := client.Open(context.Background(), client.Config{
		// Port 1: nothing listens there, and the refusal must not need storage.
		ConnectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;" +
			"BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;",
		PartitionCount: 4,
		IsOrchestrator: func(name string) bool { return name == "Hello" },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartNew(context.Background(), "Helo", nil, client.StartOptions{})
	if !errors.Is(err, client.ErrBadArgument) || !strings.Contains(err.Error(), `"Helo" is not registered`) {
		t.Fatalf("StartNew of an unknown orchestrator: %v, want ErrBadArgument naming it", err)
	}
}
