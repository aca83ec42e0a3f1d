package apijson

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

var t0 = time.Date(2018, 6, 4, 10, 46, 39, 123456700, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func TestStatusFieldOrderAndNulls(t *testing.T) {
	st := &client.Status{Name: "E1_HelloSequence", InstanceID: "abc", RuntimeStatus: history.StatusRunning,
		Input: json.RawMessage(`{"a":"<b>"}`), CreatedTime: t0, LastUpdatedTime: at(2).In(time.FixedZone("X", 3600))}
	got, err := Status(st, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"E1_HelloSequence","instanceId":"abc","runtimeStatus":"Running","input":{"a":"<b>"},` +
		`"customStatus":null,"output":null,"createdTime":"2018-06-04T10:46:39Z","lastUpdatedTime":"2018-06-04T10:46:41Z"}`
	if string(got) != want {
		t.Fatalf("status body\n got %s\nwant %s", got, want)
	}
}

func TestStatusInvalidStoredValueBecomesString(t *testing.T) {
	st := &client.Status{Name: "x", InstanceID: "i", RuntimeStatus: history.StatusTerminated,
		Output: json.RawMessage(`it was time`), CreatedTime: t0, LastUpdatedTime: t0}
	got, err := Status(st, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"output":"it was time"`) {
		t.Fatalf("output not rendered as a string: %s", got)
	}
}

func TestStatusHistoryOnlyWhenAsked(t *testing.T) {
	st := &client.Status{Name: "x", InstanceID: "i", RuntimeStatus: history.StatusCompleted, CreatedTime: t0, LastUpdatedTime: t0,
		History: []history.Event{{Type: history.ExecutionStarted, Name: "x", Timestamp: t0}}}
	without, _ := Status(st, StatusOptions{})
	if strings.Contains(string(without), "historyEvents") {
		t.Fatalf("historyEvents without ShowHistory: %s", without)
	}
	with, err := Status(st, StatusOptions{ShowHistory: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(with), `"historyEvents":[{"EventType":"ExecutionStarted","Timestamp":"2018-06-04T10:46:39.1234567Z","FunctionName":"x"}]}`) {
		t.Fatalf("historyEvents not last or wrong: %s", with)
	}
}

func sequence() []history.Event {
	return []history.Event{
		{Type: history.OrchestratorStarted, EventID: -1, Timestamp: at(0)},
		{Type: history.ExecutionStarted, EventID: -1, Timestamp: at(0), Name: "E1_HelloSequence", Input: `null`},
		{Type: history.TaskScheduled, EventID: 0, Timestamp: at(1), Name: "E1_SayHello", Input: `"Tokyo"`},
		{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: at(1)},
		{Type: history.OrchestratorStarted, EventID: -1, Timestamp: at(2)},
		{Type: history.TaskCompleted, EventID: -1, Timestamp: at(2), TaskScheduledID: 0, Result: `"Hello Tokyo!"`},
		{Type: history.TaskScheduled, EventID: 1, Timestamp: at(3), Name: "E1_SayHello", Input: `"Seattle"`},
		{Type: history.TaskFailed, EventID: -1, Timestamp: at(4), TaskScheduledID: 1, Reason: "boom", Details: "stack",
			FailureDetails: &history.FailureDetails{ErrorType: "error", ErrorMessage: "boom"}},
		{Type: history.TimerCreated, EventID: 2, Timestamp: at(5), FireAt: at(65)},
		{Type: history.TimerFired, EventID: -1, Timestamp: at(66), TimerID: 2, FireAt: at(65)},
		{Type: history.EventRaised, EventID: -1, Timestamp: at(67), Name: "Approval", Input: `true`},
		{Type: history.TaskScheduled, EventID: 3, Timestamp: at(68), Name: "Pending"},
		{Type: history.ExecutionCompleted, EventID: 4, Timestamp: at(69), OrchestrationStatus: history.StatusCompleted,
			Result: `["Hello Tokyo!"]`},
	}
}

func decode(t *testing.T, raw json.RawMessage) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("historyEvents is not a JSON array of objects: %v\n%s", err, raw)
	}
	return out
}

