// Package entity is the pure state machine of durable entities: their
// identity, the messages orchestrations, clients and entities exchange, the
// scheduler state an entity keeps between batches, the per-sender ordering
// of requests, locks, and the running of one batch of operations. It does
// no I/O; the worker carries out what a batch decides.
//
// The formats are those of the Durable Task Framework's core entities
// (DurableTask.Core/Entities), which the Durable Functions extension uses
// for out-of-process workers: an entity is an instance "@name@key" whose
// every batch starts a new execution with the serialized SchedulerState as
// its input and the EntityStatus as its custom status, so that a .NET
// client reading the same task hub sees the same entities.
package entity

import (
	"errors"
	"fmt"
	"strings"
)

// ID names an entity: a name (stored lower-case, as every Durable
// Functions SDK writes it) and a key (kept as given).
type ID struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// NewID validates name and key and returns the entity's ID with its name
// lower-cased.
func NewID(name, key string) (ID, error) {
	switch {
	case name == "":
		return ID{}, errors.New("entity name is empty")
	case strings.Contains(name, "@"):
		return ID{}, fmt.Errorf("entity name %q contains '@'", name)
	}
	for _, r := range name + key {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\?#`, r) {
			return ID{}, fmt.Errorf("entity name or key %q contains %q, which an instance ID may not", name+"@"+key, r)
		}
	}
	return ID{Name: strings.ToLower(name), Key: key}, nil
}

// String is the entity's instance ID, "@name@key".
func (id ID) String() string { return "@" + id.Name + "@" + id.Key }

// Parse reads an entity's instance ID; ok is false for any other instance.
// The name ends at the second '@': a key may hold '@' itself.
func Parse(instanceID string) (id ID, ok bool) {
	if !IsEntity(instanceID) {
		return ID{}, false
	}
	name, key, found := strings.Cut(instanceID[1:], "@")
	if !found || name == "" {
		return ID{}, false
	}
	return ID{Name: name, Key: key}, true
}

// IsEntity reports whether an instance ID names an entity: entities' IDs,
// and only theirs, begin with '@'.
func IsEntity(instanceID string) bool { return strings.HasPrefix(instanceID, "@") }

// Prefix is the start of the instance IDs of every entity named name ("@"
// for all entities when name is empty): what a list of entities queries.
func Prefix(name string) string {
	if name == "" {
		return "@"
	}
	return "@" + strings.ToLower(name) + "@"
}

// compare orders entity IDs as lock sets are sorted: by name, then key.
func compare(a, b ID) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}
