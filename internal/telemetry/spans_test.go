package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

func newTestTracer() (*Tracer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(idGenerator{}))
	return &Tracer{tr: tp.Tracer(ScopeName)}, exp
}

// TestOneOrchestrationSpanAcrossEpisodes plays an execution's history in
// three checkpoints, as three episodes would write it: the orchestration
// span comes once, at the end, from the start history recorded, and the
// activity's spans hang under it with the IDs the episode stamped.
func TestOneOrchestrationSpanAcrossEpisodes(t *testing.T) {
	tr, exp := newTestTracer()
	caller := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	tc, end := tr.CreateOrchestration(trace.ContextWithRemoteSpanContext(context.Background(), caller), "Hello", "", "i1", "e1")
	end(nil)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Hello",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i1", ExecutionID: "e1"}, ParentTraceContext: tc}
	sched := history.Event{Type: history.TaskScheduled, EventID: 0, Timestamp: t0.Add(time.Millisecond), Name: "SayHello"}
	res := &durable.Result{Appended: []history.Event{start, sched}, Outbound: []durable.Outbound{{Kind: durable.ToActivity,
		Message: history.TaskMessage{Event: sched}}}}
	tr.Stamp(nil, res)
	if res.Appended[1].ParentTraceContext == nil || res.Outbound[0].Message.Event.ParentTraceContext == nil ||
		*res.Appended[1].ParentTraceContext != *res.Outbound[0].Message.Event.ParentTraceContext {
		t.Fatalf("TaskScheduled not stamped alike: %+v / %+v", res.Appended[1].ParentTraceContext, res.Outbound[0].Message.Event.ParentTraceContext)
	}
	past := res.Appended
	tr.Committed(nil, past)

	// The activity runs (its span is the server span under the client span).
	_, endAct := tr.StartActivity(context.Background(), "i1", &past[1])
	endAct(&history.Event{Type: history.TaskCompleted})

	done := []history.Event{{Type: history.TaskCompleted, EventID: -1, TaskScheduledID: 0, Timestamp: t0.Add(5 * time.Millisecond)}}
	tr.Committed(past, done)
	past = append(past, done...)
	fin := []history.Event{{Type: history.ExecutionCompleted, EventID: -1, Timestamp: t0.Add(6 * time.Millisecond),
		OrchestrationStatus: history.StatusCompleted}}
	tr.Committed(past, fin)

	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	if len(spans) != 4 || len(byName["orchestration:Hello"]) != 1 || len(byName["activity:SayHello"]) != 2 || len(byName["create_orchestration:Hello"]) != 1 {
		t.Fatalf("spans: %v", names(spans))
	}
	create, orch := byName["create_orchestration:Hello"][0], byName["orchestration:Hello"][0]
	if create.Parent.SpanID() != caller.SpanID() || create.SpanContext.TraceID() != caller.TraceID() {
		t.Errorf("create_orchestration parent %v, want the caller", create.Parent.SpanID())
	}
	if orch.Parent.SpanID() != create.SpanContext.SpanID() || !orch.StartTime.Equal(t0) || orch.SpanKind != trace.SpanKindServer {
		t.Errorf("orchestration span: parent %v start %v kind %v", orch.Parent.SpanID(), orch.StartTime, orch.SpanKind)
	}
	var client, server tracetest.SpanStub
	for _, s := range byName["activity:SayHello"] {
		if s.SpanKind == trace.SpanKindClient {
			client = s
		} else {
			server = s
		}
	}
	if client.Parent.SpanID() != orch.SpanContext.SpanID() || server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("activity spans: client under %v (orchestration %v), server under %v (client %v)",
			client.Parent.SpanID(), orch.SpanContext.SpanID(), server.Parent.SpanID(), client.SpanContext.SpanID())
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestOffIsNil(t *testing.T) {
	var tr *Tracer
	tc, end := tr.CreateOrchestration(context.Background(), "x", "", "i", "e")
	end(nil)
	if tc != nil || tr.Enabled() {
		t.Fatal("a nil tracer traced")
	}
	tr.Stamp(nil, &durable.Result{})
	tr.Committed(nil, []history.Event{{Type: history.ExecutionCompleted}})
	if allocs := testing.AllocsPerRun(100, func() {
		_, end := tr.StartActivity(context.Background(), "i", &history.Event{})
		end(nil)
	}); allocs != 0 {
		t.Errorf("tracing off allocates %v per activity", allocs)
	}
}

