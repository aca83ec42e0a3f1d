// Package config loads what the function app needs before it can start:
// app settings (local.settings.json plus the process environment), the
// host.json file the Azure Functions host also reads, and the Azure Storage
// connection named by an app setting.
//
// The rules follow the Azure Functions host and the Durable Functions
// extension wherever they are observable, so that one app directory behaves
// the same under this project as under the .NET implementation: setting names
// accept both "__" and ":" as the section separator, host.json keys are
// matched case-insensitively and may hold numbers and booleans as strings,
// and storage connections may be connection strings or identity-based
// settings.
package config
