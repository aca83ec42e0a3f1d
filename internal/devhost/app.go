package devhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/cron"
)

// hostJSON is the part of host.json the dev host understands. encoding/json matches keys
// case-insensitively, as the real host does.
type hostJSON struct {
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			// A pointer because an empty prefix is meaningful: routes without any prefix.
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
		Queues struct {
			MaxDequeueCount    int             `json:"maxDequeueCount"`
			BatchSize          int             `json:"batchSize"`
			VisibilityTimeout  json.RawMessage `json:"visibilityTimeout"`
			MaxPollingInterval json.RawMessage `json:"maxPollingInterval"`
		} `json:"queues"`
	} `json:"extensions"`
}

// functionJSON is one function's function.json.
type functionJSON struct {
	Disabled bool          `json:"disabled"`
	Bindings []bindingJSON `json:"bindings"`
}

type bindingJSON struct {
	Type         string   `json:"type"`
	Direction    string   `json:"direction"`
	Name         string   `json:"name"`
	AuthLevel    string   `json:"authLevel"`
	Methods      []string `json:"methods"`
	Route        *string  `json:"route"`
	QueueName    string   `json:"queueName"`
	Connection   string   `json:"connection"`
	Schedule     string   `json:"schedule"`
	RunOnStartup bool     `json:"runOnStartup"`
}

// localSettingsJSON is local.settings.json.
type localSettingsJSON struct {
	IsEncrypted bool              `json:"IsEncrypted"`
	Values      map[string]string `json:"Values"`
}

// app is a function app: its host.json settings, its functions and its app settings.
type app struct {
	root     string
	host     hostJSON
	settings map[string]string // local.settings.json Values overlaid by the environment

	routePrefix     string
	maxDequeueCount int64
	batchSize       int32
	retryDelay      time.Duration // how long a failed queue message stays hidden
	maxPoll         time.Duration // 0 when host.json does not say

	functions []*function
}

// function is one function folder with the trigger the dev host drives.
type function struct {
	name  string
	http  *httpTrigger
	queue *queueTrigger
	timer *timerTrigger
}

func (f *function) triggerKind() string {
	switch {
	case f.http != nil:
		return "http"
	case f.queue != nil:
		return "queue"
	default:
		return "timer"
	}
}

type httpTrigger struct {
	name       string              // binding name: the key in Data
	authLevel  string              // logged only: locally, like Core Tools, no keys are checked
	methods    map[string]struct{} // upper case; empty means any
	route      *routeTemplate      // includes the route prefix
	routeText  string              // the route as function.json has it, without the prefix
	outputName string              // http output binding name, "$return" or "" for none
	forward    bool                // proxy the raw request instead of POSTing a payload
}

type queueTrigger struct {
	name       string
	queueName  string
	connection string // app setting naming the storage account
}

type timerTrigger struct {
	name         string
	schedule     *cron.Expr
	expr         string
	runOnStartup bool
}

// loadApp reads host.json, local.settings.json and every */function.json under root. env is
// the process environment (KEY=VALUE), which wins over local.settings.json as in Core Tools.
func loadApp(root string, env []string, log *slog.Logger) (*app, error) {
	a := &app{root: root, settings: map[string]string{}}

	raw, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		return nil, fmt.Errorf("read host.json: %w", err)
	}
	if err := json.Unmarshal(raw, &a.host); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(root, "host.json"), err)
	}
	if err := a.applyHostSettings(); err != nil {
		return nil, err
	}

	if err := a.loadSettings(env); err != nil {
		return nil, err
	}

	paths, err := filepath.Glob(filepath.Join(root, "*", "function.json"))
	if err != nil {
		return nil, fmt.Errorf("list function.json files: %w", err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fn, err := a.loadFunction(p, log)
		if err != nil {
			return nil, err
		}
		if fn != nil {
			a.functions = append(a.functions, fn)
		}
	}
	return a, nil
}

func (a *app) applyHostSettings() error {
	a.routePrefix = "api"
	if p := a.host.Extensions.HTTP.RoutePrefix; p != nil {
		a.routePrefix = strings.Trim(*p, "/")
	}
	q := a.host.Extensions.Queues
	a.maxDequeueCount = 5
	if q.MaxDequeueCount > 0 {
		a.maxDequeueCount = int64(q.MaxDequeueCount)
	}
	a.batchSize = 16
	if q.BatchSize > 0 {
		a.batchSize = int32(min(q.BatchSize, 32)) // 32 is the most one dequeue returns
	}
	a.retryDelay = time.Second
	if len(q.VisibilityTimeout) > 0 {
		d, err := parseTimeSpan(q.VisibilityTimeout)
		if err != nil {
			return fmt.Errorf("host.json extensions.queues.visibilityTimeout: %w", err)
		}
		a.retryDelay = d
	}
	if len(q.MaxPollingInterval) > 0 {
		d, err := parseTimeSpan(q.MaxPollingInterval)
		if err != nil {
			return fmt.Errorf("host.json extensions.queues.maxPollingInterval: %w", err)
		}
		a.maxPoll = d
	}
	return nil
}

func (a *app) loadSettings(env []string) error {
	p := filepath.Join(a.root, "local.settings.json")
	raw, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Optional: everything may come from the environment.
	case err != nil:
		return fmt.Errorf("read local.settings.json: %w", err)
	default:
		var ls localSettingsJSON
		if err := json.Unmarshal(raw, &ls); err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		if ls.IsEncrypted {
			return fmt.Errorf("%s: encrypted settings are not supported by the dev host; decrypt them (func settings decrypt)", p)
		}
		for k, v := range ls.Values {
			a.settings[k] = v
		}
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			a.settings[k] = v
		}
	}
	return nil
}

