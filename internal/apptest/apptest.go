// Package apptest holds what the tests that need the function app share:
// NewApp, the app in process (worker, client, hub) with the samples; and
// for tests that run the handler as real processes, the handler binary,
// built once per test binary, and the task hub those processes serve,
// opened from the test process the way the CLI opens it (storage only, no
// worker).
package apptest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/internal/testutil"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
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

// AppOptions adjust NewApp. The zero value is the samples on a new hub of
// the test storage account, its worker started, with polling and leases
// short enough for tests, and quiet logs.
type AppOptions struct {
	// Hub names the task hub; a unique name for the test when empty.
	Hub string
	// Settings are app settings next to the storage connection
	// (AzureWebJobsStorage, from testutil.Storage unless given here).
	Settings map[string]string
	// Register adds the test's own orchestrators and activities to the
	// samples.
	Register func(*durable.Registry) error
	// Durable adjusts the host.json options after the test defaults.
	Durable func(*config.DurableOptions)
	// Configure adjusts the app's configuration last (policies, logger).
	Configure func(*app.Config)
	// NoStart leaves the worker stopped; the hub is not created either.
	NoStart bool
	// Manual leaves stopping the app and deleting the hub to the test.
	Manual bool
}

// NewApp builds the app of a test that needs one in process, the one
// helper that does, and by default stops it and deletes its hub (unless
// KEEP_HUBS is set) when the test ends.
func NewApp(t testing.TB, o AppOptions) *app.App {
	t.Helper()
	values := map[string]string{"AzureWebJobsStorage": "", "DatabaseConnection": "Server=db", app.WakeQueueSetting: "none"}
	for k, v := range o.Settings {
		values[k] = v
	}
	if values["AzureWebJobsStorage"] == "" {
		values["AzureWebJobsStorage"] = testutil.Storage(t)
	}
	settings := config.NewSettings(values, false)
	d := config.DefaultDurableOptions()
	d.HubName = o.Hub
	if d.HubName == "" {
		d.HubName = testutil.UniqueHubName(t)
	}
	d.MaxQueuePollingInterval = 500 * time.Millisecond
	d.PartitionLeaseDuration, d.PartitionLeaseRenewInterval = 6*time.Second, 2*time.Second
	if o.Durable != nil {
		o.Durable(&d)
	}
	reg := durable.NewRegistry()
	if err := samples.Register(taskbridge.Public(reg).(*task.Registry), settings.Get); err != nil {
		t.Fatal(err)
	}
	if o.Register != nil {
		if err := o.Register(reg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := app.Config{Settings: settings, Durable: d, Registry: reg, Logger: slog.New(slog.DiscardHandler), ShutdownGrace: 2 * time.Second}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoStart {
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !o.Manual {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if !o.NoStart {
				if err := a.Stop(ctx); err != nil {
					t.Logf("stop the test app: %v", err)
				}
			}
			if os.Getenv("KEEP_HUBS") == "" {
				_ = a.Hub.Delete(ctx)
			}
		})
	}
	return a
}
