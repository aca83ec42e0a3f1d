package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/schedule"
)

// HostFile is the name of the Azure Functions host configuration file in the
// app root.
const HostFile = "host.json"

// Key paths used in error messages. They use the spelling of the Durable
// Functions documentation whatever the case in the file, so that a message
// can be pasted into a search engine.
const (
	keyDurable = "extensions.durableTask"
	keyStorage = keyDurable + ".storageProvider"

	keyHubName                 = keyDurable + ".hubName"
	keyMaxConcurrentActivity   = keyDurable + ".maxConcurrentActivityFunctions"
	keyMaxConcurrentOrch       = keyDurable + ".maxConcurrentOrchestratorFunctions"
	keyConnectionName          = keyStorage + ".connectionName"
	keyPartitionCount          = keyStorage + ".partitionCount"
	keyMaxQueuePollingInterval = keyStorage + ".maxQueuePollingInterval"
	keyControlVisibility       = keyStorage + ".controlQueueVisibilityTimeout"
	keyWorkItemVisibility      = keyStorage + ".workItemQueueVisibilityTimeout"
	keyControlQueueBatchSize   = keyStorage + ".controlQueueBatchSize"
	keyPartitionLeaseDuration  = keyStorage + ".partitionLeaseDuration"
	keyPartitionLeaseRenew     = keyStorage + ".partitionLeaseRenewInterval"
	keyMaxLocalActivityBacklog = keyStorage + ".maxLocalActivityBacklog"
)

// Defaults and limits of the Durable Functions Azure Storage provider.
const (
	// DefaultHubName is the task hub used when host.json names none.
	DefaultHubName = "DurableFunctionsHub"
	// DefaultConnectionName is the app setting holding the storage connection
	// when host.json names none; the Functions host itself uses it too.
	DefaultConnectionName = "AzureWebJobsStorage"
	// DefaultHTTPRoutePrefix is the route prefix of HTTP-triggered functions
	// when host.json does not set extensions.http.routePrefix.
	DefaultHTTPRoutePrefix = "api"

	// MaxPartitionCount is the most control queues a task hub can have.
	MaxPartitionCount = 16
	// MaxControlQueueBatchSize is the most messages one queue read returns,
	// a limit of the Azure Queue service.
	MaxControlQueueBatchSize = 32
	// MinQueuePollingInterval is the floor of the polling back-off; the
	// provider starts its back-off there, so a lower maximum is meaningless.
	MinQueuePollingInterval = 50 * time.Millisecond
	// MaxVisibilityTimeout is the longest a queue message can be hidden,
	// a limit of the Azure Queue service.
	MaxVisibilityTimeout = 7 * 24 * time.Hour
)

// Host is the part of host.json this app needs.
type Host struct {
	// Version is the schema version, "version"; the Functions host only
	// accepts "2.0".
	Version string
	// CustomHandler is how the Functions host starts and talks to this app.
	CustomHandler CustomHandler
	// HTTPRoutePrefix is extensions.http.routePrefix without surrounding
	// slashes: "api" when absent, and "" when explicitly empty (routes at the
	// site root).
	HTTPRoutePrefix string
	// Durable holds extensions.durableTask, with defaults for absent keys.
	Durable DurableOptions
}

// CustomHandler is host.json's customHandler section.
type CustomHandler struct {
	// DefaultExecutablePath is customHandler.description.defaultExecutablePath.
	DefaultExecutablePath string
	// WorkingDirectory is customHandler.description.workingDirectory.
	WorkingDirectory string
	// Arguments is customHandler.description.arguments.
	Arguments []string
	// EnableForwardingHTTPRequest is customHandler.enableForwardingHttpRequest.
	EnableForwardingHTTPRequest bool
}

