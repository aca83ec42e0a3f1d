package durable

import "sort"

// awaitedEvents lists the events the orchestrator code still waits for:
// nothing once it has returned, since waiters left behind then (the loser
// of a WhenAny) no longer hold anything up.
func (x *execution) awaitedEvents() []string {
	if x.finished {
		return nil
	}
	var names []string
	for _, ws := range x.waiters {
		for _, t := range ws {
			if !t.done {
				names = append(names, t.event)
			}
		}
	}
	sort.Strings(names)
	return names
}
