package devhost

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLoadApp(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"host.json": `{"version":"2.0",
			"customHandler":{"description":{"defaultExecutablePath":"handler","arguments":["-v"]},"enableForwardingHttpRequest":true},
			"extensions":{"http":{"routePrefix":""},"queues":{"maxDequeueCount":3,"batchSize":64,"visibilityTimeout":"00:00:05","maxPollingInterval":2000}}}`,
		"local.settings.json": `{"IsEncrypted":false,"Values":{"AzureWebJobsStorage":"UseDevelopmentStorage=true","Q":"from-file","KEEP":"file"}}`,
		"Forwarded/function.json": `{"bindings":[
			{"type":"httpTrigger","direction":"in","name":"req","methods":["get"],"route":"items/{id}"},
			{"type":"http","direction":"out","name":"res"}]}`,
		// A third binding keeps it in payload mode even with forwarding on.
		"Payload/function.json": `{"bindings":[
			{"type":"httpTrigger","direction":"in","name":"req"},
			{"type":"http","direction":"out","name":"$return"},
			{"type":"blob","direction":"out","name":"b","path":"x/y"}]}`,
		"Queue/function.json":        `{"bindings":[{"type":"queueTrigger","direction":"in","name":"msg","queueName":"%Q%"}]}`,
		"Timer/function.json":        `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 */5 * * * *","runOnStartup":true}]}`,
		"Off/function.json":          `{"disabled":true,"bindings":[{"type":"queueTrigger","name":"m","queueName":"q"}]}`,
		"OffBySetting/function.json": `{"bindings":[{"type":"queueTrigger","name":"m","queueName":"q"}]}`,
		"Admin/function.json":        `{"bindings":[{"type":"httpTrigger","name":"req","route":"admin/x"}]}`,
		"NoTrigger/function.json":    `{"bindings":[{"type":"blob","direction":"in","name":"b"}]}`,
		"notafunction/readme.txt":    "ignored",
	})
	a, err := loadApp(dir, []string{"Q=From-Env", "AzureWebJobs.OffBySetting.Disabled=true"}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.routePrefix != "" || a.maxDequeueCount != 3 || a.batchSize != 32 || a.retryDelay != 5*time.Second || a.maxPoll != 2*time.Second {
		t.Errorf("host settings: prefix %q maxDequeueCount %d batchSize %d retryDelay %v maxPoll %v",
			a.routePrefix, a.maxDequeueCount, a.batchSize, a.retryDelay, a.maxPoll)
	}
	if a.settings["Q"] != "From-Env" || a.settings["KEEP"] != "file" {
		t.Errorf("settings: Q=%q KEEP=%q; the environment must win over local.settings.json", a.settings["Q"], a.settings["KEEP"])
	}
	if env := strings.Join(a.environ(), "\n"); !strings.Contains(env, "KEEP=file") || !strings.Contains(env, "AzureWebJobsStorage=UseDevelopmentStorage=true") {
		t.Errorf("handler environment lacks the local settings:\n%s", env)
	}

	byName := map[string]*function{}
	for _, fn := range a.functions {
		byName[fn.name] = fn
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	if len(byName) != 4 {
		t.Fatalf("functions %v, want Forwarded, Payload, Queue, Timer", names)
	}
	if f := byName["Forwarded"]; f.http == nil || !f.http.forward || f.http.route.raw != "items/{id}" || f.http.outputName != "res" {
		t.Errorf("Forwarded: %+v", f.http)
	} else if _, ok := f.http.methods["GET"]; !ok || len(f.http.methods) != 1 {
		t.Errorf("Forwarded methods = %v, want GET", f.http.methods)
	}
	if f := byName["Payload"]; f.http == nil || f.http.forward || f.http.route.raw != "Payload" || f.http.outputName != "$return" {
		t.Errorf("Payload: %+v (route defaults to the function name)", f.http)
	}
	if f := byName["Queue"]; f.queue == nil || f.queue.queueName != "from-env" || f.queue.connection != "AzureWebJobsStorage" || f.queue.name != "msg" {
		t.Errorf("Queue: %+v (queueName from %%Q%%, lower-cased; default connection)", f.queue)
	}
	if f := byName["Timer"]; f.timer == nil || !f.timer.runOnStartup || f.timer.name != "t" {
		t.Errorf("Timer: %+v", f.timer)
	}
}

func TestLoadAppDefaultsAndErrors(t *testing.T) {
	a, err := loadApp(writeApp(t, map[string]string{
		"host.json":        `{"customHandler":{"description":{"defaultExecutablePath":"handler"}}}`,
		"Fn/function.json": `{"bindings":[{"type":"HttpTrigger","name":"req","route":"/x/"},{"type":"http","direction":"out","name":"res"}]}`,
	}), nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	if a.routePrefix != "api" || a.maxDequeueCount != 5 || a.batchSize != 16 || a.retryDelay != time.Second || a.maxPoll != 0 {
		t.Errorf("defaults: prefix %q maxDequeueCount %d batchSize %d retryDelay %v maxPoll %v",
			a.routePrefix, a.maxDequeueCount, a.batchSize, a.retryDelay, a.maxPoll)
	}
	if len(a.functions) != 1 || a.functions[0].http.route.raw != "api/x" || a.functions[0].http.forward {
		t.Errorf("functions: %+v; want api/x in payload mode (forwarding is off by default)", a.functions)
	}

	for name, files := range map[string]map[string]string{
		"no host.json":    {},
		"bad host.json":   {"host.json": `{`},
		"bad schedule":    {"host.json": `{}`, "T/function.json": `{"bindings":[{"type":"timerTrigger","name":"t","schedule":"* * *"}]}`},
		"bad route":       {"host.json": `{}`, "H/function.json": `{"bindings":[{"type":"httpTrigger","name":"r","route":"a/{"}]}`},
		"missing setting": {"host.json": `{}`, "Q/function.json": `{"bindings":[{"type":"queueTrigger","name":"m","queueName":"%NOPE%"}]}`},
		"two triggers":    {"host.json": `{}`, "X/function.json": `{"bindings":[{"type":"queueTrigger","name":"m","queueName":"q"},{"type":"timerTrigger","name":"t","schedule":"* * * * * *"}]}`},
		"encrypted":       {"host.json": `{}`, "local.settings.json": `{"IsEncrypted":true,"Values":{}}`},
		"bad timespan":    {"host.json": `{"extensions":{"queues":{"visibilityTimeout":"soon"}}}`},
	} {
		if _, err := loadApp(writeApp(t, files), nil, discard); err == nil {
			t.Errorf("%s: loadApp succeeded, want an error", name)
		}
	}
}

func TestParseTimeSpan(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"00:00:00"`:   0,
		`"00:00:02"`:   2 * time.Second,
		`"01:02:03.5"`: time.Hour + 2*time.Minute + 3500*time.Millisecond,
		`"1.00:00:01"`: 24*time.Hour + time.Second,
		`2000`:         2 * time.Second,
	} {
		got, err := parseTimeSpan(json.RawMessage(in))
		if err != nil || got != want {
			t.Errorf("parseTimeSpan(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{`"2s"`, `"00:61:00"`, `"x.00:00:01"`, `true`} {
		if _, err := parseTimeSpan(json.RawMessage(in)); err == nil {
			t.Errorf("parseTimeSpan(%s) succeeded, want an error", in)
		}
	}
}

func TestParseConnectionString(t *testing.T) {
	const key = "a2V5"
	for _, tc := range []struct {
		cs   string
		want storageAccount
	}{
		{"UseDevelopmentStorage=true", storageAccount{name: devAccountName, key: devAccountKey, queueEndpoint: "http://127.0.0.1:10001/devstoreaccount1"}},
		{"usedevelopmentstorage=TRUE;", storageAccount{name: devAccountName, key: devAccountKey, queueEndpoint: "http://127.0.0.1:10001/devstoreaccount1"}},
		{"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net",
			storageAccount{name: "acct", key: key, queueEndpoint: "https://acct.queue.core.windows.net"}},
		{"AccountName=acct;AccountKey=" + key, storageAccount{name: "acct", key: key, queueEndpoint: "https://acct.queue.core.windows.net"}},
		{"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + "==;QueueEndpoint=http://127.0.0.1:45967/devstoreaccount1/;TableEndpoint=http://x",
			storageAccount{name: "devstoreaccount1", key: key + "==", queueEndpoint: "http://127.0.0.1:45967/devstoreaccount1"}},
		{"QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=?sv=2020&sig=abc%3D",
			storageAccount{sas: "sv=2020&sig=abc%3D", queueEndpoint: "https://acct.queue.core.windows.net"}},
	} {
		got, err := parseConnectionString(tc.cs)
		if err != nil || got != tc.want {
			t.Errorf("parseConnectionString(%q) = %+v, %v; want %+v", tc.cs, got, err, tc.want)
		}
	}
	for _, cs := range []string{"", "garbage", "AccountName=acct", "QueueEndpoint=http://x", "AccountKey=" + key + ";QueueEndpoint=http://x"} {
		if _, err := parseConnectionString(cs); err == nil {
			t.Errorf("parseConnectionString(%q) succeeded, want an error", cs)
		}
	}
}
