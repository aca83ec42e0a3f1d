package devhost

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

func TestHostValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"string is JSON-encoded twice", "abc", `"\"abc\""`},
		{"string with quotes", `say "hi"`, `"\"say \\\"hi\\\"\""`},
		{"number becomes a string", int64(1), `"1"`},
		{"bool becomes a string", true, `"true"`},
		{"bytes become base64", []byte{0xff, 0x00}, `"/wA="`},
		{"object goes through", map[string]string{"a": "b"}, `{"a":"b"}`},
	} {
		if got := string(hostValue(tc.in)); got != tc.want {
			t.Errorf("%s: hostValue(%#v) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestQueueData(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"abc", `"\"abc\""`},
		{"", `"\"\""`},
		{`{"a":1,"b":[true]}`, `{"a":1,"b":[true]}`},
		{`  [1,2]  `, `[1,2]`},
		{`{"a":`, `"\"{\\\"a\\\":\""`}, // broken JSON is just text
		{`42`, `"\"42\""`},             // only objects and arrays are passed as JSON
	} {
		got := queueData(tc.text)
		if string(got) != tc.want {
			t.Errorf("queueData(%q) = %s, want %s", tc.text, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("queueData(%q) = %s is not valid JSON", tc.text, got)
		}
	}
	// What a handler does with it: decode the outer string, then the inner JSON.
	var outer, inner string
	if err := json.Unmarshal(queueData("hello"), &outer); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(outer), &inner); err != nil || inner != "hello" {
		t.Errorf("double decoding gave %q, %v; want hello", inner, err)
	}
}

func TestDecodeMessageText(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct{ raw, want string }{
		{b64([]byte("hello world")), "hello world"},
		{b64([]byte(`{"a":1}`)), `{"a":1}`},
		{b64([]byte("línea\nüber\t")), "línea\nüber\t"},
		{"plain text!", "plain text!"},          // not base64
		{"test", "test"},                        // base64, but decodes to invalid UTF-8
		{"AAAA", "AAAA"},                        // base64 of NUL bytes: control characters
		{b64([]byte{0xff, 0xfe, 0x00}), "//4A"}, // binary stays encoded
		{`{"a":1}`, `{"a":1}`},
		{"", ""},
	} {
		if got := decodeMessageText(tc.raw); got != tc.want {
			t.Errorf("decodeMessageText(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestQueueMetadata(t *testing.T) {
	ins := time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)
	next := ins.Add(10*time.Second + 500*time.Millisecond)
	exp := ins.Add(7 * 24 * time.Hour)
	m := &azqueue.DequeuedMessage{
		DequeueCount:    ptr(int64(3)),
		MessageID:       ptr("0d6fb4a1-id"),
		PopReceipt:      ptr("AgAAAA=="),
		InsertionTime:   &ins,
		ExpirationTime:  &exp,
		TimeNextVisible: &next,
		MessageText:     ptr("aGVsbG8="),
	}
	now := time.Date(2024, 3, 10, 10, 0, 1, 123456700, time.UTC)
	meta := queueMetadata("MyQueueFn", m, "hello", now)
	for k, want := range map[string]string{
		"DequeueCount":    `"3"`,
		"Id":              `"\"0d6fb4a1-id\""`,
		"PopReceipt":      `"\"AgAAAA==\""`,
		"InsertionTime":   `"\"2024-03-10T10:00:00+00:00\""`,
		"NextVisibleTime": `"\"2024-03-10T10:00:10.5+00:00\""`,
		"ExpirationTime":  `"\"2024-03-17T10:00:00+00:00\""`,
		"QueueTrigger":    `"\"hello\""`,
	} {
		if got := string(meta[k]); got != want {
			t.Errorf("Metadata.%s = %s, want %s", k, got, want)
		}
	}
	var sys map[string]string
	if err := json.Unmarshal(meta["sys"], &sys); err != nil {
		t.Fatalf("Metadata.sys = %s: %v", meta["sys"], err)
	}
	if sys["MethodName"] != "MyQueueFn" || sys["UtcNow"] != "2024-03-10T10:00:01.1234567Z" || len(sys["RandGuid"]) != 36 {
		t.Errorf("Metadata.sys = %v", sys)
	}
}

func ptr[T any](v T) *T { return &v }

func TestTimerInvocation(t *testing.T) {
	fn := &function{name: "Tick", timer: &timerTrigger{name: "myTimer"}}
	req := timerInvocation(fn, true, time.Now())
	want := `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}`
	if got := string(req.Data["myTimer"]); got != want {
		t.Errorf("Data.myTimer = %s, want %s", got, want)
	}
	if len(req.Metadata["sys"]) == 0 {
		t.Errorf("Metadata.sys missing")
	}
}

func TestBuildHTTPInvocation(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://localhost:7071/api/hello/bob?a=1&a=2&b=x", strings.NewReader("ignored"))
	r.Header.Set("X-Test", "one")
	r.Header.Add("X-Test", "two")
	fn := &function{name: "Hello", http: &httpTrigger{name: "req"}}
	req := buildHTTPInvocation(r, fn, map[string]string{"name": "bob"}, []byte("the body"), time.Now())

	var data map[string]json.RawMessage
	if err := json.Unmarshal(req.Data["req"], &data); err != nil {
		t.Fatalf("Data.req = %s: %v", req.Data["req"], err)
	}
	for k, want := range map[string]string{
		"Url":        `"http://localhost:7071/api/hello/bob?a=1\u0026a=2\u0026b=x"`,
		"Method":     `"POST"`,
		"Query":      `{"a":"1,2","b":"x"}`,
		"Params":     `{"name":"bob"}`,
		"Body":       `"the body"`,
		"Identities": `[]`,
	} {
		if got := string(data[k]); got != want {
			t.Errorf("Data.req.%s = %s, want %s", k, got, want)
		}
	}
	var headers map[string][]string
	if err := json.Unmarshal(data["Headers"], &headers); err != nil {
		t.Fatal(err)
	}
	if got := headers["X-Test"]; len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("Headers[X-Test] = %v, want [one two]", got)
	}
	if got := headers["Host"]; len(got) != 1 || got[0] != "localhost:7071" {
		t.Errorf("Headers[Host] = %v, want [localhost:7071]", got)
	}
	if got := string(req.Metadata["name"]); got != `"\"bob\""` {
		t.Errorf("Metadata.name = %s, want the route value encoded like any string", got)
	}
}

func TestWriteHTTPOutput(t *testing.T) {
	for _, tc := range []struct {
		name, output      string
		status            int
		body, contentType string
		header            map[string]string
	}{
		{"numeric status and string body", `{"statusCode":201,"body":"made","headers":{"X-A":"1"}}`,
			201, "made", "text/plain; charset=utf-8", map[string]string{"X-A": "1"}},
		{"string status", `{"statusCode":"404","body":"nope"}`, 404, "nope", "text/plain; charset=utf-8", nil},
		{"status alias", `{"status":418}`, 418, "", "", nil},
		{"object body is JSON", `{"statusCode":200,"body":{"ok":true}}`, 200, `{"ok":true}`, "application/json; charset=utf-8", nil},
		{"explicit content type wins", `{"body":"<p/>","headers":{"Content-Type":"text/html"}}`, 200, "<p/>", "text/html", nil},
		{"header lists", `{"headers":{"X-L":["a","b"]}}`, 200, "", "", map[string]string{"X-L": "a"}},
		{"bare string output is the body", `"just text"`, 200, "just text", "text/plain; charset=utf-8", nil},
		{"null output", `null`, 204, "", "", nil},
		{"no output", ``, 204, "", "", nil},
		{"bad status", `{"statusCode":"teapot"}`, 500, "", "", nil},
	} {
		w := httptest.NewRecorder()
		writeHTTPOutput(w, json.RawMessage(tc.output))
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
			continue
		}
		if tc.status == 500 {
			continue
		}
		if got := w.Body.String(); got != tc.body {
			t.Errorf("%s: body %q, want %q", tc.name, got, tc.body)
		}
		if got := w.Header().Get("Content-Type"); got != tc.contentType {
			t.Errorf("%s: Content-Type %q, want %q", tc.name, got, tc.contentType)
		}
		for k, v := range tc.header {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", tc.name, k, got, v)
			}
		}
	}
}

func TestInvocationResponseOutput(t *testing.T) {
	var r invocationResponse
	if err := json.Unmarshal([]byte(`{"Outputs":{"Res":{"statusCode":200}},"ReturnValue":"rv"}`), &r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.output("res")); got != `{"statusCode":200}` {
		t.Errorf("output(res) = %s: binding names are case-insensitive", got)
	}
	if got := string(r.output("$return")); got != `"rv"` {
		t.Errorf("output($return) = %s, want the ReturnValue", got)
	}
	if got := r.output("missing"); got != nil {
		t.Errorf("output(missing) = %s, want nil", got)
	}
}
