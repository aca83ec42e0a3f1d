package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// pathID returns the {instanceId} route value, validated.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("instanceId")
	if err := client.ValidateInstanceID(id); err != nil {
		return "", err
	}
	return id, nil
}

// instanceRequest resolves the client and the validated {instanceId} of a
// request about one existing instance. Either failing is the caller's
// mistake, so it answers 400 itself and returns ok=false then.
func (a *API) instanceRequest(w http.ResponseWriter, r *http.Request) (c Client, id string, ok bool) {
	return a.instanceRequestWith(w, r, client.ValidateInstanceID)
}

// instanceRequestWith is instanceRequest with the {instanceId} checked by
// validate.
func (a *API) instanceRequestWith(w http.ResponseWriter, r *http.Request, validate func(string) error) (c Client, id string, ok bool) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return nil, "", false
	}
	id = r.PathValue("instanceId")
	if err := validate(id); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return nil, "", false
	}
	return c, id, true
}

// readJSONBody reads a request body that must be JSON; an empty body is
// nil (no input, or a null event).
func readJSONBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: the body is larger than %d bytes", client.ErrBadArgument, maxBodyBytes)
		}
		return nil, fmt.Errorf("%w: read body: %v", client.ErrBadArgument, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	// json.Valid lets invalid UTF-8 through inside strings (a decoder
	// would turn it into U+FFFD); JSON text must be UTF-8, and storing such
	// bytes would hand other readers something they cannot decode.
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid JSON content: the body is not valid UTF-8", client.ErrBadArgument)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: invalid JSON content: the body is not valid JSON", client.ErrBadArgument)
	}
	return b, nil
}

// startInstance starts {functionName} (as {instanceId} when given) with the
// body as input. It answers errors itself and returns ok=false then.
func (a *API) startInstance(w http.ResponseWriter, r *http.Request) (c Client, id string, ok bool) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return nil, "", false
	}
	name := r.PathValue("functionName")
	if id = r.PathValue("instanceId"); id != "" {
		if id, err = pathID(r); err != nil {
			a.fail(w, r, http.StatusBadRequest, err)
			return nil, "", false
		}
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return nil, "", false
	}
	var input any
	if body != nil {
		input = body
	}
	// ?version= names the orchestration's version; without it the app's
	// defaultVersion applies.
	id, err = c.StartNew(r.Context(), name, input, client.StartOptions{InstanceID: id, Version: strings.TrimSpace(query(r).get("version"))})
	if err != nil {
		status := errorStatus(err)
		if errors.Is(err, client.ErrWrongState) {
			// An active instance holds the ID: Durable Functions' 409.
			status = http.StatusConflict
		}
		a.fail(w, r, status, err)
		return nil, "", false
	}
	a.cfg.Logger.Info("started orchestration", "function", name, "instanceId", id)
	return c, id, true
}

// start serves POST /orchestrators/{functionName}[/{instanceId}]: 202 with
// the check-status body, or, with timeout or pollingInterval, a wait as in
// startAndWait.
func (a *API) start(w http.ResponseWriter, r *http.Request) {
	timeout, poll, wait, err := waitParams(query(r))
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	c, id, ok := a.startInstance(w, r)
	if !ok {
		return
	}
	if wait {
		a.waitForCompletion(w, r, c, id, timeout, poll)
		return
	}
	a.writeCheckStatus(w, r, id)
}

// waitParams reads the timeout and pollingInterval of a start that may
// wait for the instance. Either one alone asks for the wait, as Durable
// Functions' WaitForCompletionOrCreateCheckStatusResponse takes each with
// a default (10 s, 1 s); ignoring a lone timeout answered 202 at once to a
// caller who had asked to wait. An interval longer than the timeout is a
// 400, as in startAndWait.
func waitParams(q params) (timeout, poll time.Duration, wait bool, err error) {
	timeout, hasTimeout, err := q.seconds("timeout")
	if err != nil {
		return 0, 0, false, err
	}
	poll, hasPoll, err := q.interval("pollingInterval")
	if err != nil {
		return 0, 0, false, err
	}
	if !hasTimeout && !hasPoll {
		return 0, 0, false, nil
	}
	if !hasTimeout {
		timeout = DefaultWaitTimeout
	}
	if !hasPoll {
		poll = min(DefaultRetryInterval, timeout)
	}
	if poll > timeout {
		return 0, 0, false, errRetryOverTimeout(timeout, poll)
	}
	return timeout, poll, true, nil
}

