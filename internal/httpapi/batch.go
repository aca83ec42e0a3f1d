package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/durable-go/durable/internal/client"
)

// batch serves POST /batch/{operation}?<list filters>&reason=…: it starts a
// bulk operation over every instance the filters select and answers 202
// with the check-status body of the bulk operation's own instance, whose
// custom status shows its progress and whose output is its summary.
// raiseEvent takes eventName= and the body as the event's data;
// restart takes restartWithNewInstanceId= (default true); batchSize= sets
// how many instances each step handles.
func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	op, err := client.ParseBatchOperation(r.PathValue("operation"))
	if err != nil {
		a.fail(w, r, http.StatusNotFound, err)
		return
	}
	req, err := batchRequest(w, r, op)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	id, err := c.StartBatch(r.Context(), req)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	a.cfg.Logger.Info("started bulk operation", "operation", op, "instanceId", id)
	a.writeCheckStatus(w, r, id)
}

// batchRequest reads a bulk operation's parameters and body; every error
// is the caller's.
func batchRequest(w http.ResponseWriter, r *http.Request, op client.BatchOperation) (client.BatchRequest, error) {
	q := query(r)
	filter, err := filterQuery(q)
	if err != nil {
		return client.BatchRequest{}, err
	}
	req := client.BatchRequest{Operation: op, Filter: filter, Reason: q.get("reason")}
	var errs []error
	req.BatchSize, err = q.positiveInt("batchSize", client.DefaultBatchSize)
	errs = append(errs, err)
	req.Recursive, err = q.bool("recursive", false)
	errs = append(errs, err)
	if op == client.BatchRestart {
		req.RestartWithNewInstanceID, err = q.bool("restartWithNewInstanceId", true)
		errs = append(errs, err)
	} else if q.has("restartWithNewInstanceId") {
		errs = append(errs, fmt.Errorf("%w: query parameter restartWithNewInstanceId is only for restart", client.ErrBadArgument))
	}
	if err := errors.Join(errs...); err != nil {
		return req, err
	}
	body, err := readJSONBody(w, r)
	if err != nil {
		return req, err
	}
	if op != client.BatchRaiseEvent {
		if q.has("eventName") || body != nil {
			return req, fmt.Errorf("%w: an eventName and a body are only for raiseEvent, not %s", client.ErrBadArgument, op)
		}
		return req, nil
	}
	req.EventName = q.get("eventName")
	if !q.has("eventName") {
		return req, fmt.Errorf("%w: raiseEvent needs query parameter eventName", client.ErrBadArgument)
	}
	if err := validateEventName(req.EventName); err != nil {
		return req, err
	}
	if body != nil {
		req.EventData = body
	}
	return req, nil
}
