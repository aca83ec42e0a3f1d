// Package apptest holds what the tests that run the function app's handler
// as real processes share: the handler binary, built once per test binary,
// and the task hub those processes serve, opened from the test process the
// way the CLI opens it (storage only, no worker).
package apptest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/testutil"
)

// HandlerBinary builds the repository's function app handler once per test
// binary and returns its path. Not testutil.BuildBinary: the binary
// outlives the test that first asks for it, so it cannot live in that
// test's TempDir. It is the package's only variable, set once.
var HandlerBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "handler-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "handler")
	if err := testutil.GoBuild("github.com/durable-go/durable", bin); err != nil {
		return "", err
	}
	return bin, nil
})

// OpenHub opens task hub name of the storage account conn with
// partitionCount partitions (0: the default), creates it, and deletes it
// when the test ends unless KEEP_HUBS is set.
func OpenHub(t testing.TB, name, conn string, partitionCount int) *azstore.Hub {
	t.Helper()
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": conn, app.WakeQueueSetting: "none"}, false)
	d := config.DefaultDurableOptions()
	d.HubName = name
	if partitionCount > 0 {
		d.PartitionCount = partitionCount
	}
	h, err := app.OpenHub(settings, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CreateIfNotExists(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("KEEP_HUBS") == "" {
			_ = h.Delete(context.Background())
		}
	})
	return h
}
