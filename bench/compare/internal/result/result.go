// Package result is the record each benchmark process prints as one JSON
// line on stdout, and that bench/compare reads back. bench/peer writes the
// same fields from its own copy of these types (it is a separate module and
// must not import this one), so a field renamed here must be renamed there.
package result

import (
	"sort"
	"time"
)

// Result holds one process's figures for the three workloads. Durations
// are in milliseconds so that the JSON is readable as it stands.
type Result struct {
	System string `json:"system"`
	Batch  Batch  `json:"batch"`
	FanOut FanOut `json:"fanOut"`
	Idle   Idle   `json:"idle"`
	// Notes are free-form facts worth printing (request counts, logged
	// warnings), not compared.
	Notes []string `json:"notes,omitempty"`
}

// Batch is N HelloCities5 started at once and waited for.
type Batch struct {
	N int `json:"n"`
	// CallerMs runs from the first start call to the last completion the
	// callers saw; InstanceMs from the earliest created time to the latest
	// last-updated time recorded by the instances themselves.
	CallerMs      float64 `json:"callerMs"`
	InstanceMs    float64 `json:"instanceMs"`
	CallerP50Ms   float64 `json:"callerP50Ms"`
	CallerP99Ms   float64 `json:"callerP99Ms"`
	InstanceP50Ms float64 `json:"instanceP50Ms"`
	InstanceP99Ms float64 `json:"instanceP99Ms"`
}

// FanOut is one orchestration of N parallel activities.
type FanOut struct {
	N          int     `json:"n"`
	CallerMs   float64 `json:"callerMs"`
	InstanceMs float64 `json:"instanceMs"`
}

// Idle is one orchestration at a time after the app has idled.
type Idle struct {
	IdleMs     float64   `json:"idleMs"`
	CallerMs   []float64 `json:"callerMs"`
	InstanceMs []float64 `json:"instanceMs"`
}

// Ms converts d to fractional milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Percentile is the nearest-rank-below percentile bench/bench_test.go uses,
// so that both sides of the comparison round the same way.
func Percentile(d []float64, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1))]
}