// startAndWait serves POST /orchestrators/{functionName}/wait, the seed's
// HttpSyncStart: it starts the orchestrator and waits up to timeout
// (default 10 s) for it, checking every retryInterval (default 1 s).
func (a *API) startAndWait(w http.ResponseWriter, r *http.Request) {
	q := query(r)
	timeout, ok, err := q.seconds("timeout")
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !ok {
		timeout = DefaultWaitTimeout
	}
	interval, ok, err := q.interval("retryInterval")
	if err == nil && !ok {
		interval, ok, err = q.interval("pollingInterval")
	}
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !ok {
		interval = min(DefaultRetryInterval, timeout)
	}
	if interval > timeout {
		a.fail(w, r, http.StatusBadRequest, errRetryOverTimeout(timeout, interval))
		return
	}
	c, id, started := a.startInstance(w, r)
	if !started {
		return
	}
	a.waitForCompletion(w, r, c, id, timeout, interval)
}

func errRetryOverTimeout(timeout, interval time.Duration) error {
	return fmt.Errorf("%w: total timeout %gs should be bigger than retry interval %gs",
		client.ErrBadArgument, timeout.Seconds(), interval.Seconds())
}

// minPoll keeps a zero retry interval from turning the wait into a busy loop.
const minPoll = 50 * time.Millisecond

