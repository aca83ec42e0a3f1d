package devhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// invocationRequest is the body of POST /{FunctionName} to the handler.
type invocationRequest struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// invocationResponse is the handler's answer to an invocation.
type invocationResponse struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []json.RawMessage          `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

// output returns the named output binding's value; "$return" is the return value.
func (r *invocationResponse) output(name string) json.RawMessage {
	if name == "$return" {
		return r.ReturnValue
	}
	if v, ok := r.Outputs[name]; ok {
		return v
	}
	for k, v := range r.Outputs { // binding names are case-insensitive in function.json
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// invocationError is an invocation the handler answered with a non-2xx status.
type invocationError struct {
	function string
	status   int
	body     string
}

func (e *invocationError) Error() string {
	return fmt.Sprintf("handler answered %s with HTTP %d: %s", e.function, e.status, e.body)
}

// invoke POSTs one invocation to the handler and logs it with the lines the handler
// returned in Logs. A non-2xx answer is an *invocationError.
func (h *host) invoke(ctx context.Context, fn *function, req invocationRequest) (*invocationResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode invocation of %s: %w", fn.name, err)
	}
	id := newGUID()
	log := h.log.With("function", fn.name, "trigger", fn.triggerKind(), "invocation", id)
	start := time.Now()
	resp, status, err := h.post(ctx, fn.name, id, body)
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down (or the HTTP caller went away): not the function's fault.
			log.Info("invocation cancelled", "duration", elapsed, "err", err)
		} else {
			log.Error("invocation failed", "duration", elapsed, "status", status, "err", err)
		}
		return nil, err
	}
	for _, l := range resp.Logs {
		var s string
		if json.Unmarshal(l, &s) != nil {
			s = string(l)
		}
		log.Info("handler log", "line", s)
	}
	log.Info("invocation", "duration", elapsed, "status", status)
	return resp, nil
}

func (h *host) post(ctx context.Context, function, id string, body []byte) (*invocationResponse, int, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.handlerURL+"/"+function, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("build invocation request for %s: %w", function, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("X-Azure-Functions-InvocationId", id)
	hresp, err := h.client.Do(hreq)
	if err != nil {
		return nil, 0, fmt.Errorf("invoke %s: %w", function, err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(hresp.Body)
	if err != nil {
		return nil, hresp.StatusCode, fmt.Errorf("read %s invocation answer: %w", function, err)
	}
	if hresp.StatusCode < 200 || hresp.StatusCode > 299 {
		return nil, hresp.StatusCode, &invocationError{function: function, status: hresp.StatusCode, body: truncate(string(raw), 500)}
	}
	var resp invocationResponse
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, hresp.StatusCode, fmt.Errorf("decode %s invocation answer %q: %w", function, truncate(string(raw), 200), err)
		}
	}
	return &resp, hresp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hostValue encodes a binding value the way the Functions host does for custom handlers:
// objects go through as JSON objects, bytes as base64, and anything else is serialized to
// JSON and then sent as a JSON string holding that text. That is why a string "abc" arrives
// as "\"abc\"" and the number 1 as "1" (compat.md §5).
func hostValue(v any) json.RawMessage {
	switch v := v.(type) {
	case []byte:
		return mustJSON(base64.StdEncoding.EncodeToString(v))
	case map[string]any, map[string]string, map[string][]string:
		return mustJSON(v)
	default:
		inner, err := json.Marshal(v)
		if err != nil {
			inner = []byte("null")
		}
		return mustJSON(string(inner))
	}
}

// mustJSON marshals values that cannot fail to marshal (strings, maps of strings).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("devhost: marshal %T: %v", v, err))
	}
	return b
}

func isJSONContainer(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// queueData is a queue message as the handler receives it in Data: a message whose text is
// a JSON object or array goes through as that JSON value; any other text arrives as a plain
// string, JSON-encoded twice like every string (see hostValue).
func queueData(text string) json.RawMessage {
	if isJSONContainer([]byte(text)) {
		return json.RawMessage(bytes.TrimSpace([]byte(text)))
	}
	return hostValue(text)
}

// decodeMessageText undoes the base64 encoding that Functions (and its SDKs) put on queue
// messages by default. Plain-text messages are left as they are: text that happens to be
// valid base64 only decodes to readable text by rare accident, so decoded bytes are used
// only when they are valid UTF-8 without control characters other than whitespace.
func decodeMessageText(raw string) string {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) == 0 || !utf8.Valid(b) {
		return raw
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return raw
		}
	}
	return string(b)
}

// sysMetadata is the "sys" entry every invocation's Metadata carries.
func sysMetadata(function string, now time.Time) json.RawMessage {
	return mustJSON(map[string]string{
		"MethodName": function,
		"UtcNow":     now.UTC().Format(dotnetUTC),
		"RandGuid":   newGUID(),
	})
}

// Time layouts of .NET's JSON serializer: DateTime in UTC ends in Z, DateTimeOffset in an
// offset (+00:00 for UTC); both with up to seven fractional digits.
const (
	dotnetUTC    = "2006-01-02T15:04:05.9999999Z07:00"
	dotnetOffset = "2006-01-02T15:04:05.9999999-07:00"
)

// newGUID returns a random (version 4) GUID in its usual text form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
