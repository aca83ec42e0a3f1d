package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/testutil"
)

// timelineLatency is BENCH_LATENCY, 10 ms each way when unset.
func timelineLatency(b *testing.B) time.Duration {
	b.Helper()
	d, err := testutil.LatencyFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	if d == 0 {
		d = 10 * time.Millisecond
	}
	return d
}

// timeline is the proxy's trace since t0, a request a line (empty
// dequeues left out), for a benchmark's log.
func timeline(proxy *testutil.StorageProxy, t0 time.Time) string {
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
	return sb.String()
}

// BenchmarkIdleTimeline runs one HelloCities5 at a time on an idle app whose storage is
// BENCH_LATENCY away (10 ms each way when unset) and logs every storage request the
// orchestration made, in order, with its start relative to the StartNew call: the round
// trips that the idle latency is made of.
func BenchmarkIdleTimeline(b *testing.B) {
	d := timelineLatency(b)
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
		b.Logf("single HelloCities5 at %v round trip: %v\n%s", 2*d, l[0].Round(time.Millisecond), timeline(proxy, t0))
	}
	b.Logf("all: %v", roundAll(all))
	for i := 0; i < b.N; i++ {
	}
}

// BenchmarkCrossAppTimeline runs two apps on one hub whose storage is
// BENCH_LATENCY away (10 ms each way when unset) and, three times after 2 s
// of quiet, starts one HelloCities5 through the app that does not own the
// instance's partition, logging how long it took and its storage requests
// in order: a start that goes through the control queue waits for the
// owner's next poll, which no poke from another process can hurry.
func BenchmarkCrossAppTimeline(b *testing.B) {
	proxy, conn := testutil.ProxiedStorage(b, timelineLatency(b))
	two := twoApps(b, conn, testutil.UniqueHubName(b), []*azstore.RequestCounter{{}, {}})
	spread(b, two, 10)
	owned := two[1].Worker.Stats().OwnedPartitions
	var all []time.Duration
	for i := range 3 {
		time.Sleep(2 * time.Second)
		id := ""
		for k := 0; id == ""; k++ {
			if c := fmt.Sprintf("cross-%d-%d", i, k); slices.Contains(owned, two[0].Hub.PartitionOf(c)) {
				id = c
			}
		}
		proxy.Trace(true)
		t0 := time.Now()
		if _, err := two[0].Client.StartNew(context.Background(), "HelloCities5", nil, client.StartOptions{InstanceID: id}); err != nil {
			b.Fatal(err)
		}
		if err := waitAny(context.Background(), two, id); err != nil {
			b.Fatal(err)
		}
		took := time.Since(t0)
		proxy.Trace(false)
		all = append(all, took)
		b.Logf("HelloCities5 started through the other app: %v\n%s", took.Round(time.Millisecond), timeline(proxy, t0))
	}
	b.Logf("all: %v", roundAll(all))
	for i := 0; i < b.N; i++ {
	}
}
