package history

import "testing"

func TestEventTypeNamesRoundTrip(t *testing.T) {
	// The numbers are the Durable Task Framework's; the names are what the
	// History table's EventType column holds.
	want := map[EventType]string{ExecutionStarted: "ExecutionStarted", TaskScheduled: "TaskScheduled",
		TimerFired: "TimerFired", EventRaised: "EventRaised", ContinueAsNew: "ContinueAsNew",
		GenericEvent: "GenericEvent", ExecutionResumed: "ExecutionResumed"}
	for typ, name := range want {
		if typ.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(typ), typ.String(), name)
		}
	}
	for typ := ExecutionStarted; typ <= ExecutionResumed; typ++ {
		back, err := ParseEventType(typ.String())
		if err != nil || back != typ {
			t.Errorf("ParseEventType(%q) = %v, %v", typ.String(), back, err)
		}
	}
	if _, err := ParseEventType("Nope"); err == nil {
		t.Error("an unknown name parsed")
	}
	if EventType(99).String() != "EventType(99)" {
		t.Errorf("unknown type prints %q", EventType(99).String())
	}
}

func TestRuntimeStatuses(t *testing.T) {
	for _, in := range []string{"completed", "COMPLETED", "Completed"} {
		if s, err := ParseRuntimeStatus(in); err != nil || s != StatusCompleted {
			t.Errorf("ParseRuntimeStatus(%q) = %v, %v", in, s, err)
		}
	}
	if _, err := ParseRuntimeStatus("Done"); err == nil {
		t.Error("an unknown status parsed")
	}
	terminal := map[RuntimeStatus]bool{StatusCompleted: true, StatusFailed: true, StatusTerminated: true, StatusCanceled: true}
	for _, s := range AllStatuses() {
		if s.IsTerminal() != terminal[s] || !s.IsKnown() {
			t.Errorf("%s: terminal %v known %v", s, s.IsTerminal(), s.IsKnown())
		}
	}
	all := AllStatuses()
	all[0] = "Mutated"
	if AllStatuses()[0] != StatusPending {
		t.Error("AllStatuses shares its backing array")
	}
}
