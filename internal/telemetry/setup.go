package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultServiceName is the service.name of an app whose environment
// names none (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and that does
// not run on Azure (WEBSITE_SITE_NAME).
const DefaultServiceName = "durable-functions-go"

// Setup builds the OpenTelemetry SDK the way the standard environment
// variables configure it, and returns a Tracer that emits through it and
// the function that flushes and stops it (call it at shutdown).
//
//   - OTEL_TRACES_EXPORTER: "otlp" (the default) or "none";
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
//     "http/protobuf" (the default) or "grpc";
//   - the OTLP exporters read their endpoint, headers, timeout,
//     compression and certificates (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT …);
//   - the SDK reads the sampler (OTEL_TRACES_SAMPLER, …_ARG; default
//     parentbased_always_on), the batch processor's limits and intervals
//     (OTEL_BSP_*) and the resource (OTEL_SERVICE_NAME,
//     OTEL_RESOURCE_ATTRIBUTES).
//
// It also installs the provider and the W3C trace-context propagator as
// OpenTelemetry's globals, so that code instrumented with OpenTelemetry
// (an activity's HTTP or database calls) emits into the same traces.
func Setup(ctx context.Context) (*Tracer, func(context.Context) error, error) {
	var opts []sdktrace.TracerProviderOption
	switch exp := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "", "otlp":
		exporter, err := newExporter(ctx)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exporter))
	case "none":
	default:
		return nil, nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported (want otlp or none)", exp)
	}
	res, err := newResource(ctx)
	if err != nil {
		return nil, nil, err
	}
	opts = append(opts, sdktrace.WithResource(res), sdktrace.WithIDGenerator(idGenerator{}))
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracer{tr: tp.Tracer(ScopeName)}, tp.Shutdown, nil
}

// newExporter is the OTLP exporter of the protocol the environment names.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch p := strings.ToLower(strings.TrimSpace(proto)); p {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTLP protocol %q is not supported (want grpc or http/protobuf)", proto)
	}
	if err != nil {
		return nil, fmt.Errorf("create the OTLP trace exporter: %w", err)
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
