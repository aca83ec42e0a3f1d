// Command durable manages the orchestration instances of a Durable Functions
// task hub in Azure Storage. It offers the `func durable …` commands of Azure
// Functions Core Tools with the same names, flags and defaults, adds suspend,
// resume, restart and purge-history --id, and needs no .NET:
//
//	go install ./cmd/durable   # from a checkout, while the module is not published
//	durable start-new --function-name HelloWorld --input @counter-data.json
//	durable get-instances --runtime-status Running Pending --top 20
//	durable help get-instances
//
// Run from a function app's root, it reads the connection from
// local.settings.json "Values" and the task hub from host.json
// (extensions.durableTask.hubName), as Core Tools does; environment variables
// win over local.settings.json. From anywhere else, give
// --connection-string-setting and --task-hub-name (or --app-root).
//
// durable init writes a new function app and durable dev runs one on this
// machine with Azurite, the storage emulator; neither needs the hub flags.
//
// Results go to stdout, messages to stderr. --json prints results in the
// shapes of the Durable Functions HTTP API.
//
// Exit codes:
//
//	0    success
//	1    unexpected error (a bug)
//	2    bad arguments or configuration
//	3    instance or task hub not found
//	4    the instance's status forbids the operation
//	5    storage or connection error
//	6    replay-check: an instance does not replay with the app's code
//	130  interrupted
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl-C cancels in-flight storage requests instead of killing the
	// process mid-write; a second Ctrl-C kills it, because stop() restores
	// the default handler once the context is done.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], osStreams())
	stop()
	os.Exit(code)
}
