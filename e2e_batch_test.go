package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestBatchHTTP runs bulk operations through the dev host, so that the
// route reaches the handler the way the Functions host forwards it (the
// DurableTaskFallback function's catch-all route).
func TestBatchHTTP(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()
	for i := range 5 {
		a.startInstance("Counter", fmt.Sprintf("bulk-%d", i), "0")
	}
	a.startInstance("Counter", "other-0", "0")

	var cs struct {
		ID                string `json:"id"`
		StatusQueryGetURI string `json:"statusQueryGetUri"`
	}
	b := a.expect(202, "POST", "/durabletask/batch/raiseEvent?instanceIdPrefix=bulk-&eventName=Add&batchSize=2", "3")
	if err := json.Unmarshal(b, &cs); err != nil || cs.ID == "" || cs.StatusQueryGetURI == "" {
		t.Fatalf("check-status body %s: %v", b, err)
	}
	st := a.waitStatus(cs.ID, "Completed", 60*time.Second)
	var sum struct {
		Operation                  string
		Matched, Succeeded, Failed int
		Errors                     []json.RawMessage
	}
	if err := json.Unmarshal(st.Output, &sum); err != nil || sum.Operation != "raiseEvent" || sum.Matched != 5 ||
		sum.Succeeded != 5 || sum.Failed != 0 || sum.Errors == nil {
		t.Fatalf("summary %s: %v", st.Output, err)
	}
	var prog struct {
		Done  bool
		Total int
	}
	if err := json.Unmarshal(st.CustomStatus, &prog); err != nil || !prog.Done || prog.Total != 5 {
		t.Fatalf("progress %s: %v", st.CustomStatus, err)
	}
	for i := range 5 {
		id := fmt.Sprintf("bulk-%d", i)
		deadline := time.Now().Add(30 * time.Second)
		for s, _ := a.status(id, ""); string(s.CustomStatus) != "3"; s, _ = a.status(id, "") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: total %s, want 3", id, s.CustomStatus)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if s, _ := a.status("other-0", ""); string(s.CustomStatus) != "0" {
		t.Fatalf("other-0: total %s, want 0", s.CustomStatus)
	}

	a.expect(404, "POST", "/durabletask/batch/explode", "")
	a.expect(400, "POST", "/durabletask/batch/terminate?runtimeStatus=Sleeping", "")
	a.expect(400, "POST", "/durabletask/batch/raiseEvent", "1")
}
