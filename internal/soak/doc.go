// Package soak is the engine's fault-injection suite: it runs real handler processes
// against Azurite, kills them (SIGKILL and SIGTERM), freezes and restarts storage, scales
// the workers out and in, and then proves from storage alone that every instance completed
// exactly once with the right output and no duplicated effects in its history.
//
// The package has only tests. `go test ./internal/soak` runs the short size, which fits a
// plain `go test ./...` (about two minutes on two cores); `SOAK=full` runs the full size
// with several random seeds:
//
//	SOAK=full go test ./internal/soak -count=1 -timeout 60m -v
//
// Every scenario prints its seed; SOAK_SEED=<n> runs that seed alone. HANDLER_LOG_LEVEL sets
// the handlers' DURABLE_LOG_LEVEL, HANDLER_LOG_DUMP=<path prefix> writes the full log of
// every handler of a failed test, and KEEP_HUBS=1 keeps the task hubs for inspection.
//
// The version scenarios (versions_test.go) run several builds of one app on one hub, each a
// set of handler processes whose host.json sets its own defaultVersion and version
// strategies, as a rolling deploy does: which build runs which instance, what a rejected
// instance costs while it waits, a deploy gated by `durable replay-check`, and the kill
// loop with two versions.
//
// The scale suite (scale_test.go, `make scale`, SCALE=1) measures rather than proves: on
// hubs of many waiting instances it reports idle cost, query latencies and the takeover after
// a kill, and the cost per step of long chains and wide fan-outs. It runs the handler in
// ./scaleapp, the samples plus test-only orchestrators (Chain; Steps, for the version
// scenarios); SOAK=full runs a short version.
package soak
