// Package dashboard serves the built-in web dashboard of a task hub: a
// page of plain HTML, CSS and JavaScript embedded in the binary, and a
// same-origin proxy through which that page calls the management API.
//
// The app serves it at /durabletask/dashboard/ (below the route prefix),
// with the management functions' auth level; `durable dashboard` serves the
// same handler on 127.0.0.1. Either way the page's requests for
// <base>api/<path> are handed in-process to the management API as
// <management base>/<path>, so every management route is available to the
// page and the dashboard holds no logic of its own about instances.
//
// Defences: every request that is not GET or HEAD must carry the CSRF
// token (double-submit: an HttpOnly SameSite=Strict cookie and the same
// value in the X-CSRF-Token header, which a cross-site page can neither
// read nor send without a preflight) and must pass Go's cross-origin
// check (Sec-Fetch-Site, else Origin against Host). The taskHub and
// connection query parameters are refused, so the page can reach its own
// hub only. The page writes data into the DOM as text, never as HTML, and
// a strict Content-Security-Policy forbids inline and foreign scripts.
package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

//go:embed static
var assets embed.FS

// CSRFHeader is the request header that must repeat the CSRF cookie.
const CSRFHeader = "X-CSRF-Token"

// csrfCookie names the cookie holding the CSRF token.
const csrfCookie = "durable_dashboard_csrf"

// StatusReader reads an instance's status with its raw history;
// *client.Client implements it. The dashboard uses it for what the
// management API's history shape leaves out: an instance's parent and the
// IDs of its sub-orchestrations.
type StatusReader interface {
	GetStatus(ctx context.Context, id string, o client.StatusOptions) (*client.Status, error)
}

// Config is what a Handler is built from.
type Config struct {
	// API serves the management API (an *httpapi.API).
	API http.Handler
	// ManagementBase is the management API's path, e.g. "/durabletask"
	// (httpapi.API.ManagementBase).
	ManagementBase string
	// Base is the dashboard's own path, ending in "/"; default
	// ManagementBase + "/dashboard/".
	Base string
	// Statuses reads raw histories for the parent and child links.
	Statuses StatusReader
	// HubName is shown in the page.
	HubName string
	// AllowedHosts, when set, are the only Host header values served. A
	// server on the loopback interface sets it so that a web page whose
	// domain is rebound to 127.0.0.1 cannot read the hub through it.
	AllowedHosts []string
	Logger       *slog.Logger
	// TraceURL, when set, links the trace ID the instance view shows to a
	// tracing UI: an http(s) URL in which {traceId} stands for the ID, e.g.
	// "http://localhost:16686/trace/{traceId}" (Jaeger). The app setting
	// DURABLE_TRACE_URL sets it.
	TraceURL string
}

// TraceURLSetting is the app setting of Config.TraceURL.
const TraceURLSetting = "DURABLE_TRACE_URL"

// Handler serves the dashboard. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	static fs.FS
	page   *template.Template
	cross  *http.CrossOriginProtection
}

// New builds a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil || cfg.Statuses == nil {
		return nil, errors.New("dashboard: the management API and a status reader are required")
	}
	if !strings.HasPrefix(cfg.ManagementBase, "/") || strings.HasSuffix(cfg.ManagementBase, "/") {
		return nil, fmt.Errorf("dashboard: management base %q must start with '/' and not end with one", cfg.ManagementBase)
	}
	if cfg.Base == "" {
		cfg.Base = cfg.ManagementBase + "/dashboard/"
	}
	if !strings.HasPrefix(cfg.Base, "/") || !strings.HasSuffix(cfg.Base, "/") {
		return nil, fmt.Errorf("dashboard: base %q must start and end with '/'", cfg.Base)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := ValidateTraceURL(cfg.TraceURL); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("dashboard: embedded assets: %w", err)
	}
	page, err := template.ParseFS(static, "index.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse index.html: %w", err)
	}
	return &Handler{cfg: cfg, static: static, page: page, cross: http.NewCrossOriginProtection()}, nil
}

// Base is the dashboard's path, ending in "/".
func (h *Handler) Base() string { return h.cfg.Base }

// Handles reports whether a request path belongs to the dashboard, so that
// a router can send it here.
func (h *Handler) Handles(p string) bool {
	return p == strings.TrimSuffix(h.cfg.Base, "/") || strings.HasPrefix(p, h.cfg.Base)
}

