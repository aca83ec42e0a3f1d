// Package durable is the programming model and the replay engine: users write
// orchestrators and activities against it, and the worker asks it to run one
// episode of an orchestration over its history.
//
// Nothing here does I/O. An episode is a pure function of the registered
// code, the history and the new events, which is what makes replay safe and
// the engine unit-testable without storage.
package durable

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/durable-go/durable/internal/entity"
	"github.com/durable-go/durable/internal/history"
)

// OrchestratorFunc is an orchestrator. It must be deterministic: everything
// that varies between runs (time, GUIDs, I/O) has to come from the context.
// The returned value is encoded as JSON and becomes the instance's output.
type OrchestratorFunc func(ctx *OrchestrationContext) (any, error)

// ActivityFunc is an activity: ordinary Go code that may do I/O. It runs at
// least once per scheduling; its result is encoded as JSON.
type ActivityFunc func(ctx *ActivityContext) (any, error)

// Registry maps orchestrator and activity names to code. It is filled at
// start-up and read concurrently afterwards, so it is not safe to add to it
// once the worker runs.
type Registry struct {
	orchestrators map[string]OrchestratorFunc
	activities    map[string]ActivityFunc
	entities      map[string]entity.Func
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{orchestrators: map[string]OrchestratorFunc{}, activities: map[string]ActivityFunc{}, entities: map[string]entity.Func{}}
}

// AddOrchestrator registers an orchestrator under name.
func (r *Registry) AddOrchestrator(name string, fn OrchestratorFunc) error {
	if name == "" || fn == nil {
		return fmt.Errorf("register orchestrator %q: name and function are required", name)
	}
	if strings.HasPrefix(name, "@") {
		return fmt.Errorf("register orchestrator %q: names beginning with '@' are entities' executions", name)
	}
	if _, dup := r.orchestrators[name]; dup {
		return fmt.Errorf("register orchestrator %q: already registered", name)
	}
	r.orchestrators[name] = fn
	return nil
}

// AddActivity registers an activity under name.
func (r *Registry) AddActivity(name string, fn ActivityFunc) error {
	if name == "" || fn == nil {
		return fmt.Errorf("register activity %q: name and function are required", name)
	}
	if _, dup := r.activities[name]; dup {
		return fmt.Errorf("register activity %q: already registered", name)
	}
	r.activities[name] = fn
	return nil
}

// AddEntity registers an entity under name; entity names are not case
// sensitive.
func (r *Registry) AddEntity(name string, fn entity.Func) error {
	if fn == nil {
		return fmt.Errorf("register entity %q: a function is required", name)
	}
	if _, err := entity.NewID(name, ""); err != nil {
		return fmt.Errorf("register entity: %w", err)
	}
	key := strings.ToLower(name)
	if _, dup := r.entities[key]; dup {
		return fmt.Errorf("register entity %q: already registered", name)
	}
	r.entities[key] = fn
	return nil
}

// Entity returns the entity registered under name.
func (r *Registry) Entity(name string) (entity.Func, bool) {
	fn, ok := r.entities[strings.ToLower(name)]
	return fn, ok
}

// Orchestrator returns the orchestrator registered under name.
func (r *Registry) Orchestrator(name string) (OrchestratorFunc, bool) {
	fn, ok := r.orchestrators[name]
	return fn, ok
}

// Activity returns the activity registered under name.
func (r *Registry) Activity(name string) (ActivityFunc, bool) {
	fn, ok := r.activities[name]
	return fn, ok
}

// marshalJSON encodes a user value. A json.RawMessage or a nil value passes
// through so that payloads stay byte-for-byte what the caller produced.
func marshalJSON(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case json.RawMessage:
		return string(x), nil
	}
	b, err := history.EncodeJSON(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// DecodePayload decodes a payload into v as GetInput and Await do. An
// empty payload leaves v as is, since "no input" is a normal case for
// orchestrators and activities; a *json.RawMessage gets the text as is.
func DecodePayload(data string, v any) error {
	if v == nil || data == "" {
		return nil
	}
	if raw, ok := v.(*json.RawMessage); ok {
		*raw = json.RawMessage(data)
		return nil
	}
	return json.Unmarshal([]byte(data), v)
}
