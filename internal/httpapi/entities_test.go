package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
)

func (f *fakeClient) SignalEntity(_ context.Context, id entity.ID, op string, input any, _ time.Time) (string, error) {
	in, _ := json.Marshal(input)
	return "req1", f.op("signal %s %s %s", id, op, in)
}

func (f *fakeClient) GetEntity(_ context.Context, id entity.ID, includeState bool) (*client.EntityMetadata, error) {
	if err := f.op("entity %s %v", id, includeState); err != nil {
		return nil, err
	}
	if id.Key != "k1" {
		return nil, client.ErrEntityNotFound
	}
	return &client.EntityMetadata{ID: id, LastOperationTime: created, State: json.RawMessage(`{"value":5}`)}, nil
}

func (f *fakeClient) ListEntities(_ context.Context, q client.EntityQuery) (*client.EntityPage, error) {
	if err := f.op("entities %+v", q); err != nil {
		return nil, err
	}
	page := &client.EntityPage{Entities: []client.EntityMetadata{{ID: entity.ID{Name: "counter", Key: "k1"}, LastOperationTime: created}}}
	if q.ContinuationToken == "" {
		page.ContinuationToken = "next"
	}
	return page, nil
}

func (f *fakeClient) CleanEntityStorage(_ context.Context, o client.CleanEntityOptions) (*client.CleanEntityResult, error) {
	if err := f.op("clean %+v", o); err != nil {
		return nil, err
	}
	res := &client.CleanEntityResult{EmptyEntitiesRemoved: 2, OrphanedLocksReleased: 1}
	if o.ContinuationToken == "" {
		res.ContinuationToken = "more"
	}
	return res, nil
}

func (f *fakeClient) lastCall() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return ""
	}
	return f.calls[len(f.calls)-1]
}

// The entity routes of Durable Functions' HTTP API, with its shapes.
func TestEntityRoutes(t *testing.T) {
	fc := &fakeClient{}
	h := newAPI(t, fc, "runtime/webhooks")
	base := "/runtime/webhooks/durabletask/entities"
	for _, c := range []struct {
		method, path, body, contentType string
		status                          int
		call                            string
	}{
		{"POST", base + "/Counter/k1?op=add", "5", "application/json", http.StatusAccepted, `signal @counter@k1 add 5`},
		{"POST", base + "/Counter/k1?op=add", "", "", http.StatusAccepted, `signal @counter@k1 add null`},
		{"POST", base + "/Counter/k1?op=say", "hello there", "text/plain", http.StatusAccepted, `signal @counter@k1 say "hello there"`},
		{"POST", base + "/Counter/$?op=reset", "", "", http.StatusAccepted, `signal @counter@ reset null`},
		{"DELETE", base + "/Counter/k1", "", "", http.StatusAccepted, `signal @counter@k1 delete null`},
		{"POST", base + "/Counter/k1?op=add", "{", "application/json", http.StatusBadRequest, ""},
		{"POST", base + "/Counter/a%23b?op=add", "", "", http.StatusBadRequest, ""},
		{"GET", base + "/Counter/k2", "", "", http.StatusNotFound, "entity @counter@k2 true"},
	} {
		before := fc.lastCall()
		rec := do(t, h, c.method, c.path, c.body, "Content-Type", c.contentType)
		if rec.Code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, rec.Code, rec.Body, c.status)
			continue
		}
		if got := fc.lastCall(); c.call != "" && got != c.call || c.call == "" && got != before {
			t.Errorf("%s %s: the client got %q, want %q", c.method, c.path, got, c.call)
		}
	}
	rec := do(t, h, "GET", base+"/Counter/k1", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"value":5}` {
		t.Fatalf("read: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", base+"/counter?fetchState=true&top=5&lastOperationTimeFrom=2018-06-04T00:00:00Z", "")
	if rec.Code != http.StatusOK || rec.Header().Get(ContinuationHeader) != "next" {
		t.Fatalf("list: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	var items []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &items); err != nil || len(items) != 1 {
		t.Fatalf("list body %s: %v", rec.Body, err)
	}
	if id, _ := items[0]["entityId"].(map[string]any); id["name"] != "counter" || id["key"] != "k1" ||
		items[0]["lastOperationTime"] != "2018-06-04T10:46:39Z" {
		t.Fatalf("list item %v", items[0])
	}
	if call := fc.lastCall(); !strings.Contains(call, "Name:counter") || !strings.Contains(call, "FetchState:true") ||
		!strings.Contains(call, "PageSize:5") || !strings.Contains(call, "2018-06-04 00:00:00") {
		t.Fatalf("list query %s", call)
	}
	if rec = do(t, h, "GET", base, "", ContinuationHeader, "next"); rec.Code != http.StatusOK || rec.Header().Get(ContinuationHeader) != "" {
		t.Fatalf("all entities, last page: %d %v", rec.Code, rec.Header())
	}
	if rec = do(t, h, "GET", base+"?top=x", ""); rec.Code != http.StatusBadRequest {
		t.Fatalf("a bad top: %d", rec.Code)
	}

	// Clean entity storage: the gRPC call's request and answer, resumed
	// through the continuation header.
	rec = do(t, h, "POST", base+"?removeEmptyEntities=true&releaseOrphanedLocks=true&emptyForSeconds=60", "")
	if rec.Code != http.StatusOK || rec.Header().Get(ContinuationHeader) != "more" ||
		strings.TrimSpace(rec.Body.String()) != `{"emptyEntitiesRemoved":2,"orphanedLocksReleased":1}` {
		t.Fatalf("clean: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if call := fc.lastCall(); call != "clean {RemoveEmptyEntities:true ReleaseOrphanedLocks:true EmptyFor:1m0s ContinuationToken:}" {
		t.Fatalf("clean call %s", call)
	}
	if rec = do(t, h, "POST", base+"/?releaseOrphanedLocks=true", "", ContinuationHeader, "more"); rec.Code != http.StatusOK ||
		rec.Header().Get(ContinuationHeader) != "" || !strings.Contains(fc.lastCall(), "ContinuationToken:more") {
		t.Fatalf("clean, continued: %d %v %s", rec.Code, rec.Header(), fc.lastCall())
	}
	for _, bad := range []string{"", "?removeEmptyEntities=maybe", "?removeEmptyEntities=true&emptyForSeconds=-1"} {
		if rec = do(t, h, "POST", base+bad, ""); rec.Code != http.StatusBadRequest {
			t.Fatalf("clean%s: %d, want 400", bad, rec.Code)
		}
	}
}