// DurableOptions configures the durable-task engine. Field names follow the
// host.json keys of Durable Functions (under extensions.durableTask) so that
// an existing host.json keeps its meaning; the last four fields are this
// project's own extensions.
type DurableOptions struct {
	// HubName is hubName: the task hub, which names the tables, queues and
	// containers in storage. It may be written as "%SettingName%" in
	// host.json to take it from an app setting. 3..45 letters and digits,
	// starting with a letter.
	HubName string
	// ConnectionName is storageProvider.connectionName (or the older
	// connectionStringName): the app setting, or prefix of identity-based
	// settings, that locates the storage account.
	ConnectionName string
	// PartitionCount is storageProvider.partitionCount: the number of
	// control queues, 1..16. It cannot change once the task hub exists.
	PartitionCount int
	// MaxQueuePollingInterval is storageProvider.maxQueuePollingInterval: the
	// upper bound of the back-off between polls of an empty queue; at least
	// 50ms.
	MaxQueuePollingInterval time.Duration
	// ControlQueueVisibilityTimeout is
	// storageProvider.controlQueueVisibilityTimeout: how long a dequeued
	// control-queue message stays hidden; at most 7 days.
	ControlQueueVisibilityTimeout time.Duration
	// WorkItemQueueVisibilityTimeout is
	// storageProvider.workItemQueueVisibilityTimeout: the same for the
	// work-item (activity) queue; at most 7 days.
	WorkItemQueueVisibilityTimeout time.Duration
	// ControlQueueBatchSize is storageProvider.controlQueueBatchSize: messages
	// fetched per control-queue read, 1..32.
	ControlQueueBatchSize int
	// MaxConcurrentActivityFunctions is maxConcurrentActivityFunctions: the
	// most activities one worker runs at once; at least 1.
	MaxConcurrentActivityFunctions int
	// MaxConcurrentOrchestratorFunctions is maxConcurrentOrchestratorFunctions:
	// the most orchestration episodes one worker runs at once; at least 1.
	MaxConcurrentOrchestratorFunctions int

	// PartitionLeaseDuration is storageProvider.partitionLeaseDuration, an
	// extension of this project: how long a worker owns a control-queue
	// partition without renewing its lease. A shorter lease hands the
	// partitions of a dead worker over sooner, at the cost of more storage
	// transactions. Default 30s.
	PartitionLeaseDuration time.Duration
	// PartitionLeaseRenewInterval is storageProvider.partitionLeaseRenewInterval,
	// an extension of this project: how often an owned lease is renewed. It
	// must be shorter than PartitionLeaseDuration so that a lease is renewed
	// before it lapses. Default 10s.
	PartitionLeaseRenewInterval time.Duration
	// MaxLocalActivityBacklog is storageProvider.maxLocalActivityBacklog, an
	// extension of this project: how many activity messages a worker may hold
	// dequeued but not yet running. 0 (the default) means twice
	// MaxConcurrentActivityFunctions; see LocalActivityBacklog.
	MaxLocalActivityBacklog int
	// Schedules are schedules, an extension of this project: the schedules
	// that ship with the app, by ID, each in the JSON of the HTTP API's
	// PUT /durabletask/schedules/{id}. The app creates them at start, or
	// changes them to match.
	Schedules map[string]schedule.Spec
	// Retention is retention, an extension of this project: the ages after
	// which the app purges finished instances by itself. Off by default.
	Retention Retention

	// DefaultVersion is defaultVersion: the version a new orchestration
	// gets when its start names none (unset by default). Starts made by
	// this app, and by the CLI run from its root, apply it.
	DefaultVersion string
	// VersionMatchStrategy is versionMatchStrategy: which instance versions
	// this app's worker runs when DefaultVersion is set: "None" (all),
	// "Strict" (DefaultVersion only) or "CurrentOrOlder" (the default:
	// DefaultVersion and older). Without a DefaultVersion the worker runs
	// every version.
	VersionMatchStrategy string
	// VersionFailureStrategy is versionFailureStrategy: what the worker
	// does with an instance of a version it does not run: "Reject" (the
	// default: leave it for a worker that runs it) or "Fail".
	VersionFailureStrategy string

	// Tracing is tracing: Durable Functions' distributed tracing switch.
	Tracing Tracing
}

// Tracing is host.json's extensions.durableTask.tracing, named as Durable
// Functions names it. Off by default, as there.
type Tracing struct {
	// DistributedTracingEnabled turns OpenTelemetry traces on; the
	// exporter, sampler and service name come from the standard OTEL_*
	// environment variables.
	DistributedTracingEnabled bool
	// Version is the span model: only "V2" (Distributed Tracing V2, the
	// default), whose span names and attributes this app emits.
	Version string
}

