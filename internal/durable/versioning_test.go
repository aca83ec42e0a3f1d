package durable

import (
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

func TestVersionIsSeenInheritedAndKept(t *testing.T) {
	reg := NewRegistry()
	var seen []string
	_ = reg.AddOrchestrator("Parent", func(ctx *OrchestrationContext) (any, error) {
		seen = append(seen, ctx.Version())
		var n int
		_ = ctx.GetInput(&n)
		ctx.CallSubOrchestrator("Child", nil)                                          // inherits
		ctx.CallSubOrchestrator("Child", nil, WithVersion("3.0"), WithInstanceID("c")) // names one
		if err := ctx.CallActivity("A", nil, WithVersion("1")).Await(nil); err == nil {
			t.Error("WithVersion on an activity was accepted")
		}
		switch n {
		case 0:
			return nil, ctx.ContinueAsNew(1) // keeps the version
		case 1:
			return nil, ctx.ContinueAsNew(2, WithNewVersion("2.0"))
		}
		return nil, nil
	})
	d := newDriver(t, reg, "Parent", 0)
	d.inbox[0].Version = "1.0"
	for i := 0; i < 3; i++ {
		res := d.episode()
		var kids []history.Event
		for _, o := range d.sent {
			kids = append(kids, o.Message.Event)
		}
		d.sent = nil
		want := []string{"1.0", "1.0", "2.0"}[i]
		if res.Version != want {
			t.Fatalf("execution %d: version %q, want %q", i, res.Version, want)
		}
		if len(kids) != 2 || kids[0].Version != want || kids[1].Version != "3.0" ||
			kids[0].ParentInstance.Version != want {
			t.Fatalf("execution %d: child starts %+v", i, kids)
		}
		for _, e := range res.Appended {
			if e.Type == history.SubOrchestrationInstanceCreated && e.Version != kids[e.EventID].Version {
				t.Fatalf("execution %d: created event %+v", i, e)
			}
		}
	}
	if got := seen[len(seen)-1]; got != "2.0" || seen[0] != "1.0" {
		t.Fatalf("ctx.Version() saw %v", seen)
	}
	// The next execution's ExecutionStarted records the version.
	found := false
	for _, e := range d.past {
		if e.Type == history.ExecutionStarted {
			found = e.Version == "2.0"
		}
	}
	if !found {
		t.Fatalf("last execution's ExecutionStarted lacks the version: %+v", d.past)
	}
}

func TestVersionPolicy(t *testing.T) {
	for _, tc := range []struct {
		match    VersionMatch
		worker   string
		instance string
		runs     bool
	}{
		{MatchNone, "1.0", "9.0", true},
		{MatchStrict, "1.0", "1.0", true},
		{MatchStrict, "1.0", "01.0", true},
		{MatchStrict, "1.0", "0.9", false},
		{MatchStrict, "1.0", "", false},
		{MatchCurrentOrOlder, "1.0", "0.9", true},
		{MatchCurrentOrOlder, "1.0", "", true},
		{MatchCurrentOrOlder, "1.0", "1.0", true},
		{MatchCurrentOrOlder, "1.0", "1.1", false},
		{"", "2", "10", false}, // the default is CurrentOrOlder; numeric
	} {
		p := &VersionPolicy{Version: tc.worker, Match: tc.match}
		if err := p.Check("Flow", tc.instance); (err == nil) != tc.runs {
			t.Errorf("%s worker %q, instance %q: %v, want runs=%v", tc.match, tc.worker, tc.instance, err, tc.runs)
		}
	}
	if (*VersionPolicy)(nil).Check("Flow", "7") != nil {
		t.Error("a nil policy refused")
	}
}

func TestVersionPolicyRejectsOrFails(t *testing.T) {
	reg := newTestRegistry(t)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Sequence", Version: "2.0",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "i", ExecutionID: "e"}}
	ep := Episode{InstanceID: "i", New: []history.Event{start}, Now: time.Now(),
		Versions: &VersionPolicy{Version: "1.0", Match: MatchCurrentOrOlder, Failure: FailureReject}}
	res := Execute(reg, ep, nil)
	if res.Rejected == nil || len(res.Appended) != 0 || len(res.Outbound) != 0 {
		t.Fatalf("reject: %+v", res)
	}
	ep.Versions.Failure = FailureFail
	res = Execute(reg, ep, nil)
	if res.Status != history.StatusFailed || res.Failure.ErrorType != "VersionMismatch" ||
		!strings.Contains(res.Failure.ErrorMessage, `version "2.0"`) || !strings.Contains(res.Failure.ErrorMessage, `version "1.0"`) {
		t.Fatalf("fail: %+v %+v", res.Status, res.Failure)
	}
	ep.Versions.Version = "2.0"
	if res := Execute(reg, ep, nil); res.Rejected != nil || res.Status != history.StatusRunning {
		t.Fatalf("compatible: %+v", res)
	}
}
