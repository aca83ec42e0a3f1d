// Package bench measures the engine on Azurite: throughput, latency,
// storage requests and memory for the HelloCities5 workload. Run it with
// `make bench`, which starts a fresh Azurite so no earlier queue or table
// skews the figures.
package bench

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/bench/benchapp"
	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// storage is the test storage account, through a latency proxy when
// BENCH_LATENCY names a delay each way (storage on Azure is milliseconds
// away; Azurite on loopback is not).
func storage(b *testing.B) string {
	b.Helper()
	d, err := testutil.LatencyFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	if d == 0 {
		return testutil.Storage(b)
	}
	_, conn := testutil.ProxiedStorage(b, d)
	b.Logf("storage through a proxy adding %v each way (%v round trip)", d, 2*d)
	return conn
}

// newApp runs the benchmark app (benchapp.New) on a new hub of the test
// storage account.
func newApp(b *testing.B, counter *azstore.RequestCounter) *app.App {
	b.Helper()
	return newAppOn(b, storage(b), counter)
}

// newAppOn runs the benchmark app on a new hub of the storage account conn.
func newAppOn(b *testing.B, conn string, counter *azstore.RequestCounter) *app.App {
	b.Helper()
	return newAppWith(b, conn, counter, nil)
}

// newAppWith is newAppOn with the host.json options changed by tweak.
func newAppWith(b *testing.B, conn string, counter *azstore.RequestCounter, tweak func(*config.DurableOptions)) *app.App {
	b.Helper()
	a, err := benchapp.NewWith(context.Background(), conn, testutil.UniqueHubName(b), counter, tweak)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = a.Stop(ctx)
		_ = a.Hub.Delete(ctx)
	})
	return a
}

