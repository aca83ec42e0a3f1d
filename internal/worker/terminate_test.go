package worker

import (
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// A recursive terminate from a parent can reach a child that finished
// meanwhile: the child's episode drops it without replaying, so its status
// and output stay as they were and nothing is sent on.
func TestFinishedInstanceDropsATerminate(t *testing.T) {
	term := history.Event{Type: history.ExecutionTerminated, EventID: -1, Input: `"stop"`, Recursive: true, MessageID: "m"}
	for _, status := range []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed, history.StatusTerminated} {
		sn := &snapshot{executionID: "e1", events: []history.Event{
			{Type: history.ExecutionStarted, EventID: -1, OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: "e1"}},
			{Type: history.ExecutionCompleted, EventID: -1, OrchestrationStatus: status},
			{Type: history.OrchestratorCompleted, EventID: -1},
		}}
		if !sn.done() {
			t.Fatalf("%s: snapshot not done", status)
		}
		if left := restartEvents(sn, []history.Event{term, term}); len(left) != 0 {
			t.Errorf("%s: %d events kept for a finished instance, want none", status, len(left))
		}
	}
}
