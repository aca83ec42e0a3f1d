package telemetry

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// CreateOrchestration starts the client's create_orchestration span of a
// new instance, under ctx's span (the caller's trace), and returns the
// trace context its ExecutionStarted event carries and the function that
// ends the span once the start is written (or failed). With tracing off it
// returns nil and a no-op.
func (t *Tracer) CreateOrchestration(ctx context.Context, name, version, instanceID, executionID string) (*history.TraceContext, func(error)) {
	if t == nil {
		return nil, noEnd
	}
	attrs := []attribute.KeyValue{AttrType.String(TypeOrchestration), AttrTaskName.String(name),
		AttrInstanceID.String(instanceID), AttrExecutionID.String(executionID)}
	if version != "" {
		attrs = append(attrs, AttrVersion.String(version))
	}
	_, span := t.tr.Start(ctx, spanName(spanCreateOrchestration, name, version),
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	return traceContextOf(span.SpanContext()), endWith(span)
}

// RaiseEvent starts the client's orchestration_event span of an event
// sent to instanceID and returns the function that ends it.
func (t *Tracer) RaiseEvent(ctx context.Context, name, instanceID string) (*history.TraceContext, func(error)) {
	if t == nil {
		return nil, noEnd
	}
	_, span := t.tr.Start(ctx, spanName(spanOrchestrationEvent, name, ""), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(AttrType.String(TypeEvent), AttrTaskName.String(name), AttrEventTargetID.String(instanceID)))
	return traceContextOf(span.SpanContext()), endWith(span)
}

func noEnd(error) {}

func endWith(span trace.Span) func(error) {
	return func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// Starting gives the ExecutionStarted event among an episode's new events
// a trace context when it has none (a start from a client with tracing
// off, a queue message, a start the worker sent again): it emits the
// create_orchestration span the client did not, as the Durable Task
// Framework does for such starts, so that the execution has a trace from
// its first episode on. Call it only for an instance without history, so
// that a redelivered start does not begin a second trace.
func (t *Tracer) Starting(events []history.Event) {
	if t == nil {
		return
	}
	for i := range events {
		e := &events[i]
		if e.Type != history.ExecutionStarted || e.ParentTraceContext != nil || e.OrchestrationInstance == nil {
			continue
		}
		tc, end := t.CreateOrchestration(context.Background(), e.Name, e.Version,
			e.OrchestrationInstance.InstanceID, e.OrchestrationInstance.ExecutionID)
		end(nil)
		e.ParentTraceContext = tc
	}
}

// Continue gives the first execution of a continue-as-new (next, the new
// execution's first events) the trace context of the execution it
// continues (past, that execution's history): the chain stays one trace,
// with one orchestration span per execution.
func (t *Tracer) Continue(past, next []history.Event) {
	if t == nil {
		return
	}
	prev := StartOf(past, nil)
	if prev == nil || prev.ParentTraceContext == nil {
		return
	}
	for i := range next {
		if next[i].Type == history.ExecutionStarted && next[i].ParentTraceContext == nil {
			tc := *prev.ParentTraceContext
			next[i].ParentTraceContext = &tc
		}
	}
}

// StartOf returns the ExecutionStarted event of an execution whose
// history is past followed by more, nil when neither has one.
func StartOf(past, more []history.Event) *history.Event {
	for _, evs := range [][]history.Event{past, more} {
		for i := range evs {
			if evs[i].Type == history.ExecutionStarted {
				return &evs[i]
			}
		}
	}
	return nil
}

// execution is the trace of one execution, as its ExecutionStarted event
// describes it.
type execution struct {
	instanceID, executionID, name, version string
	started                                time.Time
	// parent is the span the execution's start names; self the
	// orchestration span's context, whose ID derives from the execution.
	parent, self trace.SpanContext
}

func executionOf(start *history.Event) (execution, bool) {
	if start == nil || start.OrchestrationInstance == nil {
		return execution{}, false
	}
	parent := spanContextOf(start.ParentTraceContext)
	if !parent.IsValid() {
		return execution{}, false
	}
	x := execution{instanceID: start.OrchestrationInstance.InstanceID, executionID: start.OrchestrationInstance.ExecutionID,
		name: start.Name, version: start.Version, started: start.Timestamp, parent: parent}
	x.self = x.child(idOrchestration, 0)
	return x, true
}

// child is the context of a span of this execution whose ID derives from
// kind and task.
func (x execution) child(kind string, task int) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: x.parent.TraceID(),
		SpanID:     deriveSpanID(kind, x.instanceID, x.executionID, task),
		TraceFlags: x.parent.TraceFlags(), TraceState: x.parent.TraceState(), Remote: true})
}

