package client

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

func TestBatchInputValidation(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := []BatchRequest{
		{Operation: "explode"},
		{Operation: BatchRaiseEvent},
		{Operation: BatchRaiseEvent, EventName: " "},
		{Operation: BatchRaiseEvent, EventName: "E", EventData: []byte("{")},
		{Operation: BatchTerminate, EventName: "E"},
		{Operation: BatchSuspend, RestartWithNewInstanceID: true},
		{Operation: BatchPurge, Filter: Query{Statuses: []history.RuntimeStatus{history.StatusRunning}}},
		{Operation: BatchTerminate, Filter: Query{CreatedFrom: t0, CreatedTo: t0}},
		{Operation: BatchTerminate, Filter: Query{InstanceIDPrefix: "a/b"}},
		{Operation: BatchTerminate, BatchSize: MaxBatchSize + 1},
		{Operation: BatchTerminate, BatchSize: -1},
	}
	for _, r := range bad {
		if _, err := r.BatchInput(); !errors.Is(err, ErrBadArgument) {
			t.Errorf("%+v: %v, want a bad argument", r, err)
		}
	}
	in, err := BatchRequest{Operation: "RAISEEVENT", EventName: "E"}.BatchInput()
	if err != nil || in.Operation != BatchRaiseEvent || string(in.EventData) != "null" || in.BatchSize != DefaultBatchSize {
		t.Fatalf("%+v %v", in, err)
	}
}

func TestDefaultStatuses(t *testing.T) {
	for _, c := range []struct {
		op    BatchOperation
		newID bool
		want  []history.RuntimeStatus
	}{
		{BatchResume, false, []history.RuntimeStatus{history.StatusSuspended}},
		{BatchRewind, false, []history.RuntimeStatus{history.StatusFailed}},
		{BatchRestart, true, nil},
		{BatchRestart, false, []history.RuntimeStatus{history.StatusCompleted, history.StatusFailed, history.StatusTerminated, history.StatusCanceled}},
	} {
		in, err := BatchRequest{Operation: c.op, RestartWithNewInstanceID: c.newID}.BatchInput()
		if err != nil || !slices.Equal(in.Filter.RuntimeStatus, c.want) {
			t.Errorf("%s (new ID %v): %v %v, want %v", c.op, c.newID, in.Filter.RuntimeStatus, err, c.want)
		}
	}
	// A status the caller names wins.
	in, _ := BatchRequest{Operation: BatchTerminate, Filter: Query{Statuses: []history.RuntimeStatus{history.StatusCompleted}}}.BatchInput()
	if !slices.Equal(in.Filter.RuntimeStatus, []history.RuntimeStatus{history.StatusCompleted}) {
		t.Errorf("statuses %v", in.Filter.RuntimeStatus)
	}
}

func TestPinned(t *testing.T) {
	asOf := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if f := (BatchFilter{}).Pinned(asOf); !f.CreatedTimeTo.Equal(asOf) {
		t.Errorf("no end: %v", f.CreatedTimeTo)
	}
	if f := (BatchFilter{CreatedTimeTo: asOf.Add(time.Hour)}).Pinned(asOf); !f.CreatedTimeTo.Equal(asOf) {
		t.Errorf("later end: %v", f.CreatedTimeTo)
	}
	early := asOf.Add(-time.Hour)
	if f := (BatchFilter{CreatedTimeTo: early}).Pinned(asOf); !f.CreatedTimeTo.Equal(early) {
		t.Errorf("earlier end: %v", f.CreatedTimeTo)
	}
}

func TestBatchMessageIDs(t *testing.T) {
	asOf := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := BatchMessageID("b1", asOf, "x", BatchTerminate)
	if a != BatchMessageID("b1", asOf, "x", BatchTerminate) {
		t.Fatal("not deterministic")
	}
	seen := map[string]bool{a: true}
	for _, other := range []string{
		BatchMessageID("b2", asOf, "x", BatchTerminate),
		BatchMessageID("b1", asOf.Add(time.Nanosecond), "x", BatchTerminate),
		BatchMessageID("b1", asOf, "y", BatchTerminate),
		BatchMessageID("b1", asOf, "x", BatchSuspend),
		// No concatenation of parts may collide with another split.
		BatchMessageID("b1x", asOf, "", BatchTerminate),
	} {
		if seen[other] {
			t.Fatalf("collision: %s", other)
		}
		seen[other] = true
	}
	if len(a) != 36 {
		t.Fatalf("%q is not a GUID", a)
	}
}

func TestSummaryKeepsTheFirstErrors(t *testing.T) {
	var s BatchSummary
	for i := range 30 {
		r := BatchItemResult{InstanceID: fmt.Sprint(i)}
		if i%2 == 1 {
			r.Error = "no"
		}
		s.Add([]BatchItemResult{r, {InstanceID: "ok"}})
	}
	if s.Matched != 60 || s.Succeeded != 45 || s.Failed != 15 || len(s.Errors) != 15 {
		t.Fatalf("%+v", s)
	}
	for i := range 30 {
		s.Add([]BatchItemResult{{InstanceID: fmt.Sprint("late", i), Error: "no"}})
	}
	if len(s.Errors) != MaxBatchErrors || s.Errors[0].InstanceID != "1" || s.Failed != 45 {
		t.Fatalf("errors %d, first %+v, failed %d", len(s.Errors), s.Errors[0], s.Failed)
	}
}

func TestEventsHold(t *testing.T) {
	events := []history.Event{
		{Type: history.ExecutionStarted, AppliedMessageIDs: []string{"old"}},
		{Type: history.EventRaised, MessageID: "m"},
		{Type: history.GenericEvent, Data: "Rewound: ExecutionCompleted; " + rewindMarker("r")},
	}
	for _, id := range []string{"old", "m", "r"} {
		if !eventsHold(events, id) {
			t.Errorf("%s not found", id)
		}
	}
	if eventsHold(events, "other") {
		t.Error("found an ID that is not there")
	}
}

func TestCountsOfEqualVersionsAreOneRow(t *testing.T) {
	counts := func(running int) Counts { return Counts{history.StatusRunning: running} }
	got := mergeEqualVersions([]VersionCounts{
		{Name: "A", Version: "1.0", Counts: counts(1)},
		{Name: "A", Version: "01.0", Counts: counts(2)},
		{Name: "A", Version: "1.1", Counts: counts(4)},
		{Name: "B", Version: "1.1", Counts: counts(8)},
		{Name: "B", Version: "beta", Counts: counts(16)},
		{Name: "B", Version: "Beta", Counts: counts(32)},
	})
	want := []string{"A 1.0 3", "A 1.1 4", "B 1.1 8", "B beta 48"}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, g := range got {
		if s := fmt.Sprintf("%s %s %d", g.Name, g.Version, g.Counts[history.StatusRunning]); s != want[i] {
			t.Errorf("row %d: %s, want %s", i, s, want[i])
		}
	}
}
