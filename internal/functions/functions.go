// Package functions implements the function app's queue- and
// timer-triggered functions (StartNew, GetStatus, Terminate, RaiseEvent,
// Rewind, Purge, PurgeTimer and Wake) over the custom handler protocol: the
// Functions host POSTs /{FunctionName} with {"Data","Metadata"} and gets
// {"Outputs","Logs","ReturnValue"} back.
//
// Outcomes follow one rule. A message that can never succeed (it cannot be
// read, names a bad or unknown instance, or asks for something the
// instance's state forbids) is answered 200 with the error in Logs, so the
// host deletes it instead of retrying it five times and poisoning it. A
// failure that may pass (storage unreachable, a timeout) is answered 500, so
// the host retries the message and, after maxDequeueCount attempts, moves it
// to the poison queue.
package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/telemetry"
)

// Function names: the function folders at the app root, which are also the
// paths the host POSTs to.
const (
	StartNew   = "StartNew"
	GetStatus  = "GetStatus"
	Terminate  = "Terminate"
	RaiseEvent = "RaiseEvent"
	Rewind     = "Rewind"
	Purge      = "Purge"
	PurgeTimer = "PurgeTimer"
	Wake       = "Wake"
)

// App settings read by PurgeTimer at each run.
const (
	// SettingPurgeOlderThanDays is how old (by creation time) an instance
	// must be to be purged, in days; decimals allowed. Default 30.
	SettingPurgeOlderThanDays = "PurgeTimer__OlderThanDays"
	// SettingPurgeStatuses lists the runtime statuses to purge, separated by
	// commas; only Completed, Failed, Terminated and Canceled are allowed.
	// Default Completed.
	SettingPurgeStatuses = "PurgeTimer__Statuses"
)

// Client is the part of the management client these functions use;
// *client.Client implements it.
type Client interface {
	StartNew(ctx context.Context, name string, input any, o client.StartOptions) (string, error)
	GetStatus(ctx context.Context, id string, o client.StatusOptions) (*client.Status, error)
	Terminate(ctx context.Context, id, reason string) error
	RaiseEvent(ctx context.Context, id, eventName string, data any) error
	Rewind(ctx context.Context, id, reason string) error
	Purge(ctx context.Context, id string) error
	PurgeRange(ctx context.Context, q client.PurgeQuery, progress client.Progress) (int, error)
}

// Engine is the in-process durable worker; *worker.Worker implements it.
type Engine interface {
	// Notify tells the engine that work for instanceID was queued.
	Notify(instanceID string)
}

// Config is what Functions are built from.
type Config struct {
	Client Client
	Engine Engine
	// EngineReady reports whether the engine is processing (it owns at
	// least one partition). Wake waits for it, up to WakeWait, so that a
	// cold-started app has picked the work up before the invocation ends.
	// Nil means always ready.
	EngineReady func() bool
	// WakeWait bounds that wait. Default 20 s.
	WakeWait time.Duration
	// Setting looks up an app setting.
	Setting func(name string) (string, bool)
	Logger  *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Functions serves the non-HTTP functions. It is safe for concurrent use.
type Functions struct {
	cfg      Config
	handlers map[string]handlerFunc
}

// handlerFunc runs one invocation. It reports progress through inv and
// returns an error only for failures worth a retry.
type handlerFunc func(ctx context.Context, inv *invocation) error

// invocation is one call being served: its decoded payload and the log
// lines returned to the host.
type invocation struct {
	*Invocation
	function string
	id       string
	log      *slog.Logger
	resp     *Response
}

// logf adds an informational line to the invocation's logs.
func (inv *invocation) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	inv.resp.Logs = append(inv.resp.Logs, line)
	inv.log.Info(line)
}

// reject records a message that can never succeed: an error line in the
// invocation's logs, and no retry.
func (inv *invocation) reject(format string, args ...any) {
	line := "Error: " + fmt.Sprintf(format, args...) + " The message is dropped, not retried."
	inv.resp.Logs = append(inv.resp.Logs, line)
	inv.log.Error(line)
}

