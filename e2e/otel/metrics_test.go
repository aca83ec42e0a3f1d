package otel

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// startMetricsReceiver runs the Collector's OTLP receiver with a metrics
// consumer (and a traces one, since the app's traces go to the same
// endpoint) and returns its gRPC and HTTP endpoints and the metrics it got.
func startMetricsReceiver(t *testing.T) (grpcAddr, httpAddr string, sink *consumertest.MetricsSink) {
	t.Helper()
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	grpcAddr, httpAddr = freeAddr(t), freeAddr(t)
	cfg.Protocols.GRPC.GetOrInsertDefault().NetAddr.Endpoint = grpcAddr
	cfg.Protocols.HTTP.GetOrInsertDefault().ServerConfig.NetAddr.Endpoint = httpAddr
	sink = new(consumertest.MetricsSink)
	set := receivertest.NewNopSettings(f.Type())
	// The receiver is one component shared by the signals created from the
	// same config: each registers its consumer on it.
	tr, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMetrics(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := mr.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mr.Shutdown(context.Background())
		_ = tr.Shutdown(context.Background())
	})
	return grpcAddr, httpAddr, sink
}

// point is the latest value the receiver got of one series of a metric:
// a sum's or gauge's value, a histogram's count.
type point struct {
	value float64
	at    time.Time
}

// series are a metric's points by their attributes, as "k=v,k=v" sorted.
type series map[string]point

// latest reads what the receiver got: the newest point of each series of
// each metric (the app exports cumulative sums and histograms, so the
// newest holds everything so far).
func latest(sink *consumertest.MetricsSink) map[string]series {
	out := map[string]series{}
	note := func(name string, attrs pcommon.Map, v float64, at time.Time) {
		var kv []string
		for k, val := range attrs.All() {
			kv = append(kv, k+"="+val.AsString())
		}
		sort.Strings(kv)
		key := strings.Join(kv, ",")
		if out[name] == nil {
			out[name] = series{}
		}
		if p, ok := out[name][key]; !ok || !at.Before(p.at) {
			out[name][key] = point{v, at}
		}
	}
	for _, md := range sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					switch m.Type() {
					case pmetric.MetricTypeSum:
						dps := m.Sum().DataPoints()
						for l := 0; l < dps.Len(); l++ {
							dp := dps.At(l)
							note(m.Name(), dp.Attributes(), float64(dp.IntValue())+dp.DoubleValue(), dp.Timestamp().AsTime())
						}
					case pmetric.MetricTypeGauge:
						dps := m.Gauge().DataPoints()
						for l := 0; l < dps.Len(); l++ {
							dp := dps.At(l)
							note(m.Name(), dp.Attributes(), float64(dp.IntValue())+dp.DoubleValue(), dp.Timestamp().AsTime())
						}
					case pmetric.MetricTypeHistogram:
						dps := m.Histogram().DataPoints()
						for l := 0; l < dps.Len(); l++ {
							dp := dps.At(l)
							note(m.Name(), dp.Attributes(), float64(dp.Count()), dp.Timestamp().AsTime())
						}
					}
				}
			}
		}
	}
	return out
}

// total sums the series of s whose attributes include every one of with,
// and says how many there were.
func (s series) total(with ...string) (n float64, matched int) {
next:
	for key, p := range s {
		have := map[string]bool{}
		for _, kv := range strings.Split(key, ",") {
			have[kv] = true
		}
		for _, w := range with {
			if !have[w] {
				continue next
			}
		}
		n += p.value
		matched++
	}
	return n, matched
}

// expectation is one value the test waits for.
type expectation struct {
	metric string
	with   []string
	// want is the exact value; with atLeast, a lower bound.
	want    float64
	atLeast bool
}

func (e expectation) met(got map[string]series) (float64, bool) {
	v, matched := got[e.metric].total(e.with...)
	if matched == 0 {
		return v, false // a series that was never exported
	}
	if e.atLeast {
		return v, v >= e.want
	}
	return v, v == e.want
}

func (e expectation) String() string {
	op := "=="
	if e.atLeast {
		op = ">="
	}
	return fmt.Sprintf("%s{%s} %s %v", e.metric, strings.Join(e.with, ","), op, e.want)
}

// TestMetricsReachAnOTLPReceiver runs HelloCities5 n times and RetryDemo
// (an activity that fails three attempts, retried twice) through the app
// and checks the metrics the Collector's OTLP receiver got, over either
// protocol (the metrics' own protocol variable over the general one): the
// exact counts of starts, completions, failures, activity attempts and
// retries, the partitions the one worker owns, each control queue's
// backlog, and that storage requests and checkpoints were counted.
func TestMetricsReachAnOTLPReceiver(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(proto, "/", "-"), func(t *testing.T) {
			grpcAddr, httpAddr, sink := startMetricsReceiver(t)
			endpoint := "http://" + grpcAddr
			if proto != "grpc" {
				// A signal's own endpoint is used as it is, path included.
				endpoint = "http://" + httpAddr + "/v1/metrics"
			}
			// Traces go over HTTP, metrics over proto.
			a := startApp(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + httpAddr, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": proto,
				"OTEL_SERVICE_NAME": "otel-e2e-metrics", "OTEL_BSP_SCHEDULE_DELAY": "100",
				"OTEL_METRIC_EXPORT_INTERVAL": "200",
			})
			checkMetrics(t, a, sink)
		})
	}
}

