package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// fillHub writes n Completed HelloCities5 instance rows straight to the
// Instances table, as old instances of a busy hub would be, without running
// them: one created every spacing up to now, each with its index row
// written first as a start writes it. They have no history.
func fillHub(b *testing.B, h *azstore.Hub, n int, spacing time.Duration) (first time.Time) {
	b.Helper()
	ctx := context.Background()
	first = time.Now().UTC().Add(-time.Duration(n) * spacing).Truncate(time.Second)
	output := `["Hello Tokyo!","Hello Seattle!","Hello London!","Hello Cairo!","Hello Lima!"]`
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				created := first.Add(time.Duration(i) * spacing)
				done := created.Add(2 * time.Second)
				id := fmt.Sprintf("old-%05d", i)
				row := &layout.InstanceRow{InstanceID: id, Name: "HelloCities5", ExecutionID: fmt.Sprintf("%032x", i),
					RuntimeStatus: history.StatusCompleted, CreatedTime: created, LastUpdatedTime: done, CompletedTime: &done,
					Input: "null", Output: output, TaskHubName: h.Name()}
				if err := h.PutIndex(ctx, id, created); err != nil {
					errs <- err
					return
				}
				if err := h.InsertInstance(ctx, row); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return first
}

type queryRun struct {
	firstPage, whole time.Duration
	matched          int
	requests         int64
}

// timeQuery lists every instance q selects, 100 a page, and times the first
// page and the whole result.
func timeQuery(b *testing.B, c *client.Client, counter *azstore.RequestCounter, q client.Query) queryRun {
	b.Helper()
	ctx := context.Background()
	before := counter.Snapshot()
	start := time.Now()
	var r queryRun
	err := c.EachMatch(ctx, q, func(p *client.Page) error {
		if r.firstPage == 0 {
			r.firstPage = time.Since(start)
		}
		r.matched += len(p.Instances)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	r.whole = time.Since(start)
	r.requests = counter.Snapshot().Sub(before).Work()
	return r
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkTimeRangeQuery lists the 1 % of a hub's instances created in
// one stretch of time, through the instance index and by scanning the
// Instances table (as before the index), alternately on the same hub, and
// reports both and their ratio. BENCH_QUERY_SIZES picks the hub sizes.
func BenchmarkTimeRangeQuery(b *testing.B) {
	for _, n := range querySizes() {
		b.Run(fmt.Sprintf("hub=%d", n), func(b *testing.B) {
			counter := &azstore.RequestCounter{}
			a := newApp(b, counter)
			fillStart := time.Now()
			first := fillHub(b, a.Hub, n, time.Second)
			b.Logf("wrote %d instance rows and their index rows in %v", n, time.Since(fillStart).Round(time.Millisecond))
			// The middle 1 %: a range that neither end of the table favours.
			from := first.Add(time.Duration(n/2) * time.Second)
			q := client.Query{CreatedFrom: from, CreatedTo: from.Add(time.Duration(n/100) * time.Second), PageSize: 100}
			modes := map[string]*client.Client{
				"index": a.Client,
				"scan":  client.New(a.Hub, client.Options{IgnoreIndex: true}),
			}
			const rounds = 5
			first1, whole := map[string][]time.Duration{}, map[string][]time.Duration{}
			reqs := map[string]int64{}
			for range rounds {
				for _, mode := range []string{"index", "scan"} {
					r := timeQuery(b, modes[mode], counter, q)
					if r.matched != n/100 {
						b.Fatalf("%s matched %d instances, want %d", mode, r.matched, n/100)
					}
					first1[mode] = append(first1[mode], r.firstPage)
					whole[mode] = append(whole[mode], r.whole)
					reqs[mode] = r.requests
				}
			}
			for _, mode := range []string{"index", "scan"} {
				b.ReportMetric(float64(median(first1[mode]).Microseconds())/1000, mode+"-first-page-ms")
				b.ReportMetric(float64(median(whole[mode]).Microseconds())/1000, mode+"-whole-ms")
				b.ReportMetric(float64(reqs[mode]), mode+"-requests")
				b.Logf("%s: first page %v (runs %v), whole %d matches %v (runs %v), %d requests", mode,
					median(first1[mode]), first1[mode], n/100, median(whole[mode]), whole[mode], reqs[mode])
			}
			b.ReportMetric(float64(median(whole["scan"]))/float64(median(whole["index"])), "scan/index-whole")
		})
	}
}

func querySizes() []int {
	if s := strings.TrimSpace(os.Getenv("BENCH_QUERY_SIZES")); s != "" {
		var out []int
		for _, f := range strings.Split(s, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err == nil && n >= 100 {
				out = append(out, n)
			}
		}
		return out
	}
	return []int{5000, 50000}
}
