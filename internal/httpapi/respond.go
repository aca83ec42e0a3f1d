package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/config"
)

// CheckStatus is the body of a 202 from a starter: the instance's ID and
// its management URLs, in Durable Functions' field order.
type CheckStatus struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// checkStatus builds the management URLs of instance id from the incoming
// request's scheme and host, so that they point back the way the caller
// came. They carry taskHub and connection always and code when the request
// had one, as Durable Functions' URLs carry the system key.
func (a *API) checkStatus(r *http.Request, id string) CheckStatus {
	return checkStatusOf(apijson.BuildManagementPayload(origin(r)+a.ManagementBase(), id, url.PathEscape(id),
		a.cfg.HubName, a.cfg.ConnectionName, query(r).get("code")))
}

// origin is the scheme and host the caller used. Behind the Functions host
// (or any proxy) the request reaches the handler on 127.0.0.1, so the
// X-Forwarded-Proto and X-Forwarded-Host headers win when present.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := firstForwarded(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" {
		host = h
	}
	if host == "" {
		host = r.URL.Host
	}
	return scheme + "://" + host
}

// firstForwarded returns the first entry of a comma-separated forwarding
// header (each proxy appends its own).
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// requestURL is the absolute URL of the request, as the caller sees it:
// the Location of a 202 status answer.
func requestURL(r *http.Request) string { return origin(r) + r.URL.RequestURI() }

// writeCheckStatus answers 202 with the check-status body, Location and
// Retry-After: 10, Durable Functions' asynchronous HTTP pattern.
func (a *API) writeCheckStatus(w http.ResponseWriter, r *http.Request, id string) {
	cs := a.checkStatus(r, id)
	w.Header().Set("Location", cs.StatusQueryGetURI)
	w.Header().Set("Retry-After", "10")
	writeJSON(w, http.StatusAccepted, cs)
}

// writeJSON writes v as JSON; v may be a json.RawMessage already.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // API payloads, not HTML: keep users' "<" as is
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, msgInternal, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeText answers with a plain-text body, for the answers whose body
// clients show as it is.
func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// Messages of error bodies, as Durable Functions words them.
const (
	msgBadArgument = "One or more of the arguments submitted is incorrect"
	msgInternal    = "Something went wrong while processing your request"
	// msgUnreachable is this project's own: Durable Functions has no
	// answer for a storage account it cannot reach (its host does not
	// start), and a plain 500 sent new users looking for a bug in their
	// code when Azurite was simply not running.
	msgUnreachable = "The app cannot reach its storage account: start Azurite (durable dev starts it with the app) or fix the connection setting"
)

// errorBody is the body of every error answer.
type errorBody struct {
	Message          string `json:"Message"`
	ExceptionMessage string `json:"ExceptionMessage"`
}

func writeError(w http.ResponseWriter, status int, message, detail string) {
	b, _ := json.Marshal(errorBody{Message: message, ExceptionMessage: detail}) // strings always marshal
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorStatus maps a client error to its HTTP status. Operations with
// their own rules (rewind, purge, start) adjust the wrong-state case.
func errorStatus(err error) int {
	var se *client.StateError
	switch {
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrScheduleNotFound):
		return http.StatusNotFound
	case errors.Is(err, client.ErrBadArgument):
		return http.StatusBadRequest
	case errors.As(err, &se):
		if se.Status.IsTerminal() {
			return http.StatusGone
		}
		return http.StatusBadRequest
	case errors.Is(err, client.ErrWrongState):
		// Without a status attached this is a finished instance refusing
		// a signal (terminate, raise event): Durable Functions' 410.
		return http.StatusGone
	case azstore.IsHubMissing(err), config.IsUnreachable(err):
		// Neither says anything about the request: it may succeed once
		// the app has created its hub or its storage answers.
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteStorageUnreachable answers 503 at once, with reason as the
// detail, for a request that needs storage while the app knows its storage
// does not answer: without it the request would wait out the storage
// SDK's retries (about 10 s) before failing the same way.
func WriteStorageUnreachable(w http.ResponseWriter, reason string) {
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, msgUnreachable, reason)
}

// fail answers err with status and logs server-side failures, whose
// details the caller may not see in full.
func (a *API) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := msgBadArgument
	switch {
	case status >= 500 && status != http.StatusServiceUnavailable:
		msg = msgInternal
		a.cfg.Logger.Error("management request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error", err)
	case status == http.StatusNotFound:
		msg = "Not found"
	case status == http.StatusGone:
		msg = "The orchestration instance has already finished"
	case status == http.StatusConflict:
		msg = "An active instance with this ID already exists"
	case status == http.StatusPreconditionFailed:
		msg = "The orchestration instance is not in a state that allows this operation"
	case status == http.StatusServiceUnavailable && config.IsUnreachable(err):
		msg = msgUnreachable
		w.Header().Set("Retry-After", "5")
		a.cfg.Logger.Warn("management request while storage is unreachable", "method", r.Method, "path", r.URL.Path, "error", err)
	case status == http.StatusServiceUnavailable:
		msg = "The task hub does not exist: the app may still be starting, or the hub was deleted and is being created again"
		w.Header().Set("Retry-After", "5")
		a.cfg.Logger.Warn("management request before the task hub exists", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	writeError(w, status, msg, err.Error())
}

// writePage answers 200 with body, one page of a list (or of work done),
// and the continuation token, when there is one, in its header.
func writePage(w http.ResponseWriter, token string, body any) {
	if token != "" {
		w.Header().Set(ContinuationHeader, token)
	}
	writeJSON(w, http.StatusOK, body)
}
