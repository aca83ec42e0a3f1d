package durable

import (
	"strings"

	"github.com/durable-go/durable/internal/history"
)

// A patch decision that came out true is recorded in history as a
// GenericEvent whose Data is PatchMarkerPrefix followed by the patch name
// ("Patched: add-fraud-check"). GenericEvent is a Durable Task Framework
// event type that its replay ignores and its history views show, so a
// .NET reader of the hub tolerates the row; the engine looks for such
// rows anywhere in the execution's past, whatever their position.
const PatchMarkerPrefix = "Patched: "

// PatchName returns the patch an event records, if it is a patch marker.
func PatchName(e history.Event) (string, bool) {
	if e.Type != history.GenericEvent {
		return "", false
	}
	return strings.CutPrefix(e.Data, PatchMarkerPrefix)
}

// isPatched decides a patch once per execution: true when the past
// records it, false when the code reaches the call while replaying steps
// the past recorded without it (the instance passed this point before the
// patch existed), and true, to be recorded, when the call comes in new
// work. Later calls with the same name return the first decision, so that
// one execution never takes both paths.
func (x *execution) isPatched(name string) bool {
	if v, ok := x.patches[name]; ok {
		return v
	}
	if x.patches == nil {
		x.patches = map[string]bool{}
	}
	v := false
	// The events earlier episodes consumed: for a parked execution
	// (Session) they lack the markers recorded since it was parked, but
	// every patch decided since is in x.patches already.
	for _, e := range x.events[:x.pastLen] {
		if n, ok := PatchName(e); ok && n == name {
			v = true
			break
		}
	}
	if !v && !x.replaying() {
		v = true
		x.newPatches = append(x.newPatches, name)
	}
	x.patches[name] = v
	return v
}

// patchMarkers are the events that record this episode's new patches.
func (x *execution) patchMarkers() []history.Event {
	out := make([]history.Event, 0, len(x.newPatches))
	for _, n := range x.newPatches {
		out = append(out, history.Event{Type: history.GenericEvent, EventID: -1, Timestamp: x.now, Data: PatchMarkerPrefix + n})
	}
	return out
}
