package layout

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// t0 has 100 ns precision, what the Table service keeps.
var t0 = time.Date(2024, 3, 1, 10, 20, 30, 123456700, time.UTC)

func ptr[T any](v T) *T { return &v }

// sampleEvents returns one well-formed event of every type.
func sampleEvents() []history.Event {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	fd := &history.FailureDetails{ErrorType: "System.Exception", ErrorMessage: "boom", StackTrace: "at X()",
		InnerFailure: &history.FailureDetails{ErrorType: "Inner", ErrorMessage: "cause"}, IsNonRetriable: true,
		Properties: map[string]any{"sku": "A-1", "retry": false}}
	return []history.Event{
		{Type: history.ExecutionStarted, EventID: -1, Timestamp: at(0), Name: "Hello", Version: "1.0", Input: `{"city":"Tōkyō"}`,
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "abc", ExecutionID: "e1"},
			ParentInstance: &history.ParentInstance{Name: "Parent", Version: "2", TaskScheduleID: 4,
				OrchestrationInstance: history.OrchestrationInstance{InstanceID: "p", ExecutionID: "pe"}},
			Tags: map[string]string{"team": "a", "env": "<prod>"}, ScheduledStartTime: ptr(at(60)), Generation: 2},
		{Type: history.ExecutionCompleted, EventID: 9, Timestamp: at(1), OrchestrationStatus: history.StatusCompleted, Result: `"done"`},
		{Type: history.ExecutionFailed, EventID: 9, Timestamp: at(2), OrchestrationStatus: history.StatusFailed, FailureDetails: fd},
		{Type: history.ExecutionTerminated, EventID: -1, Timestamp: at(3), Input: `"stop"`, Recursive: true},
		{Type: history.TaskScheduled, EventID: 0, Timestamp: at(4), Name: "Act", Version: "v", Input: `[1,2]`},
		{Type: history.TaskCompleted, EventID: -1, Timestamp: at(5), TaskScheduledID: 0, Result: `42`},
		{Type: history.TaskFailed, EventID: -1, Timestamp: at(6), TaskScheduledID: 3, Reason: "boom", Details: "trace", FailureDetails: fd},
		{Type: history.SubOrchestrationInstanceCreated, EventID: 1, Timestamp: at(7), Name: "Sub", Version: "3", InstanceID: "abc:0001", Input: `null`},
		{Type: history.SubOrchestrationInstanceCompleted, EventID: -1, Timestamp: at(8), TaskScheduledID: 1, Result: `{"ok":true}`},
		{Type: history.SubOrchestrationInstanceFailed, EventID: -1, Timestamp: at(9), TaskScheduledID: 1, Reason: "sub failed", FailureDetails: fd},
		{Type: history.TimerCreated, EventID: 2, Timestamp: at(10), FireAt: at(3600)},
		{Type: history.TimerFired, EventID: -1, Timestamp: at(11), TimerID: 0, FireAt: at(3600)},
		{Type: history.OrchestratorStarted, EventID: -1, Timestamp: at(12)},
		{Type: history.OrchestratorCompleted, EventID: -1, Timestamp: at(13), IsPlayed: true},
		{Type: history.EventSent, EventID: 5, Timestamp: at(14), InstanceID: "other", Name: "Approve", Input: `true`},
		{Type: history.EventRaised, EventID: -1, Timestamp: at(15), Name: "Approve", Input: `true`, IsPlayed: true},
		{Type: history.ContinueAsNew, EventID: 6, Timestamp: at(16), OrchestrationStatus: history.StatusContinuedAsNew, Result: `{"n":2}`},
		{Type: history.GenericEvent, EventID: -1, Timestamp: at(17), Data: "Rewound: TaskFailed"},
		{Type: history.HistoryState, EventID: -1, Timestamp: at(18)},
		{Type: history.ExecutionSuspended, EventID: -1, Timestamp: at(19), Reason: "maintenance"},
		{Type: history.ExecutionResumed, EventID: -1, Timestamp: at(20)},
	}
}

// wire sends an entity through the JSON the Table service receives and
// returns it as the service would (the service echoes the properties, adds
// metadata and keeps annotations).
func wire(t *testing.T, e Entity) Entity {
	t.Helper()
	data, err := e.JSON()
	if err != nil {
		t.Fatalf("JSON(): %v", err)
	}
	back, err := ParseEntity(data)
	if err != nil {
		t.Fatalf("ParseEntity(%s): %v", data, err)
	}
	back["odata.etag"] = `W/"datetime'x'"`
	back["Timestamp"] = t0
	return back
}

