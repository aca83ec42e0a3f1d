package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"strconv"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Span kinds whose IDs derive from history (see deriveSpanID).
const (
	idOrchestration    = "orchestration"
	idActivity         = "activity"
	idSubOrchestration = "suborchestration"
	idEvent            = "event"
)

// deriveSpanID is the span ID of a span that several episodes, workers or
// processes must agree on without storing it: the orchestration span of an
// execution, and its client spans of tasks (which the activity's and the
// child's spans name as parent before the client span is emitted). It
// hashes what history identifies the span by; an execution ID is a fresh
// GUID, so two executions never share one.
func deriveSpanID(kind, instanceID, executionID string, task int) trace.SpanID {
	h := sha256.New()
	for _, s := range []string{kind, instanceID, executionID, strconv.Itoa(task)} {
		h.Write([]byte(s))
		h.Write([]byte{0}) // a separator no ID contains, so the parts cannot run together
	}
	var id trace.SpanID
	copy(id[:], h.Sum(nil))
	if !id.IsValid() {
		id[7] = 1 // all zero is the invalid span ID
	}
	return id
}

type fixedSpanIDKey struct{}

// withSpanID asks the provider built by Setup to give the next span id
// instead of a random one.
func withSpanID(ctx context.Context, id trace.SpanID) context.Context {
	return context.WithValue(ctx, fixedSpanIDKey{}, id)
}

// idGenerator is the SDK's random generator, except for spans started
// with withSpanID: the OpenTelemetry API has no way to name a span's ID,
// and a span emitted at an execution's end must have the ID its children,
// emitted long before, already named as their parent.
type idGenerator struct{}

var _ sdktrace.IDGenerator = idGenerator{}

// NewIDs returns a random trace ID and the span ID NewSpanID gives.
func (g idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	for !tid.IsValid() {
		binary.NativeEndian.PutUint64(tid[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(tid[8:], rand.Uint64())
	}
	return tid, g.NewSpanID(ctx, tid)
}

// NewSpanID returns the span ID ctx asks for, else a random one.
func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if id, ok := ctx.Value(fixedSpanIDKey{}).(trace.SpanID); ok {
		return id
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.NativeEndian.PutUint64(sid[:], rand.Uint64())
	}
	return sid
}
