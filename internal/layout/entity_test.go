package layout

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEntityJSON(t *testing.T) {
	ts := time.Date(2024, 3, 1, 10, 20, 30, 123456789, time.FixedZone("X", 3600))
	e := Entity{
		"PartitionKey": "pk",
		"RowKey":       "",
		"S":            "<a & b>",
		"B":            true,
		"I":            42,
		"I32":          int32(-7),
		"I64":          int64(1) << 60,
		"F":            2.0,
		"NaN":          math.NaN(),
		"T":            ts,
		"Bin":          []byte{1, 2, 3},
		"Nil":          nil,
		// Service metadata is not written back.
		"Timestamp":      time.Now(),
		"odata.etag":     `W/"datetime'x'"`,
		"S@odata.type":   "Edm.Int64",
		"odata.metadata": "https://x/$metadata#T",
	}
	got, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"B":true,"Bin":"AQID","Bin@odata.type":"Edm.Binary","F":2,"F@odata.type":"Edm.Double","I":42,"I32":-7,"I64":"1152921504606846976","I64@odata.type":"Edm.Int64","NaN":"NaN","NaN@odata.type":"Edm.Double","Nil":null,"PartitionKey":"pk","RowKey":"","S":"<a & b>","T":"2024-03-01T09:20:30.1234567Z","T@odata.type":"Edm.DateTime"}`
	if string(got) != want {
		t.Errorf("JSON() =\n%s\nwant\n%s", got, want)
	}

	back, err := ParseEntity(got)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back["NaN"].(float64)) {
		t.Errorf("NaN read back as %v", back["NaN"])
	}
	delete(back, "NaN")
	wantBack := Entity{
		"PartitionKey": "pk", "RowKey": "", "S": "<a & b>", "B": true, "I": int32(42), "I32": int32(-7),
		"I64": int64(1) << 60, "F": 2.0, "T": time.Date(2024, 3, 1, 9, 20, 30, 123456700, time.UTC),
		"Bin": []byte{1, 2, 3}, "Nil": nil,
	}
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("ParseEntity(JSON()) =\n%#v\nwant\n%#v", back, wantBack)
	}
	again, err := back.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Replace(want, `"NaN":"NaN","NaN@odata.type":"Edm.Double",`, "", 1) != string(again) {
		t.Errorf("second JSON() = %s", again)
	}
}

func TestEntityJSONErrors(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"Big", int(math.MaxInt32) + 1, "does not fit Edm.Int32"},
		{"Small", int(math.MinInt32) - 1, "does not fit Edm.Int32"},
		{"U", uint(3), "unsupported value type uint"},
		{"M", map[string]any{}, "unsupported value type"},
		{"Zero", time.Time{}, "outside the range"},
		{"Old", time.Date(1600, 12, 31, 23, 59, 59, 0, time.UTC), "outside the range"},
	}
	for _, c := range cases {
		_, err := Entity{"PartitionKey": "p", "RowKey": "r", c.name: c.v}.JSON()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "property "+c.name) ||
			!strings.Contains(err.Error(), `PartitionKey "p"`) {
			t.Errorf("JSON() with %s=%v: error %v, want mention of %q and the property", c.name, c.v, err, c.want)
		}
	}
	if _, err := (Entity{"T": time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)}).JSON(); err != nil {
		t.Errorf("1601-01-01 rejected: %v", err)
	}
}

// A response body as the Table service returns it for GetEntity with
// minimal metadata.
const serviceEntity = `{
  "odata.metadata": "https://acct.table.core.windows.net/$metadata#HubHistory/@Element",
  "odata.etag": "W/\"datetime'2024-03-01T10%3A20%3A30.1234567Z'\"",
  "PartitionKey": "abc",
  "RowKey": "000000000000000A",
  "Timestamp": "2024-03-01T10:20:30.1234567Z",
  "Timestamp@odata.type": "Edm.DateTime",
  "ExecutionId": "e1",
  "EventId": 3,
  "Big": "9223372036854775807",
  "Big@odata.type": "Edm.Int64",
  "IsPlayed": false,
  "_Timestamp": "2024-03-01T10:20:30.12Z",
  "_Timestamp@odata.type": "Edm.DateTime",
  "D": 1.5,
  "Inf": "-Infinity",
  "Inf@odata.type": "Edm.Double",
  "G": "c9c6f3ad-7a7d-4bd4-b5b4-6f0e1e4f6a2b",
  "G@odata.type": "Edm.Guid",
  "Bin": "aGk=",
  "Bin@odata.type": "Edm.Binary",
  "I32": 7,
  "I32@odata.type": "Edm.Int32",
  "Str": "x",
  "Str@odata.type": "Edm.String",
  "Bool": true,
  "Bool@odata.type": "Edm.Boolean",
  "Offset": "2024-03-01T12:20:30+02:00",
  "Offset@odata.type": "Edm.DateTime"
}`

func TestParseEntity(t *testing.T) {
	e, err := ParseEntity([]byte(serviceEntity))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.ETag(); got != `W/"datetime'2024-03-01T10%3A20%3A30.1234567Z'"` {
		t.Errorf("ETag() = %q", got)
	}
	checks := map[string]any{
		"PartitionKey": "abc",
		"Timestamp":    time.Date(2024, 3, 1, 10, 20, 30, 123456700, time.UTC),
		"EventId":      int32(3),
		"Big":          int64(math.MaxInt64),
		"IsPlayed":     false,
		"_Timestamp":   time.Date(2024, 3, 1, 10, 20, 30, 120000000, time.UTC),
		"D":            1.5,
		"Inf":          math.Inf(-1),
		"G":            "c9c6f3ad-7a7d-4bd4-b5b4-6f0e1e4f6a2b",
		"Bin":          []byte("hi"),
		"I32":          int32(7),
		"Str":          "x",
		"Bool":         true,
		"Offset":       time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC),
	}
	for k, want := range checks {
		if !reflect.DeepEqual(e[k], want) {
			t.Errorf("%s = %#v, want %#v", k, e[k], want)
		}
	}
	for k := range e {
		if strings.Contains(k, "@odata.type") {
			t.Errorf("annotation %s kept", k)
		}
	}

	if s, err := e.String("ExecutionId"); err != nil || s != "e1" {
		t.Errorf("String = %q, %v", s, err)
	}
	if s, err := e.String("Missing"); err != nil || s != "" {
		t.Errorf("String(missing) = %q, %v", s, err)
	}
	if _, err := e.String("EventId"); err == nil || !strings.Contains(err.Error(), "property EventId") {
		t.Errorf("String(int) error = %v", err)
	}
	if n, err := e.Int("EventId"); err != nil || n != 3 {
		t.Errorf("Int = %d, %v", n, err)
	}
	if n, err := e.Int("Big"); err != nil || n != math.MaxInt64 {
		t.Errorf("Int(Int64) = %d, %v", n, err)
	}
	if _, err := e.Int("Str"); err == nil {
		t.Error("Int(string) succeeded")
	}
	if b, err := e.Bool("Bool"); err != nil || !b {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if _, err := e.Bool("Str"); err == nil {
		t.Error("Bool(string) succeeded")
	}
	if tm, err := e.Time("Timestamp"); err != nil || !tm.Equal(checks["Timestamp"].(time.Time)) {
		t.Errorf("Time = %v, %v", tm, err)
	}
	if tm, err := (Entity{"T": "2024-01-02T03:04:05Z"}).Time("T"); err != nil || tm != time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) {
		t.Errorf("Time(string) = %v, %v", tm, err)
	}
	if _, err := e.Time("Bool"); err == nil {
		t.Error("Time(bool) succeeded")
	}
	if !e.Has("Str") || e.Has("Missing") {
		t.Error("Has is wrong")
	}
	if (Entity{}).ETag() != "" {
		t.Error("ETag of a new entity is not empty")
	}
}

func TestParseEntityUnannotated(t *testing.T) {
	e, err := ParseEntity([]byte(`{"A":1,"B":2.5,"C":3000000000,"D":1e3,"E":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Entity{"A": int32(1), "B": 2.5, "C": int64(3000000000), "D": 1000.0, "E": nil}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %#v, want %#v", e, want)
	}
}