// Stamp records, in what an episode of the execution whose history is past
// schedules, the trace context its work belongs under: each TaskScheduled
// event and activity message gets the context of the orchestration's
// client span of that activity, a sub-orchestration's start message that of
// its client span (whose ID SubOrchestrationInstanceCreated records as
// ClientSpanId), and an event sent that of its orchestration_event span.
// Those spans are emitted later, by Committed; their IDs derive from the
// task, so that the activity's and the child's spans, emitted first and
// possibly elsewhere, name the right parent.
func (t *Tracer) Stamp(past []history.Event, res *durable.Result) {
	if t == nil || res == nil {
		return
	}
	x, ok := executionOf(StartOf(past, res.Appended))
	if !ok {
		return
	}
	var sent []int // EventSent IDs, in the order their messages go out
	for i := range res.Appended {
		e := &res.Appended[i]
		switch e.Type {
		case history.TaskScheduled:
			e.ParentTraceContext = traceContextOf(x.child(idActivity, e.EventID))
		case history.SubOrchestrationInstanceCreated:
			e.ClientSpanID = x.child(idSubOrchestration, e.EventID).SpanID().String()
		case history.EventSent:
			e.ParentTraceContext = traceContextOf(x.child(idEvent, e.EventID))
			sent = append(sent, e.EventID)
		}
	}
	for i := range res.Outbound {
		m := &res.Outbound[i].Message.Event
		switch {
		case m.Type == history.TaskScheduled:
			m.ParentTraceContext = traceContextOf(x.child(idActivity, m.EventID))
		case m.Type == history.ExecutionStarted && m.ParentInstance != nil:
			m.ParentTraceContext = traceContextOf(x.child(idSubOrchestration, m.ParentInstance.TaskScheduleID))
		case m.Type == history.EventRaised && len(sent) > 0:
			// The engine sends one EventRaised per EventSent, in order.
			m.ParentTraceContext = traceContextOf(x.child(idEvent, sent[0]))
			sent = sent[1:]
		}
	}
}