// ServeHTTP serves the page, its assets, the links of an instance and the
// proxied management API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if len(h.cfg.AllowedHosts) > 0 && !h.hostAllowed(r.Host) {
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here; open the address the dashboard printed", r.Host))
		return
	}
	p := r.URL.Path
	if p == strings.TrimSuffix(h.cfg.Base, "/") {
		// Relative links in the page resolve against a path ending in
		// '/'; the query (the function key, code) is kept.
		target := h.cfg.Base
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	rest := strings.TrimPrefix(p, h.cfg.Base)
	switch {
	case strings.HasPrefix(rest, "api/"):
		h.proxy(w, r)
	case rest == "" || rest == "index.html":
		if !readOnly(w, r) {
			return
		}
		h.servePage(w, r)
	case strings.HasPrefix(rest, "static/"):
		if !readOnly(w, r) {
			return
		}
		h.serveAsset(w, r, strings.TrimPrefix(rest, "static/"))
	case strings.HasPrefix(rest, "links/"):
		if !readOnly(w, r) {
			return
		}
		// From the escaped path: an instance ID may hold '/' or '%'.
		escaped, ok := strings.CutPrefix(r.URL.EscapedPath(), h.cfg.Base+"links/")
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not a page of the dashboard", p))
			return
		}
		h.serveLinks(w, r, escaped)
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not a page of the dashboard", p))
	}
}

func (h *Handler) hostAllowed(host string) bool {
	for _, a := range h.cfg.AllowedHosts {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// setSecurityHeaders applies to every answer: nothing may be framed, run
// from elsewhere or sniffed, and the page's URL (which may hold the
// function key) is not sent as a referrer.
func setSecurityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
}

func readOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is read-only: use GET", r.URL.Path))
	return false
}

// pageData fills index.html. FirstPage is the JSON of a firstPage.
type pageData struct {
	Token, Hub, Code, FirstPage, TraceURL string
}

// ValidateTraceURL accepts "" (no link) or an http(s) URL template holding
// {traceId}: the page puts it in a link, so no other scheme may pass.
func ValidateTraceURL(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	u, err := url.Parse(strings.ReplaceAll(tmpl, "{traceId}", "0"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.Contains(tmpl, "{traceId}") {
		return fmt.Errorf("%s %q must be an http or https URL holding {traceId}", TraceURLSetting, tmpl)
	}
	return nil
}

// FirstPageSize is the page size of the list the page opens with; app.js
// starts with the same (list.top).
const FirstPageSize = 100

// firstPage is the instance list's first page, fetched while serving the
// page and embedded in it, so that the page's script draws the list as it
// runs, before the load event, instead of after a request of its own. A
// browser that takes the page at its load event (`chromium --headless
// --screenshot` without --virtual-time-budget, a quick look on a slow
// link) then shows the list, not an empty view. The request is the one
// the page would have made first, so it costs nothing extra.
type firstPage struct {
	// Top is the page size asked for; the script uses the page only while
	// its own page size and filters are the defaults.
	Top int `json:"top"`
	// Status and Body are the management API's answer, as the page would
	// have received it through the proxy (an error body included).
	Status int    `json:"status"`
	Body   string `json:"body"`
	// Next is the continuation token ("" on the last page).
	Next string `json:"next,omitempty"`
	// Ms is how long the list took, for the page's "Loaded in" hint.
	Ms float64 `json:"ms"`
}

// fetchFirstPage asks the management API in-process for what the page
// would ask first, GET <management base>/instances?top=100&showInput=false,
// with the page request's credentials (headers and the function key).
func (h *Handler) fetchFirstPage(r *http.Request) string {
	q := url.Values{"top": {strconv.Itoa(FirstPageSize)}, "showInput": {"false"}}
	if code := r.URL.Query().Get("code"); code != "" {
		q.Set("code", code)
	}
	r2 := r.Clone(r.Context())
	r2.Method, r2.Body, r2.ContentLength = http.MethodGet, http.NoBody, 0
	r2.URL.Path, r2.URL.RawPath, r2.URL.RawQuery = h.cfg.ManagementBase+"/instances", "", q.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	// A token meant for another list must not page this one.
	r2.Header.Del("x-ms-continuation-token")
	w := &bufferedResponse{header: http.Header{}}
	start := time.Now()
	h.cfg.API.ServeHTTP(w, r2)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	fp := firstPage{Top: FirstPageSize, Status: w.status, Body: w.body.String(), Next: w.header.Get("x-ms-continuation-token"),
		Ms: float64(time.Since(start).Microseconds()) / 1000}
	b, err := json.Marshal(fp)
	if err != nil {
		return "" // the page then asks for the list itself
	}
	return string(b)
}

// bufferedResponse keeps an in-process answer of the management API.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	token := ""
	if c, err := r.Cookie(csrfCookie); err == nil && validToken(c.Value) {
		// Kept across reloads and across app instances: the check
		// compares the cookie with the header, so no instance needs to
		// know what another one issued.
		token = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: h.cfg.Base, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	data := pageData{Token: token, Hub: h.cfg.HubName, Code: r.URL.Query().Get("code"), TraceURL: h.cfg.TraceURL}
	if r.Method == http.MethodGet {
		data.FirstPage = h.fetchFirstPage(r)
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, data); err != nil {
		h.cfg.Logger.Error("dashboard: render page", "error", err)
		writeError(w, http.StatusInternalServerError, "render the dashboard page failed")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func validToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" || name == "index.html" || !fs.ValidPath(name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not an asset of the dashboard", r.URL.Path))
		return
	}
	if _, err := fs.Stat(h.static, name); err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not an asset of the dashboard", r.URL.Path))
		return
	}
	// The assets change only with the binary; revalidating is cheap.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, h.static, name)
}