func TestHistoryEventsMergesAndFilters(t *testing.T) {
	raw, err := HistoryEvents(sequence(), false)
	if err != nil {
		t.Fatal(err)
	}
	evs := decode(t, raw)
	var types []string
	for _, e := range evs {
		types = append(types, e["EventType"].(string))
		for _, k := range []string{"EventId", "IsPlayed", "Input", "TaskScheduledId", "TimerId", "Result"} {
			if _, ok := e[k]; ok {
				t.Errorf("%s has %s: %v", e["EventType"], k, e)
			}
		}
	}
	want := "ExecutionStarted TaskCompleted TaskFailed TimerCreated TimerFired EventRaised TaskScheduled ExecutionCompleted"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("event types\n got %s\nwant %s", got, want)
	}
	if evs[0]["FunctionName"] != "E1_HelloSequence" {
		t.Errorf("ExecutionStarted FunctionName = %v", evs[0]["FunctionName"])
	}
	if evs[1]["FunctionName"] != "E1_SayHello" || evs[1]["ScheduledTime"] != "2018-06-04T10:46:40.1234567Z" {
		t.Errorf("TaskCompleted not merged: %v", evs[1])
	}
	if evs[2]["FunctionName"] != "E1_SayHello" || evs[2]["Reason"] != "boom" || evs[2]["FailureDetails"] == nil {
		t.Errorf("TaskFailed not merged: %v", evs[2])
	}
	if evs[6]["Name"] != "Pending" {
		t.Errorf("an unanswered TaskScheduled should stay with its Name: %v", evs[6])
	}
	if evs[7]["OrchestrationStatus"] != "Completed" {
		t.Errorf("ExecutionCompleted: %v", evs[7])
	}
}

func TestHistoryEventsResultOnlyWithOutput(t *testing.T) {
	raw, err := HistoryEvents(sequence(), true)
	if err != nil {
		t.Fatal(err)
	}
	evs := decode(t, raw)
	if evs[1]["Result"] != "Hello Tokyo!" {
		t.Errorf("TaskCompleted Result = %#v", evs[1]["Result"])
	}
	if _, ok := evs[2]["Result"]; ok {
		t.Errorf("TaskFailed has a Result: %v", evs[2])
	}
	if r, ok := evs[7]["Result"].([]any); !ok || len(r) != 1 {
		t.Errorf("ExecutionCompleted Result = %#v", evs[7]["Result"])
	}
}

func TestHistoryEventsRewoundDuplicateIDs(t *testing.T) {
	evs := []history.Event{
		{Type: history.ExecutionStarted, Timestamp: at(0), Name: "o"},
		{Type: history.GenericEvent, EventID: -1, Timestamp: at(1), Data: "Rewound: TaskScheduled"},
		{Type: history.GenericEvent, EventID: -1, Timestamp: at(2), Data: "Rewound: TaskFailed"},
		{Type: history.TaskScheduled, EventID: 0, Timestamp: at(3), Name: "again"},
		{Type: history.TaskCompleted, Timestamp: at(4), TaskScheduledID: 0, Result: `1`},
	}
	raw, err := HistoryEvents(evs, true)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, raw)
	if len(got) != 4 || got[3]["FunctionName"] != "again" || got[3]["Result"] != float64(1) {
		t.Fatalf("rewound history: %s", raw)
	}
	if got[1]["Data"] != "Rewound: TaskScheduled" {
		t.Fatalf("GenericEvent data lost: %s", raw)
	}
}

func TestHistoryEventsEmpty(t *testing.T) {
	raw, err := HistoryEvents(nil, false)
	if err != nil || string(raw) != "[]" {
		t.Fatalf("empty history = %s, %v", raw, err)
	}
}

func TestStatuses(t *testing.T) {
	raw, err := Statuses(nil)
	if err != nil || string(raw) != "[]" {
		t.Fatalf("empty list = %s, %v", raw, err)
	}
	raw, err = Statuses([]*client.Status{{InstanceID: "a", CreatedTime: t0, LastUpdatedTime: t0}, {InstanceID: "b", CreatedTime: t0, LastUpdatedTime: t0}})
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil || len(list) != 2 || list[1]["instanceId"] != "b" {
		t.Fatalf("list = %s, %v", raw, err)
	}
}
