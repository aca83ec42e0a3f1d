package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultServiceName is the service.name of an app whose environment
// names none (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and that does
// not run on Azure (WEBSITE_SITE_NAME).
const DefaultServiceName = "durable-functions-go"

// Signals are the kinds of telemetry Setup builds.
type Signals struct {
	// Traces builds the tracer provider (host.json's
	// DistributedTracingEnabled).
	Traces bool
	// Metrics builds the meter provider (see MetricsOn).
	Metrics bool
}

// Telemetry is what Setup built: a nil field is that signal off.
type Telemetry struct {
	Tracer  *Tracer
	Metrics *Metrics
	stop    []func(context.Context) error
}

// Shutdown flushes what was not exported yet and stops the exporters; call
// it once, at shutdown. A nil *Telemetry has nothing to stop.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, stop := range t.stop {
		errs = append(errs, stop(ctx))
	}
	return errors.Join(errs...)
}

// MetricsOn decides whether an app records metrics, from the standard
// environment and whether tracing is on: OTEL_METRICS_EXPORTER=none turns
// them off, =otlp on; unset, they are on when tracing is (the two go to
// the same OTLP endpoint, which is where a deployment turns telemetry on)
// or when the environment names an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT).
func MetricsOn(tracing bool) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER"))) {
	case "none":
		return false
	case "":
		return tracing || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
	}
	// otlp, or a value Setup rejects with a message that names it.
	return true
}

// Setup builds the OpenTelemetry SDK for the signals asked for, the way
// the standard environment variables configure it, and returns the Tracer
// and Metrics that emit through it (nil for a signal not asked for).
//
//   - OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER: "otlp" (the
//     default) or "none";
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (…_METRICS_PROTOCOL), else
//     OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" (the default) or "grpc";
//   - the OTLP exporters read their endpoint, headers, timeout,
//     compression and certificates (OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT …);
//   - the SDK reads the sampler (OTEL_TRACES_SAMPLER, …_ARG; default
//     parentbased_always_on), the batch processor's limits and intervals
//     (OTEL_BSP_*), the metric export interval and timeout
//     (OTEL_METRIC_EXPORT_INTERVAL, default 60000 ms; …_TIMEOUT) and the
//     resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
//
// It also installs the providers and the W3C trace-context propagator as
// OpenTelemetry's globals, so that code instrumented with OpenTelemetry
// (an activity's HTTP or database calls) emits into the same traces and
// metrics.
func Setup(ctx context.Context, signals Signals) (*Telemetry, error) {
	t := &Telemetry{}
	if !signals.Traces && !signals.Metrics {
		return t, nil
	}
	res, err := newResource(ctx)
	if err != nil {
		return nil, err
	}
	if signals.Traces {
		if err := t.setupTraces(ctx, res); err != nil {
			return nil, err
		}
	}
	if signals.Metrics {
		if err := t.setupMetrics(ctx, res); err != nil {
			_ = t.Shutdown(ctx)
			return nil, err
		}
	}
	return t, nil
}

func (t *Telemetry) setupTraces(ctx context.Context, res *resource.Resource) error {
	var opts []sdktrace.TracerProviderOption
	switch exp := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "", "otlp":
		exporter, err := newExporter(ctx)
		if err != nil {
			return err
		}
		opts = append(opts, sdktrace.WithBatcher(exporter))
	case "none":
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported (want otlp or none)", exp)
	}
	opts = append(opts, sdktrace.WithResource(res), sdktrace.WithIDGenerator(idGenerator{}))
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Tracer = &Tracer{tr: tp.Tracer(ScopeName)}
	t.stop = append(t.stop, tp.Shutdown)
	return nil
}

func (t *Telemetry) setupMetrics(ctx context.Context, res *resource.Resource) error {
	opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	switch exp := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER"))); exp {
	case "", "otlp":
		exporter, err := newMetricExporter(ctx)
		if err != nil {
			return err
		}
		// The periodic reader reads OTEL_METRIC_EXPORT_INTERVAL and
		// OTEL_METRIC_EXPORT_TIMEOUT itself.
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exporter)))
	case "none":
		return nil
	default:
		return fmt.Errorf("OTEL_METRICS_EXPORTER=%q is not supported (want otlp or none)", exp)
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	m, err := NewMetrics(mp)
	if err != nil {
		_ = mp.Shutdown(ctx)
		return err
	}
	otel.SetMeterProvider(mp)
	t.Metrics = m
	t.stop = append(t.stop, mp.Shutdown)
	return nil
}

// otlpProtocol is the OTLP protocol of a signal: its own variable, else the
// general one.
func otlpProtocol(signalVar string) string {
	proto := os.Getenv(signalVar)
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	return proto
}

// newMetricExporter is the OTLP metric exporter of the protocol the
// environment names.
func newMetricExporter(ctx context.Context) (sdkmetric.Exporter, error) {
	return newOTLPExporter(ctx, "metric", otlpProtocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"),
		func(ctx context.Context) (sdkmetric.Exporter, error) { return otlpmetrichttp.New(ctx) },
		func(ctx context.Context) (sdkmetric.Exporter, error) { return otlpmetricgrpc.New(ctx) })
}

// newExporter is the OTLP exporter of the protocol the environment names.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	return newOTLPExporter(ctx, "trace", otlpProtocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
		func(ctx context.Context) (sdktrace.SpanExporter, error) { return otlptracehttp.New(ctx) },
		func(ctx context.Context) (sdktrace.SpanExporter, error) { return otlptracegrpc.New(ctx) })
}

// newOTLPExporter builds a signal's OTLP exporter for proto:
// "http/protobuf" (the default) or "grpc".
func newOTLPExporter[E any](ctx context.Context, signal, proto string, overHTTP, overGRPC func(context.Context) (E, error)) (E, error) {
	var (
		exp E
		err error
	)
	switch strings.ToLower(strings.TrimSpace(proto)) {
	case "", "http/protobuf":
		exp, err = overHTTP(ctx)
	case "grpc":
		exp, err = overGRPC(ctx)
	default:
		return exp, fmt.Errorf("OTLP protocol %q is not supported (want grpc or http/protobuf)", proto)
	}
	if err != nil {
		return exp, fmt.Errorf("create the OTLP %s exporter: %w", signal, err)
	}
	return exp, nil
}

// newResource describes this process: the environment's service name and
// attributes win over the defaults, as the specification asks.
func newResource(ctx context.Context) (*resource.Resource, error) {
	name := os.Getenv("WEBSITE_SITE_NAME") // the app's name on Azure
	if name == "" {
		name = DefaultServiceName
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", name)), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("describe the OpenTelemetry resource: %w", err)
	}
	return res, nil
}
