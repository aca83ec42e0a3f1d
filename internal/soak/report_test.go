package soak

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// row is one line of a scenario's report: one seed's run.
type row struct {
	scenario   string
	seed       uint64
	verdict    verdict
	unanswered int // raises that got no HTTP answer
	stall      time.Duration
	kills      int
	notes      string // the scenario's own measurements
}

// report collects a scenario's rows from its seeds' subtests and logs them as one table
// when the scenario's test ends, pass or fail.
type report struct {
	mu   sync.Mutex
	rows []row
}

func newReport(t *testing.T) *report {
	r := &report{}
	t.Cleanup(func() { t.Log("report:\n" + r.table()) })
	return r
}

func (r *report) add(x row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
}

func (r *report) table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tseed\tinstances\tlost\twrong output\tduplicated effects\trow≠history\traises unanswered\tlongest stall\tkills\tnotes")
	for _, x := range r.rows {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", x.scenario, x.seed, x.verdict.instances, x.verdict.lost,
			x.verdict.wrong, x.verdict.dup, x.verdict.stale, x.unanswered, x.stall.Round(100*time.Millisecond), x.kills, x.notes)
	}
	w.Flush()
	return b.String()
}
