package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/durable-go/durable/internal/history"
)

func newTestMetrics(t *testing.T) (*Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := NewMetrics(mp)
	if err != nil {
		t.Fatal(err)
	}
	return m, reader
}

// collected is what a reader holds: each instrument's data points as
// their attribute sets (encoded) to their value; a histogram's value is
// its count.
type collected map[string]map[string]float64

func collect(t *testing.T, r *sdkmetric.ManualReader) collected {
	t.Helper()
	c, err := collectErr(t, r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// collectErr is collect for a collection that may fail in part: a
// callback's error comes with what was collected.
func collectErr(t *testing.T, r *sdkmetric.ManualReader) (collected, error) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	err := r.Collect(context.Background(), &rm)
	out := collected{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			points := map[string]float64{}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					points[p.Attributes.Encoded(attribute.DefaultEncoder())] += float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			out[m.Name] = points
		}
	}
	return out, err
}

// attrs encodes an attribute set as collect keys it.
func attrs(kvs ...attribute.KeyValue) string {
	s := attribute.NewSet(kvs...)
	return s.Encoded(attribute.DefaultEncoder())
}

func (c collected) want(t *testing.T, name string, set string, v float64) {
	t.Helper()
	if got := c[name][set]; got != v {
		t.Errorf("%s{%s} = %v, want %v (all: %v)", name, set, got, v, c[name])
	}
}

