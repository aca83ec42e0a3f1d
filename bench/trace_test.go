package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/testutil"
)

// BenchmarkIdleTimeline runs one HelloCities5 at a time on an idle app whose storage is
// BENCH_LATENCY away (10 ms each way when unset) and logs every storage request the
// orchestration made, in order, with its start relative to the StartNew call: the round
// trips that the idle latency is made of.
func BenchmarkIdleTimeline(b *testing.B) {
	d, err := testutil.LatencyFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	if d == 0 {
		d = 10 * time.Millisecond
	}
	proxy, conn := testutil.ProxiedStorage(b, d)
	a := newAppOn(b, conn, &azstore.RequestCounter{})
	runBatch(b, a, 10)
	var all []time.Duration
	for i := 0; i < 5; i++ {
		time.Sleep(2 * time.Second)
		proxy.Trace(true)
		t0 := time.Now()
		l, _ := runBatch(b, a, 1)
		proxy.Trace(false)
		all = append(all, l[0])
		var sb strings.Builder
		for _, r := range proxy.TakeTrace() {
			if r.Kind == testutil.QueueGetEmpty {
				continue
			}
			p := r.Path
			if len(p) > 110 {
				p = p[:110]
			}
			fmt.Fprintf(&sb, "  %6.1f ms +%5.1f  %-16v %-6s %d %s\n", float64(r.At.Sub(t0).Microseconds())/1000, float64(r.Took.Microseconds())/1000, r.Kind, r.Method, r.Status, p)
		}
		b.Logf("single HelloCities5 at %v round trip: %v\n%s", 2*d, l[0].Round(time.Millisecond), sb.String())
	}
	b.Logf("all: %v", roundAll(all))
	for i := 0; i < b.N; i++ {
	}
}
