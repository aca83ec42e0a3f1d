package funcapp_test

import (
	"encoding/json"
	"net/http"

	"github.com/durable-go/durable/funcapp"
	"github.com/durable-go/durable/task"
)

// The main function of a function app: register the orchestrators and
// activities, and run.
func ExampleMain() {
	funcapp.Main(funcapp.Options{Register: func(reg *task.Registry, app *funcapp.App) error {
		if err := reg.AddActivity("SayHello", func(ctx *task.ActivityContext) (any, error) {
			var name string
			err := ctx.GetInput(&name)
			return "Hello " + name + "!", err
		}); err != nil {
			return err
		}
		return reg.AddOrchestrator("Hello", func(ctx *task.OrchestrationContext) (any, error) {
			var s string
			err := ctx.CallActivity("SayHello", "Tokyo").Await(&s)
			return s, err
		})
	}})
}

// An activity that uses the app's client: the seed's SendInstanceInfo,
// which hands its instance's management URLs to an outside system.
func ExampleApp_Client() {
	funcapp.Main(funcapp.Options{Register: func(reg *task.Registry, app *funcapp.App) error {
		return reg.AddActivity("SendInstanceInfo", func(ctx *task.ActivityContext) (any, error) {
			c, err := app.Client()
			if err != nil {
				return nil, err
			}
			payload := c.CreateHTTPManagementPayload(ctx.InstanceID())
			// Store or send payload; returning it records it in history.
			return payload, nil
		})
	}})
}

// The app's own functions next to the built-in ones: a queue-triggered
// function (its folder's function.json names the queue) and an HTTP route.
func ExampleOptions() {
	funcapp.Main(funcapp.Options{
		Functions: map[string]http.Handler{
			"OrderQueue": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var inv struct{ Data map[string]json.RawMessage }
				_ = json.NewDecoder(r.Body).Decode(&inv)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"Outputs":{},"Logs":["order received"],"ReturnValue":null}`))
			}),
		},
		HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("hello from the app's own route"))
		}),
	})
}