func TestHistoryRowRoundTripEveryEventType(t *testing.T) {
	ctx := context.Background()
	events := sampleEvents()
	seen := map[history.EventType]bool{}
	for i, ev := range events {
		seen[ev.Type] = true
		t.Run(ev.Type.String(), func(t *testing.T) {
			blobs := newMemBlobs()
			seq := i * 7
			e, err := EncodeHistoryRow(ctx, blobs, "a/b^c", "exec1", seq, ev)
			if err != nil {
				t.Fatal(err)
			}
			if e["PartitionKey"] != "a^0b^^c" || e["RowKey"] != RowKey(seq) || e["EventType"] != ev.Type.String() ||
				e["ExecutionId"] != "exec1" || e["_Timestamp"] != ev.Timestamp {
				t.Errorf("base columns wrong: %v", e)
			}
			for k, v := range e {
				if v == "" && k != "RowKey" {
					t.Errorf("empty string column %s written", k)
				}
			}
			gotSeq, gotExec, got, err := DecodeHistoryRow(ctx, blobs, wire(t, e))
			if err != nil {
				t.Fatal(err)
			}
			if gotSeq != seq || gotExec != "exec1" {
				t.Errorf("seq, execution = %d, %q", gotSeq, gotExec)
			}
			if !reflect.DeepEqual(got, ev) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, ev)
			}
			if n := len(blobs.names()); n != 0 {
				t.Errorf("%d blobs written for a small event", n)
			}
		})
	}
	for ty := history.ExecutionStarted; ty <= history.ExecutionResumed; ty++ {
		if !seen[ty] {
			t.Errorf("no sample event of type %s", ty)
		}
	}
}

func TestHistoryRowColumns(t *testing.T) {
	ctx := context.Background()
	ev := sampleEvents()[0]
	e, err := EncodeHistoryRow(ctx, nil, "abc", "e1", 0, ev)
	if err != nil {
		t.Fatal(err)
	}
	want := Entity{
		"PartitionKey":          "abc",
		"RowKey":                "0000000000000000",
		"ExecutionId":           "e1",
		"EventId":               -1,
		"IsPlayed":              false,
		"_Timestamp":            t0,
		"EventType":             "ExecutionStarted",
		"OrchestrationInstance": `{"InstanceId":"abc","ExecutionId":"e1"}`,
		"ParentInstance":        `{"Name":"Parent","Version":"2","TaskScheduleId":4,"OrchestrationInstance":{"InstanceId":"p","ExecutionId":"pe"}}`,
		"Name":                  "Hello",
		"Version":               "1.0",
		"Input":                 `{"city":"Tōkyō"}`,
		"Tags":                  `{"env":"<prod>","team":"a"}`,
		"ScheduledStartTime":    t0.Add(time.Minute),
		"Generation":            2,
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("ExecutionStarted row =\n%#v\nwant\n%#v", e, want)
	}

	// TaskScheduledId 0 is meaningful and must be written; optional
	// strings that are empty must not.
	e, err = EncodeHistoryRow(ctx, nil, "abc", "e1", 1, history.Event{Type: history.TaskCompleted, Timestamp: t0})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := e["TaskScheduledId"]; !ok || v != 0 {
		t.Errorf("TaskScheduledId = %v, %v", v, ok)
	}
	if _, ok := e["Result"]; ok {
		t.Error("empty Result written")
	}

	e, err = EncodeHistoryRow(ctx, nil, "abc", "e1", 2, sampleEvents()[6])
	if err != nil {
		t.Fatal(err)
	}
	if fd := e["FailureDetails"]; fd != `{"ErrorType":"System.Exception","ErrorMessage":"boom","StackTrace":"at X()","InnerFailure":{"ErrorType":"Inner","ErrorMessage":"cause"},"IsNonRetriable":true,"Properties":{"retry":false,"sku":"A-1"}}` {
		t.Errorf("FailureDetails = %v", fd)
	}
}