// New returns the functions of the app.
func New(cfg Config) (*Functions, error) {
	if cfg.Client == nil {
		return nil, errors.New("functions: a client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WakeWait <= 0 {
		cfg.WakeWait = 20 * time.Second
	}
	if cfg.Setting == nil {
		cfg.Setting = func(string) (string, bool) { return "", false }
	}
	f := &Functions{cfg: cfg}
	f.handlers = map[string]handlerFunc{
		StartNew:   f.startNew,
		GetStatus:  f.getStatus,
		Terminate:  f.terminate,
		RaiseEvent: f.raiseEvent,
		Rewind:     f.rewind,
		Purge:      f.purge,
		PurgeTimer: f.purgeTimer,
		Wake:       f.wake,
	}
	return f, nil
}

// ServeHTTP serves POST /{FunctionName}. The function name is the last path
// segment, matched case-insensitively because the host's function names
// are.
func (f *Functions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "invocations are POSTed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.Trim(r.URL.Path, "/")
	var h handlerFunc
	for n, fn := range f.handlers {
		if strings.EqualFold(n, name) {
			name, h = n, fn
			break
		}
	}
	if h == nil {
		http.NotFound(w, r)
		return
	}
	id := r.Header.Get("X-Azure-Functions-InvocationId")
	inv := &invocation{function: name, id: id, resp: newResponse(),
		log: f.cfg.Logger.With("function", name, "invocation", id)}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxInvocationBytes))
	if err == nil {
		inv.Invocation, err = DecodeInvocation(body)
	}
	if err != nil {
		// The host produced a payload we cannot read; retrying it would
		// produce the same payload.
		inv.reject("cannot read the invocation payload: %v.", err)
		writeResponse(w, http.StatusOK, inv.resp)
		return
	}
	if err := h(r.Context(), inv); err != nil {
		line := fmt.Sprintf("Error: %v. The host will retry the message.", err)
		inv.resp.Logs = append(inv.resp.Logs, line)
		inv.log.Error(line)
		writeResponse(w, http.StatusInternalServerError, inv.resp)
		return
	}
	writeResponse(w, http.StatusOK, inv.resp)
}

