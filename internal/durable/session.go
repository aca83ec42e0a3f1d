package durable

import (
	"log/slog"
	"sync"

	"github.com/durable-go/durable/internal/history"
)

// A Session keeps an orchestration's goroutine parked between episodes
// where its code waits, so that the next episode resumes it with the new
// events instead of replaying every event before them: an episode then
// costs what it adds, not what the execution has done so far, and a long
// orchestration costs linear rather than quadratic CPU (Temporal's sticky
// execution, Durable Functions' extended sessions).
//
// Replay (Execute) stays the recovery path and the definition of what an
// episode does: an episode run by a Session gives exactly the Result that
// Execute gives for the same history and new events. A Session follows the
// history its results built: the caller records every Result in history
// (Past of the next episode is the previous Past plus its Appended), or
// closes the Session and replays.
type Session struct {
	// mu makes Close safe beside Next: a caller that drops a cache entry
	// from another goroutine waits for the episode in progress.
	mu sync.Mutex
	x  *execution
	// histLen is how long the history is once the last result is recorded.
	histLen int
	// dedup is filterNew's view of that history.
	dedup *dedup
}

// parking is how an orchestrator goroutine parks and is resumed.
type parking struct {
	done   chan runOutcome
	resume chan struct{}
}

// Begin runs an episode as Execute does and, when the orchestration waits
// at its end, returns a Session holding it parked (nil otherwise). The
// caller must Close the Session when it does not use it any more.
func Begin(reg *Registry, ep Episode, logger *slog.Logger) (*Result, *Session) {
	res, x := execute(reg, ep, logger, &parking{resume: make(chan struct{})})
	if x == nil {
		return res, nil
	}
	x.markInHistory()
	d := newDedup()
	d.add(ep.Past)
	d.add(res.Appended)
	return res, &Session{x: x, histLen: len(ep.Past) + len(res.Appended), dedup: d}
}

// Next runs the next episode on the parked orchestration. ep.Past must be
// the history as the last result left it; when it is not (the caller did
// not record that result), Next returns nil and the caller closes the
// Session and replays. After an episode that ends the orchestration's wait
// for good (it finished, failed, continued as new, was terminated), the
// Session is spent: Live reports false and Next returns nil.
func (s *Session) Next(ep Episode) *Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.x
	if x == nil || len(ep.Past) != s.histLen {
		return nil
	}
	ep = atStoredPrecision(ep)
	accepted, dropped := s.dedup.filter(ep.New)
	res := &Result{Dropped: dropped, Name: x.name, Version: x.version, ExecutionID: x.executionID, Parent: x.parent, Tags: x.tags}
	x.workerVersion = ep.Versions.version()
	x.pastLen = len(x.events)
	x.events = append(append(x.events, history.Event{Type: history.OrchestratorStarted, EventID: -1, Timestamp: ep.Now}), accepted...)
	res.Appended = played(x.events[x.pastLen:])
	x.park.resume <- struct{}{}
	outcome := x.settleOutcome(<-x.park.done)
	x.finish(res)
	s.histLen = len(ep.Past) + len(res.Appended)
	s.dedup.add(res.Appended)
	if outcome != outcomeParked {
		s.x = nil // the goroutine has ended
		return res
	}
	x.markInHistory()
	return res
}

// Live reports whether the Session still holds a parked orchestration.
func (s *Session) Live() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.x != nil
}

// Close unwinds the parked goroutine, if any. It is safe to call more
// than once and on nil.
func (s *Session) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.x == nil {
		return
	}
	close(s.x.park.resume)
	<-s.x.park.done
	s.x = nil
}

// markInHistory records that every action the code issued so far is in
// history now (the result that carries them is recorded), as replay
// finds them there.
func (x *execution) markInHistory() {
	for _, a := range x.actionOrder[x.recorded:] {
		a.inHistory = true
	}
	x.recorded = len(x.actionOrder)
	x.newPatches = nil // their markers are in the recorded result
}