// waitForCompletion answers like WaitForCompletionOrCreateCheckStatusResponse:
// 200 with the output when the instance completes within timeout; the
// status answer when it fails, is terminated or canceled; else 202 with the
// check-status body.
func (a *API) waitForCompletion(w http.ResponseWriter, r *http.Request, c Client, id string, timeout, interval time.Duration) {
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	st, err := c.WaitForCompletion(ctx, id, max(interval, minPoll))
	waitEnded := ctx.Err() != nil
	cancel()
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		return // the caller went away; nobody reads an answer
	case waitEnded:
		a.writeCheckStatus(w, r, id)
		return
	default:
		a.fail(w, r, errorStatus(err), err)
		return
	}
	if st.RuntimeStatus == history.StatusCompleted {
		out := st.Output
		if len(bytes.TrimSpace(out)) == 0 {
			out = json.RawMessage("null")
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	// A malformed flag is not worth failing a finished wait over: it reads
	// as false, Durable Functions' default.
	failAs500, _ := query(r).bool("returnInternalServerErrorOnFailure", false)
	a.respondStatus(w, r, c, id, statusRequest{showInput: true, failAs500: failAs500})
}

// statusRequest holds the options of a status answer.
type statusRequest struct {
	showHistory, showHistoryOutput, showInput, failAs500 bool
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	// An entity's instance may be read too (its input is its scheduler
	// state), though nothing can start one under that ID.
	c, id, ok := a.instanceRequestWith(w, r, client.ValidateReadableID)
	if !ok {
		return
	}
	q := query(r)
	var sr statusRequest
	var errs [4]error
	sr.showHistory, errs[0] = q.bool("showHistory", false)
	sr.showHistoryOutput, errs[1] = q.bool("showHistoryOutput", false)
	sr.showInput, errs[2] = q.bool("showInput", true)
	sr.failAs500, errs[3] = q.bool("returnInternalServerErrorOnFailure", false)
	if err := errors.Join(errs[:]...); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	a.respondStatus(w, r, c, id, sr)
}

// respondStatus answers with the instance's status body: 202 with Location
// and Retry-After: 5 while it runs, 200 once finished (500 for Failed when
// asked), 404 when unknown.
func (a *API) respondStatus(w http.ResponseWriter, r *http.Request, c Client, id string, sr statusRequest) {
	st, err := c.GetStatus(r.Context(), id, client.StatusOptions{ShowHistory: sr.showHistory,
		ShowHistoryOutput: sr.showHistoryOutput, HideInput: !sr.showInput})
	if err != nil {
		if errors.Is(err, client.ErrNotFound) {
			// The extension answers an unknown ID with an empty 404, and
			// the JS client v2 hands a 404's body back as the status: a
			// JSON error body would look like a status to its callers.
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a.fail(w, r, errorStatus(err), err)
		return
	}
	body, err := apijson.Status(st, apijson.StatusOptions{ShowHistory: sr.showHistory, ShowHistoryOutput: sr.showHistoryOutput})
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	code := http.StatusOK
	switch st.RuntimeStatus {
	case history.StatusPending, history.StatusRunning, history.StatusContinuedAsNew, history.StatusSuspended:
		code = http.StatusAccepted
		w.Header().Set("Location", requestURL(r))
		w.Header().Set("Retry-After", "5")
	case history.StatusFailed:
		if sr.failAs500 {
			code = http.StatusInternalServerError
		}
	case history.StatusCompleted, history.StatusTerminated, history.StatusCanceled:
	default:
		a.cfg.Logger.Error("instance has an unknown runtime status", "instanceId", id, "status", st.RuntimeStatus)
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, body)
}

// ContinuationHeader carries list continuation tokens both ways.
const ContinuationHeader = "x-ms-continuation-token"

// filterQuery reads the list query's filters: createdTimeFrom,
// createdTimeTo, runtimeStatus, instanceIdPrefix, name (repeatable or
// comma-separated), version (repeatable; version= is instances without
// one) and showInternal (internal orchestrations, hidden by
// default). The list, the counts and the bulk operations share it, so
// they agree on what matches.
func filterQuery(q params) (client.Query, error) {
	var qu client.Query
	var errs [4]error
	qu.CreatedFrom, _, errs[0] = q.time("createdTimeFrom")
	qu.CreatedTo, _, errs[1] = q.time("createdTimeTo")
	qu.Statuses, errs[2] = q.statuses("runtimeStatus")
	qu.ShowInternal, errs[3] = q.bool("showInternal", false)
	if err := errors.Join(errs[:]...); err != nil {
		return qu, err
	}
	if !qu.CreatedFrom.IsZero() && !qu.CreatedTo.IsZero() && !qu.CreatedTo.After(qu.CreatedFrom) {
		return qu, fmt.Errorf("%w: createdTimeTo must be after createdTimeFrom", client.ErrBadArgument)
	}
	qu.InstanceIDPrefix = q.get("instanceIdPrefix")
	if p := qu.InstanceIDPrefix; p != "" {
		// A prefix no instance ID can start with (too long, '/', control
		// characters) matches nothing, and storage refuses some of them
		// outright: say so rather than fail in the query.
		if err := layout.ValidateInstanceID(p); err != nil {
			return qu, fmt.Errorf("%w: query parameter instanceIdPrefix cannot start an instance ID: %v", client.ErrBadArgument, err)
		}
	}
	for _, v := range q.all("version") {
		qu.Versions = append(qu.Versions, strings.TrimSpace(v))
	}
	for _, v := range q.all("name") {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				qu.Names = append(qu.Names, n)
			}
		}
	}
	return qu, nil
}

// list serves GET /instances: one page of instances, filtered.
func (a *API) list(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q := query(r)
	qu, err := filterQuery(q)
	var errs [2]error
	qu.ShowInput, errs[0] = q.bool("showInput", true)
	qu.PageSize, errs[1] = q.positiveInt("top", 100)
	if err := errors.Join(err, errs[0], errs[1]); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	qu.ContinuationToken = r.Header.Get(ContinuationHeader)
	page, err := c.ListInstances(r.Context(), qu)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	body, err := apijson.Statuses(page.Instances)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writePage(w, page.ContinuationToken, body)
}

// counts serves GET /counts: the number of instances per runtime status
// among those the list filters select, e.g. {"Running": 2, "Completed": 7, ...}.
func (a *API) counts(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	qu, err := filterQuery(query(r))
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	// groupBy=version counts per orchestrator and version: an array of
	// {"name", "version", "counts"}.
	switch by := query(r).get("groupBy"); {
	case strings.EqualFold(by, "version"):
		groups, err := c.CountByVersion(r.Context(), qu)
		if err != nil {
			a.fail(w, r, errorStatus(err), err)
			return
		}
		writeJSON(w, http.StatusOK, groups)
		return
	case by != "":
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("%w: query parameter groupBy=%q: the only grouping is version", client.ErrBadArgument, by))
		return
	}
	counts, err := c.CountInstances(r.Context(), qu)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, counts)
}

