package task_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGoDocShowsTheProgrammingModel runs `go doc` on the entry points of
// each public package, as a user would, and checks that each shows its
// signature and its documentation from the public package itself (issue
// 18: aliases of internal types answered "no method or field").
func TestGoDocShowsTheProgrammingModel(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH, so `go doc` cannot be checked here")
	}
	cases := []struct {
		pkg, sym string
		// sig is part of the declaration go doc prints; doc is a phrase of
		// its documentation.
		sig, doc string
	}{
		{"./task", "OrchestrationContext.CallActivity", "func (c *OrchestrationContext) CallActivity(name string, input any, opts ...CallOption) Task", "schedules the activity"},
		{"./task", "OrchestrationContext.CallSubOrchestrator", "func (c *OrchestrationContext) CallSubOrchestrator(name string, input any, opts ...CallOption) Task", "a child of this one"},
		{"./task", "OrchestrationContext.CreateTimer", "func (c *OrchestrationContext) CreateTimer(fireAt time.Time) Task", "durable timer"},
		{"./task", "OrchestrationContext.Sleep", "func (c *OrchestrationContext) Sleep(d time.Duration) error", "durable timer"},
		{"./task", "OrchestrationContext.WaitForExternalEvent", "func (c *OrchestrationContext) WaitForExternalEvent(name string, opts ...EventOption) Task", "case-insensitively"},
		{"./task", "OrchestrationContext.SendEvent", "func (c *OrchestrationContext) SendEvent(instanceID, eventName string, data any) error", "on another instance"},
		{"./task", "OrchestrationContext.WhenAll", "func (c *OrchestrationContext) WhenAll(tasks ...Task) Task", "first failure"},
		{"./task", "OrchestrationContext.WhenAny", "func (c *OrchestrationContext) WhenAny(tasks ...Task) Task", "index of that task"},
		{"./task", "OrchestrationContext.ContinueAsNew", "func (c *OrchestrationContext) ContinueAsNew(input any, opts ...ContinueAsNewOption) error", "fresh"},
		{"./task", "OrchestrationContext.Version", "func (c *OrchestrationContext) Version() string", "defaultVersion"},
		{"./task", "OrchestrationContext.IsPatched", "func (c *OrchestrationContext) IsPatched(name string) bool", "patch"},
		{"./task", "WithVersion", "func WithVersion(v string) CallOption", "sub-orchestration"},
		{"./task", "CompareVersions", "func CompareVersions(a, b string) int", "numeric"},
		{"./task", "OrchestrationContext.SetCustomStatus", "func (c *OrchestrationContext) SetCustomStatus(v any) error", "custom"},
		{"./task", "OrchestrationContext.GetInput", "func (c *OrchestrationContext) GetInput(v any) error", "JSON input"},
		{"./task", "OrchestrationContext.NewGUID", "func (c *OrchestrationContext) NewGUID() uuid.UUID", "same on every replay"},
		{"./task", "OrchestrationContext.CurrentUTCDateTime", "func (c *OrchestrationContext) CurrentUTCDateTime() time.Time", "time.Now"},
		{"./task", "OrchestrationContext.IsReplaying", "func (c *OrchestrationContext) IsReplaying() bool", "history"},
		{"./task", "OrchestrationContext.Logger", "func (c *OrchestrationContext) Logger() *slog.Logger", "not replaying"},
		{"./task", "ActivityContext.GetInput", "func (c *ActivityContext) GetInput(v any) error", "JSON input"},
		{"./task", "ActivityContext.InstanceID", "func (c *ActivityContext) InstanceID() string", "scheduled"},
		{"./task", "ActivityContext.TaskID", "func (c *ActivityContext) TaskID() int", "idempotency"},
		{"./task", "ActivityContext.Context", "func (c *ActivityContext) Context() context.Context", "shutdown"},
		{"./task", "Task.Await", "Await(v any) error", "*TaskFailedError"},
		{"./task", "Registry.AddOrchestrator", "func (r *Registry) AddOrchestrator(name string, fn OrchestratorFunc) error", "registers"},
		{"./task", "Registry.AddActivity", "func (r *Registry) AddActivity(name string, fn ActivityFunc) error", "registers"},
		{"./task", "NewRegistry", "func NewRegistry() *Registry", "empty registry"},
		{"./task", "OrchestratorFunc", "type OrchestratorFunc func(ctx *OrchestrationContext) (any, error)", "deterministic"},
		{"./task", "ActivityFunc", "type ActivityFunc func(ctx *ActivityContext) (any, error)", "at least once"},
		{"./task", "RetryPolicy", "MaxAttempts int", "durable timers"},
		{"./task", "WithRetry", "func WithRetry(p RetryPolicy) CallOption", "retries"},
		{"./task", "WithInstanceID", "func WithInstanceID(id string) CallOption", "sub-orchestration"},
		{"./task", "WithTimeout", "func WithTimeout(d time.Duration) EventOption", "ErrTimedOut"},
		{"./task", "TaskFailedError", "Details *FailureDetails", "failed activity"},
		{"./task", "FailureDetails", "ErrorMessage string", "Durable Task Framework"},
		{"./task", "FailureDetails", "Properties map[string]any", "sentinel"},
		{"./task", "NonRetriable", "func NonRetriable(err error) error", "retry policy"},
		{"./task", "Error", "NonRetriable bool", "chooses its own failure details"},
		{"./task", "NonDeterminismError", "Message string", "replay"},
		{"./task", "ErrTimedOut", "var ErrTimedOut", "errors.Is"},

		{"./tasktest", "NewEnv", "func NewEnv(reg *task.Registry) *Env", "registered in reg"},
		{"./tasktest", "Env.Run", "func (e *Env) Run(name string, input any) *Result", "until it finishes"},
		{"./tasktest", "Env.OnActivity", "func (e *Env) OnActivity(name string, fn task.ActivityFunc)", "instead of"},
		{"./tasktest", "Env.OnSubOrchestrator", "func (e *Env) OnSubOrchestrator(name string, fn task.OrchestratorFunc)", "instead of"},
		{"./tasktest", "Env.RaiseEventAfter", "func (e *Env) RaiseEventAfter(d time.Duration, name string, data any)", "virtual time"},
		{"./tasktest", "Result.Output", "func (r *Result) Output(v any) error", "decodes"},
		{"./tasktest", "Result", "Actions []Action", "outcome of a run"},
		{"./tasktest", "Action", "Kind ActionKind", "one thing an orchestration did"},
		{"./tasktest", "ActionKind", "const KindActivity ActionKind = 1\nconst KindContinueAsNew ActionKind = 5\nconst KindEventSent ActionKind = 4\nconst KindSubOrchestration ActionKind = 3\nconst KindTimer ActionKind = 2", "says what an Action was"},
		{"./tasktest", "KindTimer", "const KindTimer ActionKind = 2", "retry's back-off"},
		{"./tasktest", "Status", "const StatusCompleted Status = \"Completed\"", "runtime status"},
		{"./tasktest", "Replay", "func Replay(reg *task.Registry, events []HistoryEvent) error", "deterministic"},

		{"./client", "Open", "func Open(ctx context.Context, cfg Config) (*Client, error)", ""},
		{"./client", "Client.StartNew", "func (c *Client) StartNew(ctx context.Context, name string, input any, o StartOptions) (string, error)", "schedules a new instance"},
		{"./client", "Client.RaiseEvent", "func (c *Client) RaiseEvent(", ""},
		{"./client", "Client.WaitForCompletion", "func (c *Client) WaitForCompletion(", ""},
		{"./client", "StartOptions", "InstanceID string", "adjust StartNew"},
		{"./client", "Status", "FailureDetails *FailureDetails", "instance's state"},
		{"./client", "Query", "Statuses []RuntimeStatus", "selects instances"},
		{"./client", "Page", "Instances []*Status", "one page"},
		{"./client", "BatchRequest", "Filter Query", "bulk operation"},
		{"./client", "StateError", "Status RuntimeStatus", "ErrWrongState"},
		{"./client", "HTTPManagementPayload", "StatusQueryGetURI string", "management"},

		{"./funcapp", "Run", "func Run(opts Options) error", "serves the custom handler"},
		{"./funcapp", "Main", "func Main(opts Options)", "main function"},
		{"./funcapp", "Options", "Register func(reg *task.Registry, app *App) error", "configure Run"},
		{"./funcapp", "App.Client", "func (a *App) Client() (*client.Client, error)", "management client"},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.pkg, "./")+"."+c.sym, func(t *testing.T) {
			cmd := exec.Command(goTool, "doc", c.pkg, c.sym)
			cmd.Dir = ".." // the module root
			out, err := cmd.CombinedOutput()
			text := string(out)
			if err != nil {
				t.Fatalf("go doc %s %s: %v\n%s", c.pkg, c.sym, err, text)
			}
			if strings.Contains(text, "no method or field") || strings.Contains(text, "= durable.") || strings.Contains(text, "= iclient.") {
				t.Fatalf("go doc %s %s shows no documentation of its own:\n%s", c.pkg, c.sym, text)
			}
			if !strings.Contains(text, c.sig) && !strings.Contains(strings.Join(strings.Fields(text), " "), c.sig) {
				t.Errorf("go doc %s %s does not show %q:\n%s", c.pkg, c.sym, c.sig, text)
			}
			if !documented(text) {
				t.Errorf("go doc %s %s shows no documentation:\n%s", c.pkg, c.sym, text)
			}
			if c.doc != "" && !strings.Contains(strings.Join(strings.Fields(text), " "), c.doc) {
				t.Errorf("go doc %s %s does not say %q:\n%s", c.pkg, c.sym, c.doc, text)
			}
		})
	}
}

// documented reports whether go doc's output holds documentation text: an
// indented line of prose (go doc indents a declaration's documentation by
// four spaces) or a comment inside the declaration.
func documented(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "    ") && !strings.HasPrefix(strings.TrimSpace(line), "func ") &&
			!strings.HasPrefix(strings.TrimSpace(line), "const ") || strings.HasPrefix(strings.TrimSpace(line), "//") {
			return true
		}
	}
	return false
}

// TestGoDocOfTaskNamesNoInternalType checks the whole of package task's
// documentation: no declaration may be an alias of, or name, a type of
// the module's internal packages, whose documentation users cannot see.
func TestGoDocOfTaskNamesNoInternalType(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH, so `go doc` cannot be checked here")
	}
	cmd := exec.Command(goTool, "doc", "-all", "./task")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go doc -all ./task: %v\n%s", err, out)
	}
	for _, internal := range []string{"durable.", "history.", "taskbridge."} {
		for i, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, internal) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("line %d of go doc -all ./task names an internal package: %s", i+1, line)
			}
		}
	}
}