// runBatch runs n HelloCities5, 32 starts in flight, and returns each one's
// start-to-completion latency, as seen by the in-process client.
func runBatch(b *testing.B, a *app.App, n int) (latencies []time.Duration, elapsed time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	samples, err := benchapp.Batch(ctx, a, n, 32)
	elapsed = time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	latencies = make([]time.Duration, n)
	for i, s := range samples {
		latencies[i] = s.Caller()
	}
	return latencies, elapsed
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkHelloCities5 runs 1000 HelloCities5 on a fresh hub and reports
// throughput, latency, storage requests per orchestration (idle polling
// apart), the latency of one orchestration on an idle app, and heap growth
// across a second batch.
func BenchmarkHelloCities5(b *testing.B) {
	const n = 1000
	counter := &azstore.RequestCounter{}
	a := newApp(b, counter)
	runBatch(b, a, 10) // connections and goroutines warm, hub created

	before := counter.Snapshot()
	lat, elapsed := runBatch(b, a, n)
	used := counter.Snapshot().Sub(before)

	heap1 := heapInUse()
	runBatch(b, a, n)
	heap2 := heapInUse()

	// The idle figure is for a hub of 5,000 instances: fill it up with
	// finished instance rows written directly.
	hubRows := 2*n + 10
	fillHub(b, a.Hub, 5000-hubRows, 0)

	// Idle app: let the pollers back off, then time one orchestration.
	var idle []time.Duration
	for i := 0; i < 10; i++ {
		time.Sleep(2 * time.Second)
		l, _ := runBatch(b, a, 1)
		idle = append(idle, l[0])
	}

	perOrch := float64(used.Work()) / n
	b.ReportMetric(float64(n)/elapsed.Seconds(), "orch/s")
	b.ReportMetric(float64(percentile(lat, 0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(perOrch, "requests/orch")
	b.ReportMetric(float64(used.EmptyPolls)/n, "idle-polls/orch")
	b.ReportMetric(float64(percentile(idle, 0.5).Milliseconds()), "idle-p50-ms")
	b.ReportMetric((float64(heap2)-float64(heap1))/n, "heap-B/orch")
	b.Logf("1000 x HelloCities5: %.1f orch/s, p50 %s, p99 %s; requests/orch %.2f (batch %.2f, table other %.2f, "+
		"queue put %.2f, get %.2f, delete %.2f, other %.2f, blob %.2f); empty polls %d; idle single p50 %s (all %v); heap %d -> %d bytes",
		float64(n)/elapsed.Seconds(), percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond),
		perOrch, float64(used.TableBatch)/n, float64(used.TableOther)/n, float64(used.QueuePut)/n,
		float64(used.QueueGet-used.EmptyPolls)/n, float64(used.QueueDelete)/n, float64(used.QueueOther)/n, float64(used.Blob)/n,
		used.EmptyPolls, percentile(idle, 0.5).Round(time.Millisecond), roundAll(idle), heap1, heap2)
	for i := 0; i < b.N; i++ {
		// The work above is the measurement; b.N only satisfies the runner.
	}
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

// BenchmarkScaleOut runs 1000 HelloCities5 on one app, then on a fresh hub
// the same 1000 split between two apps that share it (each with its own
// client starting its half), and reports the two throughputs and their
// ratio within the run. Both apps are in this process, so CPU does not
// double: the ratio shows what a second worker adds where storage
// latency, not CPU, bounds one (BENCH_LATENCY), which is where scaling out
// is meant to help.
func BenchmarkScaleOut(b *testing.B) {
	const n = 1000
	oneCounter := &azstore.RequestCounter{}
	one := newApp(b, oneCounter)
	runBatch(b, one, 10)
	before := oneCounter.Snapshot()
	ranOne := spread(b, []*app.App{one}, n)
	usedOne := oneCounter.Snapshot().Sub(before)
	stopApp(b, one)

	conn := storage(b)
	hub := testutil.UniqueHubName(b)
	counters := []*azstore.RequestCounter{{}, {}}
	two := twoApps(b, conn, hub, counters)
	spread(b, two, 10)
	before0, before1 := counters[0].Snapshot(), counters[1].Snapshot()
	ranTwo := spread(b, two, n)
	used0, used1 := counters[0].Snapshot().Sub(before0), counters[1].Snapshot().Sub(before1)
	oneRate, twoRate := n/ranOne.elapsed.Seconds(), n/ranTwo.elapsed.Seconds()
	b.ReportMetric(oneRate, "orch/s-one")
	b.ReportMetric(twoRate, "orch/s-two")
	b.ReportMetric(twoRate/oneRate, "two/one")
	b.ReportMetric(float64(usedOne.Work())/n, "requests/orch-one")
	b.ReportMetric(float64(used0.Work()+used1.Work())/n, "requests/orch-two")
	b.Logf("1000 x HelloCities5: one app %.1f orch/s, two apps on one hub %.1f orch/s (%.2f x); requests per orchestration "+
		"(empty polls apart) one %.2f (table batch %.2f, other %.2f), two %.2f (table batch %.2f, other %.2f, queue put %.2f, get %.2f, delete %.2f; empty polls %.2f)",
		oneRate, twoRate, twoRate/oneRate, float64(usedOne.Work())/n, float64(usedOne.TableBatch)/n, float64(usedOne.TableOther)/n,
		float64(used0.Work()+used1.Work())/n, float64(used0.TableBatch+used1.TableBatch)/n, float64(used0.TableOther+used1.TableOther)/n,
		float64(used0.QueuePut+used1.QueuePut)/n, float64(used0.QueueGet+used1.QueueGet)/n,
		float64(used0.QueueDelete+used1.QueueDelete)/n, float64(used0.EmptyPolls+used1.EmptyPolls)/n)
	b.Logf("start call p50 / p90, start to completion p50 / p90: one app %v / %v, %v / %v; two apps %v / %v, %v / %v",
		ranOne.start(.5), ranOne.start(.9), ranOne.done(.5), ranOne.done(.9), ranTwo.start(.5), ranTwo.start(.9), ranTwo.done(.5), ranTwo.done(.9))
	for i := 0; i < b.N; i++ {
		// The work above is the measurement; b.N only satisfies the runner.
	}
}

// twoApps runs two apps on one hub of the storage account conn, each with
// its counter, and waits until they own two partitions each, as two
// running app instances would before a measurement. The benchmark's end
// stops them and deletes the hub.
func twoApps(b *testing.B, conn, hub string, counters []*azstore.RequestCounter) []*app.App {
	b.Helper()
	var two []*app.App
	for _, c := range counters {
		a, err := benchapp.New(context.Background(), conn, hub, c)
		if err != nil {
			b.Fatal(err)
		}
		two = append(two, a)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, a := range two {
			_ = a.Stop(ctx)
		}
		_ = two[0].Hub.Delete(ctx)
	})
	for deadline := time.Now().Add(time.Minute); len(two[0].Worker.Stats().OwnedPartitions) != 2 || len(two[1].Worker.Stats().OwnedPartitions) != 2; {
		if time.Now().After(deadline) {
			b.Fatal("the two apps did not split the partitions within a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return two
}

// stopApp stops an app and deletes its hub before the next measurement.
func stopApp(b *testing.B, a *app.App) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	_ = a.Hub.Delete(ctx)
}

// startsInFlight is how many starts spread has under way at a time: enough
// that the starts do not bound the throughput of two apps. A start through
// an app that does not own the instance's partition takes three round
// trips (index row, instance row, message); at 32 under way and 100 ms
// each way that held two apps to about 35 orchestrations a second, below
// what one app runs.
const startsInFlight = 64

// spreadRun is what a spread measured: its duration, and each start's
// call and start-to-completion times.
type spreadRun struct {
	elapsed       time.Duration
	starts, dones []time.Duration
}

func (r spreadRun) start(p float64) time.Duration { return percentile(r.starts, p) }
func (r spreadRun) done(p float64) time.Duration  { return percentile(r.dones, p) }

// spread runs n HelloCities5 over apps that share a hub, as their HTTP
// starters would: start i through apps[i % len(apps)], startsInFlight
// starts under way at a time, each instance run by whichever app owns its
// partition. It waits through every app at once, so that the completion
// notice of the app that ran an instance answers, not a storage poll of
// another.
func spread(b *testing.B, apps []*app.App, n int) spreadRun {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sem := make(chan struct{}, startsInFlight)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	run := spreadRun{starts: make([]time.Duration, n), dones: make([]time.Duration, n)}
	began := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			id, err := apps[i%len(apps)].Client.StartNew(ctx, "HelloCities5", nil, client.StartOptions{})
			run.starts[i] = time.Since(t0)
			<-sem
			if err != nil {
				errs <- err
				return
			}
			errs <- waitAny(ctx, apps, id)
			run.dones[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(began)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return run
}

// waitAny waits for an instance to complete through each app's client at
// once and returns when the first of them sees it.
func waitAny(ctx context.Context, apps []*app.App, id string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, len(apps))
	for _, a := range apps {
		go func() {
			st, err := a.Client.WaitForCompletion(ctx, id, 5*time.Second)
			if err == nil && st.RuntimeStatus != history.StatusCompleted {
				err = fmt.Errorf("%s: %s %s", id, st.RuntimeStatus, st.Output)
			}
			done <- err
		}()
	}
	return <-done
}