func gunzip(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("blob is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// nonASCII returns JSON text of about n bytes mixing 1- to 4-byte UTF-8.
func nonASCII(n int) string {
	const unit = "Grüße aus Köln – 東京 😀 "
	return `"` + strings.Repeat(unit, n/len(unit)+1) + `"`
}

func TestHistoryRowOffload(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{100_000, 1_000_000} {
		blobs := newMemBlobs()
		big := nonASCII(size)
		ev := history.Event{Type: history.TaskFailed, EventID: -1, Timestamp: t0, TaskScheduledID: 3,
			Reason: "short", Details: big,
			FailureDetails: &history.FailureDetails{ErrorType: "E", ErrorMessage: big}}
		e, err := EncodeHistoryRow(ctx, blobs, "inst?1", "e1", 26, ev)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`^inst\^31/history-000000000000001A-TaskFailed-[0-9a-f]{8}-(Details|FailureDetails)\.json\.gz$`)
		for _, col := range []string{"Details", "FailureDetails"} {
			if e[col] != "" {
				t.Errorf("%s column = %.40q..., want \"\"", col, e[col])
			}
			name, _ := e[col+"BlobName"].(string)
			if m := re.FindStringSubmatch(name); m == nil || m[1] != col {
				t.Errorf("%sBlobName = %q", col, name)
			}
		}
		if e["Reason"] != "short" {
			t.Error("small value was moved")
		}
		if _, ok := e["ReasonBlobName"]; ok {
			t.Error("ReasonBlobName written for a small value")
		}
		if got := gunzip(t, blobs.get(e["DetailsBlobName"].(string))); got != big {
			t.Error("Details blob content differs")
		}
		if len(blobs.names()) != 2 {
			t.Errorf("blobs = %v", blobs.names())
		}
		data, err := e.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 64*1024 {
			t.Errorf("encoded row is %d bytes", len(data))
		}
		seq, _, got, err := DecodeHistoryRow(ctx, blobs, wire(t, e))
		if err != nil {
			t.Fatal(err)
		}
		if seq != 26 || !reflect.DeepEqual(got, ev) {
			t.Errorf("size %d: round trip differs", size)
		}
	}
}

func TestTableValueThreshold(t *testing.T) {
	// 30,720 UTF-16 units are exactly 61,440 bytes: kept. One more: moved.
	if tableValueTooLarge(strings.Repeat("a", 30720)) {
		t.Error("30,720 ASCII characters offloaded")
	}
	if !tableValueTooLarge(strings.Repeat("a", 30721)) {
		t.Error("30,721 ASCII characters kept")
	}
	// 'é' is 2 bytes in UTF-8 but one UTF-16 unit; '😀' is 4 and two.
	if tableValueTooLarge(strings.Repeat("é", 30720)) || !tableValueTooLarge(strings.Repeat("é", 30721)) {
		t.Error("threshold wrong for 2-byte characters")
	}
	if tableValueTooLarge(strings.Repeat("😀", 15360)) || !tableValueTooLarge(strings.Repeat("😀", 15360)+"a") {
		t.Error("threshold wrong for surrogate pairs")
	}

	blobs := newMemBlobs()
	ev := history.Event{Type: history.EventRaised, Timestamp: t0, Name: "n", Input: strings.Repeat("x", 30720)}
	e, err := EncodeHistoryRow(context.Background(), blobs, "i", "e", 1, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs.names()) != 0 || e["Input"] != ev.Input {
		t.Error("value at the limit was offloaded")
	}
}

func TestHistoryRowErrors(t *testing.T) {
	ctx := context.Background()
	big := history.Event{Type: history.EventRaised, Timestamp: t0, Input: strings.Repeat("x", 70000)}
	cases := []struct {
		name  string
		blobs BlobStore
		id    string
		seq   int
		ev    history.Event
		want  string
	}{
		{"empty id", nil, "", 0, sampleEvents()[0], "empty instance ID"},
		{"negative seq", nil, "i", -1, sampleEvents()[0], "negative sequence number"},
		{"no execution", nil, "i", 0, sampleEvents()[0], "empty execution ID"},
		{"unknown type", nil, "i", 0, history.Event{Type: 99, Timestamp: t0}, "unknown event type 99"},
		{"zero time", nil, "i", 3, history.Event{Type: history.OrchestratorStarted}, "property _Timestamp"},
		{"zero fire", nil, "i", 3, history.Event{Type: history.TimerCreated, Timestamp: t0}, "property FireAt"},
		{"big id", nil, "i", 3, history.Event{Type: history.OrchestratorStarted, Timestamp: t0, EventID: 1 << 40}, "property EventId"},
		{"no blob store", nil, "i", 3, big, "no BlobStore"},
		{"upload fails", &memBlobs{blobs: map[string][]byte{}, failUpload: errors.New("503")}, "i", 3, big, "503"},
	}
	for _, c := range cases {
		exec := "e"
		if c.name == "no execution" {
			exec = ""
		}
		_, err := EncodeHistoryRow(ctx, c.blobs, c.id, exec, c.seq, c.ev)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want mention of %q", c.name, err, c.want)
			continue
		}
		if c.id != "" && c.seq >= 0 && !strings.Contains(err.Error(), `instance "i"`) {
			t.Errorf("%s: error %q does not name the instance", c.name, err)
		}
	}
}

