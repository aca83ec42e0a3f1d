package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

// scheduleRoutes adds the schedule routes, this project's, under the
// management base m. A schedule's JSON is its state as the schedule
// entity keeps it (schedule.State); a spec's is schedule.Spec.
func (a *API) scheduleRoutes(m string) {
	a.mux.HandleFunc("GET "+m+"/schedules", a.listSchedules)
	a.mux.HandleFunc("GET "+m+"/schedules/{$}", a.listSchedules)
	a.mux.HandleFunc("GET "+m+"/schedules/{id}", a.getSchedule)
	a.mux.HandleFunc("PUT "+m+"/schedules/{id}", a.putSchedule)
	a.mux.HandleFunc("DELETE "+m+"/schedules/{id}", a.scheduleAction)
	a.mux.HandleFunc("POST "+m+"/schedules/{id}/{action}", a.scheduleAction)
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	top, err := query(r).positiveInt("top", 100)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	page, err := c.ListSchedules(r.Context(), top, r.Header.Get(ContinuationHeader))
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	list := page.Schedules
	if list == nil {
		list = []*schedule.State{}
	}
	writePage(w, page.ContinuationToken, list)
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	st, err := c.GetSchedule(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// putSchedule creates the schedule, or changes its spec: 202 once the
// request is stored (the schedule applies it when the app processes it).
func (a *API) putSchedule(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	body, err := readJSONBody(w, r)
	if err == nil && body == nil {
		err = fmt.Errorf("%w: the body is the schedule's spec (JSON)", client.ErrBadArgument)
	}
	var spec schedule.Spec
	if err == nil {
		var derr error
		if spec, derr = schedule.DecodeSpec(body); derr != nil {
			err = fmt.Errorf("%w: schedule spec: %v", client.ErrBadArgument, derr)
		}
	}
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if err := c.CreateSchedule(r.Context(), r.PathValue("id"), spec); err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// scheduleAction pauses, resumes, triggers, backfills or (DELETE) deletes
// a schedule: 202 once the request is stored.
func (a *API) scheduleAction(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	id, q := r.PathValue("id"), query(r)
	action := r.PathValue("action")
	if r.Method == http.MethodDelete {
		action = "delete"
	}
	switch action {
	case "delete":
		err = c.DeleteSchedule(r.Context(), id)
	case "pause":
		err = c.PauseSchedule(r.Context(), id, q.get("reason"))
	case "resume":
		err = c.ResumeSchedule(r.Context(), id, q.get("reason"))
	case "trigger":
		err = c.TriggerSchedule(r.Context(), id)
	case "backfill":
		var from, to time.Time
		var errs [2]error
		from, _, errs[0] = q.time("from")
		to, _, errs[1] = q.time("to")
		if err = errors.Join(errs[:]...); err == nil {
			err = c.BackfillSchedule(r.Context(), id, from, to)
		}
	default:
		a.fail(w, r, http.StatusNotFound, fmt.Errorf("%w: no schedule action %q (pause, resume, trigger, backfill)", client.ErrNotFound, action))
		return
	}
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
