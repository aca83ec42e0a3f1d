package client

import (
	"errors"

	iclient "github.com/durable-go/durable/internal/client"
)

// Errors a caller tells apart with errors.Is; anything else is a storage
// or connection failure.
var (
	// ErrNotFound: no such instance (or task hub).
	ErrNotFound error
	// ErrWrongState: the instance's status forbids the operation, e.g.
	// terminating a finished instance. Rewind, Suspend, Resume, Restart
	// and Purge refuse with a *StateError, which carries the status.
	ErrWrongState error
	// ErrBadArgument: the request itself is invalid (a bad ID, JSON that
	// does not parse, a payload over MaxPayloadBytes).
	ErrBadArgument error
)

func init() {
	// The internal client's own values, which its errors wrap.
	ErrNotFound, ErrWrongState, ErrBadArgument = iclient.ErrNotFound, iclient.ErrWrongState, iclient.ErrBadArgument
}

// StateError is an ErrWrongState naming the status that forbade the
// operation: errors.As(err, &stateErr) finds it.
type StateError struct {
	// InstanceID is the instance the operation was refused on.
	InstanceID string
	// Status is the instance's runtime status that forbade it.
	Status RuntimeStatus
	// Op names the operation ("terminate", "rewind" …).
	Op string
}

// Error reads `cannot rewind instance "x": it is Completed`.
func (e *StateError) Error() string {
	return (&iclient.StateError{InstanceID: e.InstanceID, Status: e.Status, Op: e.Op}).Error()
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *StateError) Unwrap() error { return ErrWrongState }

// PurgeIncompleteError is the ErrWrongState of a recursive purge that
// deleted what it could but left instances that have not finished, and
// their ancestors.
type PurgeIncompleteError struct {
	// InstanceID is the root of the purge.
	InstanceID string
	// Deleted is how many instances the purge deleted.
	Deleted int
	// Unfinished are the IDs of the instances found not finished, sorted.
	Unfinished []string
}

// Error counts what was deleted and names what was not finished.
func (e *PurgeIncompleteError) Error() string {
	return (&iclient.PurgeIncompleteError{InstanceID: e.InstanceID, Deleted: e.Deleted, Unfinished: e.Unfinished}).Error()
}

// Unwrap makes errors.Is(err, ErrWrongState) hold.
func (e *PurgeIncompleteError) Unwrap() error { return ErrWrongState }

// publicError shows the internal client's typed errors as this package's:
// one returned as it is becomes this package's type; one wrapped keeps its
// message, and errors.As finds this package's type in it.
func publicError(err error) error {
	if err == nil {
		return nil
	}
	var pub error
	var se *iclient.StateError
	var pe *iclient.PurgeIncompleteError
	switch {
	case errors.As(err, &pe):
		pub = &PurgeIncompleteError{InstanceID: pe.InstanceID, Deleted: pe.Deleted, Unfinished: pe.Unfinished}
		if err == error(pe) {
			return pub
		}
	case errors.As(err, &se):
		pub = &StateError{InstanceID: se.InstanceID, Status: se.Status, Op: se.Op}
		if err == error(se) {
			return pub
		}
	default:
		return err
	}
	return &translated{err: err, pub: pub}
}

// translated is a wrapped internal error with its public form.
type translated struct{ err, pub error }

func (t *translated) Error() string   { return t.err.Error() }
func (t *translated) Unwrap() []error { return []error{t.pub, t.err} }