// DefaultDurableOptions returns the options used for keys host.json leaves
// out. The concurrency limits scale with the CPUs of this machine, as in
// Durable Functions.
func DefaultDurableOptions() DurableOptions {
	return DurableOptions{
		HubName:                            DefaultHubName,
		ConnectionName:                     DefaultConnectionName,
		PartitionCount:                     4,
		MaxQueuePollingInterval:            30 * time.Second,
		ControlQueueVisibilityTimeout:      5 * time.Minute,
		WorkItemQueueVisibilityTimeout:     5 * time.Minute,
		ControlQueueBatchSize:              32,
		MaxConcurrentActivityFunctions:     10 * runtime.NumCPU(),
		MaxConcurrentOrchestratorFunctions: 10 * runtime.NumCPU(),
		PartitionLeaseDuration:             30 * time.Second,
		PartitionLeaseRenewInterval:        10 * time.Second,
		MaxLocalActivityBacklog:            0,
		Retention:                          Retention{Interval: DefaultRetentionInterval},
		VersionMatchStrategy:               "CurrentOrOlder",
		VersionFailureStrategy:             "Reject",
	}
}

// LocalActivityBacklog returns MaxLocalActivityBacklog with its default of 0
// resolved to twice MaxConcurrentActivityFunctions.
func (o DurableOptions) LocalActivityBacklog() int {
	if o.MaxLocalActivityBacklog > 0 {
		return o.MaxLocalActivityBacklog
	}
	return 2 * o.MaxConcurrentActivityFunctions
}

// Validate reports every option out of its allowed range. Each error names
// the host.json key path of the option, e.g.
// "extensions.durableTask.storageProvider.partitionCount: 40 is out of range 1..16",
// so the same messages serve options built in code and options read from a
// file.
func (o DurableOptions) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := ValidateTaskHubName(o.HubName); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", keyHubName, err))
	}
	if strings.TrimSpace(o.ConnectionName) == "" {
		add(keyConnectionName, "must not be empty")
	}
	intRange := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			add(key, "%d is out of range %d..%d", v, lo, hi)
		}
	}
	intMin := func(key string, v, lo int) {
		if v < lo {
			add(key, "%d is less than the minimum %d", v, lo)
		}
	}
	intRange(keyPartitionCount, o.PartitionCount, 1, MaxPartitionCount)
	intRange(keyControlQueueBatchSize, o.ControlQueueBatchSize, 1, MaxControlQueueBatchSize)
	intMin(keyMaxConcurrentActivity, o.MaxConcurrentActivityFunctions, 1)
	intMin(keyMaxConcurrentOrch, o.MaxConcurrentOrchestratorFunctions, 1)
	intMin(keyMaxLocalActivityBacklog, o.MaxLocalActivityBacklog, 0)

	positive := func(key string, d time.Duration) bool {
		if d <= 0 {
			add(key, "%s is not greater than zero", d)
			return false
		}
		return true
	}
	if positive(keyMaxQueuePollingInterval, o.MaxQueuePollingInterval) && o.MaxQueuePollingInterval < MinQueuePollingInterval {
		add(keyMaxQueuePollingInterval, "%s is less than the minimum %s", o.MaxQueuePollingInterval, MinQueuePollingInterval)
	}
	for _, v := range []struct {
		key string
		d   time.Duration
	}{
		{keyControlVisibility, o.ControlQueueVisibilityTimeout},
		{keyWorkItemVisibility, o.WorkItemQueueVisibilityTimeout},
	} {
		if positive(v.key, v.d) && v.d > MaxVisibilityTimeout {
			add(v.key, "%s is more than the maximum of 7 days", v.d)
		}
	}
	leaseOK := positive(keyPartitionLeaseDuration, o.PartitionLeaseDuration)
	renewOK := positive(keyPartitionLeaseRenew, o.PartitionLeaseRenewInterval)
	if leaseOK && renewOK && o.PartitionLeaseRenewInterval >= o.PartitionLeaseDuration {
		add(keyPartitionLeaseRenew, "%s must be less than %s (%s)", o.PartitionLeaseRenewInterval, keyPartitionLeaseDuration, o.PartitionLeaseDuration)
	}
	o.Retention.validate(add)
	return errors.Join(errs...)
}

