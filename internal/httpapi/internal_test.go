package httpapi

import (
	"testing"

	"github.com/durable-go/durable/internal/client"
)

// showInternal=true asks the list and the counts for internal
// orchestrations too; without it (or with false) they are left out.
func TestShowInternalParameter(t *testing.T) {
	fc := &fakeClient{page: &client.Page{}}
	a := newAPI(t, fc, "")
	for _, c := range []struct {
		target string
		want   bool
	}{
		{"/durabletask/instances", false},
		{"/durabletask/instances?showInternal=true", true},
		{"/durabletask/instances?ShowInternal=TRUE&name=Counter", true},
		{"/durabletask/instances?showInternal=false", false},
		{"/durabletask/counts", false},
		{"/durabletask/counts?showInternal=1", true},
	} {
		if rec := do(t, a, "GET", c.target, ""); rec.Code != 200 || fc.query.ShowInternal != c.want {
			t.Errorf("%s: %d %s, ShowInternal %v, want %v", c.target, rec.Code, rec.Body, fc.query.ShowInternal, c.want)
		}
	}
	for _, target := range []string{"/durabletask/instances?showInternal=yes", "/durabletask/counts?showInternal=2"} {
		if rec := do(t, a, "GET", target, ""); rec.Code != 400 {
			t.Errorf("%s: %d, want 400", target, rec.Code)
		} else {
			errorBodyOf(t, rec)
		}
	}
}
