// Command handler is this repository's example function app: a Go custom
// handler for Azure Functions with the durable engine in it, serving the
// samples (package samples) plus SendInstanceInfo, the seed's example of an
// activity that uses the durable client. The Functions host (or the
// project's dev host) starts it with FUNCTIONS_CUSTOMHANDLER_PORT set.
//
// It uses only the module's public packages, as an app of your own would:
// `durable init DIR` writes the same skeleton.
package main

import (
	"encoding/json"
	"fmt"

	"github.com/durable-go/durable/funcapp"
	"github.com/durable-go/durable/samples"
	"github.com/durable-go/durable/task"
)

func main() {
	funcapp.Main(funcapp.Options{Register: register})
}

// register adds the samples and the orchestration that sends its own
// management URLs somewhere.
func register(reg *task.Registry, app *funcapp.App) error {
	if err := samples.Register(reg, app.Setting); err != nil {
		return err
	}
	// SendInstanceInfo builds the HTTP management payload of the instance
	// that called it, as the seed's C# and JavaScript examples do, and
	// "sends" it: here to the log, where an app would write it to a
	// database or a queue for an outside system.
	if err := reg.AddActivity("SendInstanceInfo", func(ctx *task.ActivityContext) (any, error) {
		c, err := app.Client()
		if err != nil {
			return nil, err
		}
		payload := c.CreateHTTPManagementPayload(ctx.InstanceID())
		doc, err := json.Marshal(map[string]any{"id": ctx.InstanceID(), "payload": payload})
		if err != nil {
			return nil, fmt.Errorf("encode the management payload: %w", err)
		}
		ctx.Logger().Info("instance info", "document", string(doc))
		return payload, nil
	}); err != nil {
		return err
	}
	return reg.AddOrchestrator("SendInstanceInfoDemo", func(ctx *task.OrchestrationContext) (any, error) {
		var payload map[string]string
		err := ctx.CallActivity("SendInstanceInfo", nil).Await(&payload)
		return payload, err
	})
}
