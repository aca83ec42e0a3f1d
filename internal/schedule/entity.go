package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/entity"
)

// The schedule entity's operations.
const (
	OpCreate   = "create"   // input: Spec; makes or changes the schedule
	OpUpdate   = "update"   // input: Spec; changes an existing schedule
	OpPause    = "pause"    // input: a note (string), optional
	OpResume   = "resume"   // input: a note (string), optional
	OpTrigger  = "trigger"  // starts a run now
	OpBackfill = "backfill" // input: BackfillRequest
	OpDelete   = "delete"   // removes the schedule; runs under way go on
	OpGet      = "get"      // returns the State

	opTick  = "tick"  // input: tickInput; the signal the schedule sends itself
	opEnded = "ended" // input: entity.OrchestrationEnded; a run's end
)

// BackfillRequest is the input of OpBackfill.
type BackfillRequest struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type tickInput struct {
	Tick time.Time `json:"tick"`
}

// ID is the entity ID of schedule id.
func ID(id string) entity.ID { return entity.ID{Name: EntityName, Key: id} }

// Entity runs one operation on a schedule (see the Op constants). Register
// it under EntityName.
func Entity(ctx *entity.Context) (any, error) {
	var st *State
	if ctx.HasState() {
		st = &State{}
		if err := ctx.State(st); err != nil {
			return nil, err
		}
	}
	now := ctx.Now().UTC()
	id := ctx.ID().Key
	var (
		eff Effects
		err error
	)
	switch op := ctx.Operation(); op {
	case OpCreate, OpUpdate:
		var spec Spec
		if err := ctx.Input(&spec); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if st == nil && op == OpUpdate {
			return nil, fmt.Errorf("%w: schedule %q does not exist", ErrNotFound, id)
		}
		if st, eff, err = Create(st, id, spec, now); err != nil {
			return nil, err
		}
	case OpDelete:
		ctx.DeleteState()
		return nil, nil
	case opTick, opEnded:
		if st == nil {
			return nil, nil // the schedule was deleted: nothing to do
		}
		if op == opTick {
			var in tickInput
			if err := ctx.Input(&in); err != nil {
				return nil, err
			}
			eff = st.Tick(in.Tick, now)
		} else {
			var e entity.OrchestrationEnded
			if err := ctx.Input(&e); err != nil {
				return nil, err
			}
			eff = st.Ended(e.InstanceID, string(e.Status), now)
		}
	default:
		if st == nil {
			return nil, fmt.Errorf("%w: schedule %q does not exist", ErrNotFound, id)
		}
		switch op {
		case OpGet:
			return st, nil
		case OpPause, OpResume:
			var note string
			if err := ctx.Input(&note); err != nil {
				return nil, fmt.Errorf("%w: a note is a string: %v", ErrInvalid, err)
			}
			if op == OpPause {
				eff = st.Pause(note, now)
			} else {
				eff = st.Resume(note, now)
			}
		case OpTrigger:
			eff = st.Trigger(now)
		case OpBackfill:
			var r BackfillRequest
			if err := ctx.Input(&r); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			if eff, err = st.Backfill(r.From, r.To, now); err != nil {
				return nil, err
			}
		default:
			return nil, entity.ErrUnknownOperation
		}
	}
	if err := apply(ctx, st, eff, now); err != nil {
		return nil, err
	}
	return nil, ctx.SetState(st)
}

// ErrNotFound reports an operation on a schedule that does not exist.
var ErrNotFound = errors.New("schedule not found")

// apply carries out a decision's effects through the entity: they leave
// only once the operation's batch is stored, exactly once.
func apply(ctx *entity.Context, st *State, eff Effects, now time.Time) error {
	for _, id := range eff.Terminate {
		reason := fmt.Sprintf("schedule %s started a new run (overlap %s)", st.ID, OverlapTerminate)
		if err := ctx.Terminate(id, reason); err != nil {
			return err
		}
	}
	for _, r := range eff.Start {
		var input any
		if len(st.Spec.Input) > 0 {
			input = st.Spec.Input
		}
		if _, err := ctx.StartOrchestration(entity.StartOptions{Name: st.Spec.Orchestrator, Input: input, InstanceID: r.InstanceID,
			Version: st.Spec.Version, OnEnd: opEnded}); err != nil {
			return err
		}
	}
	if !eff.Wake.IsZero() {
		at := eff.Wake
		if !at.After(now) {
			at = time.Time{} // due already: now
		}
		if err := ctx.ScheduleSignal(ctx.ID(), opTick, tickInput{Tick: st.Next}, at); err != nil {
			return err
		}
	}
	return nil
}

func jsonOf(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
