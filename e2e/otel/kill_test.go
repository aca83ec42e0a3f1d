package otel

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// handlerPID is the process ID of the handler the dev host started, from
// its "handler started" log line.
func (a *app) handlerPID() int {
	a.t.Helper()
	m := regexp.MustCompile(`handler started.*pid=(\d+)`).FindStringSubmatch(a.logs.String())
	if m == nil {
		a.t.Fatalf("no handler pid in the dev host's log:\n%s", a.logs.String())
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// TestTracesSurviveAKill kills the handler (SIGKILL) while orchestrations
// wait for events and others run, then starts a new app on the hub that
// takes the partitions over and finishes them. An orchestration that
// lived through the takeover has one orchestration span, in the caller's
// trace, from its start before the kill to its end after it; no span of
// any instance comes twice, and no instance's span lands in another
// trace.
//
// Spans that one process had committed but not yet exported when it was
// killed are lost (the batch exporter holds them up to 100 ms here): the
// instances that may have been mid-checkpoint at the kill are checked for
// "at most one", the ones that waited for an event for "exactly one".
func TestTracesSurviveAKill(t *testing.T) {
	grpcAddr, _, sink := startReceiver(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + grpcAddr, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_SERVICE_NAME": "otel-e2e-kill", "OTEL_BSP_SCHEDULE_DELAY": "100",
	}
	// A short lease, so that the new app takes the dead one's partitions
	// over within seconds.
	storage := map[string]any{"partitionLeaseDuration": "00:00:06", "partitionLeaseRenewInterval": "00:00:02"}
	hub := "OtelKill" + randomHex(t, 6)
	first := startAppOn(t, env, hub, storage)

	tp, traceID, callerID := caller(t)
	sfx := randomHex(t, 4)
	var waiting, busy []string
	for i := range 3 {
		id := fmt.Sprintf("appr-%d-%s", i, sfx)
		first.do(http.MethodPost, "/orchestrators/ApprovalWorkflow/"+id, "", tp, http.StatusAccepted)
		waiting = append(waiting, id)
	}
	for _, id := range waiting {
		first.waitStatus(id, "Running", 30*time.Second)
	}
	// Started all at once and killed as soon as they are accepted, most
	// are mid-way at the kill.
	for i := range 20 {
		busy = append(busy, fmt.Sprintf("hello-%d-%s", i, sfx))
	}
	var wg sync.WaitGroup
	for _, id := range busy {
		wg.Go(func() { first.do(http.MethodPost, "/orchestrators/HelloCities5/"+id, "", tp, http.StatusAccepted) })
	}
	wg.Wait()
	first.killed = true
	if err := syscall.Kill(first.handlerPID(), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the handler: %v", err)
	}
	killedAt := time.Now()
	first.stop()

	second := startAppOn(t, env, hub, storage)
	for _, id := range waiting {
		second.do(http.MethodPost, "/durabletask/instances/"+id+"/raiseEvent/Approval", `"yes"`, tp, http.StatusAccepted)
	}
	for _, id := range append(append([]string(nil), waiting...), busy...) {
		second.waitStatus(id, "Completed", 90*time.Second)
	}
	time.Sleep(2 * time.Second) // the exporter's batches are 100 ms apart: late or duplicate spans are in by now

	ours := map[string]bool{}
	for _, id := range append(append([]string(nil), waiting...), busy...) {
		ours[id] = true
	}
	var tr trace
	for _, s := range spansOf(sink) {
		if s.traceID == traceID {
			tr = append(tr, s)
		} else if ours[s.attrs["durabletask.task.instance_id"]] || ours[s.attrs["durabletask.event.target_instance_id"]] {
			t.Errorf("%s (%s) of %s is in trace %s, not the caller's %s", s.name, s.kind,
				s.attrs["durabletask.task.instance_id"], s.traceID, traceID)
		}
	}
	t.Logf("%d spans in the trace (with -v):\n%s", len(tr), tr)
	seen := map[string]bool{}
	for _, s := range tr {
		if seen[s.id] {
			t.Errorf("span %s (%s %s) comes twice", s.id, s.kind, s.name)
		}
		seen[s.id] = true
	}

	// The instances that waited through the kill: one orchestration span
	// each, begun by the first process and ended by the second.
	for _, id := range waiting {
		orch := tr.checkStart(t, "ApprovalWorkflow", id, callerID)
		want(t, orch, "durabletask.task.status", "Completed")
		if !orch.start.Before(killedAt) || !orch.end.After(killedAt) {
			t.Errorf("orchestration span of %s runs %s to %s, want it to span the kill at %s", id, orch.start, orch.end, killedAt)
		}
		tr.checkActivities(t, orch, "SaveToDatabase", 1, false)
	}

	// The instances that ran through the kill: at most one orchestration
	// span, and at most one client span per activity task.
	throughKill := 0
	for _, id := range busy {
		orchs := tr.all(func(s span) bool {
			return s.name == "orchestration:HelloCities5" && s.kind == "Server" && s.attrs["durabletask.task.instance_id"] == id
		})
		if len(orchs) > 1 {
			t.Errorf("%s: %d orchestration spans, want at most one", id, len(orchs))
		}
		if len(orchs) == 1 && orchs[0].end.After(killedAt) {
			throughKill++
		}
		tasks := map[string]int{}
		for _, s := range tr.all(func(s span) bool {
			return s.name == "activity:SayHello" && s.kind == "Client" && s.attrs["durabletask.task.instance_id"] == id
		}) {
			tasks[s.attrs["durabletask.task.task_id"]]++
		}
		for task, n := range tasks {
			if n > 1 {
				t.Errorf("%s task %s: %d activity client spans, want at most one", id, task, n)
			}
		}
	}
	t.Logf("%d of the %d started at the kill finished after it", throughKill, len(busy))
}
