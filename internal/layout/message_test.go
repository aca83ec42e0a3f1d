package layout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

func sampleMessage() MessageData {
	return MessageData{
		ActivityID: "5f4b1c1e-8a0e-4a57-9e8a-0d3f7d2c9b11",
		TaskMessage: history.TaskMessage{
			Event: history.Event{Type: history.TaskCompleted, EventID: -1, Timestamp: t0, TaskScheduledID: 2,
				Result: `{"greeting":"Grüße <&>"}`},
			SequenceNumber:        4,
			OrchestrationInstance: history.OrchestrationInstance{InstanceID: "abc", ExecutionID: "e1"},
		},
		SequenceNumber: 17,
		Episode:        3,
		Sender:         "worker-1",
	}
}

func TestMessageRoundTripSmall(t *testing.T) {
	ctx := context.Background()
	for _, ev := range sampleEvents() {
		md := sampleMessage()
		md.TaskMessage.Event = ev
		text, err := EncodeMessage(ctx, nil, md)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(text, "{") {
			t.Fatalf("message is not JSON: %.40q", text)
		}
		got, err := DecodeMessage(ctx, nil, text)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, md) {
			t.Errorf("%s round trip:\n got %#v\nwant %#v", ev.Type, got, md)
		}
	}

	// Field names and the numeric event type.
	text, err := EncodeMessage(ctx, nil, sampleMessage())
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ActivityId", "TaskMessage", "SequenceNumber", "Episode", "Sender"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("field %s missing from %s", k, text)
		}
	}
	if _, ok := raw["CompressedBlobName"]; ok {
		t.Error("CompressedBlobName written for an inline message")
	}
	ev := raw["TaskMessage"].(map[string]any)["Event"].(map[string]any)
	if ev["EventType"] != 5.0 || ev["TaskScheduledId"] != 2.0 || ev["EventId"] != -1.0 {
		t.Errorf("event JSON = %v", ev)
	}
	if !strings.Contains(text, `Grüße <&>`) {
		t.Error("payload was HTML-escaped or re-encoded")
	}
}

func TestMessageActivityIDGenerated(t *testing.T) {
	md := sampleMessage()
	md.ActivityID = ""
	text, err := EncodeMessage(context.Background(), nil, md)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(context.Background(), nil, text)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(got.ActivityID) {
		t.Errorf("generated ActivityId = %q", got.ActivityID)
	}
}

func TestMessageRoundTripLarge(t *testing.T) {
	ctx := context.Background()
	blobs := newMemBlobs()
	md := sampleMessage()
	md.TaskMessage.Event = history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Big",
		Input:                 nonASCII(10 << 20),
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "abc", ExecutionID: "e1"}}
	text, err := EncodeMessage(ctx, blobs, md)
	if err != nil {
		t.Fatal(err)
	}
	wantName := "abc/message-5f4b1c1e-8a0e-4a57-9e8a-0d3f7d2c9b11-ExecutionStarted.json.gz"
	if want := `{"$type":"DurableTask.AzureStorage.MessageData","ActivityId":"5f4b1c1e-8a0e-4a57-9e8a-0d3f7d2c9b11","CompressedBlobName":"` + wantName + `"}`; text != want {
		t.Errorf("stub = %s\nwant %s", text, want)
	}
	if names := blobs.names(); len(names) != 1 || names[0] != wantName {
		t.Errorf("blobs = %v", names)
	}
	var inner MessageData
	if err := json.Unmarshal([]byte(gunzip(t, blobs.get(wantName))), &inner); err != nil || inner.TaskMessage.Event.Input != md.TaskMessage.Event.Input {
		t.Errorf("blob does not hold the gzip'd message JSON: %v", err)
	}
	got, err := DecodeMessage(ctx, blobs, text)
	if err != nil {
		t.Fatal(err)
	}
	if got.CompressedBlobName != wantName {
		t.Errorf("CompressedBlobName = %q, want %q", got.CompressedBlobName, wantName)
	}
	got.CompressedBlobName = ""
	if !reflect.DeepEqual(got, md) {
		t.Error("large message round trip differs")
	}
	// Re-encoding a message loaded from a blob decides afresh.
	got.TaskMessage.Event.Input = `"small"`
	got.CompressedBlobName = wantName
	if text, err := EncodeMessage(ctx, blobs, got); err != nil || strings.Contains(text, "CompressedBlobName") {
		t.Errorf("re-encoded small message = %.80s, %v", text, err)
	}
}

