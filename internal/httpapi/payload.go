package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/durable-go/durable/internal/functions"
)

// HTTP function names: the function folders whose httpTrigger routes lead
// here. With request forwarding on (host.json customHandler
// enableForwardingHttpRequest) the host sends the original request and the
// names do not matter; without it the host POSTs /{name} with an
// invocation payload, which PayloadHandler serves.
const (
	FuncHTTPStart       = "HttpStart"
	FuncHTTPSyncStart   = "HttpSyncStart"
	FuncDurableStart    = "DurableTaskStart"
	FuncDurableList     = "DurableTaskInstances"
	FuncDurableInstance = "DurableTaskInstance"
	FuncDurableOp       = "DurableTaskOperation"
	FuncDurableEvent    = "DurableTaskRaiseEvent"
	// FuncDurableFallback has the catch-all route durabletask/{*path}, so
	// that management paths no other route matches (a raw '/' in an ID or
	// event name, an empty segment) reach the handler and get its JSON 400
	// or 404 rather than the host's bare 404.
	FuncDurableFallback = "DurableTaskFallback"
	// FuncDurableDashboard serves the dashboard (internal/dashboard), route
	// durabletask/dashboard/{*path}.
	FuncDurableDashboard = "DurableTaskDashboard"
)

// FunctionNames lists the HTTP functions.
func FunctionNames() []string {
	return []string{FuncHTTPStart, FuncHTTPSyncStart, FuncDurableStart, FuncDurableList, FuncDurableInstance, FuncDurableOp, FuncDurableEvent, FuncDurableFallback, FuncDurableDashboard}
}

// httpData is an HTTP trigger's value in an invocation payload.
type httpData struct {
	URL     string                     `json:"Url"`
	Method  string                     `json:"Method"`
	Headers map[string]json.RawMessage `json:"Headers"`
	Body    json.RawMessage            `json:"Body"`
}

// httpOutput is the http output binding's value.
type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       json.RawMessage   `json:"body"`
}

// PayloadHandler serves HTTP functions invoked as payloads (forwarding
// off): it rebuilds the request from Data, lets h answer it, and returns the
// answer as the $return http output. Failures to read the payload are 400s
// of the function, not of the handler.
func PayloadHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes+1<<20))
		var req *http.Request
		if err == nil {
			req, err = requestFromPayload(r, raw)
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		if err != nil {
			writeError(rec, http.StatusBadRequest, msgBadArgument, err.Error())
		} else {
			h.ServeHTTP(rec, req)
		}
		out := httpOutput{StatusCode: rec.status, Headers: map[string]string{}, Body: outputBody(rec.body.Bytes())}
		for k, vs := range rec.header {
			out.Headers[k] = strings.Join(vs, ", ")
		}
		b, _ := json.Marshal(out) // strings and valid JSON only
		resp := map[string]any{"Outputs": map[string]any{}, "Logs": []string{}, "ReturnValue": json.RawMessage(b)}
		writeJSON(w, http.StatusOK, resp)
	})
}

func requestFromPayload(r *http.Request, raw []byte) (*http.Request, error) {
	inv, err := functions.DecodeInvocation(raw)
	if err != nil {
		return nil, err
	}
	trigger, ok := inv.Binding("req")
	if !ok {
		return nil, fmt.Errorf("the invocation has no HTTP trigger data")
	}
	var d httpData
	if err := json.Unmarshal(trigger, &d); err != nil {
		return nil, fmt.Errorf("HTTP trigger data: %w", err)
	}
	var body []byte
	if len(d.Body) > 0 && string(d.Body) != "null" {
		// The host sends the body as a string, or already parsed when it
		// was JSON.
		var s string
		if json.Unmarshal(d.Body, &s) == nil {
			body = []byte(s)
		} else {
			body = d.Body
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), strings.ToUpper(d.Method), d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("HTTP trigger data: %w", err)
	}
	for k, v := range d.Headers {
		var many []string
		var one string
		switch {
		case json.Unmarshal(v, &many) == nil:
			req.Header[http.CanonicalHeaderKey(k)] = many
		case json.Unmarshal(v, &one) == nil:
			req.Header.Set(k, one)
		}
	}
	req.Host = req.URL.Host
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.ContentLength = int64(len(body))
	return req, nil
}

// outputBody chooses how a body travels in the http output: JSON objects
// and arrays as JSON (the host serializes them back unchanged), anything
// else as a string. A string that looks like base64 would be decoded to
// bytes by the host, which JSON text (quoted strings, objects) never is.
func outputBody(b []byte) json.RawMessage {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return t
	}
	s, _ := json.Marshal(string(b))
	return s
}

// recorder is a ResponseWriter that keeps the answer for the http output.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if !rec.wrote {
		rec.status, rec.wrote = code, true
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.wrote = true
	return rec.body.Write(b)
}
