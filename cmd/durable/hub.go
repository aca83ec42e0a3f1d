package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
)

// hubFlags are the flags every command has: where the task hub is.
type hubFlags struct {
	appRoot           string
	connectionSetting string
	taskHubName       string
}

func (h *hubFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&h.connectionSetting, "connection-string-setting", "",
		"`name` of the app setting holding the storage connection string (or prefix of identity-based\n"+
			"settings such as NAME__accountName); default: host.json storageProvider.connectionName,\n"+
			"else "+config.DefaultConnectionName)
	fs.StringVar(&h.taskHubName, "task-hub-name", "",
		"task hub `name`; default: host.json extensions.durableTask.hubName, else "+config.DefaultHubName)
	fs.StringVar(&h.appRoot, "app-root", ".",
		"function app `directory` holding local.settings.json and host.json")
}

// resolve finds the settings and the task hub options the way Core Tools
// does: local.settings.json "Values" overridden by the environment, then
// host.json's durableTask section, then the flags. Neither file is
// required, so the tool also works outside an app given the flags.
func (h *hubFlags) resolve() (*config.Settings, config.DurableOptions, error) {
	settings, err := config.LoadSettings(h.appRoot)
	if err != nil {
		return nil, config.DurableOptions{}, configError(err)
	}
	opts := config.DefaultDurableOptions()
	host, err := config.LoadHost(filepath.Join(h.appRoot, config.HostFile), settings)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not in an app root: the defaults and the flags decide.
	case err != nil:
		return nil, config.DurableOptions{}, configError(fmt.Errorf("%w (use --app-root to read another app's files)", err))
	default:
		opts = host.Durable
	}
	if h.taskHubName != "" {
		opts.HubName = h.taskHubName
	}
	if h.connectionSetting != "" {
		opts.ConnectionName = h.connectionSetting
	}
	if err := config.ValidateTaskHubName(opts.HubName); err != nil {
		if h.taskHubName != "" {
			return nil, config.DurableOptions{}, usageErrorf("--task-hub-name: %w", err)
		}
		return nil, config.DurableOptions{}, configError(fmt.Errorf("task hub name from host.json: %w", err))
	}
	return settings, opts, nil
}

// target is an opened task hub.
type target struct {
	hub    *azstore.Hub
	client *client.Client
	// known is false when the hub's taskhub.json is missing: the hub does
	// not exist, or another tool created it without one. Failures then
	// point at the hub name instead of blaming the instance.
	known bool
	// connection is the name of the app setting holding the storage
	// connection, as the HTTP API's URLs name it.
	connection string
	// settings are the app's settings (environment over local.settings.json).
	settings *config.Settings
}

// setting is an app setting, "" when unset.
func (t *target) setting(name string) string {
	v, _ := t.settings.Get(name)
	return v
}

// open resolves the hub and opens it. It reads the hub's recorded partition
// count first: messages (raise-event, terminate, …) go to the control queue
// of the instance's partition, and the count in host.json, or the default
// when run outside the app, may not be the one the hub was created with.
func (h *hubFlags) open(ctx context.Context, logger *slog.Logger) (*target, error) {
	settings, opts, err := h.resolve()
	if err != nil {
		return nil, err
	}
	hub, err := app.OpenHub(settings, opts, logger)
	if err != nil {
		return nil, configError(fmt.Errorf("%w; run durable from the function app's root, set the setting in the environment, "+
			"or name another one with --connection-string-setting", err))
	}
	if err := probeStorage(ctx, settings, opts.ConnectionName); err != nil {
		return nil, err
	}
	known, err := hub.UseRecordedPartitionCount(ctx)
	if err != nil {
		return nil, err
	}
	return &target{hub: hub, client: client.New(hub, client.Options{Logger: logger, DefaultVersion: opts.DefaultVersion}), known: known, connection: opts.ConnectionName, settings: settings}, nil
}

// probeStorage fails at once, saying what to do, when nothing answers at
// the storage endpoints: the storage SDK would retry a refused connection
// for about ten seconds and then report it in its own words, which left
// new users without Azurite waiting for an error they could not act on.
func probeStorage(ctx context.Context, settings *config.Settings, connection string) error {
	ep, err := config.StorageEndpoints(settings, connection)
	if err != nil {
		return nil // OpenHub has accepted the connection; let the request report it
	}
	failed, err := ep.Probe(ctx, 3*time.Second)
	if err == nil || ctx.Err() != nil || !config.IsUnreachable(err) {
		return nil
	}
	advice := fmt.Sprintf("check the app setting %s and that this machine can reach the account", connection)
	if ep.Emulator {
		advice = "start Azurite: run 'durable dev' in the app's folder (it starts Azurite with the app), or start Azurite yourself; " +
			"when durable dev runs it on other ports, set " + connection + " as it printed"
	}
	return &cliError{code: exitStorage, err: fmt.Errorf("cannot reach storage at %s: %s (%w)", failed, advice, err)}
}

// explainNotFound adds the likelier cause to an instance-not-found error
// when the hub itself was not found.
func (t *target) explainNotFound(err error) error {
	if err == nil || t.known || !errors.Is(err, client.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w (task hub %s was not found in this storage account: check --task-hub-name and --connection-string-setting)", err, t.hub.Name())
}

// missingHub turns the failure of a hub-wide query into not-found when the
// hub does not exist: its tables are missing, which storage reports as an
// error, but the user's mistake is the hub name.
func (t *target) missingHub(err error) error {
	if err == nil || t.known {
		return err
	}
	var ce *cliError
	if errors.Is(err, client.ErrBadArgument) || errors.As(err, &ce) {
		return err
	}
	msg := fmt.Sprintf("task hub %s was not found in this storage account (check --task-hub-name and --connection-string-setting)", t.hub.Name())
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		// The service's 404 (a missing table) says the same at length.
		return notFound(errors.New(msg))
	}
	return notFound(fmt.Errorf("%s: %w", msg, err))
}