// TestNilMetricsCostNothing: metrics off is a nil *Metrics, whose every
// method returns without allocating.
func TestNilMetricsCostNothing(t *testing.T) {
	var m *Metrics
	if m2, err := NewMetrics(nil); m2 != nil || err != nil {
		t.Fatalf("NewMetrics(nil) = %v, %v", m2, err)
	}
	if m.Enabled() || m.StoragePolicy(StorageQueue) != nil {
		t.Error("nil Metrics is on")
	}
	events := []history.Event{{Type: history.ExecutionStarted, Name: "X"}, {Type: history.ExecutionCompleted}}
	stop, err := m.ObserveWorker(WorkerGauges{Owned: func() []int { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	allocs := testing.AllocsPerRun(100, func() {
		m.Committed(nil, events, []int{1})
		m.Episode("X", "", time.Second, false)
		m.Activity("Y", "", time.Second, true)
		m.Checkpoint(time.Millisecond, false)
		m.Recovery(time.Millisecond, true)
		m.StartResent()
	})
	if allocs != 0 {
		t.Errorf("nil Metrics allocates %v times per call round", allocs)
	}
}

// TestCommittedCounts: starts, ends by status and retries count from the
// events a checkpoint wrote, each once, by orchestrator name and version.
func TestCommittedCounts(t *testing.T) {
	m, r := newTestMetrics(t)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Hello", Version: "1.0"}
	first := []history.Event{start, {Type: history.TaskScheduled, EventID: 0, Name: "Act"}}
	m.Committed(nil, first, nil)
	// A retry (event 2) after the failure of task 0 and a timer (1).
	second := []history.Event{{Type: history.TaskFailed, TaskScheduledID: 0}, {Type: history.TimerCreated, EventID: 1},
		{Type: history.TaskScheduled, EventID: 2, Name: "Act"}, {Type: history.SubOrchestrationInstanceCreated, EventID: 3, Name: "Child"}}
	m.Committed(first, second, []int{2, 3})
	past := append(append([]history.Event(nil), first...), second...)
	m.Committed(past, []history.Event{{Type: history.ExecutionCompleted, OrchestrationStatus: history.StatusFailed}}, nil)
	// Another execution, ended by continue-as-new; and one terminated.
	m.Committed(nil, []history.Event{{Type: history.ExecutionStarted, Name: "Loop"}, {Type: history.ContinueAsNew}}, nil)
	m.Committed([]history.Event{{Type: history.ExecutionStarted, Name: "Loop"}},
		[]history.Event{{Type: history.ExecutionCompleted, OrchestrationStatus: history.StatusTerminated}}, nil)

	c := collect(t, r)
	hello := []attribute.KeyValue{AttrTaskName.String("Hello"), AttrVersion.String("1.0")}
	c.want(t, MetricOrchestrationsStarted, attrs(hello...), 1)
	c.want(t, MetricOrchestrationsStarted, attrs(AttrTaskName.String("Loop")), 1)
	c.want(t, MetricOrchestrationsCompleted, attrs(append(hello, AttrStatus.String("Failed"))...), 1)
	c.want(t, MetricOrchestrationsCompleted, attrs(AttrTaskName.String("Loop"), AttrStatus.String("ContinuedAsNew")), 1)
	c.want(t, MetricOrchestrationsCompleted, attrs(AttrTaskName.String("Loop"), AttrStatus.String("Terminated")), 1)
	c.want(t, MetricRetries, attrs(AttrTaskName.String("Act"), AttrType.String(TypeActivity)), 1)
	c.want(t, MetricRetries, attrs(AttrTaskName.String("Child"), AttrType.String(TypeOrchestration)), 1)
	if n := len(c[MetricRetries]); n != 2 {
		t.Errorf("%d retry series, want 2: %v", n, c[MetricRetries])
	}
}

// TestDurations: each histogram counts its records by name and outcome.
func TestDurations(t *testing.T) {
	m, r := newTestMetrics(t)
	m.Episode("Hello", "", 20*time.Millisecond, false)
	m.Episode("Hello", "", 30*time.Millisecond, false)
	m.Episode("Hello", "", time.Second, true)
	m.Activity("Act", "", time.Millisecond, true)
	m.Checkpoint(5*time.Millisecond, false)
	m.Recovery(time.Second, false)
	m.StartResent()
	c := collect(t, r)
	c.want(t, MetricEpisodeDuration, attrs(AttrTaskName.String("Hello"), AttrOutcome.String(OutcomeSuccess)), 2)
	c.want(t, MetricEpisodeDuration, attrs(AttrTaskName.String("Hello"), AttrOutcome.String(OutcomeFailure)), 1)
	c.want(t, MetricActivityDuration, attrs(AttrTaskName.String("Act"), AttrOutcome.String(OutcomeFailure)), 1)
	c.want(t, MetricCheckpointDuration, attrs(AttrOutcome.String(OutcomeSuccess)), 1)
	c.want(t, MetricRecoveryDuration, attrs(AttrOutcome.String(OutcomeSuccess)), 1)
	c.want(t, MetricStartsResent, attrs(), 1)

	// The unit is seconds: 20 ms and 30 ms sum to 0.05.
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			if x.Name != MetricEpisodeDuration {
				continue
			}
			if x.Unit != "s" {
				t.Errorf("unit %q", x.Unit)
			}
			for _, p := range x.Data.(metricdata.Histogram[float64]).DataPoints {
				if o, _ := p.Attributes.Value(AttrOutcome); o.AsString() == OutcomeSuccess && (p.Sum < 0.0499 || p.Sum > 0.0501) {
					t.Errorf("episode durations sum to %v s, want 0.05", p.Sum)
				}
			}
		}
	}
}

// TestWorkerGauges: the partitions owned and each one's backlog are read
// at collection, until the worker stops reporting; a backlog that cannot
// be read leaves that partition out.
func TestWorkerGauges(t *testing.T) {
	m, r := newTestMetrics(t)
	stop, err := m.ObserveWorker(WorkerGauges{
		Owned: func() []int { return []int{0, 2, 3} },
		Backlog: func(_ context.Context, p int) (int64, time.Duration, error) {
			if p == 3 {
				return 0, 0, errors.New("unreachable")
			}
			return int64(10 + p), time.Duration(p) * time.Second, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := collectErr(t, r)
	if err == nil || !strings.Contains(err.Error(), "partition 3: unreachable") {
		t.Errorf("collection error %v, want partition 3's", err)
	}
	c.want(t, MetricPartitionsOwned, attrs(), 3)
	c.want(t, MetricControlQueueBacklog, attrs(AttrPartition.Int(0)), 10)
	c.want(t, MetricControlQueueBacklog, attrs(AttrPartition.Int(2)), 12)
	c.want(t, MetricControlQueueOldestAge, attrs(AttrPartition.Int(2)), 2)
	if _, ok := c[MetricControlQueueBacklog][attrs(AttrPartition.Int(3))]; ok {
		t.Error("a backlog that failed to read was reported")
	}
	stop()
	if c := collect(t, r); len(c[MetricPartitionsOwned]) != 0 {
		t.Errorf("gauges reported after stop: %v", c[MetricPartitionsOwned])
	}
}

// fakeTransport answers with the status codes in codes, one per request,
// then 200.
type fakeTransport struct{ codes []int }

func (f *fakeTransport) Do(req *http.Request) (*http.Response, error) {
	code := http.StatusOK
	if len(f.codes) > 0 {
		code, f.codes = f.codes[0], f.codes[1:]
	}
	if code == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: req}, nil
}

// TestStoragePolicyCountsAttempts: as a per-retry policy, the counter sees
// each attempt of a retried request, throttled ones marked.
func TestStoragePolicyCountsAttempts(t *testing.T) {
	m, r := newTestMetrics(t)
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{}, &policy.ClientOptions{
		Transport:        &fakeTransport{codes: []int{503, 429, 200, 404}},
		PerRetryPolicies: []policy.Policy{m.StoragePolicy(StorageQueue)},
		Retry:            policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond},
	})
	for range 2 {
		req, err := runtime.NewRequest(context.Background(), http.MethodGet, "http://127.0.0.1:10001/devstoreaccount1/hub-control-00/messages?numofmessages=32")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pl.Do(req); err != nil {
			t.Fatal(err)
		}
	}
	c := collect(t, r)
	base := []attribute.KeyValue{AttrStorageService.String(StorageQueue), AttrStorageOperation.String("dequeue")}
	c.want(t, MetricStorageRequests, attrs(append(base, AttrStorageThrottled.Bool(true), AttrErrorType.String("503"))...), 1)
	c.want(t, MetricStorageRequests, attrs(append(base, AttrStorageThrottled.Bool(true), AttrErrorType.String("429"))...), 1)
	c.want(t, MetricStorageRequests, attrs(append(base, AttrStorageThrottled.Bool(false))...), 1)
	c.want(t, MetricStorageRequests, attrs(append(base, AttrStorageThrottled.Bool(false), AttrErrorType.String("404"))...), 1)
}

// TestStorageOperation names requests as the three clients send them, on
// Azure's host names and on the emulator's paths.
func TestStorageOperation(t *testing.T) {
	for _, c := range []struct {
		service, method, url, want string
	}{
		{StorageQueue, "GET", "https://a.queue.core.windows.net/q/messages?numofmessages=1", "dequeue"},
		{StorageQueue, "GET", "http://127.0.0.1:10001/devstoreaccount1/q/messages?peekonly=true", "peek"},
		{StorageQueue, "POST", "https://a.queue.core.windows.net/q/messages", "enqueue"},
		{StorageQueue, "DELETE", "https://a.queue.core.windows.net/q/messages/abc?popreceipt=x", "delete_message"},
		{StorageQueue, "PUT", "http://127.0.0.1:10001/devstoreaccount1/q/messages/abc?popreceipt=x", "update_message"},
		{StorageQueue, "GET", "https://a.queue.core.windows.net/q?comp=metadata", "get_queue_properties"},
		{StorageQueue, "PUT", "https://a.queue.core.windows.net/q", "create_queue"},
		{StorageQueue, "GET", "https://a.queue.core.windows.net/?comp=list", "list_queues"},
		{StorageTable, "POST", "https://a.table.core.windows.net/$batch", "batch"},
		{StorageTable, "POST", "http://127.0.0.1:10002/devstoreaccount1/Tables", "create_table"},
		{StorageTable, "GET", "https://a.table.core.windows.net/T(PartitionKey='p',RowKey='r')", "get_entity"},
		{StorageTable, "PUT", "https://a.table.core.windows.net/T(PartitionKey='p',RowKey='r')", "update_entity"},
		{StorageTable, "PATCH", "https://a.table.core.windows.net/T(PartitionKey='p',RowKey='r')", "merge_entity"},
		{StorageTable, "DELETE", "https://a.table.core.windows.net/T(PartitionKey='p',RowKey='r')", "delete_entity"},
		{StorageTable, "GET", "https://a.table.core.windows.net/T()?$filter=x", "query_entities"},
		{StorageTable, "POST", "https://a.table.core.windows.net/T", "insert_entity"},
		{StorageBlob, "PUT", "https://a.blob.core.windows.net/c/b?comp=lease", "lease"},
		{StorageBlob, "PUT", "https://a.blob.core.windows.net/c?restype=container", "create_container"},
		{StorageBlob, "GET", "https://a.blob.core.windows.net/c?restype=container&comp=list", "list"},
		{StorageBlob, "GET", "https://a.blob.core.windows.net/c/b", "download"},
		{StorageBlob, "PUT", "https://a.blob.core.windows.net/c/b", "upload"},
	} {
		req, err := http.NewRequest(c.method, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := storageOperation(c.service, req); got != c.want {
			t.Errorf("%s %s %s: %q, want %q", c.service, c.method, c.url, got, c.want)
		}
	}
}

// TestMetricsOn: metrics follow tracing and the OTLP endpoint unless the
// environment says otherwise.
func TestMetricsOn(t *testing.T) {
	for _, c := range []struct {
		exporter, endpoint, metricsEndpoint string
		tracing, want                       bool
	}{
		{want: false},
		{tracing: true, want: true},
		{endpoint: "http://collector:4318", want: true},
		{metricsEndpoint: "http://collector:4318/v1/metrics", want: true},
		{exporter: "otlp", want: true},
		{exporter: "none", tracing: true, endpoint: "http://collector:4318", want: false},
	} {
		t.Setenv("OTEL_METRICS_EXPORTER", c.exporter)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.endpoint)
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", c.metricsEndpoint)
		if got := MetricsOn(c.tracing); got != c.want {
			t.Errorf("%+v: MetricsOn = %v", c, got)
		}
	}
}

// TestSetupSignals: Setup builds only what is asked for, and rejects an
// exporter it does not know.
func TestSetupSignals(t *testing.T) {
	ctx := context.Background()
	tel, err := Setup(ctx, Signals{})
	if err != nil || tel.Tracer != nil || tel.Metrics != nil {
		t.Fatalf("nothing asked: %+v, %v", tel, err)
	}
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	tel, err = Setup(ctx, Signals{Metrics: true})
	if err != nil || tel.Tracer != nil || tel.Metrics == nil {
		t.Fatalf("metrics asked: %+v, %v", tel, err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = tel.Shutdown(sctx) // nothing listens: the final export may fail
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	if _, err := Setup(ctx, Signals{Metrics: true}); err == nil || !strings.Contains(err.Error(), "OTEL_METRICS_EXPORTER") {
		t.Errorf("unknown exporter: %v", err)
	}
}