// purgeResult is the body of a successful purge.
type purgeResult struct {
	InstancesDeleted int `json:"instancesDeleted"`
}

// purge serves DELETE /instances/{id}[?recursive=true].
func (a *API) purge(w http.ResponseWriter, r *http.Request) {
	c, id, ok := a.instanceRequest(w, r)
	if !ok {
		return
	}
	recursive, err := query(r).bool("recursive", false)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if recursive {
		a.purgeTree(w, r, c, id)
		return
	}
	if err := c.Purge(r.Context(), id); err != nil {
		status := errorStatus(err)
		if errors.Is(err, client.ErrWrongState) {
			// Durable Functions answers 412 for an instance that has not
			// finished: it may be purged later.
			status = http.StatusPreconditionFailed
		}
		a.fail(w, r, status, err)
		return
	}
	writeJSON(w, http.StatusOK, purgeResult{InstancesDeleted: 1})
}

// purgeTree serves DELETE /instances/{id}?recursive=true: the instance and
// its tree of sub-orchestrations. A tree left in part because some of it
// has not finished is a 412, as for one unfinished instance; the error
// text counts what was deleted and names what was not.
func (a *API) purgeTree(w http.ResponseWriter, r *http.Request, c Client, id string) {
	n, err := c.PurgeWithOptions(r.Context(), id, client.PurgeOptions{Recursive: true})
	if err != nil {
		status := errorStatus(err)
		if errors.Is(err, client.ErrWrongState) {
			status = http.StatusPreconditionFailed
		}
		a.fail(w, r, status, err)
		return
	}
	writeJSON(w, http.StatusOK, purgeResult{InstancesDeleted: n})
}

// purgeRange serves DELETE /instances: createdTimeFrom is required,
// createdTimeTo defaults to now; 404 when nothing was purged.
func (a *API) purgeRange(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q := query(r)
	from, hasFrom, err1 := q.time("createdTimeFrom")
	to, hasTo, err2 := q.time("createdTimeTo")
	sts, err3 := q.statuses("runtimeStatus")
	if err := errors.Join(err1, err2, err3); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !hasFrom {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("%w: createdTimeFrom is required: please provide a value for the 'createdTimeFrom' parameter", client.ErrBadArgument))
		return
	}
	if !hasTo {
		to = a.cfg.Now().UTC()
	}
	n, err := c.PurgeRange(r.Context(), client.PurgeQuery{CreatedFrom: from, CreatedTo: to, Statuses: sts}, nil)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	if n == 0 {
		a.fail(w, r, http.StatusNotFound, errors.New("no finished instance matched the filter"))
		return
	}
	writeJSON(w, http.StatusOK, purgeResult{InstancesDeleted: n})
}

