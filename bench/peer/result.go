package main

// These types are a copy of bench/compare/internal/result in the project's
// module, which this module must not import (it would make each module
// depend on the other). Keep the JSON names in step with that file.

// Result holds one process's figures for the three workloads, durations in
// milliseconds.
type Result struct {
	System string   `json:"system"`
	Batch  Batch    `json:"batch"`
	FanOut FanOut   `json:"fanOut"`
	Idle   Idle     `json:"idle"`
	Notes  []string `json:"notes,omitempty"`
}

// Batch is N HelloCities5 started at once and waited for.
type Batch struct {
	N             int     `json:"n"`
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