// TestLoggersCarryTheTrace: an orchestrator's and an activity's log lines
// name the trace and the span they belong to, so a line leads to its trace.
func TestLoggersCarryTheTrace(t *testing.T) {
	tr, _ := newTestTracer()
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, nil))
	tc, end := tr.CreateOrchestration(context.Background(), "Hello", "", "i1", "e1")
	end(nil)
	start := history.Event{Type: history.ExecutionStarted, Name: "Hello",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i1", ExecutionID: "e1"}, ParentTraceContext: tc}
	x, _ := executionOf(&start)
	tr.OrchestrationLogger(base, nil, []history.Event{start}).Info("orchestrator line")
	sched := history.Event{Type: history.TaskScheduled, EventID: 3, Name: "SayHello", ParentTraceContext: traceContextOf(x.child(idActivity, 3))}
	ctx, endAct := tr.StartActivity(context.Background(), "i1", &sched)
	ActivityLogger(ctx, base).Info("activity line")
	endAct(&history.Event{Type: history.TaskCompleted})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log: %q", buf.String())
	}
	var orch, act map[string]string
	_ = json.Unmarshal([]byte(lines[0]), &orch)
	_ = json.Unmarshal([]byte(lines[1]), &act)
	if orch["traceId"] != x.self.TraceID().String() || orch["spanId"] != x.self.SpanID().String() ||
		orch["executionId"] != "e1" || orch["orchestrator"] != "Hello" {
		t.Errorf("orchestrator line %v, want trace %s span %s", orch, x.self.TraceID(), x.self.SpanID())
	}
	if sc := trace.SpanContextFromContext(ctx); act["traceId"] != x.self.TraceID().String() || act["spanId"] != sc.SpanID().String() {
		t.Errorf("activity line %v, want the activity span %s", act, sc.SpanID())
	}
	var off *Tracer
	if off.OrchestrationLogger(base, nil, []history.Event{start}) != base || ActivityLogger(context.Background(), base) != base {
		t.Error("a logger changed without tracing")
	}
}