// operation serves POST /instances/{id}/{terminate|suspend|resume|rewind|restart}.
func (a *API) operation(w http.ResponseWriter, r *http.Request) {
	c, id, ok := a.instanceRequest(w, r)
	if !ok {
		return
	}
	op := r.PathValue("operation")
	reason := query(r).get("reason")
	ctx := r.Context()
	var err error
	switch strings.ToLower(op) {
	case "terminate":
		recursive, perr := query(r).bool("recursive", false)
		switch {
		case perr != nil:
			a.fail(w, r, http.StatusBadRequest, perr)
			return
		case recursive:
			err = c.TerminateWithOptions(ctx, id, client.TerminateOptions{Reason: reason, Recursive: true})
		default:
			err = c.Terminate(ctx, id, reason)
		}
	case "suspend":
		err = c.Suspend(ctx, id, reason)
	case "resume":
		err = c.Resume(ctx, id, reason)
	case "rewind":
		err = c.Rewind(ctx, id, reason)
	case "restart":
		a.restart(w, r, c, id)
		return
	default:
		a.fail(w, r, http.StatusNotFound, fmt.Errorf("unknown operation %q: want terminate, suspend, resume, rewind, restart or raiseEvent/{eventName}", op))
		return
	}
	if err != nil {
		if strings.EqualFold(op, "rewind") {
			a.rewindFailed(w, r, id, err)
			return
		}
		a.fail(w, r, errorStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// Texts of the rewind refusals. The JS client v3 uses a rewind answer's
// body as its error message (a JSON body would read "[object Object]"), so
// these go out as plain text; the 412 one starts with the message v3 shows
// for an empty 412.
const (
	msgRewindNotFound  = "No orchestration with instance ID '%s' found."
	msgRewindNotFailed = "The rewind operation is only supported on failed orchestration instances."
)

// rewindFailed answers a refused rewind as the current extension does: 404
// with a plain-text body for an unknown instance, and 412 for any instance
// that is not Failed, whatever its status (the extension answered 410 or
// 400 before it added rewind for .NET isolated).
func (a *API) rewindFailed(w http.ResponseWriter, r *http.Request, id string, err error) {
	var se *client.StateError
	switch {
	case errors.Is(err, client.ErrNotFound):
		writeText(w, http.StatusNotFound, fmt.Sprintf(msgRewindNotFound, id))
	case errors.As(err, &se):
		writeText(w, http.StatusPreconditionFailed, fmt.Sprintf("%s Instance '%s' is %s.", msgRewindNotFailed, id, se.Status))
	case errors.Is(err, client.ErrWrongState):
		// Not a status refusal: the instance changed while it was being
		// rewound. Trying again may work.
		a.fail(w, r, http.StatusConflict, err)
	default:
		a.fail(w, r, errorStatus(err), err)
	}
}

// restart serves POST /instances/{id}/restart?restartWithNewInstanceId=
// (default true): 202 with the check-status body of the started instance.
func (a *API) restart(w http.ResponseWriter, r *http.Request, c Client, id string) {
	q := query(r)
	newID, err1 := q.bool("restartWithNewInstanceId", true)
	timeout, poll, wait, err2 := waitParams(q)
	if err := errors.Join(err1, err2); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	started, err := c.Restart(r.Context(), id, newID)
	if err != nil {
		status := errorStatus(err)
		if errors.Is(err, client.ErrWrongState) {
			status = http.StatusConflict // the ID is held by an active instance
		}
		a.fail(w, r, status, err)
		return
	}
	if wait {
		a.waitForCompletion(w, r, c, started, timeout, poll)
		return
	}
	a.writeCheckStatus(w, r, started)
}

// MaxEventNameChars bounds event names. Durable Functions sets no limit,
// but a name travels in the URL, in every event message and in history
// rows; names are identifiers such as "Approval", and one longer than an
// instance ID may be is a mistake.
const MaxEventNameChars = layout.MaxInstanceIDChars

// validateEventName refuses event names that could not be sent back in a
// URL ('/' would split the route) or stored as given.
func validateEventName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: the event name must not be empty or blank", client.ErrBadArgument)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: the event name %q is not valid UTF-8", client.ErrBadArgument, name)
	case utf8.RuneCountInString(name) > MaxEventNameChars:
		return fmt.Errorf("%w: the event name %.40q... is longer than %d characters", client.ErrBadArgument, name, MaxEventNameChars)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w: the event name %q must not contain '/'", client.ErrBadArgument, name)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return fmt.Errorf("%w: the event name %q must not contain control character U+%04X", client.ErrBadArgument, name, c)
		}
	}
	return nil
}

// raiseEvent serves POST /instances/{id}/raiseEvent/{eventName}: 202, 404
// for an unknown instance, 410 for a finished one, 400 for a body that is
// not JSON or an event name that cannot be one.
//
// The body is read as JSON whatever its Content-Type, as the start route
// reads it. The extension itself refuses anything but application/json;
// this app also takes a JSON body sent without one (curl -d, fetch with a
// string body), since the body is the only thing that has to be JSON.
func (a *API) raiseEvent(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("operation"), "raiseEvent") {
		a.fail(w, r, http.StatusNotFound, fmt.Errorf("%s is not a route of this API", r.URL.Path))
		return
	}
	c, id, ok := a.instanceRequest(w, r)
	if !ok {
		return
	}
	name := r.PathValue("eventName")
	if err := validateEventName(name); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if body == nil {
		body = json.RawMessage("null")
	}
	if err := c.RaiseEvent(r.Context(), id, name, body); err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
