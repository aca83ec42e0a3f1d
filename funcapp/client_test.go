package funcapp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/durable-go/durable/client"
	"github.com/durable-go/durable/funcapp"
	"github.com/durable-go/durable/task"
)

// The app's own client agrees with the app's HTTP API: starting an
// orchestrator the app does not register is ErrBadArgument (the API's
// 400), not an instance that fails later.
func TestAppClientRefusesUnknownOrchestrators(t *testing.T) {
	root := t.TempDir()
	for name, data := range map[string]string{
		"host.json":           `{"version":"2.0","extensions":{"http":{"routePrefix":""}}}`,
		"local.settings.json": `{"Values":{"AzureWebJobsStorage":"UseDevelopmentStorage=true"}}`,
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DURABLE_APP_ROOT", root)
	t.Setenv("FUNCTIONS_CUSTOMHANDLER_PORT", "0")
	stop := errors.New("checked; stop before serving")
	var checked error
	err := funcapp.Run(funcapp.Options{Register: func(reg *task.Registry, app *funcapp.App) error {
		if err := reg.AddOrchestrator("Hello", func(*task.OrchestrationContext) (any, error) { return nil, nil }); err != nil {
			return err
		}
		c, err := app.Client()
		if err != nil {
			return err
		}
		// Checked before any storage access: nothing runs Azurite here.
		_, checked = c.StartNew(context.Background(), "Helo", nil, client.StartOptions{})
		return stop
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("Run: %v", err)
	}
	if !errors.Is(checked, client.ErrBadArgument) || !strings.Contains(checked.Error(), `"Helo"`) {
		t.Fatalf("StartNew of an unknown orchestrator from the app's client: %v, want ErrBadArgument", checked)
	}
}
