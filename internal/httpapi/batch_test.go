package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBatchRoute(t *testing.T) {
	cases := []struct {
		name, target, body string
		code               int
		call               string // a substring of the one call made
	}{
		{"terminate by prefix", "/durabletask/batch/terminate?instanceIdPrefix=order-&reason=cleanup", "", 202, "batch terminate {"},
		{"operation is case-insensitive", "/durabletask/batch/RaiseEvent?eventName=Go", `{"a":1}`, 202, `event=Go data={"a":1}`},
		{"raiseEvent without body", "/durabletask/batch/raiseEvent?eventName=Go&runtimeStatus=Running", "", 202, "event=Go data= "},
		{"restart defaults to a new ID", "/durabletask/batch/restart?name=Hello", "", 202, "newID=true"},
		{"restart in place", "/durabletask/batch/restart?restartWithNewInstanceId=false", "", 202, "newID=false"},
		{"batch size", "/durabletask/batch/purge?batchSize=10", "", 202, "size=10"},
		{"internal instances are left out by default", "/durabletask/batch/terminate", "", 202, "ShowInternal:false"},
		{"internal instances when asked for", "/durabletask/batch/purge?showInternal=true", "", 202, "ShowInternal:true"},
		{"showInternal not a boolean", "/durabletask/batch/purge?showInternal=maybe", "", 400, ""},
		{"unknown operation", "/durabletask/batch/explode", "", 404, ""},
		{"raiseEvent needs a name", "/durabletask/batch/raiseEvent", `1`, 400, ""},
		{"raiseEvent bad name", "/durabletask/batch/raiseEvent?eventName=a%2Fb", `1`, 400, ""},
		{"raiseEvent bad body", "/durabletask/batch/raiseEvent?eventName=E", `{`, 400, ""},
		{"body for another operation", "/durabletask/batch/terminate", `1`, 400, ""},
		{"event name for another operation", "/durabletask/batch/suspend?eventName=E", ``, 400, ""},
		{"restart flag for another operation", "/durabletask/batch/resume?restartWithNewInstanceId=true", ``, 400, ""},
		{"bad filter time", "/durabletask/batch/terminate?createdTimeFrom=yesterday", "", 400, ""},
		{"bad status", "/durabletask/batch/terminate?runtimeStatus=Sleeping", "", 400, ""},
		{"bad range", "/durabletask/batch/terminate?createdTimeFrom=2020-01-02&createdTimeTo=2020-01-01", "", 400, ""},
		{"purge of running instances", "/durabletask/batch/purge?runtimeStatus=Running", "", 400, ""},
		{"batch size too big", "/durabletask/batch/purge?batchSize=5000", "", 400, ""},
		{"batch size not a number", "/durabletask/batch/purge?batchSize=x", "", 400, ""},
		{"other hub", "/durabletask/batch/purge?taskHub=Other", "", 400, ""},
		{"wrong method", "GET /durabletask/batch/purge", "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeClient{}
			method, target := "POST", c.target
			if m, rest, ok := strings.Cut(c.target, " "); ok {
				method, target = m, rest
			}
			rec := do(t, newAPI(t, fc, ""), method, target, c.body)
			if rec.Code != c.code {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.code)
			}
			if c.code >= 400 {
				errorBodyOf(t, rec)
				return
			}
			if len(fc.calls) != 1 || !strings.Contains(fc.calls[0], c.call) {
				t.Fatalf("calls %q, want one containing %q", fc.calls, c.call)
			}
			var cs CheckStatus
			if err := json.Unmarshal(rec.Body.Bytes(), &cs); err != nil || cs.ID != "batch1" ||
				!strings.HasPrefix(cs.StatusQueryGetURI, "http://localhost:7071/durabletask/instances/batch1?") {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if rec.Header().Get("Location") != cs.StatusQueryGetURI {
				t.Fatalf("Location %q", rec.Header().Get("Location"))
			}
		})
	}
}