func TestMessageThreshold(t *testing.T) {
	ctx := context.Background()
	md := sampleMessage()
	md.TaskMessage.Event.Result = ""
	base, err := EncodeMessage(ctx, nil, md)
	if err != nil {
		t.Fatal(err)
	}
	// Result adds `,"Result":"..."` (12 bytes + the value) to the JSON.
	md.TaskMessage.Event.Result = strings.Repeat("x", MaxMessageBytes-len(base)-12)
	text, err := EncodeMessage(ctx, nil, md)
	if err != nil {
		t.Fatalf("message of exactly %d bytes: %v", MaxMessageBytes, err)
	}
	if len(text) != MaxMessageBytes {
		t.Fatalf("test setup: message is %d bytes", len(text))
	}
	md.TaskMessage.Event.Result += "x"
	blobs := newMemBlobs()
	if text, err = EncodeMessage(ctx, blobs, md); err != nil || !strings.Contains(text, "CompressedBlobName") {
		t.Errorf("message of %d bytes not offloaded: %v", MaxMessageBytes+1, err)
	}
	if _, err := EncodeMessage(ctx, nil, md); err == nil || !strings.Contains(err.Error(), "no BlobStore") {
		t.Errorf("large message without a BlobStore: %v", err)
	}
}

func TestDecodeMessageBase64(t *testing.T) {
	ctx := context.Background()
	md := sampleMessage()
	text, err := EncodeMessage(ctx, nil, md)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString([]byte(text)),
		base64.RawStdEncoding.EncodeToString([]byte(text)),
		"  " + base64.StdEncoding.EncodeToString([]byte("\uFEFF"+text)) + "\n",
	} {
		got, err := DecodeMessage(ctx, nil, enc)
		if err != nil {
			t.Fatalf("DecodeMessage(base64): %v", err)
		}
		if !reflect.DeepEqual(got, md) {
			t.Errorf("base64 round trip differs")
		}
	}
}

// dotNetMessage is a message as the .NET provider writes it: Newtonsoft
// with TypeNameHandling, so every object (dictionaries included) carries
// "$type", nulls are written, and EventType is a number.
const dotNetMessage = `{
  "$type": "DurableTask.AzureStorage.MessageData, DurableTask.AzureStorage",
  "ActivityId": "0c2e9d3c-6c2b-4e55-a6f1-0f1d3c3b6e21",
  "TaskMessage": {
    "$type": "DurableTask.Core.TaskMessage, DurableTask.Core",
    "Event": {
      "$type": "DurableTask.Core.History.ExecutionStartedEvent, DurableTask.Core",
      "OrchestrationInstance": {
        "$type": "DurableTask.Core.OrchestrationInstance, DurableTask.Core",
        "InstanceId": "34ce9a28a6834d8492ce6a295f1a80e2",
        "ExecutionId": "8c5f2d0e7a0b4a8f9b0e6f2c1d3a4b5c"
      },
      "EventType": 0,
      "ParentInstance": null,
      "Name": "HelloCities",
      "Version": "",
      "Input": "\"Tokyo\"",
      "Tags": {
        "$type": "System.Collections.Generic.Dictionary` + "`" + `2[[System.String, System.Private.CoreLib],[System.String, System.Private.CoreLib]], System.Private.CoreLib",
        "owner": "ops"
      },
      "Correlation": null,
      "ParentTraceContext": {"$type": "DurableTask.Core.Tracing.DistributedTraceContext, DurableTask.Core", "TraceParent": "00-abc-def-01"},
      "ScheduledStartTime": null,
      "Generation": 0,
      "EventId": -1,
      "IsPlayed": false,
      "Timestamp": "2024-03-01T10:20:30.1234567Z"
    },
    "SequenceNumber": 0,
    "OrchestrationInstance": {
      "$type": "DurableTask.Core.OrchestrationInstance, DurableTask.Core",
      "InstanceId": "34ce9a28a6834d8492ce6a295f1a80e2",
      "ExecutionId": "8c5f2d0e7a0b4a8f9b0e6f2c1d3a4b5c"
    }
  },
  "CompressedBlobName": null,
  "SequenceNumber": 1,
  "Episode": null,
  "Sender": {"$type": "DurableTask.AzureStorage.Sender", "InstanceId": "x"}
}`