// proxy checks a request for <base>api/<path> and hands it to the
// management API as <management base>/<path>.
func (h *Handler) proxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := h.cross.Check(r); err != nil {
			writeError(w, http.StatusForbidden, "cross-origin request refused: the dashboard's actions may only come from its own page")
			return
		}
		c, err := r.Cookie(csrfCookie)
		got := r.Header.Get(CSRFHeader)
		if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the dashboard page and try again")
			return
		}
	}
	q := r.URL.Query()
	for _, k := range []string{"taskHub", "connection"} {
		for name := range q {
			if strings.EqualFold(name, k) {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %s is not accepted: the dashboard serves task hub %s only", name, h.cfg.HubName))
				return
			}
		}
	}
	escaped := strings.TrimPrefix(r.URL.EscapedPath(), h.cfg.Base+"api/")
	if escaped == r.URL.EscapedPath() {
		// The raw path spells the base differently (escaped letters).
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not a page of the dashboard", r.URL.Path))
		return
	}
	target := h.cfg.ManagementBase + "/" + escaped
	unescaped, err := url.PathUnescape(target)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad path escape in %q: %v", r.URL.EscapedPath(), err))
		return
	}
	r2 := r.Clone(r.Context())
	// RawPath keeps an escaped '/' inside an instance ID in its segment.
	r2.URL.Path, r2.URL.RawPath = unescaped, target
	r2.RequestURI = r2.URL.RequestURI()
	h.cfg.API.ServeHTTP(w, r2)
}

// instanceRef names an instance the page links to.
type instanceRef struct {
	InstanceID string `json:"instanceId"`
	Name       string `json:"name"`
}

// links is the body of GET <base>links/{id}.
type links struct {
	Parent   *instanceRef  `json:"parent"`
	Children []instanceRef `json:"children"`
}

// serveLinks answers an instance's parent and sub-orchestrations, read
// from its current execution's history.
func (h *Handler) serveLinks(w http.ResponseWriter, r *http.Request, escapedID string) {
	id, err := url.PathUnescape(escapedID)
	if err == nil {
		err = layout.ValidateInstanceID(id)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("instance ID: %v", err))
		return
	}
	st, err := h.cfg.Statuses.GetStatus(r.Context(), id, client.StatusOptions{ShowHistory: true, HideInput: true})
	switch {
	case errors.Is(err, client.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("instance %s was not found", id))
		return
	case errors.Is(err, client.ErrBadArgument):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		h.cfg.Logger.Error("dashboard: read history for links", "instance", id, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf("read the history of %s: %v", id, err))
		return
	}
	out := links{Children: []instanceRef{}}
	seen := map[string]bool{}
	for _, ev := range st.History {
		switch ev.Type {
		case history.ExecutionStarted:
			if p := ev.ParentInstance; p != nil && p.OrchestrationInstance.InstanceID != "" {
				out.Parent = &instanceRef{InstanceID: p.OrchestrationInstance.InstanceID, Name: p.Name}
			}
		case history.SubOrchestrationInstanceCreated:
			if ev.InstanceID != "" && !seen[ev.InstanceID] {
				seen[ev.InstanceID] = true
				out.Children = append(out.Children, instanceRef{InstanceID: ev.InstanceID, Name: ev.Name})
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers in the management API's error shape, so the page
// reads every error the same way.
func writeError(w http.ResponseWriter, status int, detail string) {
	b, _ := json.Marshal(map[string]string{"Message": http.StatusText(status), "ExceptionMessage": detail})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