func checkMetrics(t *testing.T, a *app, sink *consumertest.MetricsSink) {
	const n = 4
	sfx := randomHex(t, 4)
	var hellos []string
	for i := range n {
		id := fmt.Sprintf("hello-%d-%s", i, sfx)
		hellos = append(hellos, id)
		a.do(http.MethodPost, "/orchestrators/HelloCities5/"+id, "", "", http.StatusAccepted)
	}
	retry := "retry-" + sfx
	a.do(http.MethodPost, "/orchestrators/RetryDemo/"+retry, "", "", http.StatusAccepted)
	for _, id := range hellos {
		a.waitStatus(id, "Completed", 45*time.Second)
	}
	a.waitStatus(retry, "Failed", 45*time.Second)

	const (
		name    = "durabletask.task.name="
		outcome = "durabletask.outcome="
	)
	expect := []expectation{
		{metric: "durabletask.orchestration.started", with: []string{name + "HelloCities5"}, want: n},
		{metric: "durabletask.orchestration.completed", with: []string{name + "HelloCities5", "durabletask.task.status=Completed"}, want: n},
		{metric: "durabletask.orchestration.completed", with: []string{name + "HelloCities5"}, want: n},
		{metric: "durabletask.orchestration.started", with: []string{name + "RetryDemo"}, want: 1},
		{metric: "durabletask.orchestration.completed", with: []string{name + "RetryDemo", "durabletask.task.status=Failed"}, want: 1},
		{metric: "durabletask.orchestration.completed", with: []string{name + "RetryDemo"}, want: 1},
		{metric: "durabletask.activity.duration", with: []string{name + "SayHello", outcome + "success"}, want: 5 * n},
		{metric: "durabletask.activity.duration", with: []string{name + "SayHello"}, want: 5 * n},
		{metric: "durabletask.activity.duration", with: []string{name + "AlwaysFails", outcome + "failure"}, want: 3},
		{metric: "durabletask.activity.duration", with: []string{name + "AlwaysFails"}, want: 3},
		{metric: "durabletask.task.retries", with: []string{name + "AlwaysFails", "durabletask.type=activity"}, want: 2},
		{metric: "durabletask.task.retries", want: 2},
		{metric: "durabletask.partitions.owned", want: 4},
		{metric: "durabletask.orchestration.episode.duration", with: []string{name + "HelloCities5", outcome + "success"}, want: n, atLeast: true},
		{metric: "durabletask.checkpoint.duration", with: []string{outcome + "success"}, want: n + 1, atLeast: true},
		{metric: "durabletask.storage.requests", with: []string{"durabletask.storage.service=table", "durabletask.storage.operation=batch"}, want: 1, atLeast: true},
		{metric: "durabletask.storage.requests", with: []string{"durabletask.storage.service=queue", "durabletask.storage.operation=dequeue"}, want: 1, atLeast: true},
		{metric: "durabletask.storage.requests", with: []string{"durabletask.storage.service=blob"}, want: 1, atLeast: true},
	}
	for p := range 4 {
		expect = append(expect, expectation{metric: "durabletask.control_queue.backlog",
			with: []string{fmt.Sprintf("durabletask.partition=%d", p)}, want: 0, atLeast: true})
		expect = append(expect, expectation{metric: "durabletask.control_queue.oldest_message_age",
			with: []string{fmt.Sprintf("durabletask.partition=%d", p)}, want: 0, atLeast: true})
	}
	// Values settle within a few export intervals; then a moment more, so
	// that a count that went past its exact value would show.
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := latest(sink)
		ok := true
		for _, e := range expect {
			if _, met := e.met(got); !met {
				ok = false
				break
			}
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	got := latest(sink)
	for _, e := range expect {
		if _, present := got[e.metric]; !present {
			t.Errorf("%s: no such metric received", e)
			continue
		}
		v, met := e.met(got)
		if !met {
			t.Errorf("%s: got %v; series: %v", e, v, got[e.metric])
		}
		t.Logf("%s: %v", e, v)
	}
	if t.Failed() {
		var names []string
		for name := range got {
			names = append(names, name)
		}
		sort.Strings(names)
		t.Logf("metrics received: %v", names)
	}
	// No series is keyed by an instance.
	for metric, s := range got {
		for key := range s {
			if strings.Contains(key, "instance_id") || strings.Contains(key, sfx) {
				t.Errorf("%s has a series keyed by an instance: %s", metric, key)
			}
		}
	}
}
