// Package otel holds the end-to-end test of the app's OpenTelemetry traces
// against a real OTLP receiver: the OpenTelemetry Collector's own
// otlpreceiver, run in the test process. It is a Go module of its own so
// that the Collector's dependencies stay out of the app's go.mod; it reaches
// the app's packages through a replace of the parent module.
package otel