func writeResponse(w http.ResponseWriter, status int, resp *Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		// A Response holds strings and valid raw JSON only.
		http.Error(w, "encode invocation response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// messageText returns the queue message text of the invocation, or rejects
// the invocation and returns ok=false.
func (inv *invocation) messageText(binding string) (string, bool) {
	raw, ok := inv.Binding(binding)
	if !ok {
		inv.reject("the invocation has no %q trigger data.", binding)
		return "", false
	}
	text, err := Text(raw)
	if err != nil {
		inv.reject("cannot read the queue message: %v.", err)
		return "", false
	}
	return text, true
}

// settle turns a client error into the invocation's outcome: nil after
// logging for errors that a retry cannot fix, the error itself otherwise.
func (inv *invocation) settle(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrBadArgument), errors.Is(err, client.ErrWrongState):
		inv.reject("%s: %v.", what, err)
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// startNew starts HelloWorld with the message as input, or runs a start
// command (see ParseStartMessage).
func (f *Functions) startNew(ctx context.Context, inv *invocation) error {
	text, ok := inv.messageText("input")
	if !ok {
		return nil
	}
	m, err := ParseStartMessage(text)
	if err != nil {
		inv.reject("%v.", err)
		return nil
	}
	var input any
	if len(m.Input) > 0 {
		input = m.Input
	}
	if m.TraceParent != "" {
		// A start command's trace context, as an HTTP start's header is.
		h := http.Header{}
		h.Set("traceparent", m.TraceParent)
		if m.TraceState != "" {
			h.Set("tracestate", m.TraceState)
		}
		ctx = telemetry.Extract(ctx, h)
	}
	id, err := f.cfg.Client.StartNew(ctx, m.Orchestrator, input, client.StartOptions{InstanceID: m.InstanceID})
	if err != nil {
		return inv.settle(fmt.Sprintf("start %s", m.Orchestrator), err)
	}
	inv.logf("Started orchestration with ID = '%s'.", id)
	return nil
}

// getStatus logs the named instance's status body.
func (f *Functions) getStatus(ctx context.Context, inv *invocation) error {
	tg, ok := inv.target(false)
	if !ok {
		return nil
	}
	st, err := f.cfg.Client.GetStatus(ctx, tg.InstanceID, client.StatusOptions{})
	if errors.Is(err, client.ErrNotFound) {
		// Not an error in the seed: GetStatusAsync returns null.
		inv.logf("No instance with ID '%s' was found.", tg.InstanceID)
		return nil
	}
	if err != nil {
		return inv.settle("get status of "+tg.InstanceID, err)
	}
	body, err := apijson.Status(st, apijson.StatusOptions{})
	if err != nil {
		return inv.settle("render status of "+tg.InstanceID, err)
	}
	inv.logf("Instance '%s' is %s: %s", st.InstanceID, st.RuntimeStatus, body)
	return nil
}

// target reads the invocation's "instanceId" message as a Target (see
// ParseTarget), or rejects the invocation and returns ok=false. GetStatus,
// Terminate, Rewind and Purge all take their instance this way.
func (inv *invocation) target(withReason bool) (*Target, bool) {
	text, ok := inv.messageText("instanceId")
	if !ok {
		return nil, false
	}
	tg, err := ParseTarget(text, withReason)
	if err != nil {
		inv.reject("%v.", err)
		return nil, false
	}
	return tg, true
}

// runWithReason runs a command that carries a reason (Terminate, Rewind) on the
// invocation's target: the reason defaults to defaultReason, a client error
// is settled as "<verb> <id>", and done formats the success line from the
// instance ID and the reason.
func (f *Functions) runWithReason(ctx context.Context, inv *invocation, verb, defaultReason string,
	call func(ctx context.Context, id, reason string) error, done string) error {
	tg, ok := inv.target(true)
	if !ok {
		return nil
	}
	reason := tg.Reason
	if reason == "" {
		reason = defaultReason
	}
	if err := call(ctx, tg.InstanceID, reason); err != nil {
		return inv.settle(verb+" "+tg.InstanceID, err)
	}
	inv.logf(done, tg.InstanceID, reason)
	return nil
}

func (f *Functions) terminate(ctx context.Context, inv *invocation) error {
	return f.runWithReason(ctx, inv, "terminate", DefaultTerminateReason, f.cfg.Client.Terminate,
		"Asked instance '%s' to terminate: %s")
}

func (f *Functions) raiseEvent(ctx context.Context, inv *invocation) error {
	text, ok := inv.messageText("instanceId")
	if !ok {
		return nil
	}
	m, err := ParseEventMessage(text)
	if err != nil {
		inv.reject("%v.", err)
		return nil
	}
	if err := f.cfg.Client.RaiseEvent(ctx, m.InstanceID, m.EventName, m.Data); err != nil {
		return inv.settle(fmt.Sprintf("raise %s on %s", m.EventName, m.InstanceID), err)
	}
	inv.logf("Raised event '%s' on instance '%s' with data %s.", m.EventName, m.InstanceID, m.Data)
	return nil
}

func (f *Functions) rewind(ctx context.Context, inv *invocation) error {
	return f.runWithReason(ctx, inv, "rewind", DefaultRewindReason, f.cfg.Client.Rewind,
		"Rewound instance '%s': %s")
}

func (f *Functions) purge(ctx context.Context, inv *invocation) error {
	tg, ok := inv.target(false)
	if !ok {
		return nil
	}
	if err := f.cfg.Client.Purge(ctx, tg.InstanceID); err != nil {
		return inv.settle("purge "+tg.InstanceID, err)
	}
	inv.logf("Purged the history of instance '%s'.", tg.InstanceID)
	return nil
}

// PurgeSettings are PurgeTimer's settings, resolved.
type PurgeSettings struct {
	OlderThan time.Duration
	Statuses  []history.RuntimeStatus
}

// ReadPurgeSettings reads PurgeTimer__OlderThanDays and PurgeTimer__Statuses.
func ReadPurgeSettings(setting func(string) (string, bool)) (*PurgeSettings, error) {
	ps := &PurgeSettings{OlderThan: 30 * 24 * time.Hour, Statuses: []history.RuntimeStatus{history.StatusCompleted}}
	if v, ok := setting(SettingPurgeOlderThanDays); ok && strings.TrimSpace(v) != "" {
		days, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || days < 0 || days > 100000 {
			return nil, fmt.Errorf("app setting %s=%q: want a number of days from 0 to 100000", SettingPurgeOlderThanDays, v)
		}
		ps.OlderThan = time.Duration(days * float64(24*time.Hour))
	}
	if v, ok := setting(SettingPurgeStatuses); ok && strings.TrimSpace(v) != "" {
		ps.Statuses = nil
		for _, part := range strings.Split(v, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			st, err := history.ParseRuntimeStatus(strings.TrimSpace(part))
			if err != nil {
				return nil, fmt.Errorf("app setting %s: %w", SettingPurgeStatuses, err)
			}
			if !st.IsTerminal() {
				return nil, fmt.Errorf("app setting %s: %s instances cannot be purged; use Completed, Failed, Terminated or Canceled", SettingPurgeStatuses, st)
			}
			ps.Statuses = append(ps.Statuses, st)
		}
		if len(ps.Statuses) == 0 {
			return nil, fmt.Errorf("app setting %s=%q names no status", SettingPurgeStatuses, v)
		}
	}
	return ps, nil
}

// purgeTimer purges finished instances created before now minus the
// configured age, as the seed's timer-triggered example does.
func (f *Functions) purgeTimer(ctx context.Context, inv *invocation) error {
	ps, err := ReadPurgeSettings(f.cfg.Setting)
	if err != nil {
		// A setting the operator must fix; retrying the timer will not help.
		inv.reject("%v.", err)
		return nil
	}
	if raw, ok := inv.Binding("myTimer"); ok {
		var info struct {
			IsPastDue json.RawMessage `json:"IsPastDue"`
		}
		if json.Unmarshal(raw, &info) == nil {
			if s, _ := Text(info.IsPastDue); strings.EqualFold(s, "true") {
				inv.logf("The timer is past due.")
			}
		}
	}
	to := f.cfg.Now().UTC().Add(-ps.OlderThan)
	// The Unix epoch bounds the range from below, as new Date(0) does in
	// the seed's JavaScript: every instance was created after it.
	from := time.Unix(0, 0).UTC()
	n, err := f.cfg.Client.PurgeRange(ctx, client.PurgeQuery{CreatedFrom: from, CreatedTo: to, Statuses: ps.Statuses}, nil)
	if err != nil {
		return inv.settle("purge instance history", err)
	}
	inv.logf("Purged %d instance(s) with status %s created before %s.", n, joinStatuses(ps.Statuses), to.Format(time.RFC3339))
	return nil
}

func joinStatuses(sts []history.RuntimeStatus) string {
	s := make([]string, len(sts))
	for i, st := range sts {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// wake serves the wake-up queue: the host started (or kept) the app for
// this message, so the engine is starting in this process already. It
// waits until the engine is processing, then points it at the instance.
func (f *Functions) wake(ctx context.Context, inv *invocation) error {
	text, ok := inv.messageText("message")
	if !ok {
		return nil
	}
	m, err := ParseWakeMessage(text)
	if err != nil {
		inv.reject("%v.", err)
		return nil
	}
	ready := f.waitEngine(ctx)
	if m.InstanceID != "" && f.cfg.Engine != nil {
		f.cfg.Engine.Notify(m.InstanceID)
	}
	state := "running"
	if !ready {
		// Not an error: the engine keeps starting in the background and
		// finds the work by polling.
		state = fmt.Sprintf("still starting after %s", f.cfg.WakeWait)
	}
	switch {
	case m.InstanceID != "":
		inv.logf("Woke the durable engine (%s) for instance '%s' (reason: %s).", state, m.InstanceID, orNone(m.Reason))
	default:
		inv.logf("Woke the durable engine (%s).", state)
	}
	return nil
}

func (f *Functions) waitEngine(ctx context.Context) bool {
	if f.cfg.EngineReady == nil || f.cfg.EngineReady() {
		return true
	}
	deadline := time.NewTimer(f.cfg.WakeWait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return f.cfg.EngineReady()
		case <-tick.C:
			if f.cfg.EngineReady() {
				return true
			}
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none given"
	}
	return s
}
