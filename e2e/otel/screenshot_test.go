package otel

import (
	"net/http"
	"os"
	"testing"
	"time"
)

// TestJaegerScreenshotTrace runs the app with tracing on, exporting over
// OTLP/HTTP to the Jaeger at $JAEGER_OTLP, and completes a
// SubOrchestrationDemo and a FanOutFanIn: the traces that
// scripts/jaeger/screenshot.sh shows in Jaeger's UI for
// docs/jaeger-trace.png. Skipped without JAEGER_OTLP.
func TestJaegerScreenshotTrace(t *testing.T) {
	endpoint := os.Getenv("JAEGER_OTLP")
	if endpoint == "" {
		t.Skip("JAEGER_OTLP is not set (scripts/jaeger/screenshot.sh sets it)")
	}
	a := startApp(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_SERVICE_NAME": "durable-functions-go", "OTEL_BSP_SCHEDULE_DELAY": "100",
	})
	sfx := randomHex(t, 4)
	sub, fan := "sub-"+sfx, "fan-"+sfx
	a.do(http.MethodPost, "/orchestrators/SubOrchestrationDemo/"+sub, "", "", http.StatusAccepted)
	a.do(http.MethodPost, "/orchestrators/FanOutFanIn/"+fan, "5", "", http.StatusAccepted)
	a.waitStatus(sub, "Completed", 60*time.Second)
	a.waitStatus(fan, "Completed", 60*time.Second)
	a.stop() // flushes the exporter
}
