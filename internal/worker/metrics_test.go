package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/telemetry"
)

func withMeterProvider(mp *sdkmetric.MeterProvider) appOption {
	return func(c *app.Config, _ map[string]string) { c.MeterProvider = mp }
}

// sumOf adds up the points of metric (a sum's values, a histogram's
// counts) whose attributes include every one of with.
func sumOf(rm metricdata.ResourceMetrics, metric string, with ...attribute.KeyValue) float64 {
	var n float64
	has := func(set attribute.Set) bool {
		for _, kv := range with {
			if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
				return false
			}
		}
		return true
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metric {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						n += float64(p.Value)
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						n += float64(p.Value)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						n += float64(p.Count)
					}
				}
			}
		}
	}
	return n
}

// Checkpoints that keep failing (every third History batch) are redone,
// and the orchestrations' starts, ends and retries still count once each:
// they count at the checkpoint that writes them, never at an episode that
// computed them.
func TestMetricsCountOnceThroughFailingCheckpoints(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fail := &failEveryNthBatch{n: 3}
	a := startApp(t, withPolicy(fail), withMeterProvider(mp))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	fail.armed.Store(true)
	const n = 5
	var ids []string
	for i := range n {
		id, err := a.Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{InstanceID: fmt.Sprintf("m-hello-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	retry, err := a.Client.StartNew(ctx, "RetryDemo", nil, client.StartOptions{InstanceID: "m-retry"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		expectCompleted(t, a.wait(t, ctx, id), cities5)
	}
	if st := a.wait(t, ctx, retry); st.RuntimeStatus != history.StatusFailed {
		t.Fatalf("RetryDemo: %s, want Failed", st.RuntimeStatus)
	}
	fail.armed.Store(false)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	name := telemetry.AttrTaskName.String
	status := func(s history.RuntimeStatus) attribute.KeyValue { return telemetry.AttrStatus.String(string(s)) }
	failure := telemetry.AttrOutcome.String(telemetry.OutcomeFailure)
	for _, c := range []struct {
		what    string
		got     float64
		want    float64
		atLeast bool
	}{
		{"HelloCities5 started", sumOf(rm, telemetry.MetricOrchestrationsStarted, name("HelloCities5")), n, false},
		{"HelloCities5 completed", sumOf(rm, telemetry.MetricOrchestrationsCompleted, name("HelloCities5"), status(history.StatusCompleted)), n, false},
		{"HelloCities5 ended", sumOf(rm, telemetry.MetricOrchestrationsCompleted, name("HelloCities5")), n, false},
		{"RetryDemo started", sumOf(rm, telemetry.MetricOrchestrationsStarted, name("RetryDemo")), 1, false},
		{"RetryDemo failed", sumOf(rm, telemetry.MetricOrchestrationsCompleted, name("RetryDemo"), status(history.StatusFailed)), 1, false},
		{"AlwaysFails retried", sumOf(rm, telemetry.MetricRetries, name("AlwaysFails")), 2, false},
		// Activities are at least once: a dropped snapshot may run one again.
		{"AlwaysFails attempts", sumOf(rm, telemetry.MetricActivityDuration, name("AlwaysFails"), failure), 3, true},
		{"SayHello attempts", sumOf(rm, telemetry.MetricActivityDuration, name("SayHello")), 5 * n, true},
		{"failed checkpoints", sumOf(rm, telemetry.MetricCheckpointDuration, failure), 1, true},
		{"failed episodes", sumOf(rm, telemetry.MetricEpisodeDuration, failure), 1, true},
		{"table batches", sumOf(rm, telemetry.MetricStorageRequests, telemetry.AttrStorageService.String(telemetry.StorageTable),
			telemetry.AttrStorageOperation.String("batch")), 1, true},
		{"partitions owned", sumOf(rm, telemetry.MetricPartitionsOwned), float64(a.Hub.PartitionCount()), false},
	} {
		if (c.atLeast && c.got < c.want) || (!c.atLeast && c.got != c.want) {
			t.Errorf("%s: %v, want %v (at least: %v)", c.what, c.got, c.want, c.atLeast)
		}
	}
}

// A start lost between the client's row and its message is resent by the
// look for lost starts, and counts once.
func TestLostStartResentCounts(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	a := startApp(t, withMeterProvider(mp))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	now := time.Now().UTC()
	row := &layout.InstanceRow{InstanceID: "m-lost", Name: "HelloCities5", ExecutionID: strings.ReplaceAll(uuid.NewString(), "-", ""),
		RuntimeStatus: history.StatusPending, CreatedTime: now, LastUpdatedTime: now, TaskHubName: a.Hub.Name()}
	// As a client's start does, without the message: the index row, then
	// the instance row.
	if err := a.Hub.PutIndex(ctx, row.InstanceID, now); err != nil {
		t.Fatal(err)
	}
	if err := a.Hub.InsertInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	expectCompleted(t, a.wait(t, ctx, row.InstanceID), cities5)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if n := sumOf(rm, telemetry.MetricStartsResent); n != 1 {
		t.Errorf("%s = %v, want 1", telemetry.MetricStartsResent, n)
	}
	if n := sumOf(rm, telemetry.MetricOrchestrationsStarted, telemetry.AttrTaskName.String("HelloCities5")); n != 1 {
		t.Errorf("%s = %v, want 1", telemetry.MetricOrchestrationsStarted, n)
	}
}
