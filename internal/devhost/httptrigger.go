package devhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes is the real host's request size limit (100 MB).
const maxBodyBytes = 100 << 20

func routeURL(rt *routeTemplate) string { return strings.Trim(rt.raw, "/") }

// ServeHTTP serves the host's own endpoints and the HTTP triggers.
func (h *host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case path == "/admin/host/status":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"state":"Running"}`)
		return
	case strings.HasPrefix(path, "/admin/functions/"):
		h.serveAdminInvoke(w, r, strings.TrimPrefix(path, "/admin/functions/"))
		return
	}

	for _, fn := range h.routes {
		params, ok := fn.http.route.match(path)
		if !ok {
			continue
		}
		if _, ok := fn.http.methods[r.Method]; len(fn.http.methods) > 0 && !ok {
			continue
		}
		if fn.http.forward {
			h.forward(w, r, fn)
		} else {
			h.servePayload(w, r, fn, params)
		}
		return
	}
	if path == "/" && r.Method == http.MethodGet {
		_, _ = io.WriteString(w, "Durable Functions for Go dev host: the function app is running.\n")
		return
	}
	http.NotFound(w, r)
}

// forward proxies the request unchanged to the handler at the same path, as the real host
// does with enableForwardingHttpRequest. The Host header is kept so that the handler builds
// URLs (such as Durable Functions' status query URLs) that point back at the host.
func (h *host) forward(w http.ResponseWriter, r *http.Request, fn *function) {
	target, err := url.Parse(h.handlerURL)
	if err != nil {
		http.Error(w, "bad handler URL", http.StatusInternalServerError)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.log.Error("forwarding to handler failed", "function", fn.name, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(rec, r)
	h.log.Info("invocation", "function", fn.name, "trigger", "http", "mode", "forwarded",
		"method", r.Method, "path", r.URL.Path, "duration", time.Since(start).Round(time.Millisecond), "status", rec.status)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush lets streamed answers through the proxy.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// httpRequestData is the HTTP trigger's value in Data.
type httpRequestData struct {
	URL        string              `json:"Url"`
	Method     string              `json:"Method"`
	Query      map[string]string   `json:"Query"`
	Headers    map[string][]string `json:"Headers"`
	Params     map[string]string   `json:"Params"`
	Body       string              `json:"Body"`
	Identities []any               `json:"Identities"`
}

// servePayload turns the request into an invocation payload and the invocation's http
// output back into the answer.
func (h *host) servePayload(w http.ResponseWriter, r *http.Request, fn *function, params map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := buildHTTPInvocation(r, fn, params, body, time.Now())
	resp, err := h.invoke(r.Context(), fn, req)
	if err != nil {
		// Like the real host: the caller learns only that the function failed.
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if fn.http.outputName == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeHTTPOutput(w, resp.output(fn.http.outputName))
}

func buildHTTPInvocation(r *http.Request, fn *function, params map[string]string, body []byte, now time.Time) invocationRequest {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	data := httpRequestData{
		URL:        scheme + "://" + r.Host + r.URL.RequestURI(),
		Method:     r.Method,
		Query:      map[string]string{},
		Headers:    map[string][]string{},
		Params:     params,
		Body:       string(body),
		Identities: []any{},
	}
	for k, v := range r.URL.Query() {
		data.Query[k] = strings.Join(v, ",") // as ASP.NET Core's StringValues print
	}
	for k, v := range r.Header {
		data.Headers[k] = v
	}
	data.Headers["Host"] = []string{r.Host} // net/http moves Host out of Header
	if data.Params == nil {
		data.Params = map[string]string{}
	}

	meta := map[string]json.RawMessage{
		"Query":   mustJSON(data.Query),
		"Headers": mustJSON(data.Headers),
		"sys":     sysMetadata(fn.name, now),
	}
	for k, v := range params {
		meta[k] = hostValue(v)
	}
	return invocationRequest{
		Data:     map[string]json.RawMessage{fn.http.name: mustJSON(data)},
		Metadata: meta,
	}
}

// httpOutput is the handler's http output binding value.
type httpOutput struct {
	StatusCode json.RawMessage            `json:"statusCode"` // a number or a numeric string
	Status     json.RawMessage            `json:"status"`     // the name some SDKs use
	Body       json.RawMessage            `json:"body"`
	Headers    map[string]json.RawMessage `json:"headers"` // a string or a list of strings each
}

// writeHTTPOutput writes an http output binding value as the answer. A value that is not an
// object is taken as the body of a 200 answer.
func writeHTTPOutput(w http.ResponseWriter, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var out httpOutput
	if raw[0] != '{' || json.Unmarshal(raw, &out) != nil {
		out = httpOutput{Body: raw}
	}
	status, err := parseStatus(out.StatusCode, out.Status)
	if err != nil {
		http.Error(w, "handler returned an invalid http output: "+err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range out.Headers {
		var one string
		var many []string
		switch {
		case json.Unmarshal(v, &one) == nil:
			w.Header().Set(k, one)
		case json.Unmarshal(v, &many) == nil:
			w.Header()[http.CanonicalHeaderKey(k)] = many
		default:
			w.Header().Set(k, strings.Trim(string(v), `"`))
		}
	}
	body := out.Body
	var text string
	switch {
	case len(body) == 0 || string(body) == "null":
		body = nil
	case json.Unmarshal(body, &text) == nil:
		body = []byte(text)
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
	default:
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func parseStatus(values ...json.RawMessage) (int, error) {
	for _, v := range values {
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		s := strings.Trim(string(v), `"`)
		code, err := strconv.Atoi(s)
		if err != nil || code < 100 || code > 999 {
			return 0, fmt.Errorf("status code %s", v)
		}
		return code, nil
	}
	return http.StatusOK, nil
}

// adminInvokeBody is the body of POST /admin/functions/{name}, as Core Tools accepts it.
type adminInvokeBody struct {
	Input string `json:"input"`
}

// serveAdminInvoke runs a non-HTTP function once, like the real host's admin endpoint:
// the input becomes the queue message (a timer ignores it). It answers 202 at once and the
// invocation runs in the background.
func (h *host) serveAdminInvoke(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	var fn *function
	for _, f := range h.app.functions {
		if strings.EqualFold(f.name, name) {
			fn = f
		}
	}
	if fn == nil {
		http.NotFound(w, r)
		return
	}
	var in adminInvokeBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, "body must be {\"input\": \"...\"}: "+err.Error(), http.StatusBadRequest)
		return
	}
	var req invocationRequest
	now := time.Now()
	switch {
	case fn.http != nil:
		http.Error(w, fn.name+" is HTTP-triggered: call its route instead", http.StatusBadRequest)
		return
	case fn.queue != nil:
		req = invocationRequest{
			Data:     map[string]json.RawMessage{fn.queue.name: queueData(in.Input)},
			Metadata: map[string]json.RawMessage{"sys": sysMetadata(fn.name, now)},
		}
	default:
		req = timerInvocation(fn, false, now)
	}
	started := h.goWork(func() {
		_, _ = h.invoke(h.runCtx, fn, req) // invoke logs the outcome
	})
	if !started {
		http.Error(w, "the host is shutting down", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