// Committed emits the spans that events, just written to the history of
// an execution after past, finish: the client span of each activity attempt
// and sub-orchestration that ended, each timer that fired, each event sent,
// and the orchestration span when the execution ended. Each is emitted
// once, when the event that ends it becomes durable, with the start and
// end times history holds, whichever worker or episode that is.
func (t *Tracer) Committed(past, events []history.Event) {
	if t == nil || len(events) == 0 {
		return
	}
	x, ok := executionOf(StartOf(past, events))
	if !ok {
		return
	}
	var opened map[int]*history.Event // what scheduled each task and timer, by event ID
	scheduled := func(id int) *history.Event {
		if opened == nil {
			opened = map[int]*history.Event{}
			for _, evs := range [][]history.Event{past, events} {
				for i := range evs {
					switch evs[i].Type {
					case history.TaskScheduled, history.SubOrchestrationInstanceCreated, history.TimerCreated:
						opened[evs[i].EventID] = &evs[i]
					}
				}
			}
		}
		return opened[id]
	}
	for i := range events {
		e := &events[i]
		switch e.Type {
		case history.TaskCompleted, history.TaskFailed:
			s := scheduled(e.TaskScheduledID)
			if s == nil || s.Type != history.TaskScheduled {
				continue
			}
			t.emit(x.self, x.child(idActivity, s.EventID).SpanID(), spanName(TypeActivity, s.Name, s.Version),
				trace.SpanKindClient, s.Timestamp, e.Timestamp, failureOf(e),
				AttrType.String(TypeActivity), AttrTaskName.String(s.Name), AttrInstanceID.String(x.instanceID),
				taskID(s.EventID), versionAttr(s.Version))
		case history.SubOrchestrationInstanceCompleted, history.SubOrchestrationInstanceFailed:
			s := scheduled(e.TaskScheduledID)
			if s == nil || s.Type != history.SubOrchestrationInstanceCreated {
				continue
			}
			t.emit(x.self, x.child(idSubOrchestration, s.EventID).SpanID(), spanName(TypeOrchestration, s.Name, s.Version),
				trace.SpanKindClient, s.Timestamp, e.Timestamp, failureOf(e),
				AttrType.String(TypeOrchestration), AttrTaskName.String(s.Name), AttrInstanceID.String(x.instanceID),
				taskID(s.EventID), AttrEventTargetID.String(s.InstanceID), versionAttr(s.Version))
		case history.TimerFired:
			s := scheduled(e.TimerID)
			if s == nil || s.Type != history.TimerCreated {
				continue
			}
			t.emit(x.self, trace.SpanID{}, TypeOrchestration+":"+x.name+":"+TypeTimer, trace.SpanKindInternal,
				s.Timestamp, e.FireAt, nil,
				AttrType.String(TypeTimer), AttrTaskName.String(x.name), AttrInstanceID.String(x.instanceID),
				AttrFireAt.String(e.FireAt.UTC().Format(dotNetRoundTripFormat)), taskID(e.TimerID))
		case history.EventSent:
			t.emit(x.self, x.child(idEvent, e.EventID).SpanID(), spanName(spanOrchestrationEvent, e.Name, ""),
				trace.SpanKindProducer, e.Timestamp, e.Timestamp, nil,
				AttrType.String(TypeEvent), AttrTaskName.String(e.Name), AttrInstanceID.String(x.instanceID),
				AttrExecutionID.String(x.executionID), AttrEventTargetID.String(e.InstanceID))
		case history.ExecutionCompleted, history.ContinueAsNew:
			status := e.OrchestrationStatus
			if e.Type == history.ContinueAsNew {
				status = history.StatusContinuedAsNew
			}
			var fd *failure
			if status == history.StatusFailed {
				fd = &failure{details: e.FailureDetails, message: e.Result}
			}
			t.emit(x.parent, x.self.SpanID(), spanName(TypeOrchestration, x.name, x.version), trace.SpanKindServer,
				x.started, e.Timestamp, fd,
				AttrType.String(TypeOrchestration), AttrTaskName.String(x.name), AttrInstanceID.String(x.instanceID),
				AttrExecutionID.String(x.executionID), AttrStatus.String(string(status)), versionAttr(x.version))
		}
	}
}

// failure is what a span that failed records.
type failure struct {
	details *history.FailureDetails
	message string
}

func failureOf(e *history.Event) *failure {
	switch e.Type {
	case history.TaskFailed, history.SubOrchestrationInstanceFailed:
		return &failure{details: e.FailureDetails, message: e.Reason}
	}
	return nil
}

// versionAttr is the version attribute, or an empty one (which the SDK
// drops) for no version.
func versionAttr(v string) attribute.KeyValue {
	if v == "" {
		return attribute.KeyValue{}
	}
	return AttrVersion.String(v)
}

