// Package task is the programming model of Durable Functions for Go:
// orchestrators and activities, the registry that names them, the tasks an
// orchestrator awaits, retry policies and the errors it sees.
//
// An orchestrator is a deterministic Go function replayed from its
// history: everything that varies between runs (time, GUIDs, I/O) comes
// from its OrchestrationContext, and every durable step (an activity, a
// sub-orchestration, a timer, an external event) is a Task it awaits. An
// activity is ordinary Go code that may do I/O; it runs at least once per
// scheduling, so it must tolerate running twice.
//
// Register both in a Registry and hand it to funcapp.Run, which serves the
// function app; test orchestrators with package tasktest.
//
// The types here are the whole programming model: the engine that replays
// orchestrations (an internal package) runs the functions registered here
// and answers the calls made on these contexts, so `go doc` of this
// package documents everything an orchestrator or an activity calls.
package task

import (
	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/taskbridge"
)

func init() {
	taskbridge.Set(
		func(reg any) *durable.Registry {
			r, _ := reg.(*Registry)
			if r == nil {
				return nil
			}
			return r.r
		},
		func(reg *durable.Registry) any { return &Registry{r: reg} })
}

// OrchestratorFunc is an orchestrator. It must be deterministic: everything
// that varies between runs (time, GUIDs, I/O) has to come from ctx. Its
// return value is encoded as JSON and becomes the instance's output, and a
// non-nil error fails the instance with that error's details.
type OrchestratorFunc func(ctx *OrchestrationContext) (any, error)

// ActivityFunc is an activity: ordinary Go code that may do I/O. It runs at
// least once per scheduling. Its result is encoded as JSON; an error
// reaches the orchestrator as a *TaskFailedError, and a panic is reported
// the same way. An error may name its type in the failure details by
// implementing ErrorType() string, and an *Error chooses its details
// (NonRetriable for one that retrying cannot fix).
type ActivityFunc func(ctx *ActivityContext) (any, error)

// Registry maps orchestrator and activity names to code. Fill it before
// the app starts; it is read concurrently afterwards, so it is not safe to
// add to it once the app runs.
type Registry struct{ r *durable.Registry }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{r: durable.NewRegistry()} }

// AddOrchestrator registers an orchestrator under name. It fails when the
// name is empty, fn is nil or the name is taken.
func (r *Registry) AddOrchestrator(name string, fn OrchestratorFunc) error {
	var engineFn durable.OrchestratorFunc
	if fn != nil {
		engineFn = func(c *durable.OrchestrationContext) (any, error) {
			return fn(&OrchestrationContext{c: c})
		}
	}
	return r.r.AddOrchestrator(name, engineFn)
}

// AddActivity registers an activity under name. It fails when the name is
// empty, fn is nil or the name is taken.
func (r *Registry) AddActivity(name string, fn ActivityFunc) error {
	var engineFn durable.ActivityFunc
	if fn != nil {
		engineFn = func(c *durable.ActivityContext) (any, error) {
			return fn(&ActivityContext{c: c})
		}
	}
	return r.r.AddActivity(name, engineFn)
}

// Orchestrator returns the orchestrator registered under name.
func (r *Registry) Orchestrator(name string) (OrchestratorFunc, bool) {
	fn, ok := r.r.Orchestrator(name)
	if !ok {
		return nil, false
	}
	return func(ctx *OrchestrationContext) (any, error) { return fn(ctx.c) }, true
}

// Activity returns the activity registered under name.
func (r *Registry) Activity(name string) (ActivityFunc, bool) {
	fn, ok := r.r.Activity(name)
	if !ok {
		return nil, false
	}
	return func(ctx *ActivityContext) (any, error) { return fn(ctx.c) }, true
}
