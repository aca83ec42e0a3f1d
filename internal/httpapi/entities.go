package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
)

// emptyKey stands for an empty entity key in a URL, as in Durable
// Functions.
const emptyKey = "$"

// entityRoutes adds Durable Functions' entity routes under the management
// base m.
func (a *API) entityRoutes(m string) {
	a.mux.HandleFunc("POST "+m+"/entities/{name}/{key}", a.signalEntity)
	a.mux.HandleFunc("DELETE "+m+"/entities/{name}/{key}", a.signalEntity)
	a.mux.HandleFunc("GET "+m+"/entities/{name}/{key}", a.getEntity)
	a.mux.HandleFunc("GET "+m+"/entities", a.listEntities)
	a.mux.HandleFunc("GET "+m+"/entities/{$}", a.listEntities)
	a.mux.HandleFunc("GET "+m+"/entities/{name}", a.listEntities)
	a.mux.HandleFunc("POST "+m+"/entities", a.cleanEntityStorage)
	a.mux.HandleFunc("POST "+m+"/entities/{$}", a.cleanEntityStorage)
}

// cleanBudget is how long one clean request works before it answers with
// a continuation token, well within the Functions host's HTTP timeout.
const cleanBudget = 30 * time.Second

// cleanEntityStorage removes empty entities (?removeEmptyEntities=true,
// idle for ?emptyForSeconds=, default 30 minutes) and releases orphaned
// locks (?releaseOrphanedLocks=true): Durable Functions' clean entity
// storage, which its HTTP API lacks, with the gRPC call's request and
// answer. Work left over is resumed through x-ms-continuation-token, as
// lists are.
func (a *API) cleanEntityStorage(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q := query(r)
	o := client.CleanEntityOptions{ContinuationToken: r.Header.Get(ContinuationHeader)}
	var (
		errs    [3]error
		seconds int
	)
	o.RemoveEmptyEntities, errs[0] = q.bool("removeEmptyEntities", false)
	o.ReleaseOrphanedLocks, errs[1] = q.bool("releaseOrphanedLocks", false)
	seconds, errs[2] = q.positiveInt("emptyForSeconds", 0)
	if err := errors.Join(errs[:]...); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if !o.RemoveEmptyEntities && !o.ReleaseOrphanedLocks {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("%w: say what to clean: removeEmptyEntities=true, releaseOrphanedLocks=true or both",
			client.ErrBadArgument))
		return
	}
	o.EmptyFor = time.Duration(seconds) * time.Second
	ctx, cancel := context.WithTimeout(r.Context(), cleanBudget)
	defer cancel()
	res, err := c.CleanEntityStorage(ctx, o)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	writePage(w, res.ContinuationToken, map[string]int{"emptyEntitiesRemoved": res.EmptyEntitiesRemoved,
		"orphanedLocksReleased": res.OrphanedLocksReleased})
}

// entityID reads the entity of a request's path.
func entityID(r *http.Request) (entity.ID, error) {
	key := r.PathValue("key")
	if key == emptyKey {
		key = ""
	}
	id, err := entity.NewID(r.PathValue("name"), key)
	if err != nil {
		return entity.ID{}, fmt.Errorf("%w: %v", client.ErrBadArgument, err)
	}
	return id, nil
}

// entityRequest resolves the client and the entity of a request about one
// entity; it answers 400 itself and returns ok=false when either fails.
func (a *API) entityRequest(w http.ResponseWriter, r *http.Request) (c Client, id entity.ID, ok bool) {
	c, err := a.clientFor(r)
	if err == nil {
		id, err = entityID(r)
	}
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return nil, entity.ID{}, false
	}
	return c, id, true
}

// signalEntity sends ?op= (POST) or "delete" (DELETE) to the entity with
// the body as input: JSON when the body says so or says nothing, else the
// body's text. 202 once the signal is sent.
func (a *API) signalEntity(w http.ResponseWriter, r *http.Request) {
	c, id, ok := a.entityRequest(w, r)
	if !ok {
		return
	}
	op := query(r).get("op")
	if r.Method == http.MethodDelete {
		op = "delete"
	}
	var input any
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "" || mt == "application/json" {
		body, err := readJSONBody(w, r)
		if err != nil {
			a.fail(w, r, http.StatusBadRequest, err)
			return
		}
		if body != nil {
			input = body
		}
	} else {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			a.fail(w, r, http.StatusBadRequest, fmt.Errorf("%w: read body: %v", client.ErrBadArgument, err))
			return
		}
		if len(b) > 0 {
			input = string(b)
		}
	}
	if _, err := c.SignalEntity(r.Context(), id, op, input, time.Time{}); err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// getEntity answers the entity's state, or 404 when it has none.
func (a *API) getEntity(w http.ResponseWriter, r *http.Request) {
	c, id, ok := a.entityRequest(w, r)
	if !ok {
		return
	}
	md, err := c.GetEntity(r.Context(), id, true)
	if errors.Is(err, client.ErrEntityNotFound) {
		a.fail(w, r, http.StatusNotFound, err)
		return
	}
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, md.State)
}

// listEntities answers a page of entities (of {name}, or all).
func (a *API) listEntities(w http.ResponseWriter, r *http.Request) {
	c, err := a.clientFor(r)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	q := query(r)
	eq := client.EntityQuery{Name: r.PathValue("name"), ContinuationToken: r.Header.Get(ContinuationHeader)}
	var errs [4]error
	eq.LastOperationFrom, _, errs[0] = q.time("lastOperationTimeFrom")
	eq.LastOperationTo, _, errs[1] = q.time("lastOperationTimeTo")
	eq.FetchState, errs[2] = q.bool("fetchState", false)
	eq.PageSize, errs[3] = q.positiveInt("top", 100)
	if err := errors.Join(errs[:]...); err != nil {
		a.fail(w, r, http.StatusBadRequest, err)
		return
	}
	page, err := c.ListEntities(r.Context(), eq)
	if err != nil {
		a.fail(w, r, errorStatus(err), err)
		return
	}
	body, err := apijson.Entities(page.Entities)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writePage(w, page.ContinuationToken, body)
}
