package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/schedule"
)

func (f *fakeClient) CreateSchedule(_ context.Context, id string, spec schedule.Spec) error {
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("%w: %v", client.ErrBadArgument, err) // as the client does
	}
	b, _ := json.Marshal(spec)
	return f.op("create %s %s", id, b)
}
func (f *fakeClient) UpdateSchedule(_ context.Context, id string, _ schedule.Spec) error {
	return f.op("update %s", id)
}
func (f *fakeClient) GetSchedule(_ context.Context, id string) (*schedule.State, error) {
	if err := f.op("get schedule %s", id); err != nil {
		return nil, err
	}
	if id != "nightly" {
		return nil, client.ErrScheduleNotFound
	}
	return &schedule.State{ID: id, Spec: schedule.Spec{Orchestrator: "Job", Cron: "0 0 3 * * *"}, Started: 4}, nil
}
func (f *fakeClient) ListSchedules(_ context.Context, size int, token string) (*client.SchedulePage, error) {
	if err := f.op("schedules %d %q", size, token); err != nil {
		return nil, err
	}
	return &client.SchedulePage{Schedules: []*schedule.State{{ID: "nightly"}}, ContinuationToken: "next"}, nil
}
func (f *fakeClient) PauseSchedule(_ context.Context, id, note string) error {
	return f.op("pause schedule %s %q", id, note)
}
func (f *fakeClient) ResumeSchedule(_ context.Context, id, note string) error {
	return f.op("resume schedule %s %q", id, note)
}
func (f *fakeClient) TriggerSchedule(_ context.Context, id string) error {
	return f.op("trigger schedule %s", id)
}
func (f *fakeClient) BackfillSchedule(_ context.Context, id string, from, to time.Time) error {
	return f.op("backfill schedule %s %s %s", id, from.Format(time.RFC3339), to.Format(time.RFC3339))
}
func (f *fakeClient) DeleteSchedule(_ context.Context, id string) error {
	return f.op("delete schedule %s", id)
}

// The schedule routes: shapes, status codes, and 4xx for bad requests.
func TestScheduleRoutes(t *testing.T) {
	fc := &fakeClient{}
	h := newAPI(t, fc, "runtime/webhooks")
	base := "/runtime/webhooks/durabletask/schedules"
	for _, c := range []struct {
		method, path, body string
		status             int
		call               string
	}{
		{"PUT", base + "/nightly", `{"orchestrator":"Job","cron":"0 0 3 * * *","timeZone":"Europe/Paris","overlap":"skip"}`, http.StatusAccepted,
			`create nightly {"orchestrator":"Job","cron":"0 0 3 * * *","timeZone":"Europe/Paris","overlap":"skip"}`},
		{"PUT", base + "/nightly", `{"orchestrator":"Job","every":"90s"}`, http.StatusAccepted, `create nightly {"orchestrator":"Job","every":"1m30s"}`},
		{"PUT", base + "/nightly", `{"orchestrator":"Job"}`, http.StatusBadRequest, ""},
		{"PUT", base + "/nightly", `{"orchestrator":"Job","every":"1m","cronn":"x"}`, http.StatusBadRequest, ""},
		{"PUT", base + "/nightly", `{`, http.StatusBadRequest, ""},
		{"PUT", base + "/nightly", ``, http.StatusBadRequest, ""},
		{"POST", base + "/nightly/pause?reason=holiday", "", http.StatusAccepted, `pause schedule nightly "holiday"`},
		{"POST", base + "/nightly/resume", "", http.StatusAccepted, `resume schedule nightly ""`},
		{"POST", base + "/nightly/trigger", "", http.StatusAccepted, `trigger schedule nightly`},
		{"POST", base + "/nightly/backfill?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", "", http.StatusAccepted,
			`backfill schedule nightly 2026-01-01T00:00:00Z 2026-01-02T00:00:00Z`},
		{"POST", base + "/nightly/backfill?from=yesterday", "", http.StatusBadRequest, ""},
		{"POST", base + "/nightly/explode", "", http.StatusNotFound, ""},
		{"DELETE", base + "/nightly", "", http.StatusAccepted, `delete schedule nightly`},
		{"GET", base + "/nope", "", http.StatusNotFound, `get schedule nope`},
	} {
		before := fc.lastCall()
		rec := do(t, h, c.method, c.path, c.body, "Content-Type", "application/json")
		if rec.Code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, rec.Code, rec.Body, c.status)
			continue
		}
		if got := fc.lastCall(); c.call != "" && got != c.call || c.call == "" && got != before {
			t.Errorf("%s %s: the client got %q, want %q", c.method, c.path, got, c.call)
		}
	}
	rec := do(t, h, "GET", base+"/nightly", "")
	var st schedule.State
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &st) != nil || st.ID != "nightly" || st.Started != 4 ||
		!strings.Contains(rec.Body.String(), `"cron":"0 0 3 * * *"`) {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", base+"?top=5", "", ContinuationHeader, "tok")
	if rec.Code != http.StatusOK || rec.Header().Get(ContinuationHeader) != "next" || fc.lastCall() != `schedules 5 "tok"` ||
		!strings.HasPrefix(rec.Body.String(), `[{"id":"nightly"`) {
		t.Fatalf("list: %d %s %s", rec.Code, rec.Body, fc.lastCall())
	}
}
