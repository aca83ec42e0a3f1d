package layout

import (
	"context"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

func TestBlobURLPathEscapesLikeUriEscapeDataString(t *testing.T) {
	for in, want := range map[string]string{
		"abc/history-0001.json.gz": "abc/history-0001.json.gz",
		"a b^c/x~y_z":              "a%20b%5Ec/x~y_z",
		"東京/v":                     "%E6%9D%B1%E4%BA%AC/v",
		"q?#%+&=:@!*'()":           "q%3F%23%25%2B%26%3D%3A%40%21%2A%27%28%29",
	} {
		if got := BlobURLPath(in); got != want {
			t.Errorf("BlobURLPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueueMessagesCarryDotNetTypesFirst(t *testing.T) {
	fd := &history.FailureDetails{ErrorType: "E", ErrorMessage: "m", InnerFailure: &history.FailureDetails{ErrorType: "I"},
		IsNonRetriable: true, Properties: map[string]any{"sku": "A-1", "n": 2, "nested": map[string]any{"k": "v"}}}
	md := MessageData{ActivityID: "a", TaskMessage: history.TaskMessage{
		OrchestrationInstance: history.OrchestrationInstance{InstanceID: "p", ExecutionID: "e"},
		Event:                 history.Event{Type: history.SubOrchestrationInstanceFailed, EventID: -1, TaskScheduledID: 3, FailureDetails: fd}}}
	text, err := EncodeMessage(context.Background(), nil, md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"$type":"DurableTask.AzureStorage.MessageData","ActivityId":"a",`,
		`"TaskMessage":{"$type":"DurableTask.Core.TaskMessage","Event":{"$type":"DurableTask.Core.History.SubOrchestrationInstanceFailedEvent",`,
		`"FailureDetails":{"$type":"DurableTask.Core.FailureDetails","ErrorType":"E",`,
		`"InnerFailure":{"$type":"DurableTask.Core.FailureDetails","ErrorType":"I"`,
		// Properties are written as plain JSON objects, without $type
		// (see the README's note on .NET readers).
		`"IsNonRetriable":true,"Properties":{"n":2,"nested":{"k":"v"},"sku":"A-1"}`,
		`"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance","InstanceId":"p"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %s:\n%s", want, text)
		}
	}
	back, err := DecodeMessage(context.Background(), nil, text)
	if err != nil || back.TaskMessage.Event.FailureDetails.InnerFailure.ErrorType != "I" ||
		back.TaskMessage.Event.FailureDetails.Properties["sku"] != "A-1" || !back.TaskMessage.Event.FailureDetails.IsNonRetriable {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if DotNetEventType(history.GenericEvent) != "DurableTask.Core.History.GenericEvent" ||
		DotNetEventType(history.EventRaised) != "DurableTask.Core.History.EventRaisedEvent" {
		t.Fatal("event class names")
	}
}