// ValidateTaskHubName reports whether name can be a task hub name: 3 to 45
// ASCII letters and digits, starting with a letter. The limits come from the
// storage names derived from it (table names allow 63 characters and
// letters and digits only, and the longest suffix is "Instances").
func ValidateTaskHubName(name string) error {
	const rule = "a task hub name must be 3 to 45 letters and digits, starting with a letter"
	if len(name) < 3 || len(name) > 45 {
		return fmt.Errorf("%q has length %d; %s", name, len(name), rule)
	}
	if !isASCIILetter(name[0]) {
		return fmt.Errorf("%q does not start with a letter; %s", name, rule)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isASCIILetter(c) && (c < '0' || c > '9') {
			return fmt.Errorf("%q contains %q; %s", name, rune(c), rule)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// LoadHost reads and parses the host.json file at path. Unlike the Functions
// host, which invents a default file, a missing file is an error: an app
// without host.json cannot have been meant to run as a custom handler.
// Errors start with path instead of "host.json".
func LoadHost(path string, settings *Settings) (*Host, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read host configuration: %w", err)
	}
	return parseHost(data, settings, path)
}

// ParseHost parses the contents of a host.json file. settings resolves
// "%SettingName%" references and may be nil when there are none.
//
// Keys are matched ignoring case and unknown keys are ignored, as the
// Functions host does. Numbers and booleans may also be written as strings
// ("8", "true"), because the host turns all of host.json into strings before
// binding it. Comments and trailing commas are tolerated. Every invalid value
// is reported, each as "host.json: <key path>: <problem>".
func ParseHost(data []byte, settings *Settings) (*Host, error) {
	return parseHost(data, settings, HostFile)
}

func parseHost(data []byte, settings *Settings, label string) (*Host, error) {
	root, err := decodeRelaxedJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the top-level value is %s, not an object", label, describeJSON(root))
	}

	r := &hostReader{}
	h := &Host{HTTPRoutePrefix: DefaultHTTPRoutePrefix, Durable: DefaultDurableOptions()}

	if v, ok := r.str(top, "", "version"); ok {
		// Only "2.0" exists; an absent version is tolerated so that a
		// minimal "{}" works in tests and tools.
		if v != "2.0" {
			r.fail("version", "%q is not supported; it must be \"2.0\"", v)
		}
		h.Version = v
	}

	if ch := r.obj(top, "", "customHandler"); ch != nil {
		if desc := r.obj(ch, "customHandler", "description"); desc != nil {
			const p = "customHandler.description"
			if v, ok := r.str(desc, p, "defaultExecutablePath"); ok {
				h.CustomHandler.DefaultExecutablePath = v
			}
			if v, ok := r.str(desc, p, "workingDirectory"); ok {
				h.CustomHandler.WorkingDirectory = v
			}
			if v, ok := r.strList(desc, p, "arguments"); ok {
				h.CustomHandler.Arguments = v
			}
		}
		if v, ok := r.boolean(ch, "customHandler", "enableForwardingHttpRequest"); ok {
			h.CustomHandler.EnableForwardingHTTPRequest = v
		}
	}

	ext := r.obj(top, "", "extensions")
	if ext != nil {
		if httpExt := r.obj(ext, "extensions", "http"); httpExt != nil {
			if v, ok := r.str(httpExt, "extensions.http", "routePrefix"); ok {
				// The host builds routes as prefix + "/" + route, so
				// surrounding slashes would only produce empty segments.
				h.HTTPRoutePrefix = strings.Trim(v, "/")
			}
		}
		if dt := r.obj(ext, "extensions", "durableTask"); dt != nil {
			r.readDurable(dt, settings, &h.Durable)
		}
	}

	// A value that did not parse left its default in place, so range checks
	// can run regardless and report only values that parsed but are wrong.
	if err := h.Durable.Validate(); err != nil {
		r.errs = append(r.errs, unjoin(err)...)
	}
	if len(r.errs) > 0 {
		wrapped := make([]error, len(r.errs))
		for i, e := range r.errs {
			wrapped[i] = fmt.Errorf("%s: %w", label, e)
		}
		return nil, errors.Join(wrapped...)
	}
	return h, nil
}

// oneOf returns the spelling in names of v, matched ignoring case.
func oneOf(v string, names ...string) (string, bool) {
	for _, n := range names {
		if strings.EqualFold(strings.TrimSpace(v), n) {
			return n, true
		}
	}
	return "", false
}

// unjoin splits an errors.Join result so each part can get its own prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (r *hostReader) readDurable(dt map[string]any, settings *Settings, o *DurableOptions) {
	if v, ok := r.str(dt, keyDurable, "hubName"); ok {
		name, err := expandSettingRefs(v, settings)
		if err == nil && name != v {
			// Checked here, where the setting it came from is known, so the
			// message can say where the odd name came from.
			if verr := ValidateTaskHubName(name); verr != nil {
				err = fmt.Errorf("%q resolved to an invalid name: %w", v, verr)
			}
		}
		if err != nil {
			// The default stays in place so that Validate does not report
			// the same problem a second time.
			r.errs = append(r.errs, fmt.Errorf("%s: %w", keyHubName, err))
		} else {
			o.HubName = name
		}
	}
	if v, ok := r.integer(dt, keyDurable, "maxConcurrentActivityFunctions"); ok {
		o.MaxConcurrentActivityFunctions = v
	}
	if v, ok := r.integer(dt, keyDurable, "maxConcurrentOrchestratorFunctions"); ok {
		o.MaxConcurrentOrchestratorFunctions = v
	}
	if v, ok := r.str(dt, keyDurable, "defaultVersion"); ok {
		o.DefaultVersion = strings.TrimSpace(v)
	}
	if v, ok := r.str(dt, keyDurable, "versionMatchStrategy"); ok {
		if c, known := oneOf(v, "None", "Strict", "CurrentOrOlder"); known {
			o.VersionMatchStrategy = c
		} else {
			r.fail(keyDurable+".versionMatchStrategy", "%q is not one of None, Strict, CurrentOrOlder", v)
		}
	}
	if v, ok := r.str(dt, keyDurable, "versionFailureStrategy"); ok {
		if c, known := oneOf(v, "Reject", "Fail"); known {
			o.VersionFailureStrategy = c
		} else {
			r.fail(keyDurable+".versionFailureStrategy", "%q is not one of Reject, Fail", v)
		}
	}
	if rt := r.obj(dt, keyDurable, "retention"); rt != nil {
		r.readRetention(rt, &o.Retention)
	}
	if sc := r.obj(dt, keyDurable, "schedules"); sc != nil {
		o.Schedules = map[string]schedule.Spec{}
		for id, v := range sc {
			path := keyDurable + ".schedules." + id
			b, _ := json.Marshal(v)
			spec, err := schedule.DecodeSpec(b)
			if err == nil {
				err = schedule.ValidateID(id)
			}
			if err != nil {
				r.fail(path, "%v", err)
				continue
			}
			if err := spec.Validate(); err != nil {
				r.fail(path, "%s", strings.TrimPrefix(err.Error(), schedule.ErrInvalid.Error()+": "))
				continue
			}
			o.Schedules[id] = spec
		}
	}
	if tr := r.obj(dt, keyDurable, "tracing"); tr != nil {
		const key = keyDurable + ".tracing"
		if v, ok := r.boolean(tr, key, "DistributedTracingEnabled"); ok {
			o.Tracing.DistributedTracingEnabled = v
		}
		if v, ok := r.str(tr, key, "Version"); ok {
			// V1 was Durable Functions' Application Insights-only model; this
			// app emits V2's spans only, so it refuses to pretend otherwise.
			if c, known := oneOf(v, "V2"); known {
				o.Tracing.Version = c
			} else {
				r.fail(key+".Version", "%q is not supported; only V2 is", v)
			}
		}
	}

	sp := r.obj(dt, keyDurable, "storageProvider")
	if sp == nil {
		return
	}
	if v, ok := r.str(sp, keyStorage, "type"); ok && !strings.EqualFold(v, "AzureStorage") {
		r.fail(keyStorage+".type", "%q is not supported; only the Azure Storage provider is implemented", v)
	}
	// connectionName superseded connectionStringName in Durable Functions
	// 2.x; the newer key wins when both are present.
	for _, key := range []string{"connectionName", "connectionStringName"} {
		v, ok := r.str(sp, keyStorage, key)
		if !ok {
			continue
		}
		if strings.TrimSpace(v) == "" {
			r.fail(joinPath(keyStorage, key), "must not be empty")
		} else {
			o.ConnectionName = v
		}
		break
	}
	if v, ok := r.integer(sp, keyStorage, "partitionCount"); ok {
		o.PartitionCount = v
	}
	if v, ok := r.integer(sp, keyStorage, "controlQueueBatchSize"); ok {
		o.ControlQueueBatchSize = v
	}
	if v, ok := r.integer(sp, keyStorage, "maxLocalActivityBacklog"); ok {
		o.MaxLocalActivityBacklog = v
	}
	durations := []struct {
		key string
		dst *time.Duration
	}{
		{"maxQueuePollingInterval", &o.MaxQueuePollingInterval},
		{"controlQueueVisibilityTimeout", &o.ControlQueueVisibilityTimeout},
		{"workItemQueueVisibilityTimeout", &o.WorkItemQueueVisibilityTimeout},
		{"partitionLeaseDuration", &o.PartitionLeaseDuration},
		{"partitionLeaseRenewInterval", &o.PartitionLeaseRenewInterval},
	}
	for _, d := range durations {
		if v, ok := r.duration(sp, keyStorage, d.key); ok {
			*d.dst = v
		}
	}
}

