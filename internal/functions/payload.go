package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInvocationBytes bounds an invocation body. Queue messages are at most
// 64 KB and timer payloads are tiny; the bound only protects the handler
// from a runaway caller.
const MaxInvocationBytes = 4 << 20

// Invocation is the body of POST /{FunctionName} that the Functions host
// sends a custom handler for a non-HTTP trigger.
type Invocation struct {
	// Data holds the trigger and input bindings by binding name.
	Data map[string]json.RawMessage `json:"Data"`
	// Metadata holds trigger metadata (DequeueCount, Id, sys, ...).
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// DecodeInvocation parses an invocation body. It insists on a JSON object;
// Data and Metadata may be missing (a timer from some hosts has no
// Metadata) and keys are matched case-insensitively, as the host's own
// JSON reader does.
func DecodeInvocation(body []byte) (*Invocation, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("invocation body is empty; want {\"Data\":{...},\"Metadata\":{...}}")
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("invocation body is not a JSON object: %.40q", body)
	}
	var in Invocation
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("invocation body is not valid JSON: %w", err)
	}
	return &in, nil
}

// Binding returns the Data value of the named binding, ignoring case as
// function.json does. When name is not found and Data holds exactly one
// value, that value is returned: a trigger function has one trigger, and a
// renamed binding should not make every message unreadable.
func (in *Invocation) Binding(name string) (json.RawMessage, bool) {
	if v, ok := lookup(in.Data, name); ok {
		return v, true
	}
	if len(in.Data) == 1 {
		for _, v := range in.Data {
			return v, true
		}
	}
	return nil, false
}

// MetadataText returns a metadata value as text, undoing the host's
// encodings (see Text); ok is false when the key is absent.
func (in *Invocation) MetadataText(name string) (string, bool) {
	v, ok := lookup(in.Metadata, name)
	if !ok {
		return "", false
	}
	s, err := Text(v)
	if err != nil {
		return "", false
	}
	return s, true
}

// DequeueCount returns the queue trigger's DequeueCount metadata, which the
// host sends as a string ("1") or a number; 0 when absent or unreadable.
func (in *Invocation) DequeueCount() int {
	s, ok := in.MetadataText("DequeueCount")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

func lookup(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// Text turns a binding value from the host into the text of the message it
// carries, undoing the encodings real hosts apply (compat.md §5):
//
//   - a JSON object or array is the message itself (a message whose text is
//     JSON arrives as that JSON) and is returned as compact JSON text;
//   - a JSON string is unquoted, and unquoted once more when its content is
//     itself a JSON string literal, because plain strings arrive encoded
//     twice ("\"abc\"" is the message abc);
//   - a string holding base64 whose decoded bytes are printable UTF-8 JSON
//     (an object, an array or a string literal) is decoded: that is how
//     bytes arrive. Base64 of anything else is left alone, since an
//     instance ID such as "abcd" is valid base64 too;
//   - a number or boolean is returned as its literal text ("1");
//   - null or nothing is the empty text.
//
// Text fails only on a value that is not JSON at all.
func Text(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return "", nil
	}
	if !json.Valid(t) {
		return "", fmt.Errorf("value is not valid JSON: %.60q", t)
	}
	switch t[0] {
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, t); err != nil {
			return "", fmt.Errorf("value is not valid JSON: %w", err)
		}
		return buf.String(), nil
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", fmt.Errorf("value is not a valid JSON string: %w", err)
		}
		if inner, ok := unquoteLiteral(s); ok {
			return inner, nil
		}
		if dec, ok := decodeBase64JSON(s); ok {
			return dec, nil
		}
		return s, nil
	default:
		return string(t), nil
	}
}

// unquoteLiteral returns the content of s when s is exactly one JSON string
// literal.
func unquoteLiteral(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return "", false
	}
	var inner string
	if err := json.Unmarshal([]byte(t), &inner); err != nil {
		return "", false
	}
	return inner, true
}

// decodeBase64JSON decodes s when it is base64 of printable UTF-8 text that
// is a JSON object, array or string literal; see Text for why only those.
func decodeBase64JSON(s string) (string, bool) {
	if len(s) < 4 || strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return "", false
		}
	}
	if !printableUTF8(b) {
		return "", false
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || !json.Valid(t) {
		return "", false
	}
	switch t[0] {
	case '{', '[':
		var buf bytes.Buffer
		_ = json.Compact(&buf, t) // valid JSON compacts
		return buf.String(), true
	case '"':
		var inner string
		if json.Unmarshal(t, &inner) != nil {
			return "", false
		}
		return inner, true
	}
	return "", false
}

func printableUTF8(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// Response is a custom handler's answer to an invocation.
type Response struct {
	// Outputs holds output binding values; these functions have none, but
	// the host expects the key.
	Outputs map[string]json.RawMessage `json:"Outputs"`
	// Logs are shown by the host as the invocation's logs.
	Logs []string `json:"Logs"`
	// ReturnValue is the $return binding's value.
	ReturnValue json.RawMessage `json:"ReturnValue"`
}

// newResponse returns an empty response in the shape the host expects:
// empty Outputs and Logs rather than null, ReturnValue null.
func newResponse() *Response {
	return &Response{Outputs: map[string]json.RawMessage{}, Logs: []string{}, ReturnValue: json.RawMessage("null")}
}
