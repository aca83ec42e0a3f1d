package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/durable-go/durable/internal/schedule"
)

// Schedules are entities (internal/schedule): the calls below signal one
// an operation and return once the signal is stored, as a signal to any
// entity does; the schedule applies it when the app processes it, which
// GetSchedule then shows. Each call but CreateSchedule first reads the
// schedule, to answer ErrNotFound for one that does not exist.

// ErrScheduleNotFound reports a schedule that does not exist.
var ErrScheduleNotFound = errors.New("schedule not found")

// ValidateScheduleID checks a schedule's ID (schedule.ValidateID): an
// ErrBadArgument naming what is wrong with it, or nil.
func ValidateScheduleID(id string) error {
	if err := schedule.ValidateID(id); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	return nil
}

// CreateSchedule creates schedule id, or changes its spec if it exists
// (nothing happens when the spec is the same, so an app may declare its
// schedules at every start). The spec is checked here: ErrBadArgument for
// one that cannot be used, or whose orchestrator this app does not have.
func (c *Client) CreateSchedule(ctx context.Context, id string, spec schedule.Spec) error {
	if err := c.checkSchedule(id, spec); err != nil {
		return err
	}
	return c.scheduleOp(ctx, id, schedule.OpCreate, spec)
}

// UpdateSchedule changes the spec of schedule id; its next tick follows
// the new spec.
func (c *Client) UpdateSchedule(ctx context.Context, id string, spec schedule.Spec) error {
	if err := c.checkSchedule(id, spec); err != nil {
		return err
	}
	if _, err := c.GetSchedule(ctx, id); err != nil {
		return err
	}
	return c.scheduleOp(ctx, id, schedule.OpUpdate, spec)
}

func (c *Client) checkSchedule(id string, spec schedule.Spec) error {
	if err := ValidateScheduleID(id); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadArgument, err)
	}
	if c.opts.IsOrchestrator != nil && !c.opts.IsOrchestrator(spec.Orchestrator) {
		return fmt.Errorf("%w: the schedule's orchestrator %q is not registered in this app", ErrBadArgument, spec.Orchestrator)
	}
	return nil
}

// PauseSchedule stops the ticks of schedule id; runs under way go on.
func (c *Client) PauseSchedule(ctx context.Context, id, note string) error {
	return c.existingScheduleOp(ctx, id, schedule.OpPause, note)
}

// ResumeSchedule restarts the ticks of schedule id from now.
func (c *Client) ResumeSchedule(ctx context.Context, id, note string) error {
	return c.existingScheduleOp(ctx, id, schedule.OpResume, note)
}

// TriggerSchedule starts a run of schedule id now, as its overlap policy
// allows.
func (c *Client) TriggerSchedule(ctx context.Context, id string) error {
	return c.existingScheduleOp(ctx, id, schedule.OpTrigger, nil)
}

// BackfillSchedule starts the runs of schedule id's ticks from from to to
// (inclusive), as its overlap policy allows.
func (c *Client) BackfillSchedule(ctx context.Context, id string, from, to time.Time) error {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return fmt.Errorf("%w: a backfill needs from and to, from not after to", ErrBadArgument)
	}
	return c.existingScheduleOp(ctx, id, schedule.OpBackfill, schedule.BackfillRequest{From: from.UTC(), To: to.UTC()})
}

// DeleteSchedule removes schedule id; runs under way go on.
func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	return c.existingScheduleOp(ctx, id, schedule.OpDelete, nil)
}

func (c *Client) existingScheduleOp(ctx context.Context, id, op string, input any) error {
	if _, err := c.GetSchedule(ctx, id); err != nil {
		return err
	}
	return c.scheduleOp(ctx, id, op, input)
}

func (c *Client) scheduleOp(ctx context.Context, id, op string, input any) error {
	if _, err := c.SignalEntity(ctx, schedule.ID(id), op, input, time.Time{}); err != nil {
		return fmt.Errorf("%s schedule %q: %w", op, id, err)
	}
	return nil
}

// GetSchedule reads schedule id; ErrScheduleNotFound when there is none.
func (c *Client) GetSchedule(ctx context.Context, id string) (*schedule.State, error) {
	if err := ValidateScheduleID(id); err != nil {
		return nil, err
	}
	md, err := c.GetEntity(ctx, schedule.ID(id), true)
	if errors.Is(err, ErrEntityNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrScheduleNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return decodeSchedule(md.State)
}

func decodeSchedule(state json.RawMessage) (*schedule.State, error) {
	st := &schedule.State{}
	if err := json.Unmarshal(state, st); err != nil {
		return nil, fmt.Errorf("read schedule: %w", err)
	}
	return st, nil
}

// SchedulePage is a page of schedules; ContinuationToken is "" on the last.
type SchedulePage struct {
	Schedules         []*schedule.State
	ContinuationToken string
}

// ListSchedules returns a page of schedules (pageSize 0: 100), in ID order,
// reading the schedules' rows only.
func (c *Client) ListSchedules(ctx context.Context, pageSize int, token string) (*SchedulePage, error) {
	page, err := c.ListEntities(ctx, EntityQuery{Name: schedule.EntityName, FetchState: true, PageSize: pageSize, ContinuationToken: token})
	if err != nil {
		return nil, err
	}
	out := &SchedulePage{ContinuationToken: page.ContinuationToken}
	for _, e := range page.Entities {
		st, err := decodeSchedule(e.State)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", e.ID.Key, err)
		}
		out.Schedules = append(out.Schedules, st)
	}
	return out, nil
}
