package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/config"
)

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTracingOverhead runs batches of HelloCities5 on two apps of
// this process in turn, one with tracing off and one with it on (every
// orchestration sampled, its spans exported over OTLP/HTTP to a local
// server that reads and drops them), BENCH_ROUNDS times (default 3), and
// reports the on/off ratios of throughput and of the process's CPU per
// orchestration. Azurite, a process of its own, bounds the throughput on
// this machine; the CPU ratio is the app's own cost of tracing.
func BenchmarkTracingOverhead(b *testing.B) {
	var exports atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		exports.Add(1)
		// An empty body is an empty Export…ServiceResponse: all accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(sink.Close)
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
	b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	b.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	rounds := 3
	if v := os.Getenv("BENCH_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			b.Fatalf("BENCH_ROUNDS=%q: want a positive number", v)
		}
	}
	conn := storage(b)
	off := newAppWith(b, conn, &azstore.RequestCounter{}, nil)
	on := newAppWith(b, conn, &azstore.RequestCounter{}, func(d *config.DurableOptions) { d.Tracing.DistributedTracingEnabled = true })
	runBatch(b, off, 10)
	runBatch(b, on, 10)

	const n = 500
	var rate, cpu [2][]float64 // [off, on] per round
	for r := range rounds {
		// Alternate which goes first, so that a drift of the machine's
		// speed within a round does not favour one.
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, v := range order {
			a := off
			if v == 1 {
				a = on
			}
			c0 := cpuTime(b)
			_, elapsed := runBatch(b, a, n)
			used := cpuTime(b) - c0
			rate[v] = append(rate[v], float64(n)/elapsed.Seconds())
			cpu[v] = append(cpu[v], float64(used.Microseconds())/1000/n)
		}
		b.Logf("round %d: off %.1f orch/s, %.2f ms CPU/orch; on %.1f orch/s, %.2f ms CPU/orch; throughput on/off %.2f, CPU on/off %.2f",
			r+1, rate[0][r], cpu[0][r], rate[1][r], cpu[1][r], rate[1][r]/rate[0][r], cpu[1][r]/cpu[0][r])
	}
	time.Sleep(500 * time.Millisecond) // the last batch of spans
	if exports.Load() == 0 {
		b.Fatal("tracing on exported nothing")
	}
	b.ReportMetric(medianOf(rate[0]), "orch/s-off")
	b.ReportMetric(medianOf(rate[1]), "orch/s-on")
	b.ReportMetric(medianOf(ratios(rate[1], rate[0])), "throughput-on/off")
	b.ReportMetric(medianOf(cpu[0]), "cpu-ms/orch-off")
	b.ReportMetric(medianOf(cpu[1]), "cpu-ms/orch-on")
	b.ReportMetric(medianOf(ratios(cpu[1], cpu[0])), "cpu-on/off")
}

func ratios(x, y []float64) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] / y[i]
	}
	return out
}

func medianOf(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}