func TestDecodeHistoryRowErrors(t *testing.T) {
	ctx := context.Background()
	base := func() Entity {
		return Entity{"PartitionKey": "p", "RowKey": "0000000000000001", "EventType": "TaskCompleted",
			"ExecutionId": "e", "EventId": int32(1), "_Timestamp": t0}
	}
	with := func(k string, v any) Entity {
		e := base()
		if v == nil {
			delete(e, k)
		} else {
			e[k] = v
		}
		return e
	}
	cases := []struct {
		e    Entity
		want string
	}{
		{with("RowKey", "sentinel"), "sentinel row"},
		{with("RowKey", "xyz"), "row key"},
		{with("EventType", nil), "EventType is missing"},
		{with("EventType", "Nope"), "unknown history event type"},
		{with("EventId", "one"), "property EventId"},
		{with("IsPlayed", "yes"), "property IsPlayed"},
		{with("_Timestamp", 5), "property _Timestamp"},
		{with("FailureDetails", "{not json"), "property FailureDetails"},
		{with("Tags", "[1]"), "property Tags"},
		{with("OrchestrationStatus", "Weird"), "property OrchestrationStatus"},
		{with("OrchestrationStatus", int32(42)), "unknown orchestration status number 42"},
		{with("ResultBlobName", "p/missing.json.gz"), "load property Result"},
	}
	for _, c := range cases {
		_, _, _, err := DecodeHistoryRow(ctx, newMemBlobs(), c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeHistoryRow(%v) error %v, want mention of %q", c.e, err, c.want)
		} else if !strings.Contains(err.Error(), `partition "p"`) {
			t.Errorf("error %q does not name the partition", err)
		}
	}
	if _, _, _, err := DecodeHistoryRow(ctx, nil, with("ResultBlobName", "x")); err == nil || !strings.Contains(err.Error(), "no BlobStore") {
		t.Errorf("nil blobs: %v", err)
	}
}

// A row as the .NET provider writes it, with columns this package does not
// use and an enum stored as its name.
func TestDecodeDotNetHistoryRow(t *testing.T) {
	row := `{
	  "odata.etag":"W/\"x\"","PartitionKey":"abc","RowKey":"0000000000000000",
	  "Timestamp":"2024-03-01T10:20:31.5Z","Timestamp@odata.type":"Edm.DateTime",
	  "ExecutionId":"9b1f","EventId":-1,"IsPlayed":false,
	  "_Timestamp":"2024-03-01T10:20:30.1234567Z","_Timestamp@odata.type":"Edm.DateTime",
	  "EventType":"ExecutionStarted","Name":"HelloCities","Version":"","Input":"null",
	  "OrchestrationInstance":"{\"$type\":\"DurableTask.Core.OrchestrationInstance, DurableTask.Core\",\"InstanceId\":\"abc\",\"ExecutionId\":\"9b1f\"}",
	  "Tags":"{\"$type\":\"System.Collections.Generic.Dictionary\",\"k\":\"v\"}",
	  "Correlation":"{}","Generation":0,
	  "ScheduledStartTime":"2024-03-01T11:00:00Z","ScheduledStartTime@odata.type":"Edm.DateTime"
	}`
	e, err := ParseEntity([]byte(row))
	if err != nil {
		t.Fatal(err)
	}
	seq, exec, ev, err := DecodeHistoryRow(context.Background(), nil, e)
	if err != nil {
		t.Fatal(err)
	}
	want := history.Event{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "HelloCities", Input: "null",
		OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "abc", ExecutionID: "9b1f"},
		Tags:                  map[string]string{"k": "v"},
		ScheduledStartTime:    ptr(time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC))}
	if seq != 0 || exec != "9b1f" || !reflect.DeepEqual(ev, want) {
		t.Errorf("got %d %q %#v", seq, exec, ev)
	}

	// An enum stored as its number.
	e = Entity{"PartitionKey": "abc", "RowKey": "0000000000000005", "EventType": "ExecutionCompleted",
		"OrchestrationStatus": int32(5), "_Timestamp": t0}
	if _, _, ev, err := DecodeHistoryRow(context.Background(), nil, e); err != nil || ev.OrchestrationStatus != history.StatusTerminated {
		t.Errorf("numeric status: %v, %v", ev.OrchestrationStatus, err)
	}
}

