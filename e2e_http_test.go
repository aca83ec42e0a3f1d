package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTPAPI runs the HTTP proofs against one app: the starters, status
// queries, listing, terminate, raise event and purge by ID.
func TestHTTPAPI(t *testing.T) {
	t.Parallel()
	a := newE2EApp(t, nil)
	a.start()
	a.warmUp()

	t.Run("WaitCompletes", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		resp, body := a.do("POST", "/orchestrators/E1_HelloSequence/wait?timeout=2&retryInterval=0.5", "")
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
		}
		var out []string
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if fmt.Sprint(out) != "[Hello Tokyo! Hello Seattle! Hello London!]" {
			t.Fatalf("output %s", body)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
	})

	t.Run("WaitTimesOut", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		resp, body := a.do("POST", "/orchestrators/TimerDemo/wait?timeout=1&retryInterval=0.2&code=secret", "60")
		if resp.StatusCode != 202 || resp.Header.Get("Retry-After") != "10" {
			t.Fatalf("HTTP %d %v: %s", resp.StatusCode, resp.Header, body)
		}
		var cs map[string]string
		if err := json.Unmarshal(body, &cs); err != nil {
			t.Fatal(err)
		}
		id := cs["id"]
		inst := a.base + "/durabletask/instances/" + id
		qs := "taskHub=" + a.hub + "&connection=AzureWebJobsStorage&code=secret"
		want := map[string]string{"id": id, "statusQueryGetUri": inst + "?" + qs, "sendEventPostUri": inst + "/raiseEvent/{eventName}?" + qs,
			"terminatePostUri": inst + "/terminate?reason={text}&" + qs, "purgeHistoryDeleteUri": inst + "?" + qs,
			"restartPostUri": inst + "/restart?" + qs, "suspendPostUri": inst + "/suspend?reason={text}&" + qs,
			"resumePostUri": inst + "/resume?reason={text}&" + qs}
		if fmt.Sprint(cs) != fmt.Sprint(want) {
			t.Fatalf("check-status body\n got %v\nwant %v", cs, want)
		}
		if resp.Header.Get("Location") != want["statusQueryGetUri"] {
			t.Fatalf("Location %q", resp.Header.Get("Location"))
		}
		// The URLs work: the status URL answers 202 while the timer runs,
		// and the terminate URL ends the instance.
		st, code := a.status(id, "?"+qs)
		if code != 202 || st.RuntimeStatus != "Running" {
			t.Fatalf("status via statusQueryGetUri: %d %+v", code, st)
		}
		term := strings.Replace(strings.TrimPrefix(cs["terminatePostUri"], a.base), "{text}", "cleanup", 1)
		a.expect(202, "POST", term, "")
		a.waitStatus(id, "Terminated", 20*time.Second)
	})

	t.Run("RecursiveTerminateAndPurge", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		tree := []string{"http-tree", "http-tree-0", "http-tree-1", "http-tree-0-0", "http-tree-0-1", "http-tree-1-0", "http-tree-1-1"}
		a.startInstance("ApprovalTree", "http-tree", "")
		for _, id := range tree {
			a.waitStatus(id, "Running", 30*time.Second)
		}
		a.expect(400, "POST", "/durabletask/instances/http-tree/terminate?recursive=yes", "")
		a.expect(202, "POST", "/durabletask/instances/http-tree/terminate?reason=cancelled&recursive=true", "")
		for _, id := range tree {
			if st := a.waitStatus(id, "Terminated", 30*time.Second); string(st.Output) != `"cancelled"` {
				t.Errorf("%s: output %s", id, st.Output)
			}
		}
		a.expect(400, "DELETE", "/durabletask/instances/http-tree?recursive=yes", "")
		if body := a.expect(200, "DELETE", "/durabletask/instances/http-tree?recursive=true", ""); strings.TrimSpace(string(body)) != `{"instancesDeleted":7}` {
			t.Fatalf("recursive purge answered %s", body)
		}
		for _, id := range tree {
			if _, code := a.status(id, ""); code != 404 {
				t.Errorf("%s after the recursive purge: HTTP %d, want 404", id, code)
			}
		}
	})

	t.Run("GetStatus", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		id := a.startInstance("ApprovalWorkflow", "", `{"order":42}`)
		a.waitStatus(id, "Running", 20*time.Second)
		resp, body := a.do("GET", "/durabletask/instances/"+id, "")
		if resp.StatusCode != 202 || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("Location") != a.base+"/durabletask/instances/"+id {
			t.Fatalf("running: HTTP %d %v %s", resp.StatusCode, resp.Header, body)
		}
		order := []string{`"name":`, `"instanceId":`, `"runtimeStatus":`, `"input":`, `"customStatus":`, `"output":`, `"createdTime":`, `"lastUpdatedTime":`}
		last := -1
		for _, k := range order {
			i := strings.Index(string(body), k)
			if i <= last {
				t.Fatalf("field %s out of order in %s", k, body)
			}
			last = i
		}
		a.expect(202, "POST", "/durabletask/instances/"+id+"/raiseEvent/Approval", `true`)
		a.waitStatus(id, "Completed", 20*time.Second)
		st, code := a.status(id, "")
		if code != 200 || string(st.Input) != `{"order":42}` || string(st.Output) != `{"approved":true,"saved":true}` || st.HistoryEvents != nil {
			t.Fatalf("completed: %d %+v", code, st)
		}
		if _, err := time.Parse("2006-01-02T15:04:05Z", st.CreatedTime); err != nil {
			t.Fatalf("createdTime %q: %v", st.CreatedTime, err)
		}
		st, _ = a.status(id, "?showInput=false")
		if string(st.Input) != "null" {
			t.Fatalf("showInput=false: input %s", st.Input)
		}

		seqID := a.startInstance("E1_HelloSequence", "seq-"+a.suffix, "")
		a.waitStatus(seqID, "Completed", 20*time.Second)
		st, _ = a.status(seqID, "?showHistory=true")
		if len(st.HistoryEvents) == 0 {
			t.Fatal("showHistory=true gave no historyEvents")
		}
		var types []string
		for _, raw := range st.HistoryEvents {
			var ev map[string]any
			_ = json.Unmarshal(raw, &ev)
			types = append(types, fmt.Sprint(ev["EventType"]))
			if _, ok := ev["Result"]; ok {
				t.Fatalf("Result without showHistoryOutput: %s", raw)
			}
			if ev["EventType"] == "TaskCompleted" && (ev["FunctionName"] != "SayHello" || ev["ScheduledTime"] == nil) {
				t.Fatalf("TaskCompleted not merged with its TaskScheduled: %s", raw)
			}
		}
		if got := strings.Join(types, ","); got != "ExecutionStarted,TaskCompleted,TaskCompleted,TaskCompleted,ExecutionCompleted" {
			t.Fatalf("history event types %s", got)
		}
		st, _ = a.status(seqID, "?showHistory=true&showHistoryOutput=true")
		var first map[string]any
		_ = json.Unmarshal(st.HistoryEvents[1], &first)
		if first["Result"] != "Hello Tokyo!" {
			t.Fatalf("Result with showHistoryOutput: %v", first)
		}
		if _, code := a.status("no-such-instance-"+a.suffix, ""); code != 404 {
			t.Fatalf("unknown ID: %d", code)
		}
		resp, body = a.do("GET", "/durabletask/instances/bad%23id", "")
		if resp.StatusCode != 400 || !strings.Contains(string(body), "ExceptionMessage") {
			t.Fatalf("bad ID: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("Terminate", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		id := a.startInstance("ApprovalWorkflow", "", "")
		a.waitStatus(id, "Running", 20*time.Second)
		a.expect(202, "POST", "/durabletask/instances/"+id+"/terminate?reason="+url.QueryEscape("no longer needed"), "")
		st := a.waitStatus(id, "Terminated", 20*time.Second)
		if string(st.Output) != `"no longer needed"` {
			t.Fatalf("output %s", st.Output)
		}
		a.expect(410, "POST", "/durabletask/instances/"+id+"/terminate?reason=again", "")
		a.expect(404, "POST", "/durabletask/instances/nope-"+a.suffix+"/terminate", "")
	})

	t.Run("RaiseEvent", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		unknown := "unknown-" + a.suffix
		a.expect(404, "POST", "/durabletask/instances/"+unknown+"/raiseEvent/Approval", `true`)
		if _, code := a.status(unknown, ""); code != 404 {
			t.Fatalf("raising to an unknown ID created it: %d", code)
		}
		if inst, hist, blobs := a.storageTrace(unknown); inst+hist+blobs != 0 {
			t.Fatalf("storage holds %d/%d/%d rows and blobs for the unknown ID", inst, hist, blobs)
		}

		resp, body := a.do("POST", "/orchestrators/HelloWorld/wait?timeout=20&retryInterval=0.2", `"x"`)
		if resp.StatusCode != 200 {
			t.Fatalf("HelloWorld: %d %s", resp.StatusCode, body)
		}
		done := a.startInstance("HelloWorld", "done-"+a.suffix, `"y"`)
		a.waitStatus(done, "Completed", 20*time.Second)
		a.expect(410, "POST", "/durabletask/instances/"+done+"/raiseEvent/Approval", `true`)
		a.expect(400, "POST", "/durabletask/instances/"+done+"/raiseEvent/Approval", `{not json`)

		// An event raised while the instance is Pending (its start is
		// delayed) is kept until the orchestrator waits for it.
		c := a.client()
		ctx := context.Background()
		early, err := c.StartNew(ctx, "ApprovalWorkflow", nil, clientStartAt(time.Now().Add(2*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		a.expect(202, "POST", "/durabletask/instances/"+early+"/raiseEvent/Approval", `"early"`)
		st := a.waitStatus(early, "Completed", 30*time.Second)
		if string(st.Output) != `{"approved":"early","saved":true}` {
			t.Fatalf("output %s", st.Output)
		}
	})

	t.Run("Listing", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		prefix := "list-" + a.suffix + "-"
		startAll := func(from, to int) {
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16)
			for i := from; i < to; i++ {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					fn, input := "ApprovalWorkflow", ""
					if i%50 == 0 {
						fn, input = "HelloWorld", `"list"`
					}
					resp, body, err := a.tryDo("POST", fmt.Sprintf("/orchestrators/%s/%s%03d", fn, prefix, i), input)
					switch {
					case err != nil:
						t.Error(err)
					case resp.StatusCode != 202:
						t.Errorf("start %d: HTTP %d %s", i, resp.StatusCode, body)
					}
				}()
			}
			wg.Wait()
		}
		startAll(0, 125)
		time.Sleep(20 * time.Millisecond)
		mid := time.Now().UTC()
		time.Sleep(20 * time.Millisecond)
		startAll(125, 250)
		if t.Failed() {
			return
		}
		var completed, early, late []string
		for i := range 250 {
			id := fmt.Sprintf("%s%03d", prefix, i)
			if i%50 == 0 {
				completed = append(completed, id)
			}
			if i < 125 {
				early = append(early, id)
			} else {
				late = append(late, id)
			}
		}
		for _, id := range completed {
			a.waitStatus(id, "Completed", 30*time.Second)
		}

		var pages int
		all := a.listIDsPaged("?top=100&instanceIdPrefix="+prefix, &pages)
		if pages != 3 {
			t.Errorf("250 instances with top=100 came in %d pages", pages)
		}
		checkSet(t, "all", all, append(append([]string{}, early...), late...))
		midQ := url.QueryEscape(mid.Format(time.RFC3339Nano))
		checkSet(t, "createdTimeFrom", a.listIDs("?top=1000&instanceIdPrefix="+prefix+"&createdTimeFrom="+midQ, ""), late)
		checkSet(t, "createdTimeTo", a.listIDs("?top=1000&instanceIdPrefix="+prefix+"&createdTimeTo="+midQ, ""), early)
		checkSet(t, "runtimeStatus", a.listIDs("?instanceIdPrefix="+prefix+"&runtimeStatus=Completed", ""), completed)
		var running []string
		for _, id := range all {
			if !contains(completed, id) {
				running = append(running, id)
			}
		}
		checkSet(t, "runtimeStatus list", a.listIDsPaged("?top=100&instanceIdPrefix="+prefix+"&runtimeStatus=Running,Pending&runtimeStatus=Suspended", nil), running)
		resp, body := a.do("GET", "/durabletask/instances?runtimeStatus=Sleeping", "")
		if resp.StatusCode != 400 {
			t.Fatalf("bad status filter: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("SuspendResumeRestart", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		id := a.startInstance("ApprovalWorkflow", "", `{"order":9}`)
		a.waitStatus(id, "Running", 20*time.Second)
		a.expect(202, "POST", "/durabletask/instances/"+id+"/suspend?reason=pause", "")
		a.waitStatus(id, "Suspended", 20*time.Second)
		a.expect(202, "POST", "/durabletask/instances/"+id+"/raiseEvent/Approval", `"kept"`)
		time.Sleep(500 * time.Millisecond)
		a.waitStatus(id, "Suspended", time.Second)
		a.expect(202, "POST", "/durabletask/instances/"+id+"/resume?reason=go", "")
		if st := a.waitStatus(id, "Completed", 20*time.Second); string(st.Output) != `{"approved":"kept","saved":true}` {
			t.Fatalf("after resume: %s", st.Output)
		}
		a.expect(410, "POST", "/durabletask/instances/"+id+"/suspend", "")

		var cs struct{ ID string }
		if err := json.Unmarshal(a.expect(202, "POST", "/durabletask/instances/"+id+"/restart", ""), &cs); err != nil || cs.ID == "" || cs.ID == id {
			t.Fatalf("restart with a new ID: %v %+v", err, cs)
		}
		if st := a.waitStatus(cs.ID, "Running", 20*time.Second); string(st.Input) != `{"order":9}` || st.Name != "ApprovalWorkflow" {
			t.Fatalf("restarted instance: %+v", st)
		}
		a.expect(409, "POST", "/durabletask/instances/"+cs.ID+"/restart?restartWithNewInstanceId=false", "")
		a.expect(404, "POST", "/durabletask/instances/nobody-"+a.suffix+"/restart", "")
	})

	t.Run("PurgeByID", func(t *testing.T) {
		t.Parallel()
		a := a.with(t)
		big := `"` + strings.Repeat("large input ", 7000) + `"` // over 60 KB: offloaded to a blob
		id := a.startInstance("HelloWorld", "purge-"+a.suffix, big)
		a.waitStatus(id, "Completed", 30*time.Second)
		inst, hist, blobs := a.storageTrace(id)
		if inst != 1 || hist == 0 || blobs == 0 {
			t.Fatalf("before purge: %d instance rows, %d history rows, %d blobs; want 1, >0, >0", inst, hist, blobs)
		}
		body := a.expect(200, "DELETE", "/durabletask/instances/"+id, "")
		if strings.TrimSpace(string(body)) != `{"instancesDeleted":1}` {
			t.Fatalf("purge body %s", body)
		}
		if inst, hist, blobs := a.storageTrace(id); inst+hist+blobs != 0 {
			t.Fatalf("after purge: %d instance rows, %d history rows, %d blobs", inst, hist, blobs)
		}
		a.expect(404, "GET", "/durabletask/instances/"+id, "")
		a.expect(404, "DELETE", "/durabletask/instances/"+id, "")

		running := a.startInstance("ApprovalWorkflow", "", "")
		a.waitStatus(running, "Running", 20*time.Second)
		a.expect(412, "DELETE", "/durabletask/instances/"+running, "")
		a.waitStatus(running, "Running", time.Second)
	})
}

// listIDs fetches one page of instance IDs.
func (a *e2eApp) listIDs(query, token string) []string {
	a.t.Helper()
	ids, _ := a.listPage(query, token)
	return ids
}

func (a *e2eApp) listPage(query, token string) (ids []string, next string) {
	a.t.Helper()
	var hdr []string
	if token != "" {
		hdr = []string{"x-ms-continuation-token", token}
	}
	resp, body := a.do("GET", "/durabletask/instances"+query, "", hdr...)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("list %s: HTTP %d %s", query, resp.StatusCode, body)
	}
	var list []statusBody
	if err := json.Unmarshal(body, &list); err != nil {
		a.t.Fatalf("list %s: %v", query, err)
	}
	for _, st := range list {
		ids = append(ids, st.InstanceID)
	}
	return ids, resp.Header.Get("x-ms-continuation-token")
}

// listIDsPaged follows continuation tokens to the end.
func (a *e2eApp) listIDsPaged(query string, pages *int) []string {
	a.t.Helper()
	var all []string
	token := ""
	for n := 1; ; n++ {
		ids, next := a.listPage(query, token)
		all = append(all, ids...)
		if pages != nil {
			*pages = n
		}
		if next == "" {
			return all
		}
		if n > 100 {
			a.t.Fatal("listing does not end")
		}
		token = next
	}
}

// checkSet fails unless got holds exactly want, each once.
func checkSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	var dups, missing, extra []string
	for id, n := range seen {
		if n > 1 {
			dups = append(dups, id)
		}
		if !contains(want, id) {
			extra = append(extra, id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	sort.Strings(dups)
	sort.Strings(missing)
	sort.Strings(extra)
	if len(dups)+len(missing)+len(extra) > 0 {
		t.Errorf("%s: %d listed, want %d; duplicates %v, missing %v, unexpected %v", what, len(got), len(want), dups, missing, extra)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