func TestParseEntityErrors(t *testing.T) {
	cases := map[string]string{
		``:                                 "parse table entity",
		`[]`:                               "parse table entity",
		`null`:                             "not a JSON object",
		`{"A":1} {}`:                       "after the JSON object",
		`{"A":{"x":1}}`:                    "property A: unsupported JSON value",
		`{"A":[1]}`:                        "property A: unsupported JSON value",
		`{"A":1,"A@odata.type":"Edm.Foo"}`: `unknown EDM type "Edm.Foo"`,
		`{"A":1,"A@odata.type":7}`:         "type annotation",
		`{"A":"x","A@odata.type":"Edm.DateTime"}`:     "Edm.DateTime value",
		`{"A":"x","A@odata.type":"Edm.Int64"}`:        "Edm.Int64 value",
		`{"A":true,"A@odata.type":"Edm.Int64"}`:       "Edm.Int64 value",
		`{"A":9999999999,"A@odata.type":"Edm.Int32"}`: "Edm.Int32 value",
		`{"A":"!","A@odata.type":"Edm.Binary"}`:       "Edm.Binary value",
		`{"A":"x","A@odata.type":"Edm.Double"}`:       "Edm.Double value",
		`{"A":1,"A@odata.type":"Edm.String"}`:         "Edm.String value is a JSON",
		`{"A":1,"A@odata.type":"Edm.Boolean"}`:        "Edm.Boolean value is a JSON",
		`{"PartitionKey":"p","RowKey":"r","A":[]}`:    `(PartitionKey "p", RowKey "r")`,
	}
	for in, want := range cases {
		_, err := ParseEntity([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseEntity(%s) error = %v, want mention of %q", in, err, want)
		}
	}
}

// The output of JSON must be acceptable to encoding/json (aztables
// unmarshals it into a map before sending).
func TestEntityJSONIsValidJSON(t *testing.T) {
	e := Entity{"PartitionKey": "a\"b", "RowKey": "\u2028", "X": "\x00\xff"}
	data, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("JSON() produced invalid JSON %s: %v", data, err)
	}
}
