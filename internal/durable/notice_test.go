package durable

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// A finished child answers its parent's start sent again with the very
// message it sent when it finished: same target, same ID, same content.
func TestParentNoticeAgainRepeatsTheCompletion(t *testing.T) {
	reg := NewRegistry()
	reg.AddOrchestrator("Done", func(ctx *OrchestrationContext) (any, error) { return "ok", nil })
	reg.AddOrchestrator("Fails", func(ctx *OrchestrationContext) (any, error) { return nil, errors.New("boom") })
	reg.AddOrchestrator("Waits", func(ctx *OrchestrationContext) (any, error) {
		var v string
		err := ctx.WaitForExternalEvent("go").Await(&v)
		return v, err
	})
	parent := &history.ParentInstance{Name: "P", TaskScheduleID: 7,
		OrchestrationInstance: history.OrchestrationInstance{InstanceID: "p", ExecutionID: "pe"}}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	start := func(name string) history.Event {
		return history.Event{Type: history.ExecutionStarted, EventID: -1, Name: name, Timestamp: now, ParentInstance: parent,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "c", ExecutionID: "ce"}}
	}
	for _, name := range []string{"Done", "Fails"} {
		res := Execute(reg, Episode{InstanceID: "c", New: []history.Event{start(name)}, Now: now}, nil)
		if len(res.Outbound) != 1 {
			t.Fatalf("%s: %d outbound messages, want the notice", name, len(res.Outbound))
		}
		got, ok := ParentNoticeAgain("c", res.Appended)
		if !ok {
			t.Fatalf("%s: no notice rebuilt", name)
		}
		want := res.Outbound[0].Message
		if got.OrchestrationInstance != want.OrchestrationInstance || got.Event.MessageID != want.Event.MessageID ||
			got.Event.Type != want.Event.Type || got.Event.TaskScheduledID != 7 || got.Event.Result != want.Event.Result ||
			!reflect.DeepEqual(got.Event.FailureDetails, want.Event.FailureDetails) {
			t.Errorf("%s: rebuilt %+v, want %+v", name, got, want)
		}
	}
	// Unfinished, or without a parent: nothing to repeat.
	res := Execute(reg, Episode{InstanceID: "c", New: []history.Event{start("Waits")}, Now: now}, nil)
	if _, ok := ParentNoticeAgain("c", res.Appended); ok {
		t.Error("an unfinished child repeats a notice")
	}
	top := start("Done")
	top.ParentInstance = nil
	res = Execute(reg, Episode{InstanceID: "c", New: []history.Event{top}, Now: now}, nil)
	if _, ok := ParentNoticeAgain("c", res.Appended); ok {
		t.Error("an orchestration without a parent repeats a notice")
	}
}

// Every episode records the custom status it ended with, so recovery can
// tell from history whether the instance row shows it.
func TestEpisodesRecordTheirCustomStatus(t *testing.T) {
	reg := NewRegistry()
	reg.AddOrchestrator("Status", func(ctx *OrchestrationContext) (any, error) {
		ctx.SetCustomStatus(1)
		var v int
		if err := ctx.WaitForExternalEvent("go").Await(&v); err != nil {
			return nil, err
		}
		ctx.SetCustomStatus(v)
		return nil, ctx.WaitForExternalEvent("end").Await(nil)
	})
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	start := history.Event{Type: history.ExecutionStarted, EventID: -1, Name: "Status", Timestamp: now,
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "s", ExecutionID: "se"}}
	first := Execute(reg, Episode{InstanceID: "s", New: []history.Event{start}, Now: now}, nil)
	second := Execute(reg, Episode{InstanceID: "s", Past: first.Appended, Now: now.Add(time.Second),
		New: []history.Event{{Type: history.EventRaised, EventID: -1, Name: "go", Input: "5", Timestamp: now}}}, nil)
	for i, res := range []*Result{first, second} {
		last := res.Appended[len(res.Appended)-1]
		want := []string{"1", "5"}[i]
		if last.Type != history.OrchestratorCompleted || last.CustomStatus == nil || *last.CustomStatus != want {
			t.Errorf("episode %d ends with %v custom status %v, want OrchestratorCompleted with %s", i+1, last.Type, last.CustomStatus, want)
		}
	}
}