// environ is the handler's environment: every setting as a variable.
func (a *app) environ() []string {
	env := make([]string, 0, len(a.settings)+1)
	for k, v := range a.settings {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// resolve replaces a whole-value %Setting% reference, which function.json allows in queue
// names and schedules, with the setting's value.
func (a *app) resolve(s string) (string, error) {
	if len(s) > 2 && strings.HasPrefix(s, "%") && strings.HasSuffix(s, "%") {
		name := s[1 : len(s)-1]
		v, ok := a.settings[name]
		if !ok {
			return "", fmt.Errorf("app setting %q is not set", name)
		}
		return v, nil
	}
	return s, nil
}

// loadFunction reads one function.json. It returns nil for functions the dev host does not
// run (disabled, or no trigger it knows), after logging why.
func (a *app) loadFunction(path string, log *slog.Logger) (*function, error) {
	name := filepath.Base(filepath.Dir(path))
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var fj functionJSON
	if err := json.Unmarshal(raw, &fj); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if fj.Disabled || isTrue(a.settings["AzureWebJobs."+name+".Disabled"]) {
		log.Info("function disabled", "function", name)
		return nil, nil
	}

	fn := &function{name: name}
	var httpOutputs []string
	triggers := 0
	for _, b := range fj.Bindings {
		switch strings.ToLower(b.Type) {
		case "httptrigger":
			triggers++
			t, err := a.newHTTPTrigger(name, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			fn.http = t
		case "http":
			httpOutputs = append(httpOutputs, b.Name)
		case "queuetrigger":
			triggers++
			queueName, err := a.resolve(b.QueueName)
			if err != nil {
				return nil, fmt.Errorf("%s: queueName: %w", path, err)
			}
			if queueName == "" {
				return nil, fmt.Errorf("%s: queueTrigger %q has no queueName", path, b.Name)
			}
			conn := b.Connection
			if conn == "" {
				conn = "AzureWebJobsStorage"
			}
			fn.queue = &queueTrigger{name: b.Name, queueName: strings.ToLower(queueName), connection: conn}
		case "timertrigger":
			triggers++
			expr, err := a.resolve(b.Schedule)
			if err != nil {
				return nil, fmt.Errorf("%s: schedule: %w", path, err)
			}
			s, err := cron.Parse(expr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			fn.timer = &timerTrigger{name: b.Name, schedule: s, expr: expr, runOnStartup: b.RunOnStartup}
		default:
			log.Info("binding not supported by the dev host; ignored", "function", name, "type", b.Type, "name", b.Name)
		}
	}
	switch {
	case triggers == 0:
		log.Warn("function has no trigger the dev host supports; skipped", "function", name)
		return nil, nil
	case triggers > 1:
		return nil, fmt.Errorf("%s: a function must have exactly one trigger, found %d", path, triggers)
	}

	if fn.http != nil {
		if r := strings.ToLower(fn.http.routeText); strings.HasPrefix(r, "admin") || strings.HasPrefix(r, "runtime") {
			// Like the real host: these would shadow its built-in endpoints.
			log.Error("route conflicts with the host's built-in routes (admin, runtime); function skipped", "function", name, "route", fn.http.routeText)
			return nil, nil
		}
		if len(httpOutputs) > 1 {
			return nil, fmt.Errorf("%s: more than one http output binding", path)
		}
		if len(httpOutputs) == 1 {
			fn.http.outputName = httpOutputs[0]
		}
		fn.http.forward = a.host.CustomHandler.EnableForwardingHTTPRequest &&
			len(httpOutputs) == 1 && len(fj.Bindings) == 2
	}
	return fn, nil
}

func (a *app) newHTTPTrigger(fnName string, b bindingJSON) (*httpTrigger, error) {
	route := fnName
	if b.Route != nil && strings.Trim(*b.Route, "/") != "" {
		route = strings.Trim(*b.Route, "/")
	}
	full := route
	if a.routePrefix != "" {
		full = a.routePrefix + "/" + route
	}
	rt, err := parseRoute(full)
	if err != nil {
		return nil, err
	}
	t := &httpTrigger{name: b.Name, authLevel: b.AuthLevel, route: rt, routeText: route, methods: map[string]struct{}{}}
	for _, m := range b.Methods {
		t.methods[strings.ToUpper(m)] = struct{}{}
	}
	return t, nil
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

// parseTimeSpan reads a host.json duration: a .NET TimeSpan string ("00:00:02",
// "1.02:03:04.5") or, as older host.json files have it, a number of milliseconds.
func parseTimeSpan(raw json.RawMessage) (time.Duration, error) {
	var ms float64
	if err := json.Unmarshal(raw, &ms); err == nil {
		return time.Duration(ms * float64(time.Millisecond)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want a TimeSpan string or milliseconds, got %s", raw)
	}
	bad := fmt.Errorf("TimeSpan %q: want [d.]hh:mm:ss[.fffffff]", s)
	var days int64
	rest := s
	if d, r, ok := strings.Cut(s, "."); ok && !strings.Contains(d, ":") {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return 0, bad
		}
		days, rest = n, r
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
		return 0, bad
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