func TestSentinelRow(t *testing.T) {
	loc := time.FixedZone("Y", -5*3600)
	e := SentinelRow("a#b", "exec9", 12, true, t0.In(loc))
	want := Entity{"PartitionKey": "a^2b", "RowKey": "sentinel", "ExecutionId": "exec9",
		"IsCheckpointComplete": true, "CheckpointCompletedTimestamp": t0, "CheckpointEventCount": int32(12)}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("SentinelRow = %#v", e)
	}
	if !IsSentinel(e) {
		t.Error("IsSentinel = false")
	}
	s, err := DecodeSentinelRow(wire(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if s != (Sentinel{ExecutionID: "exec9", IsCheckpointComplete: true, CheckpointCompletedTimestamp: t0, EventCount: 12, ETag: `W/"datetime'x'"`}) {
		t.Errorf("DecodeSentinelRow = %#v", s)
	}
	// A sentinel written by DTFx (or before the count) counts every row.
	old := wire(t, Entity{"PartitionKey": "p", "RowKey": "sentinel", "ExecutionId": "e", "IsCheckpointComplete": true,
		"CheckpointCompletedTimestamp": t0})
	if s, err := DecodeSentinelRow(old); err != nil || s.EventCount != -1 {
		t.Errorf("sentinel without a count: EventCount %d, %v; want -1", s.EventCount, err)
	}
	if _, _, _, err := DecodeHistoryRow(context.Background(), nil, e); err == nil {
		t.Error("DecodeHistoryRow accepted the sentinel")
	}
	if _, err := DecodeSentinelRow(Entity{"PartitionKey": "p", "RowKey": "0000000000000000"}); err == nil {
		t.Error("DecodeSentinelRow accepted an event row")
	}
	if _, err := DecodeSentinelRow(Entity{"PartitionKey": "p", "RowKey": "sentinel", "IsCheckpointComplete": "yes"}); err == nil ||
		!strings.Contains(err.Error(), "IsCheckpointComplete") {
		t.Errorf("bad sentinel: %v", err)
	}
}

// TestHistoryRowTraceContext: the trace context travels in the columns the
// Durable Task Framework names ParentTraceContext (JSON) and ClientSpanId,
// on the events that carry it, and comes back whole.
func TestHistoryRowTraceContext(t *testing.T) {
	tc := &history.TraceContext{TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "congo=t61rcWkgMzE"}
	events := []history.Event{
		{Type: history.ExecutionStarted, EventID: -1, Timestamp: t0, Name: "Hello",
			OrchestrationInstance: &history.OrchestrationInstance{InstanceID: "abc", ExecutionID: "e1"}, ParentTraceContext: tc},
		{Type: history.TaskScheduled, EventID: 0, Timestamp: t0, Name: "SayHello", ParentTraceContext: tc},
		{Type: history.EventSent, EventID: 1, Timestamp: t0, Name: "Go", InstanceID: "other", ParentTraceContext: tc},
		{Type: history.SubOrchestrationInstanceCreated, EventID: 2, Timestamp: t0, Name: "Child", InstanceID: "c", ClientSpanID: "b7ad6b7169203331"},
	}
	for i, ev := range events {
		e, err := EncodeHistoryRow(context.Background(), nil, "abc", "e1", i, ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ParentTraceContext != nil && e["ParentTraceContext"] != `{"TraceParent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","TraceState":"congo=t61rcWkgMzE"}` {
			t.Errorf("%s: ParentTraceContext column %v", ev.Type, e["ParentTraceContext"])
		}
		_, _, got, err := DecodeHistoryRow(context.Background(), nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: got %+v, want %+v", ev.Type, got, ev)
		}
	}
}