// emit records a finished span under parent, with the span ID id when it
// is valid (see withSpanID), from start to end.
func (t *Tracer) emit(parent trace.SpanContext, id trace.SpanID, name string, kind trace.SpanKind, start, end time.Time,
	f *failure, attrs ...attribute.KeyValue) {
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	if id.IsValid() {
		ctx = withSpanID(ctx, id)
	}
	kept := attrs[:0]
	for _, a := range attrs {
		if a.Key != "" {
			kept = append(kept, a)
		}
	}
	if end.Before(start) {
		// Clocks of different workers: a span never ends before it starts.
		end = start
	}
	_, span := t.tr.Start(ctx, name, trace.WithSpanKind(kind), trace.WithTimestamp(start), trace.WithAttributes(kept...))
	if f != nil {
		fail(span, f.details, f.message)
	}
	span.End(trace.WithTimestamp(end))
}

// StartActivity starts the span of one attempt of an activity, under the
// orchestration's client span that its TaskScheduled event names, and
// returns the activity's context, holding the span (so that what the
// activity calls joins the trace), and the function that ends the span
// with the activity's result event.
func (t *Tracer) StartActivity(ctx context.Context, instanceID string, scheduled *history.Event) (context.Context, func(result *history.Event)) {
	if t == nil {
		return ctx, noResult
	}
	parent := spanContextOf(scheduled.ParentTraceContext)
	if !parent.IsValid() {
		return ctx, noResult
	}
	ctx, span := t.tr.Start(trace.ContextWithRemoteSpanContext(ctx, parent), spanName(TypeActivity, scheduled.Name, scheduled.Version),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(AttrType.String(TypeActivity),
			AttrTaskName.String(scheduled.Name), AttrInstanceID.String(instanceID), taskID(scheduled.EventID)))
	if scheduled.Version != "" {
		span.SetAttributes(AttrVersion.String(scheduled.Version))
	}
	return ctx, func(result *history.Event) {
		if f := failureOf(result); f != nil {
			fail(span, f.details, f.message)
		}
		span.End()
	}
}

func noResult(*history.Event) {}

// ActivityLogger is logger with the trace and span IDs of the activity
// span in ctx (see StartActivity), so that an activity's log lines can be
// found from its trace and the other way round; logger itself when ctx
// holds no span.
func ActivityLogger(ctx context.Context, logger *slog.Logger) *slog.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || logger == nil {
		return logger
	}
	return logger.With("traceId", sc.TraceID().String(), "spanId", sc.SpanID().String())
}

// OrchestrationLogger is logger with the execution, orchestrator name, and
// trace and span IDs of the orchestration span of the execution whose
// history is past followed by more: what an orchestrator's replay-safe
// logger writes with. Logger itself with tracing off or no traced start.
func (t *Tracer) OrchestrationLogger(logger *slog.Logger, past, more []history.Event) *slog.Logger {
	if t == nil || logger == nil {
		return logger
	}
	x, ok := executionOf(StartOf(past, more))
	if !ok {
		return logger
	}
	return logger.With("executionId", x.executionID, "orchestrator", x.name,
		"traceId", x.self.TraceID().String(), "spanId", x.self.SpanID().String())
}

// InstanceLogger is logger with what names the execution that start (its
// ExecutionStarted event) begins: the instance and execution IDs, the
// orchestrator's name and, when the start carries a trace context, the
// trace ID and the orchestration span's ID. The worker's own lines about
// an instance use it, whether or not this process traces, so that a line
// can be found from the instance's trace and the other way round.
func InstanceLogger(logger *slog.Logger, start *history.Event) *slog.Logger {
	if logger == nil || start == nil || start.OrchestrationInstance == nil {
		return logger
	}
	args := []any{"instanceId", start.OrchestrationInstance.InstanceID,
		"executionId", start.OrchestrationInstance.ExecutionID, "orchestrator", start.Name}
	if x, ok := executionOf(start); ok {
		args = append(args, "traceId", x.self.TraceID().String(), "spanId", x.self.SpanID().String())
	}
	return logger.With(args...)
}
