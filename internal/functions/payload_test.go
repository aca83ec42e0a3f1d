package functions

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostEncode encodes a message text as the Functions host does for a
// custom handler (compat.md §5): JSON containers as themselves, any other
// text as a JSON string holding its JSON encoding.
func hostEncode(text string) json.RawMessage {
	t := strings.TrimSpace(text)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	inner, _ := json.Marshal(text)
	outer, _ := json.Marshal(string(inner))
	return outer
}

func TestText(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"instanceId":"abc","reason":"timer"}`))
	cases := []struct {
		name, raw, want string
	}{
		{"double-encoded string", `"\"abc\""`, "abc"},
		{"single-encoded string", `"abc"`, "abc"},
		{"number as string", `"1"`, "1"},
		{"double-encoded number", `"\"42\""`, "42"},
		{"number", `7`, "7"},
		{"boolean", `true`, "true"},
		{"object", `{ "a" : 1 }`, `{"a":1}`},
		{"array", `[1, 2]`, `[1,2]`},
		{"null", `null`, ""},
		{"empty", ``, ""},
		{"base64 JSON object", `"` + b64 + `"`, `{"instanceId":"abc","reason":"timer"}`},
		{"base64-looking ID stays", `"abcd"`, "abcd"},
		{"32-hex ID stays", `"0ab8c55a66644d68a3a8b220b12d209c"`, "0ab8c55a66644d68a3a8b220b12d209c"},
		{"quotes inside", string(hostEncode(`say "hi"`)), `say "hi"`},
		{"object text in a string", `"{\"a\":1}"`, `{"a":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Text(json.RawMessage(c.raw))
			if err != nil {
				t.Fatalf("Text(%s): %v", c.raw, err)
			}
			if got != c.want {
				t.Fatalf("Text(%s) = %q, want %q", c.raw, got, c.want)
			}
		})
	}
	if _, err := Text(json.RawMessage(`{"a":`)); err == nil {
		t.Fatal("Text accepted invalid JSON")
	}
}

func TestDecodeInvocation(t *testing.T) {
	in, err := DecodeInvocation([]byte(`{"data":{"InstanceId":"\"x\""},"metadata":{"DequeueCount":"3","sys":{"MethodName":"GetStatus"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := in.Binding("instanceId")
	if !ok {
		t.Fatal("binding not found case-insensitively")
	}
	if s, _ := Text(raw); s != "x" {
		t.Fatalf("binding text = %q", s)
	}
	if n := in.DequeueCount(); n != 3 {
		t.Fatalf("DequeueCount = %d", n)
	}
	in2, _ := DecodeInvocation([]byte(`{"Data":{"other":"\"y\""},"Metadata":{"DequeueCount":2}}`))
	if raw, ok := in2.Binding("instanceId"); !ok || string(raw) != `"\"y\""` {
		t.Fatalf("single binding fallback: %s %v", raw, ok)
	}
	if in2.DequeueCount() != 2 {
		t.Fatalf("numeric DequeueCount = %d", in2.DequeueCount())
	}
	for _, bad := range []string{"", "[]", `"x"`, `{"Data":`} {
		if _, err := DecodeInvocation([]byte(bad)); err == nil {
			t.Errorf("DecodeInvocation(%q) succeeded", bad)
		}
	}
}

// FuzzText checks that the payload decoder never panics, that a plain text
// survives the host's double encoding, and that the message parsers never
// return an invalid instance ID.
func FuzzText(f *testing.F) {
	for _, s := range []string{"abc", "0ab8c55a66644d68a3a8b220b12d209c", `{"instanceId":"a","reason":"r"}`, `"q"`,
		"eyJhIjoxfQ==", "[1,2,3]", "", "a/b", "@x", "\x00", `{"functionName":"E1","input":null}`, "3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Text(hostEncode(s))
		if err != nil {
			t.Fatalf("Text(hostEncode(%q)): %v", s, err)
		}
		_, literal := unquoteLiteral(s)
		_, b64 := decodeBase64JSON(s)
		trimmed := strings.TrimSpace(s)
		container := len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid([]byte(trimmed))
		if utf8.ValidString(s) && !literal && !b64 && !container && got != s {
			t.Fatalf("Text(hostEncode(%q)) = %q", s, got)
		}
		_, _ = Text(json.RawMessage(s)) // arbitrary bytes: no panic
		if tg, err := ParseTarget(s, true); err == nil {
			if verr := validateID(tg.InstanceID); verr != nil {
				t.Fatalf("ParseTarget(%q) returned a bad ID: %v", s, verr)
			}
		}
		if ev, err := ParseEventMessage(s); err == nil {
			if verr := validateID(ev.InstanceID); verr != nil || ev.EventName == "" || !json.Valid(ev.Data) {
				t.Fatalf("ParseEventMessage(%q) = %+v", s, ev)
			}
		}
		if sm, err := ParseStartMessage(s); err == nil {
			if sm.Orchestrator == "" || (len(sm.Input) > 0 && !json.Valid(sm.Input)) {
				t.Fatalf("ParseStartMessage(%q) = %+v", s, sm)
			}
		}
		_, _ = ParseWakeMessage(s)
	})
}