// TestSubOrchestrationsEventsAndContinueAsNew: a child's start carries the
// parent's client span, whose ID the parent's SubOrchestrationInstanceCreated
// records; an event sent carries its span's context; a start without a
// trace context begins a trace of its own; and the next execution of a
// continue-as-new keeps the trace.
func TestSubOrchestrationsEventsAndContinueAsNew(t *testing.T) {
	tr, exp := newTestTracer()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	start := []history.Event{{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Parent",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "p", ExecutionID: "pe"}}}
	tr.Starting(start)
	if start[0].ParentTraceContext == nil || len(exp.GetSpans()) != 1 || exp.GetSpans()[0].Name != "create_orchestration:Parent" {
		t.Fatalf("a start without a trace context: %+v, spans %v", start[0].ParentTraceContext, names(exp.GetSpans()))
	}
	created := history.Event{Type: history.SubOrchestrationInstanceCreated, EventID: 0, Timestamp: t0, Name: "Child", InstanceID: "c"}
	sent := history.Event{Type: history.EventSent, EventID: 1, Timestamp: t0, Name: "Go", InstanceID: "other"}
	childStart := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Child",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: "ce"},
		ParentInstance:        &history.ParentInstance{Name: "Parent", TaskScheduleID: 0}}
	res := &durable.Result{Appended: append(append([]history.Event(nil), start...), created, sent), Outbound: []durable.Outbound{
		{Kind: durable.ToOrchestration, Message: history.TaskMessage{Event: childStart}},
		{Kind: durable.ToOrchestration, Message: history.TaskMessage{Event: history.Event{Type: history.EventRaised, Name: "Go"}}},
	}}
	tr.Stamp(nil, res)
	child := spanContextOf(res.Outbound[0].Message.Event.ParentTraceContext)
	if !child.IsValid() || child.SpanID().String() != res.Appended[1].ClientSpanID {
		t.Fatalf("child's parent %v, ClientSpanId %q", child.SpanID(), res.Appended[1].ClientSpanID)
	}
	if ev := res.Outbound[1].Message.Event.ParentTraceContext; ev == nil || *ev != *res.Appended[2].ParentTraceContext {
		t.Fatalf("EventRaised message %+v, EventSent %+v", ev, res.Appended[2].ParentTraceContext)
	}
	exp.Reset()
	past := res.Appended
	done := []history.Event{
		{Type: history.SubOrchestrationInstanceFailed, TaskScheduledID: 0, Timestamp: t0.Add(time.Second),
			FailureDetails: &history.FailureDetails{ErrorType: "Boom", ErrorMessage: "child failed"}, Reason: "child failed"},
		{Type: history.ContinueAsNew, Timestamp: t0.Add(2 * time.Second), OrchestrationStatus: history.StatusContinuedAsNew},
	}
	tr.Committed(nil, past) // the EventSent
	tr.Committed(past, done)
	spans := exp.GetSpans()
	if got := names(spans); len(got) != 3 || got[0] != "orchestration_event:Go" || got[1] != "orchestration:Child" || got[2] != "orchestration:Parent" {
		t.Fatalf("spans %v", got)
	}
	if spans[1].SpanContext.SpanID() != child.SpanID() || spans[1].Status.Code.String() != "Error" || spans[1].SpanKind != trace.SpanKindClient {
		t.Errorf("the child's client span: %v %v %v, want %v, Error, Client", spans[1].SpanContext.SpanID(), spans[1].Status, spans[1].SpanKind, child.SpanID())
	}
	next := []history.Event{{Type: history.ExecutionStarted, Name: "Parent",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "p", ExecutionID: "pe2"}}}
	tr.Continue(append(past, done...), next)
	if next[0].ParentTraceContext == nil || *next[0].ParentTraceContext != *start[0].ParentTraceContext {
		t.Errorf("the next execution's trace context %+v, want %+v", next[0].ParentTraceContext, start[0].ParentTraceContext)
	}
	a, _ := executionOf(&start[0])
	b, _ := executionOf(&next[0])
	if a.self.SpanID() == b.self.SpanID() || a.self.TraceID() != b.self.TraceID() {
		t.Errorf("executions' spans %v and %v: want one trace, two spans", a.self, b.self)
	}
}

// TestInstanceLogger: the worker's lines about an instance name its
// execution and orchestrator always, and its trace when the start has one
// (whether or not this process traces).
func TestInstanceLogger(t *testing.T) {
	tr, _ := newTestTracer()
	tc, end := tr.CreateOrchestration(context.Background(), "Hello", "", "i1", "e1")
	end(nil)
	inst := &history.OrchestrationInstance{InstanceID: "i1", ExecutionID: "e1"}
	traced := history.Event{Type: history.ExecutionStarted, Name: "Hello", OrchestrationInstance: inst, ParentTraceContext: tc}
	x, _ := executionOf(&traced)
	for _, c := range []struct {
		start     history.Event
		wantTrace string
	}{
		{traced, x.self.TraceID().String()},
		{history.Event{Type: history.ExecutionStarted, Name: "Hello", OrchestrationInstance: inst}, ""},
	} {
		var buf bytes.Buffer
		InstanceLogger(slog.New(slog.NewJSONHandler(&buf, nil)), &c.start).Warn("line")
		var got map[string]string
		_ = json.Unmarshal(buf.Bytes(), &got)
		if got["instanceId"] != "i1" || got["executionId"] != "e1" || got["orchestrator"] != "Hello" || got["traceId"] != c.wantTrace {
			t.Errorf("line %v, want i1, e1, Hello and trace %q", got, c.wantTrace)
		}
	}
	base := slog.New(slog.DiscardHandler)
	if InstanceLogger(base, nil) != base {
		t.Error("no start: the logger changed")
	}
}
