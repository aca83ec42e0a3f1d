// Package telemetry emits OpenTelemetry traces with Durable Functions'
// span model (Distributed Tracing V2 of the Durable Task Framework): the
// span names of its TraceActivityConstants and the durabletask.*
// attributes of its tracing schema, so that queries and dashboards written
// for Durable Functions read this app's traces too.
//
// The trace context travels in history, where the Durable Task Framework
// carries it: an execution's ExecutionStarted event holds the context of
// the span that started it (the starter's create_orchestration span, or
// the parent orchestration's client span of a sub-orchestration), and a
// TaskScheduled event the orchestration's client span of that activity. A
// replay, another worker or a takeover after a crash thus continues the
// same trace from history alone.
//
// The replay engine (internal/durable) knows nothing of this. The worker
// calls the package at three points: before an episode (Starting: a start
// without a trace context gets one), after it (Stamp: what it schedules
// carries the orchestration's context) and when a checkpoint makes events
// durable (Committed: the spans those events finish are emitted, each
// once, from the times history recorded). The orchestration's own span is
// emitted once, when its execution ends, with its start from history, so
// however many episodes, replays and workers an execution took, it has
// one span. Its span ID, and the IDs of the client spans under it, derive
// from the instance, the execution and the task, so that every worker
// that emits one of them, or a child of one, agrees on it without storing
// it.
//
// A nil *Tracer is tracing turned off: every method returns at once and
// allocates nothing.
//
// The package records metrics too (Metrics, in metrics.go): the worker
// counts starts, ends and retries where it emits spans, when a checkpoint
// makes their events durable, and times episodes, activity attempts,
// checkpoints and recovery runs; an azcore pipeline policy counts storage
// requests; gauges report the partitions a worker owns and their
// control queues' backlog. A nil *Metrics is metrics off, as for Tracer.
package telemetry

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/internal/history"
)

// ScopeName is the instrumentation scope of the spans this package emits.
const ScopeName = "github.com/durable-go/durable"

// Span name prefixes and durabletask.type values, as the Durable Task
// Framework's TraceActivityConstants spell them.
const (
	TypeOrchestration       = "orchestration"
	TypeActivity            = "activity"
	TypeTimer               = "timer"
	TypeEvent               = "event"
	spanCreateOrchestration = "create_orchestration"
	spanOrchestrationEvent  = "orchestration_event"
)

// Attribute keys of the Durable Task Framework's tracing schema.
const (
	AttrType              = attribute.Key("durabletask.type")
	AttrTaskName          = attribute.Key("durabletask.task.name")
	AttrVersion           = attribute.Key("durabletask.task.version")
	AttrInstanceID        = attribute.Key("durabletask.task.instance_id")
	AttrExecutionID       = attribute.Key("durabletask.task.execution_id")
	AttrStatus            = attribute.Key("durabletask.task.status")
	AttrTaskID            = attribute.Key("durabletask.task.task_id")
	AttrEventTargetID     = attribute.Key("durabletask.event.target_instance_id")
	AttrFireAt            = attribute.Key("durabletask.fire_at")
	attrExceptionType     = attribute.Key("exception.type")
	attrExceptionMessage  = attribute.Key("exception.message")
	attrExceptionStack    = attribute.Key("exception.stacktrace")
	exceptionEventName    = "exception"
	traceParentHeader     = "traceparent"
	traceStateHeader      = "tracestate"
	maxTraceStateBytes    = 513 // the Durable Task Framework drops a longer one
	dotNetRoundTripFormat = "2006-01-02T15:04:05.0000000Z07:00"
)

// Tracer emits the spans of one app (or client). The zero of *Tracer, nil,
// is tracing off.
type Tracer struct {
	tr trace.Tracer
}

// New returns a Tracer that emits through tp. Spans whose IDs this package
// derives (orchestrations and their client spans) keep those IDs only with
// a provider built by Setup; New is for clients, whose spans have none.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{tr: tp.Tracer(ScopeName)}
}

// Enabled reports whether t emits anything.
func (t *Tracer) Enabled() bool { return t != nil }

var propagator = propagation.TraceContext{}

// Extract returns ctx with the W3C trace context of h (traceparent and
// tracestate headers) as its remote parent, when h has a valid one; ctx
// unchanged otherwise. The start routes call it so that a caller's trace
// goes on into the orchestration.
func Extract(ctx context.Context, h http.Header) context.Context {
	if h.Get(traceParentHeader) == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// traceContextOf is sc as history carries it.
func traceContextOf(sc trace.SpanContext) *history.TraceContext {
	if !sc.IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	tc := &history.TraceContext{TraceParent: carrier[traceParentHeader], TraceState: carrier[traceStateHeader]}
	if len(tc.TraceState) > maxTraceStateBytes {
		tc.TraceState = ""
	}
	return tc
}

// spanContextOf parses a trace context from history; invalid when tc is
// nil or malformed.
func spanContextOf(tc *history.TraceContext) trace.SpanContext {
	if tc == nil || tc.TraceParent == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{traceParentHeader: tc.TraceParent}
	if tc.TraceState != "" {
		carrier[traceStateHeader] = tc.TraceState
	}
	return trace.SpanContextFromContext(propagator.Extract(context.Background(), carrier))
}

// TraceIDOf returns the trace ID (32 hex digits) of the execution that
// start (an ExecutionStarted event) begins, "" when it carries no trace
// context. The dashboard and the CLI show it.
func TraceIDOf(start *history.Event) string {
	if start == nil {
		return ""
	}
	sc := spanContextOf(start.ParentTraceContext)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// fail marks span as failed with fd, as the Durable Task Framework records
// a failure: the span's status, plus OpenTelemetry's exception event.
func fail(span trace.Span, fd *history.FailureDetails, fallback string) {
	msg := fallback
	attrs := make([]attribute.KeyValue, 0, 3)
	if fd != nil {
		msg = fd.ErrorMessage
		attrs = append(attrs, attrExceptionType.String(fd.ErrorType))
		if fd.StackTrace != "" {
			attrs = append(attrs, attrExceptionStack.String(fd.StackTrace))
		}
	}
	attrs = append(attrs, attrExceptionMessage.String(msg))
	span.AddEvent(exceptionEventName, trace.WithAttributes(attrs...))
	span.SetStatus(codes.Error, msg)
}

func spanName(prefix, name, version string) string {
	if version != "" {
		// The Durable Task Framework's CreateSpanName: "{prefix}:{name}@({version})".
		return prefix + ":" + name + "@(" + version + ")"
	}
	return prefix + ":" + name
}

func taskID(id int) attribute.KeyValue { return AttrTaskID.Int(id) }