func TestDecodeDotNetMessage(t *testing.T) {
	oi := history.OrchestrationInstance{InstanceID: "34ce9a28a6834d8492ce6a295f1a80e2", ExecutionID: "8c5f2d0e7a0b4a8f9b0e6f2c1d3a4b5c"}
	want := MessageData{
		ActivityID: "0c2e9d3c-6c2b-4e55-a6f1-0f1d3c3b6e21",
		TaskMessage: history.TaskMessage{
			Event: history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "HelloCities",
				Input: `"Tokyo"`, OrchestrationInstance: &oi, Tags: map[string]string{"owner": "ops"},
				// The trace context a .NET client put on the start is read, so the trace goes on.
				ParentTraceContext: &history.TraceContext{TraceParent: "00-abc-def-01"}},
			OrchestrationInstance: oi,
		},
		SequenceNumber: 1,
	}
	for _, text := range []string{dotNetMessage, base64.StdEncoding.EncodeToString([]byte(dotNetMessage))} {
		got, err := DecodeMessage(context.Background(), nil, text)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %#v\nwant %#v", got, want)
		}
	}

	// Other .NET forms: an enum as a number, a DateTime without offset, an
	// EventType by name.
	text := `{"ActivityId":"a","TaskMessage":{"Event":{"$type":"DurableTask.Core.History.ExecutionCompletedEvent, DurableTask.Core",
	  "EventType":1,"OrchestrationStatus":5,"Result":"\"bye\"","FailureDetails":null,"EventId":7,"IsPlayed":true,
	  "Timestamp":"2024-03-01T10:20:30.1234567"},"SequenceNumber":2,"OrchestrationInstance":{"InstanceId":"i","ExecutionId":"e"}},
	  "Sender":"s"}`
	got, err := DecodeMessage(context.Background(), nil, text)
	if err != nil {
		t.Fatal(err)
	}
	ev := got.TaskMessage.Event
	if ev.Type != history.ExecutionCompleted || ev.OrchestrationStatus != history.StatusTerminated || !ev.Timestamp.Equal(t0) ||
		ev.Result != `"bye"` || got.Sender != "s" || got.TaskMessage.SequenceNumber != 2 {
		t.Errorf("got %#v", got)
	}
	text = `{"TaskMessage":{"Event":{"EventType":"TimerFired","TimerId":3,"FireAt":"2024-03-01T12:20:30.1234567+02:00","OrchestrationStatus":"completed"},"OrchestrationInstance":{"InstanceId":"i"}}}`
	got, err = DecodeMessage(context.Background(), nil, text)
	if err != nil {
		t.Fatal(err)
	}
	if ev := got.TaskMessage.Event; ev.Type != history.TimerFired || ev.TimerID != 3 || ev.FireAt != t0 || ev.OrchestrationStatus != history.StatusCompleted {
		t.Errorf("got %#v", ev)
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	ctx := context.Background()
	blobs := newMemBlobs()
	if err := blobs.Upload(ctx, "nested", []byte(`{"CompressedBlobName":"other"}`)); err != nil {
		t.Fatal(err)
	}
	if err := blobs.Upload(ctx, "garbage", []byte{0x1f, 0x8b, 0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := blobs.Upload(ctx, "noinstance", []byte(`{"TaskMessage":{"Event":{"EventType":4}}}`)); err != nil {
		t.Fatal(err)
	}
	good := `{"TaskMessage":{"Event":{"EventType":4},"OrchestrationInstance":{"InstanceId":"i"}}}`
	if _, err := DecodeMessage(ctx, blobs, good); err != nil {
		t.Fatalf("minimal message rejected: %v", err)
	}
	cases := map[string]string{
		"":            "empty message body",
		" \n\t":       "empty message body",
		"not base64!": "neither JSON nor base64",
		base64.StdEncoding.EncodeToString([]byte("hello")): "does not decode to a JSON object",
		"{":                    "decode queue message",
		`{"ActivityId":5}`:     "decode queue message",
		`{} trailing`:          "decode queue message",
		`{"ActivityId":"a"}`:   "no TaskMessage event",
		`{"TaskMessage":null}`: "no TaskMessage event",
		`{"TaskMessage":{"OrchestrationInstance":{"InstanceId":"i"}}}`:                                                                 "no TaskMessage event",
		`{"TaskMessage":{"Event":{"EventType":4}}}`:                                                                                    "InstanceId is missing",
		`{"TaskMessage":{"Event":{"EventType":4},"OrchestrationInstance":{"InstanceId":""}}}`:                                          "InstanceId is missing",
		`{"TaskMessage":{"Event":{"Name":"x"},"OrchestrationInstance":{"InstanceId":"i"}}}`:                                            "no EventType",
		`{"TaskMessage":{"Event":{"EventType":99},"OrchestrationInstance":{"InstanceId":"i"}}}`:                                        "unknown event type 99",
		`{"TaskMessage":{"Event":{"EventType":"Nope"},"OrchestrationInstance":{"InstanceId":"i"}}}`:                                    "unknown history event type",
		`{"TaskMessage":{"Event":{"EventType":4,"Timestamp":"yesterday"},"OrchestrationInstance":{"InstanceId":"i"}}}`:                 "yesterday",
		`{"TaskMessage":{"Event":{"EventType":4,"Timestamp":"9999-12-31T23:00:00-05:00"},"OrchestrationInstance":{"InstanceId":"i"}}}`: "out of range",
		`{"TaskMessage":{"Event":{"EventType":1,"OrchestrationStatus":9},"OrchestrationInstance":{"InstanceId":"i"}}}`:                 "unknown orchestration status number 9",
		`{"TaskMessage":{"Event":{"EventType":1,"OrchestrationStatus":"Zombie"},"OrchestrationInstance":{"InstanceId":"i"}}}`:          "unknown runtime status",
		`{"TaskMessage":{"Event":{"EventType":4,"EventId":"one"},"OrchestrationInstance":{"InstanceId":"i"}}}`:                         "decode queue message",
		`{"ActivityId":"a","CompressedBlobName":"missing"}`:                                                                            "download blob missing",
		`{"ActivityId":"a","CompressedBlobName":"nested"}`:                                                                             "names another blob",
		`{"ActivityId":"a","CompressedBlobName":"garbage"}`:                                                                            "decompress blob garbage",
		`{"ActivityId":"a","CompressedBlobName":"noinstance"}`:                                                                         "InstanceId is missing",
	}
	for in, want := range cases {
		_, err := DecodeMessage(ctx, blobs, in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeMessage(%.60q) error = %v, want mention of %q", in, err, want)
		}
	}
	if _, err := DecodeMessage(ctx, nil, `{"CompressedBlobName":"x"}`); err == nil || !strings.Contains(err.Error(), "no BlobStore") {
		t.Errorf("stub without BlobStore: %v", err)
	}
}

func TestEncodeMessageErrors(t *testing.T) {
	ctx := context.Background()
	md := sampleMessage()
	md.TaskMessage.OrchestrationInstance.InstanceID = ""
	if _, err := EncodeMessage(ctx, nil, md); err == nil || !strings.Contains(err.Error(), "InstanceId is empty") {
		t.Errorf("no instance: %v", err)
	}
	md = sampleMessage()
	md.TaskMessage.Event.Type = 42
	if _, err := EncodeMessage(ctx, nil, md); err == nil || !strings.Contains(err.Error(), "unknown event type 42") ||
		!strings.Contains(err.Error(), `instance "abc"`) {
		t.Errorf("bad type: %v", err)
	}
	md = sampleMessage()
	md.TaskMessage.Event.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := EncodeMessage(ctx, nil, md); err == nil {
		t.Error("unencodable timestamp accepted")
	}
}

// FuzzDecodeMessage checks that DecodeMessage never panics and that every
// message it accepts survives an encode/decode round trip unchanged.
func FuzzDecodeMessage(f *testing.F) {
	ctx := context.Background()
	small, err := EncodeMessage(ctx, nil, sampleMessage())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		small,
		base64.StdEncoding.EncodeToString([]byte(small)),
		dotNetMessage,
		`{"TaskMessage":{"Event":{"EventType":4},"OrchestrationInstance":{"InstanceId":"i"}}}`,
		`{"TaskMessage":{"Event":{"EventType":"TimerFired","FireAt":"2024-03-01T12:20:30+02:00"},"OrchestrationInstance":{"InstanceId":"i"}}}`,
		`{"TaskMessage":{"Event":{"EventType":0,"Tags":{"$type":"x"}},"OrchestrationInstance":{"InstanceId":"i"}}}`,
		`{"ActivityId":"a","CompressedBlobName":"blob"}`,
		`{"TaskMessage":null}`,
		"", "{", "AAAA", "e30=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		blobs := newMemBlobs()
		_ = blobs.Upload(ctx, "blob", []byte(small))
		md, err := DecodeMessage(ctx, blobs, text)
		if err != nil {
			return
		}
		md.CompressedBlobName = ""
		again, err := EncodeMessage(ctx, blobs, md)
		if err != nil {
			t.Fatalf("accepted message %q does not re-encode: %v", text, err)
		}
		back, err := DecodeMessage(ctx, blobs, again)
		if err != nil {
			t.Fatalf("re-encoded message %q does not decode: %v", again, err)
		}
		back.CompressedBlobName = ""
		if md.ActivityID == "" {
			md.ActivityID = back.ActivityID // EncodeMessage fills it in
		}
		if !reflect.DeepEqual(back, md) {
			t.Fatalf("round trip of %q:\n got %#v\nwant %#v", text, back, md)
		}
	})
}

// A recursive terminate says so in the event's JSON, a field of its own
// that DTFx readers ignore; a plain one does not carry the field at all.
func TestRecursiveTerminateMessage(t *testing.T) {
	ctx := context.Background()
	for _, recursive := range []bool{true, false} {
		md := sampleMessage()
		md.TaskMessage.Event = history.Event{Type: history.ExecutionTerminated, EventID: -1, Timestamp: t0, Input: `"stop"`, Recursive: recursive}
		text, err := EncodeMessage(ctx, nil, md)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(text, `"Recursive":true`); has != recursive || strings.Contains(text, `"Recursive":false`) {
			t.Errorf("recursive=%v: message %s", recursive, text)
		}
		got, err := DecodeMessage(ctx, nil, text)
		if err != nil || got.TaskMessage.Event.Recursive != recursive {
			t.Errorf("recursive=%v: decoded %+v, %v", recursive, got.TaskMessage.Event, err)
		}
	}
}
