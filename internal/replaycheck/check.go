package replaycheck

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// Instance is one instance's current execution, as checked.
type Instance struct {
	InstanceID string `json:"instanceId"`
	// Name and Version are the instance's; when empty, they are taken
	// from the history's ExecutionStarted event.
	Name    string          `json:"name,omitempty"`
	Version string          `json:"version,omitempty"`
	Events  []history.Event `json:"events"`
}

// Failure is an instance that does not replay.
type Failure struct {
	InstanceID string `json:"instanceId"`
	// NonDeterministic is true when the code departs from the history
	// (Error then says where first); false when the history could not be
	// replayed at all (an orchestrator the app does not register, a
	// failure on replay).
	NonDeterministic bool   `json:"nonDeterministic"`
	Error            string `json:"error"`
}

// Group counts the instances of one orchestrator and version.
type Group struct {
	Name     string    `json:"name"`
	Version  string    `json:"version"`
	Checked  int       `json:"checked"`
	Passed   int       `json:"passed"`
	Failures []Failure `json:"failures,omitempty"`
}

// Report is the outcome of a check.
type Report struct {
	// Groups are sorted by orchestrator name, then by version (oldest
	// first, as CompareVersions orders them).
	Groups []Group `json:"groups"`
	// NotStarted counts instances whose start has not run yet: with
	// nothing recorded, any code runs them.
	NotStarted int `json:"notStarted"`
}

// Checked is the number of instances replayed.
func (r *Report) Checked() int {
	n := 0
	for _, g := range r.Groups {
		n += g.Checked
	}
	return n
}

// Failed is the number of instances that do not replay.
func (r *Report) Failed() int {
	n := 0
	for _, g := range r.Groups {
		n += len(g.Failures)
	}
	return n
}

// Checker replays instances one at a time and gathers the report.
type Checker struct {
	reg        *durable.Registry
	groups     map[[2]string]*Group
	notStarted int
}

// NewChecker returns a checker of the orchestrators in reg.
func NewChecker(reg *durable.Registry) *Checker {
	return &Checker{reg: reg, groups: map[[2]string]*Group{}}
}

// Add replays one instance.
func (c *Checker) Add(in Instance) {
	for _, e := range in.Events {
		if e.Type == history.ExecutionStarted {
			if in.Name == "" {
				in.Name = e.Name
			}
			if in.Version == "" {
				in.Version = e.Version
			}
			break
		}
	}
	err := Replay(c.reg, in.Events, in.InstanceID)
	if errors.Is(err, ErrNotStarted) {
		c.notStarted++
		return
	}
	key := [2]string{in.Name, in.Version}
	g := c.groups[key]
	if g == nil {
		g = &Group{Name: in.Name, Version: in.Version}
		c.groups[key] = g
	}
	g.Checked++
	if err == nil {
		g.Passed++
		return
	}
	var nd *durable.NonDeterminismError
	g.Failures = append(g.Failures, Failure{InstanceID: in.InstanceID, NonDeterministic: errors.As(err, &nd), Error: err.Error()})
}

// Report returns the report of the instances added so far.
func (c *Checker) Report() *Report {
	r := &Report{NotStarted: c.notStarted, Groups: []Group{}}
	for _, g := range c.groups {
		r.Groups = append(r.Groups, *g)
	}
	slices.SortFunc(r.Groups, func(a, b Group) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), durable.CompareVersions(a.Version, b.Version),
			strings.Compare(a.Version, b.Version))
	})
	return r
}

// ServeEnv is the environment variable with which `durable replay-check`
// starts an app's handler: set, the handler registers its orchestrators
// and runs Serve on its standard input and output instead of serving.
const ServeEnv = "DURABLE_REPLAY_CHECK"

// Serve is the app's side of `durable replay-check`: it reads instances
// as JSON, one per line, from in, replays each against reg, and writes the
// report as JSON to out.
func Serve(reg *durable.Registry, in io.Reader, out io.Writer) error {
	c := NewChecker(reg)
	dec := json.NewDecoder(bufio.NewReader(in))
	for {
		var inst Instance
		err := dec.Decode(&inst)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("replay check: read instances: %w", err)
		}
		c.Add(inst)
	}
	b, err := json.Marshal(c.Report())
	if err != nil {
		return fmt.Errorf("replay check: encode report: %w", err)
	}
	_, err = out.Write(append(b, '\n'))
	return err
}

// Write prints the report for people: a table per orchestrator and
// version, then each failure with where its replay departs from history.
func (r *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORCHESTRATOR\tVERSION\tCHECKED\tREPLAY OK\tFAILED")
	for _, g := range r.Groups {
		v := g.Version
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", g.Name, v, g.Checked, g.Passed, len(g.Failures))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range r.Groups {
		for _, f := range g.Failures {
			what := "cannot replay"
			if f.NonDeterministic {
				what = "diverges"
			}
			fmt.Fprintf(w, "\nFAIL %s (%s, version %s) %s:\n  %s\n", f.InstanceID, g.Name, orDash(g.Version), what, f.Error)
		}
	}
	if r.NotStarted > 0 {
		fmt.Fprintf(w, "\n%d instance(s) not started yet: nothing recorded, so any code runs them.\n", r.NotStarted)
	}
	if n := r.Failed(); n > 0 {
		_, err := fmt.Fprintf(w, "\n%d of %d instance(s) do not replay with this code.\n", n, r.Checked())
		return err
	}
	_, err := fmt.Fprintf(w, "\nAll %d instance(s) replay with this code.\n", r.Checked())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
