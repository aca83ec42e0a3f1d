package replaycheck

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// history of an instance whose code called activity "A" first.
func historyCalling(id, version, activity string) []history.Event {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []history.Event{
		{Type: history.OrchestratorStarted, EventID: -1, Timestamp: t0},
		{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Flow", Version: version,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: id, ExecutionID: "e-" + id}},
		{Type: history.TaskScheduled, EventID: 0, Timestamp: t0, Name: activity},
		{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: t0},
	}
}

func TestServeReportsPerOrchestratorAndVersion(t *testing.T) {
	reg := durable.NewRegistry()
	if err := reg.AddOrchestrator("Flow", func(ctx *durable.OrchestrationContext) (any, error) {
		return nil, ctx.CallActivity("A", nil).Await(nil)
	}); err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, inst := range []Instance{
		{InstanceID: "ok-1", Events: historyCalling("ok-1", "2", "A")},
		{InstanceID: "bad-1", Events: historyCalling("bad-1", "10", "B")},
		{InstanceID: "ok-2", Events: historyCalling("ok-2", "", "A")},
		{InstanceID: "pending"},
		{InstanceID: "other", Name: "Gone", Events: func() []history.Event {
			evs := historyCalling("other", "", "A")
			evs[1].Name = "Gone"
			return evs
		}()},
	} {
		if err := enc.Encode(inst); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := Serve(reg, &in, &out); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// Sorted by name, then version as CompareVersions orders them: 2 < 10.
	var got []string
	for _, g := range rep.Groups {
		got = append(got, g.Name+"@"+g.Version)
	}
	if strings.Join(got, " ") != "Flow@ Flow@2 Flow@10 Gone@" || rep.NotStarted != 1 || rep.Checked() != 4 || rep.Failed() != 2 {
		t.Fatalf("report %+v", rep)
	}
	bad := rep.Groups[2].Failures[0]
	if bad.InstanceID != "bad-1" || !bad.NonDeterministic || !strings.Contains(bad.Error, `TaskScheduled #0 ("B")`) {
		t.Fatalf("failure %+v", bad)
	}
	if gone := rep.Groups[3].Failures[0]; gone.NonDeterministic || !strings.Contains(gone.Error, "not registered") {
		t.Fatalf("unregistered orchestrator: %+v", gone)
	}
	var text strings.Builder
	if err := rep.Write(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL bad-1 (Flow, version 10) diverges", "FAIL other (Gone, version -) cannot replay",
		"1 instance(s) not started yet", "2 of 4 instance(s) do not replay"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}