// expandSettingRefs replaces each "%Name%" in v with the value of app setting
// Name, as the Functions name resolver does for binding expressions.
func expandSettingRefs(v string, settings *Settings) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	rest := v
	for {
		start := strings.IndexByte(rest, '%')
		if start < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		end := strings.IndexByte(rest[start+1:], '%')
		if end < 0 {
			return "", fmt.Errorf("%q has an unmatched %%; write %%SettingName%% to use an app setting", v)
		}
		name := rest[start+1 : start+1+end]
		if name == "" {
			return "", fmt.Errorf("%q has an empty %%%% reference", v)
		}
		val, ok := settings.Get(name)
		if !ok {
			return "", fmt.Errorf("%q refers to app setting %q, which is not set", v, name)
		}
		b.WriteString(rest[:start])
		b.WriteString(val)
		rest = rest[start+1+end+1:]
	}
}

// hostReader reads typed values out of decoded host.json objects, collecting
// one error per bad key instead of stopping at the first, so that a user
// fixes the file in one round.
type hostReader struct {
	errs []error
}

func (r *hostReader) fail(path, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// get looks key up in obj. ok is false for an absent key, a null value (which
// the host treats as unset) and a lookup error (already recorded).
func (r *hostReader) get(obj map[string]any, parent, key string) (any, bool) {
	v, ok, err := lookupKey(obj, key)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", joinPath(parent, key), err))
		return nil, false
	}
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (r *hostReader) obj(obj map[string]any, parent, key string) map[string]any {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		r.fail(joinPath(parent, key), "%s is not an object", describeJSON(v))
		return nil
	}
	return m
}

