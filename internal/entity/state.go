package entity

import (
	"encoding/json"
	"fmt"
	"time"
)

// SchedulerState is what an entity keeps between batches: the input of
// each batch's execution (the Durable Task Framework's SchedulerState).
type SchedulerState struct {
	// Exists is written beside State for readers of the earlier format,
	// which read State only when Exists is set.
	Exists bool `json:"exists,omitempty"`
	// State is the entity's state as JSON text; nil when it has none.
	State *string `json:"state,omitempty"`
	// Queue holds requests waiting for their turn (behind a lock), in
	// order.
	Queue []Request `json:"queue,omitempty"`
	// LockedBy is the orchestration that holds the entity's lock.
	LockedBy string `json:"lockedBy,omitempty"`
	// Suspended marks a batch cut short, which a continue message resumes.
	Suspended bool   `json:"suspended,omitempty"`
	Sorter    Sorter `json:"sorter"`
	// Outbox holds the messages the last batch decided to send, kept in
	// the state that batch committed and sent by the next execution: no
	// effect of a batch leaves before the batch is durable, so a batch
	// redone after a crash (whose messages may come in another batch,
	// in another order) cannot contradict what was already sent. An
	// addition of this app; readers of the Durable Task Framework's
	// format ignore it.
	Outbox []OutboxMessage `json:"outbox,omitempty"`
	// Recent lists the last operations the entity ran, oldest first, for
	// whoever looks at it: its history keeps none, each batch beginning a
	// new execution. An addition of this app, as Outbox is.
	Recent []RecentOperation `json:"recent,omitempty"`
}

// RecentOperations is how many operations Recent keeps.
const RecentOperations = 10

// RecentOperation is an operation an entity ran, or a lock it granted.
type RecentOperation struct {
	// Operation is the operation's name; "" for a lock taken.
	Operation string `json:"op,omitempty"`
	// From is the orchestration that sent it; "" for a client (or an
	// entity's signal).
	From string `json:"from,omitempty"`
	// At is when its batch ran.
	At time.Time `json:"at"`
	// Signal marks an operation whose sender does not wait for a result.
	Signal bool `json:"signal,omitempty"`
	// Error is its failure's message (at most 200 bytes), "" when it
	// succeeded.
	Error string `json:"error,omitempty"`
}

// remember adds op to Recent, dropping the oldest beyond RecentOperations.
func (s *SchedulerState) remember(op RecentOperation) {
	if len(op.Error) > 200 {
		op.Error = op.Error[:200]
	}
	s.Recent = append(s.Recent, op)
	if n := len(s.Recent) - RecentOperations; n > 0 {
		s.Recent = append(s.Recent[:0:0], s.Recent[n:]...)
	}
}

// OutboxMessage is a message of an Outbox: an Outbound with the ID every
// sending of it carries, so that a copy sent again is dropped.
type OutboxMessage struct {
	ID          string    `json:"id"`
	To          string    `json:"to"`
	ToExecution string    `json:"toExecution,omitempty"`
	Name        string    `json:"name"`
	Input       string    `json:"input,omitempty"`
	At          time.Time `json:"at,omitzero"`
	// Orchestration, when set, makes the message the start of that
	// orchestration as instance To, at Version.
	Orchestration string `json:"orchestration,omitempty"`
	Version       string `json:"version,omitempty"`
	OnEnd         string `json:"onEnd,omitempty"`
	// Terminate makes the message the termination of instance To, with
	// Input as reason.
	Terminate bool `json:"terminate,omitempty"`
}

// DecodeState reads a SchedulerState from an execution's input; empty
// input (an entity's first message) is the empty state.
func DecodeState(input string) (*SchedulerState, error) {
	s := &SchedulerState{}
	if input == "" || input == "null" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(input), s); err != nil {
		return nil, fmt.Errorf("read an entity's scheduler state: %w", err)
	}
	s.Exists = s.State != nil
	return s, nil
}

// Encode writes s as an execution's input.
func (s *SchedulerState) Encode() string {
	s.Exists = s.State != nil
	b, err := json.Marshal(s)
	if err != nil {
		// Every field is a plain value or raw JSON text held as a string.
		panic(fmt.Sprintf("entity scheduler state: %v", err))
	}
	return string(b)
}

// Status is an entity's custom status (the Durable Task Framework's
// EntityStatus): what a list of entities reads without the state.
type Status struct {
	EntityExists bool   `json:"entityExists,omitempty"`
	QueueSize    int    `json:"queueSize,omitempty"`
	LockedBy     string `json:"lockedBy,omitempty"`
}

// Status summarizes s.
func (s *SchedulerState) Status() Status {
	return Status{EntityExists: s.State != nil, QueueSize: len(s.Queue), LockedBy: s.LockedBy}
}

// Encode writes st as a custom status.
func (st Status) Encode() string {
	b, _ := json.Marshal(st)
	return string(b)
}

// DecodeStatus reads an entity's custom status; an unreadable one is the
// zero Status (no state).
func DecodeStatus(customStatus string) Status {
	var st Status
	_ = json.Unmarshal([]byte(customStatus), &st)
	return st
}
