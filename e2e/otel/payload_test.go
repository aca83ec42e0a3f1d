package otel

import (
	"net/http"
	"testing"
	"time"
)

// TestTracesThroughPayloadMode: with request forwarding off, the host
// sends an HTTP start as an invocation payload, the caller's headers
// inside it; the caller's traceparent is still the start's parent.
func TestTracesThroughPayloadMode(t *testing.T) {
	_, httpAddr, sink := startReceiver(t)
	a := startAppWith(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + httpAddr, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_SERVICE_NAME": "otel-e2e-payload", "OTEL_BSP_SCHEDULE_DELAY": "100",
	}, "OtelPayload"+randomHex(t, 6), nil, func(host map[string]any) {
		host["customHandler"].(map[string]any)["enableForwardingHttpRequest"] = false
	})
	tp, traceID, callerID := caller(t)
	id := "payload-" + randomHex(t, 4)
	a.do(http.MethodPost, "/orchestrators/HelloCities5/"+id, "", tp, http.StatusAccepted)
	a.waitStatus(id, "Completed", 30*time.Second)
	tr := collect(t, sink, traceID, 1+1+5*2)
	orch := tr.checkStart(t, "HelloCities5", id, callerID)
	tr.checkActivities(t, orch, "SayHello", 5, false)
	tr.checkAllParented(t, callerID)
}