// scalarString turns a JSON scalar into the string the Functions host's
// configuration would hold for it.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return describeJSON(x), true
	}
	return "", false
}

func (r *hostReader) str(obj map[string]any, parent, key string) (string, bool) {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return "", false
	}
	s, isScalar := scalarString(v)
	if !isScalar {
		r.fail(joinPath(parent, key), "%s is not a string", describeJSON(v))
		return "", false
	}
	return s, true
}

func (r *hostReader) strList(obj map[string]any, parent, key string) ([]string, bool) {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return nil, false
	}
	arr, isArr := v.([]any)
	if !isArr {
		r.fail(joinPath(parent, key), "%s is not an array of strings", describeJSON(v))
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, isScalar := scalarString(e)
		if !isScalar {
			r.fail(fmt.Sprintf("%s[%d]", joinPath(parent, key), i), "%s is not a string", describeJSON(e))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (r *hostReader) integer(obj map[string]any, parent, key string) (int, bool) {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return 0, false
	}
	s, isScalar := scalarString(v)
	if _, isBool := v.(bool); !isScalar || isBool {
		r.fail(joinPath(parent, key), "%s is not an integer", describeJSON(v))
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		r.fail(joinPath(parent, key), "%s is not an integer", describeJSON(v))
		return 0, false
	}
	return n, true
}

func (r *hostReader) boolean(obj map[string]any, parent, key string) (bool, bool) {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return false, false
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	r.fail(joinPath(parent, key), "%s is not a boolean", describeJSON(v))
	return false, false
}

func (r *hostReader) duration(obj map[string]any, parent, key string) (time.Duration, bool) {
	v, ok := r.get(obj, parent, key)
	if !ok {
		return 0, false
	}
	s, isScalar := scalarString(v)
	if _, isBool := v.(bool); !isScalar || isBool {
		r.fail(joinPath(parent, key), "%s is not a duration", describeJSON(v))
		return 0, false
	}
	d, err := ParseTimeSpan(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", joinPath(parent, key), err))
		return 0, false
	}
	return d, true
}
