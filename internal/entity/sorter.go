package entity

import (
	"sort"
	"time"
)

// ReorderWindow is how long the sorter waits for a sender's earlier
// request, and remembers a sender's last one to drop copies: the Durable
// Task Framework's EntityMessageReorderWindow default.
const ReorderWindow = 30 * time.Minute

// horizonStep bounds how often the horizons move (and stale records go).
const horizonStep = 10 * time.Second

// Sorter keeps the requests of each sender to an entity in the order they
// were sent, and drops copies: each request carries the sender's
// timestamp and that of its previous request to the same target
// (Predecessor). A sender labels what it sends (Label); a receiver lets a
// request through once its predecessor has been (Receive). The JSON names
// are the Durable Task Framework's MessageSorter's.
type Sorter struct {
	LastSentToInstance   map[string]Time           `json:"LastSentToInstance,omitempty"`
	ReceivedFromInstance map[string]*ReceiveBuffer `json:"ReceivedFromInstance,omitempty"`
	ReceiveHorizon       Time                      `json:"ReceiveHorizon,omitzero"`
	SendHorizon          Time                      `json:"SendHorizon,omitzero"`
}

// ReceiveBuffer is what the sorter knows of one sender: its last request
// let through, the execution it came from, and requests that wait for an
// earlier one, by timestamp.
type ReceiveBuffer struct {
	Last        Time             `json:"Last"`
	ExecutionID string           `json:"ExecutionId,omitempty"`
	Buffered    map[Time]Request `json:"Buffered,omitempty"`
}

// Label stamps a request sent to destination at now: a timestamp later
// than any this sender gave that destination, and that one as its
// predecessor.
func (s *Sorter) Label(r *Request, destination string, now time.Time) {
	if s.LastSentToInstance == nil {
		s.LastSentToInstance = map[string]Time{}
	}
	ts := at(now)
	last, seen := s.LastSentToInstance[destination]
	if seen {
		r.Predecessor = last
		if !ts.After(last.Time) {
			ts = Time{last.Add(tick)}
		}
	}
	r.Timestamp = ts
	s.LastSentToInstance[destination] = ts
	if horizon := at(now.Add(-ReorderWindow)); horizon.Sub(s.SendHorizon.Time) > horizonStep {
		s.SendHorizon = horizon
		for d, t := range s.LastSentToInstance {
			if t.Before(horizon.Time) {
				delete(s.LastSentToInstance, d)
			}
		}
	}
}

// Receive takes a request that arrived and returns those it lets through,
// in their senders' order: none for a copy of one let through already or
// for one whose predecessor has not arrived, and a request together with
// any that waited for it. A client's signal (no parent), a lock request
// passed on from the previous entity of its set, a request its sender did
// not label, and a request older than the horizon go through as they come.
func (s *Sorter) Receive(r Request) []Request {
	if r.Parent == "" || r.Position > 0 || r.Timestamp.IsZero() || r.Timestamp.Before(s.ReceiveHorizon.Time) {
		return []Request{r}
	}
	var out []Request
	if horizon := at(r.Timestamp.Add(-ReorderWindow)); horizon.Sub(s.ReceiveHorizon.Time) > horizonStep {
		s.ReceiveHorizon = horizon
		out = append(out, s.release()...)
	}
	if s.ReceivedFromInstance == nil {
		s.ReceivedFromInstance = map[string]*ReceiveBuffer{}
	}
	b := s.ReceivedFromInstance[r.Parent]
	if b == nil || b.ExecutionID != r.ParentExecution {
		// A new sender, or a new execution of it, whose sorter starts over.
		b = &ReceiveBuffer{ExecutionID: r.ParentExecution}
		s.ReceivedFromInstance[r.Parent] = b
	}
	switch {
	case !r.Timestamp.After(b.Last.Time):
		return out // a copy
	case r.Predecessor.After(b.Last.Time) && !r.Predecessor.Before(s.ReceiveHorizon.Time):
		if b.Buffered == nil {
			b.Buffered = map[Time]Request{}
		}
		b.Buffered[r.Timestamp] = r
		return out
	}
	b.Last = r.Timestamp
	out = append(out, r)
	return append(out, b.drain(s.ReceiveHorizon)...)
}

// drain lets through the buffered requests whose predecessor has been let
// through (or fell behind the horizon), in order.
func (b *ReceiveBuffer) drain(horizon Time) []Request {
	keys := make([]Time, 0, len(b.Buffered))
	for k := range b.Buffered {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Before(keys[j].Time) })
	var out []Request
	for _, k := range keys {
		next := b.Buffered[k]
		if next.Predecessor.After(b.Last.Time) && !next.Predecessor.Before(horizon.Time) {
			break
		}
		delete(b.Buffered, k)
		if !next.Timestamp.After(b.Last.Time) {
			continue
		}
		b.Last = next.Timestamp
		out = append(out, next)
	}
	return out
}

// release lets through what waits for a predecessor older than the
// horizon, which will not come, and forgets senders last heard from before
// it.
func (s *Sorter) release() []Request {
	senders := make([]string, 0, len(s.ReceivedFromInstance))
	for k := range s.ReceivedFromInstance {
		senders = append(senders, k)
	}
	sort.Strings(senders)
	var out []Request
	for _, k := range senders {
		b := s.ReceivedFromInstance[k]
		out = append(out, b.drain(s.ReceiveHorizon)...)
		if len(b.Buffered) == 0 && b.Last.Before(s.ReceiveHorizon.Time) {
			delete(s.ReceivedFromInstance, k)
		}
	}
	return out
}
