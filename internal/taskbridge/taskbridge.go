// Package taskbridge joins package task, the public programming model, to
// the engine in internal/durable. Package task's types wrap the engine's
// and keep their engine side unexported; task hands this package the two
// conversions the rest of the module needs (serving a *task.Registry,
// giving app code a *task.Registry over the engine's), so that they appear
// in no public API.
//
// The values are typed any because this package cannot import task (task
// imports it); callers assert *task.Registry.
package taskbridge

import "github.com/durable-go/durable/internal/durable"

var (
	engine func(public any) *durable.Registry
	public func(*durable.Registry) any
)

// Set is called once, by package task's init.
func Set(toEngine func(public any) *durable.Registry, toPublic func(*durable.Registry) any) {
	engine, public = toEngine, toPublic
}

// Engine returns the engine's registry behind a *task.Registry (nil for a
// nil one).
func Engine(reg any) *durable.Registry {
	if engine == nil {
		panic("taskbridge: package task is not linked in")
	}
	return engine(reg)
}

// Public returns a *task.Registry (as any) that adds to and reads reg.
func Public(reg *durable.Registry) any {
	if public == nil {
		panic("taskbridge: package task is not linked in")
	}
	return public(reg)
}
