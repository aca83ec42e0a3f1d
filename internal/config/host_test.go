package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaultDurableOptions(t *testing.T) {
	o := DefaultDurableOptions()
	want := DurableOptions{
		HubName:                            "DurableFunctionsHub",
		ConnectionName:                     "AzureWebJobsStorage",
		PartitionCount:                     4,
		MaxQueuePollingInterval:            30 * time.Second,
		ControlQueueVisibilityTimeout:      5 * time.Minute,
		WorkItemQueueVisibilityTimeout:     5 * time.Minute,
		ControlQueueBatchSize:              32,
		MaxConcurrentActivityFunctions:     10 * runtime.NumCPU(),
		MaxConcurrentOrchestratorFunctions: 10 * runtime.NumCPU(),
		PartitionLeaseDuration:             30 * time.Second,
		PartitionLeaseRenewInterval:        10 * time.Second,
		MaxLocalActivityBacklog:            0,
		Retention:                          Retention{Interval: 5 * time.Minute},
		VersionMatchStrategy:               "CurrentOrOlder",
		VersionFailureStrategy:             "Reject",
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("DefaultDurableOptions() = %+v\nwant %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if got := o.LocalActivityBacklog(); got != 20*runtime.NumCPU() {
		t.Errorf("LocalActivityBacklog() = %d, want %d", got, 20*runtime.NumCPU())
	}
	o.MaxLocalActivityBacklog = 7
	if got := o.LocalActivityBacklog(); got != 7 {
		t.Errorf("LocalActivityBacklog() = %d, want 7", got)
	}
}

func TestParseHostDefaults(t *testing.T) {
	for _, doc := range []string{`{}`, `{"version": "2.0"}`, `{"version":"2.0","extensions":{"durableTask":{}}}`} {
		h, err := ParseHost([]byte(doc), nil)
		if err != nil {
			t.Fatalf("ParseHost(%s): %v", doc, err)
		}
		if h.HTTPRoutePrefix != "api" {
			t.Errorf("%s: HTTPRoutePrefix = %q, want api", doc, h.HTTPRoutePrefix)
		}
		if !reflect.DeepEqual(h.Durable, DefaultDurableOptions()) {
			t.Errorf("%s: Durable = %+v, want defaults", doc, h.Durable)
		}
		if !reflect.DeepEqual(h.CustomHandler, CustomHandler{}) {
			t.Errorf("%s: CustomHandler = %+v, want zero", doc, h.CustomHandler)
		}
	}
}

func TestParseHostFull(t *testing.T) {
	doc := `{
	  "version": "2.0",
	  "customHandler": {
	    "description": {
	      "defaultExecutablePath": "app",
	      "workingDirectory": "bin",
	      "arguments": ["--verbose", 3]
	    },
	    "enableForwardingHttpRequest": true
	  },
	  "extensions": {
	    "http": { "routePrefix": "/v1/" },
	    "durableTask": {
	      "hubName": "MyHub",
	      "maxConcurrentActivityFunctions": 5,
	      "maxConcurrentOrchestratorFunctions": "6",
	      "retention": { "completed": "7.00:00:00", "failed": "30.00:00:00", "interval": "00:01:00" },
	      "storageProvider": {
	        "type": "AzureStorage",
	        "connectionName": "MyStorage",
	        "partitionCount": 8,
	        "maxQueuePollingInterval": "00:00:02",
	        "controlQueueVisibilityTimeout": "00:10:00",
	        "workItemQueueVisibilityTimeout": "1.00:00:00",
	        "controlQueueBatchSize": 16,
	        "partitionLeaseDuration": "00:01:00",
	        "partitionLeaseRenewInterval": "15s",
	        "maxLocalActivityBacklog": 100,
	        "someFutureKey": {"ignored": true}
	      }
	    },
	    "queues": { "batchSize": 4 }
	  },
	  "logging": { "logLevel": { "default": "Information" } }
	}`
	h, err := ParseHost([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Host{
		Version: "2.0",
		CustomHandler: CustomHandler{
			DefaultExecutablePath:       "app",
			WorkingDirectory:            "bin",
			Arguments:                   []string{"--verbose", "3"},
			EnableForwardingHTTPRequest: true,
		},
		HTTPRoutePrefix: "v1",
		Durable: DurableOptions{
			HubName:                            "MyHub",
			ConnectionName:                     "MyStorage",
			PartitionCount:                     8,
			MaxQueuePollingInterval:            2 * time.Second,
			ControlQueueVisibilityTimeout:      10 * time.Minute,
			WorkItemQueueVisibilityTimeout:     24 * time.Hour,
			ControlQueueBatchSize:              16,
			MaxConcurrentActivityFunctions:     5,
			MaxConcurrentOrchestratorFunctions: 6,
			PartitionLeaseDuration:             time.Minute,
			PartitionLeaseRenewInterval:        15 * time.Second,
			MaxLocalActivityBacklog:            100,
			Retention:                          Retention{Completed: 7 * 24 * time.Hour, Failed: 30 * 24 * time.Hour, Interval: time.Minute},
			VersionMatchStrategy:               "CurrentOrOlder",
			VersionFailureStrategy:             "Reject",
		},
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("ParseHost =\n%+v\nwant\n%+v", h, want)
	}
}

func TestParseHostCaseInsensitiveKeys(t *testing.T) {
	doc := `{
	  "Version": "2.0",
	  "CUSTOMHANDLER": {"Description": {"DefaultExecutablePath": "x"}, "EnableForwardingHTTPRequest": "True"},
	  "Extensions": {
	    "HTTP": {"RoutePrefix": ""},
	    "DurableTask": {
	      "HubName": "Hub1",
	      "StorageProvider": {"PARTITIONCOUNT": "2", "ConnectionStringName": "Old"}
	    }
	  }
	}`
	h, err := ParseHost([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != "2.0" || h.CustomHandler.DefaultExecutablePath != "x" || !h.CustomHandler.EnableForwardingHTTPRequest {
		t.Errorf("custom handler = %+v, version %q", h.CustomHandler, h.Version)
	}
	if h.HTTPRoutePrefix != "" {
		t.Errorf("HTTPRoutePrefix = %q, want explicit empty", h.HTTPRoutePrefix)
	}
	if h.Durable.HubName != "Hub1" || h.Durable.PartitionCount != 2 || h.Durable.ConnectionName != "Old" {
		t.Errorf("durable = %+v", h.Durable)
	}
}

func TestParseHostConnectionNamePrecedence(t *testing.T) {
	doc := `{"extensions":{"durableTask":{"storageProvider":{"connectionStringName":"Old","connectionName":"New"}}}}`
	h, err := ParseHost([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.ConnectionName != "New" {
		t.Errorf("ConnectionName = %q, want New", h.Durable.ConnectionName)
	}
}

func TestParseHostCommentsAndTrailingCommas(t *testing.T) {
	doc := `{
	  // the schema version
	  "version": "2.0",
	  /* durable settings */
	  "extensions": {"durableTask": {"hubName": "Commented", /* x */ },},
	}`
	h, err := ParseHost([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.HubName != "Commented" {
		t.Errorf("HubName = %q", h.Durable.HubName)
	}
}

func TestParseHostHubNameFromSetting(t *testing.T) {
	settings := NewSettings(map[string]string{"MyTaskHub": "FromSetting1", "Prefix": "Pre"}, false)

	h, err := ParseHost([]byte(`{"extensions":{"durableTask":{"hubName":"%MyTaskHub%"}}}`), settings)
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.HubName != "FromSetting1" {
		t.Errorf("HubName = %q, want FromSetting1", h.Durable.HubName)
	}

	h, err = ParseHost([]byte(`{"extensions":{"durableTask":{"hubName":"%Prefix%Hub"}}}`), settings)
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.HubName != "PreHub" {
		t.Errorf("HubName = %q, want PreHub", h.Durable.HubName)
	}
}

func TestParseHostHubNameFromEnvSetting(t *testing.T) {
	t.Setenv("CONFIG_TEST_HUB", "EnvHub")
	h, err := ParseHost([]byte(`{"extensions":{"durableTask":{"hubName":"%CONFIG_TEST_HUB%"}}}`), NewSettings(nil, true))
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.HubName != "EnvHub" {
		t.Errorf("HubName = %q, want EnvHub", h.Durable.HubName)
	}
}

func TestParseHostErrors(t *testing.T) {
	settings := NewSettings(map[string]string{"BadHub": "bad-hub"}, false)
	durable := func(inner string) string {
		return `{"version":"2.0","extensions":{"durableTask":{` + inner + `}}}`
	}
	storage := func(inner string) string {
		return durable(`"storageProvider":{` + inner + `}`)
	}
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"syntax", "{\n\"version\": \"2.0\",\n}}", "host.json: invalid JSON at line 3"},
		{"top level", `"x"`, `host.json: the top-level value is "x", not an object`},
		{"version", `{"version":"3.0"}`, `host.json: version: "3.0" is not supported; it must be "2.0"`},
		{"customHandler type", `{"customHandler": 1}`, "host.json: customHandler: 1 is not an object"},
		{"arguments type", `{"customHandler": {"description": {"arguments": "a b"}}}`, `host.json: customHandler.description.arguments: "a b" is not an array of strings`},
		{"arguments element", `{"customHandler": {"description": {"arguments": ["a", {}]}}}`, "host.json: customHandler.description.arguments[1]: an object is not a string"},
		{"forwarding", `{"customHandler": {"enableForwardingHttpRequest": "yes"}}`, `host.json: customHandler.enableForwardingHttpRequest: "yes" is not a boolean`},
		{"routePrefix", `{"extensions": {"http": {"routePrefix": []}}}`, "host.json: extensions.http.routePrefix: an array is not a string"},
		{"durableTask type", `{"extensions": {"durableTask": "x"}}`, `host.json: extensions.durableTask: "x" is not an object`},
		{"duplicate keys", `{"extensions": {"durableTask": {"hubName": "A1b", "HUBNAME": "B1c"}}}`, "host.json: extensions.durableTask.hubName: the object has several keys that differ only in case"},

		{"hub too short", durable(`"hubName":"ab"`), `host.json: extensions.durableTask.hubName: "ab" has length 2; a task hub name must be 3 to 45 letters and digits, starting with a letter`},
		{"hub too long", durable(`"hubName":"` + strings.Repeat("a", 46) + `"`), "has length 46"},
		{"hub digit first", durable(`"hubName":"1abc"`), `host.json: extensions.durableTask.hubName: "1abc" does not start with a letter`},
		{"hub dash", durable(`"hubName":"my-hub"`), `host.json: extensions.durableTask.hubName: "my-hub" contains '-'`},
		{"hub setting missing", durable(`"hubName":"%NoSuchSetting%"`), `host.json: extensions.durableTask.hubName: "%NoSuchSetting%" refers to app setting "NoSuchSetting", which is not set`},
		{"hub setting invalid", durable(`"hubName":"%BadHub%"`), `host.json: extensions.durableTask.hubName: "%BadHub%" resolved to an invalid name: "bad-hub" contains '-'`},
		{"hub unmatched percent", durable(`"hubName":"%Oops"`), `host.json: extensions.durableTask.hubName: "%Oops" has an unmatched %`},
		{"hub empty ref", durable(`"hubName":"%%"`), `host.json: extensions.durableTask.hubName: "%%" has an empty %% reference`},

		{"activities zero", durable(`"maxConcurrentActivityFunctions":0`), "host.json: extensions.durableTask.maxConcurrentActivityFunctions: 0 is less than the minimum 1"},
		{"orchestrators negative", durable(`"maxConcurrentOrchestratorFunctions":-3`), "host.json: extensions.durableTask.maxConcurrentOrchestratorFunctions: -3 is less than the minimum 1"},
		{"activities not int", durable(`"maxConcurrentActivityFunctions":2.5`), "host.json: extensions.durableTask.maxConcurrentActivityFunctions: 2.5 is not an integer"},
		{"activities bool", durable(`"maxConcurrentActivityFunctions":true`), "host.json: extensions.durableTask.maxConcurrentActivityFunctions: true is not an integer"},

		{"storageProvider type", durable(`"storageProvider": 5`), "host.json: extensions.durableTask.storageProvider: 5 is not an object"},
		{"provider kind", storage(`"type":"mssql"`), `host.json: extensions.durableTask.storageProvider.type: "mssql" is not supported`},
		{"connectionName empty", storage(`"connectionName":""`), "host.json: extensions.durableTask.storageProvider.connectionName: must not be empty"},
		{"connectionStringName empty", storage(`"connectionStringName":" "`), "host.json: extensions.durableTask.storageProvider.connectionStringName: must not be empty"},
		{"partitions high", storage(`"partitionCount":40`), "host.json: extensions.durableTask.storageProvider.partitionCount: 40 is out of range 1..16"},
		{"partitions zero", storage(`"partitionCount":"0"`), "host.json: extensions.durableTask.storageProvider.partitionCount: 0 is out of range 1..16"},
		{"partitions text", storage(`"partitionCount":"four"`), `host.json: extensions.durableTask.storageProvider.partitionCount: "four" is not an integer`},
		{"batch high", storage(`"controlQueueBatchSize":33`), "host.json: extensions.durableTask.storageProvider.controlQueueBatchSize: 33 is out of range 1..32"},
		{"batch zero", storage(`"controlQueueBatchSize":0`), "host.json: extensions.durableTask.storageProvider.controlQueueBatchSize: 0 is out of range 1..32"},
		{"backlog negative", storage(`"maxLocalActivityBacklog":-1`), "host.json: extensions.durableTask.storageProvider.maxLocalActivityBacklog: -1 is less than the minimum 0"},

		{"polling bad", storage(`"maxQueuePollingInterval":"soon"`), `host.json: extensions.durableTask.storageProvider.maxQueuePollingInterval: parse duration: time: invalid duration "soon"`},
		{"polling not string", storage(`"maxQueuePollingInterval":{}`), "host.json: extensions.durableTask.storageProvider.maxQueuePollingInterval: an object is not a duration"},
		{"polling bad timespan", storage(`"maxQueuePollingInterval":"00:61:00"`), `host.json: extensions.durableTask.storageProvider.maxQueuePollingInterval: invalid TimeSpan "00:61:00": minutes 61 is out of range 0..59`},
		{"polling zero", storage(`"maxQueuePollingInterval":"00:00:00"`), "host.json: extensions.durableTask.storageProvider.maxQueuePollingInterval: 0s is not greater than zero"},
		{"polling small", storage(`"maxQueuePollingInterval":"00:00:00.010"`), "host.json: extensions.durableTask.storageProvider.maxQueuePollingInterval: 10ms is less than the minimum 50ms"},
		{"control visibility negative", storage(`"controlQueueVisibilityTimeout":"-00:01:00"`), "host.json: extensions.durableTask.storageProvider.controlQueueVisibilityTimeout: -1m0s is not greater than zero"},
		{"control visibility long", storage(`"controlQueueVisibilityTimeout":"7.00:00:01"`), "host.json: extensions.durableTask.storageProvider.controlQueueVisibilityTimeout: 168h0m1s is more than the maximum of 7 days"},
		{"workitem visibility zero", storage(`"workItemQueueVisibilityTimeout":"0s"`), "host.json: extensions.durableTask.storageProvider.workItemQueueVisibilityTimeout: 0s is not greater than zero"},
		{"workitem visibility long", storage(`"workItemQueueVisibilityTimeout":"8"`), "host.json: extensions.durableTask.storageProvider.workItemQueueVisibilityTimeout: 192h0m0s is more than the maximum of 7 days"},
		{"lease zero", storage(`"partitionLeaseDuration":"00:00:00"`), "host.json: extensions.durableTask.storageProvider.partitionLeaseDuration: 0s is not greater than zero"},
		{"renew zero", storage(`"partitionLeaseRenewInterval":"0ms"`), "host.json: extensions.durableTask.storageProvider.partitionLeaseRenewInterval: 0s is not greater than zero"},
		{"renew not shorter", storage(`"partitionLeaseDuration":"00:00:20","partitionLeaseRenewInterval":"00:00:20"`), "host.json: extensions.durableTask.storageProvider.partitionLeaseRenewInterval: 20s must be less than extensions.durableTask.storageProvider.partitionLeaseDuration (20s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHost([]byte(tt.doc), settings)
			if err == nil {
				t.Fatalf("want error containing %q, got %+v", tt.want, h)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%s\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseHostReportsEveryProblem(t *testing.T) {
	doc := `{"extensions":{"durableTask":{"hubName":"%BadHub%","storageProvider":{"partitionCount":"x","controlQueueBatchSize":64}}}}`
	_, err := ParseHost([]byte(doc), NewSettings(map[string]string{"BadHub": "a_b"}, false))
	if err == nil {
		t.Fatal("want error")
	}
	want := strings.Join([]string{
		`host.json: extensions.durableTask.hubName: "%BadHub%" resolved to an invalid name: "a_b" contains '_'; a task hub name must be 3 to 45 letters and digits, starting with a letter`,
		`host.json: extensions.durableTask.storageProvider.partitionCount: "x" is not an integer`,
		`host.json: extensions.durableTask.storageProvider.controlQueueBatchSize: 64 is out of range 1..32`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := DefaultDurableOptions()
	o.PartitionCount = 17
	o.ControlQueueBatchSize = 64
	err := o.Validate()
	if err == nil {
		t.Fatal("want error")
	}
	for _, w := range []string{
		"extensions.durableTask.storageProvider.partitionCount: 17 is out of range 1..16",
		"extensions.durableTask.storageProvider.controlQueueBatchSize: 64 is out of range 1..32",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	o = DefaultDurableOptions()
	o.HubName = ""
	o.ConnectionName = ""
	err = o.Validate()
	if err == nil || !strings.Contains(err.Error(), "extensions.durableTask.hubName:") ||
		!strings.Contains(err.Error(), "extensions.durableTask.storageProvider.connectionName: must not be empty") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidateTaskHubName(t *testing.T) {
	for _, ok := range []string{"abc", "DurableFunctionsHub", "Hub2", "a" + strings.Repeat("1", 44)} {
		if err := ValidateTaskHubName(ok); err != nil {
			t.Errorf("ValidateTaskHubName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", "1hub", "my_hub", "hub name", "hüb1", strings.Repeat("a", 46)} {
		if err := ValidateTaskHubName(bad); err == nil {
			t.Errorf("ValidateTaskHubName(%q) succeeded", bad)
		}
	}
}

func TestLoadHost(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, HostFile, `{"version":"2.0","extensions":{"durableTask":{"hubName":"FileHub"}}}`)
	h, err := LoadHost(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Durable.HubName != "FileHub" {
		t.Errorf("HubName = %q", h.Durable.HubName)
	}

	bad := writeFile(t, dir, "bad.json", `{"extensions":{"durableTask":{"storageProvider":{"partitionCount":40}}}}`)
	_, err = LoadHost(bad, nil)
	want := bad + ": extensions.durableTask.storageProvider.partitionCount: 40 is out of range 1..16"
	if err == nil || err.Error() != want {
		t.Errorf("LoadHost(bad) error = %v, want %q", err, want)
	}

	_, err = LoadHost(filepath.Join(dir, "missing", HostFile), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadHost(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestParseHostDefaultVersion(t *testing.T) {
	h, err := ParseHost([]byte(`{"version":"2.0","extensions":{"durableTask":{"DefaultVersion":" 1.2 ",
		"versionMatchStrategy":"strict","versionFailureStrategy":"FAIL"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := h.Durable; d.DefaultVersion != "1.2" || d.VersionMatchStrategy != "Strict" || d.VersionFailureStrategy != "Fail" {
		t.Fatalf("versioning options %q %q %q", d.DefaultVersion, d.VersionMatchStrategy, d.VersionFailureStrategy)
	}
	_, err = ParseHost([]byte(`{"extensions":{"durableTask":{"versionMatchStrategy":"Newest","versionFailureStrategy":"Ignore"}}}`), nil)
	if err == nil || !strings.Contains(err.Error(), "extensions.durableTask.versionMatchStrategy") ||
		!strings.Contains(err.Error(), "extensions.durableTask.versionFailureStrategy") {
		t.Fatalf("bad strategies: %v", err)
	}
}

// TestParseHostTracing reads Durable Functions' tracing switch, keys in any
// case, and refuses a span model this app does not emit.
func TestParseHostTracing(t *testing.T) {
	h, err := ParseHost([]byte(`{"extensions":{"durableTask":{"tracing":{"distributedTracingEnabled":true,"version":"v2"}}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Durable.Tracing.DistributedTracingEnabled || h.Durable.Tracing.Version != "V2" {
		t.Errorf("tracing = %+v", h.Durable.Tracing)
	}
	h, err = ParseHost([]byte(`{"extensions":{"durableTask":{}}}`), nil)
	if err != nil || h.Durable.Tracing.DistributedTracingEnabled {
		t.Errorf("tracing is on by default (%+v, %v)", h.Durable.Tracing, err)
	}
	_, err = ParseHost([]byte(`{"extensions":{"durableTask":{"tracing":{"DistributedTracingEnabled":true,"Version":"V1"}}}}`), nil)
	if err == nil || !strings.Contains(err.Error(), "tracing.Version") {
		t.Errorf("V1: error %v, want one naming tracing.Version", err)
	}
}

// Schedules that ship with the app, in host.json: read, and checked.
func TestHostSchedules(t *testing.T) {
	h, err := ParseHost([]byte(`{"extensions": {"durableTask": {"schedules": {
		"nightly": {"orchestrator": "Cleanup", "cron": "0 0 3 * * *", "timeZone": "Europe/Paris", "overlap": "skip"},
		"poll": {"orchestrator": "Poll", "every": "30s", "jitter": "5s"}}}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, p := h.Durable.Schedules["nightly"], h.Durable.Schedules["poll"]
	if n.Cron != "0 0 3 * * *" || n.TimeZone != "Europe/Paris" || time.Duration(p.Every) != 30*time.Second || time.Duration(p.Jitter) != 5*time.Second {
		t.Fatalf("read %+v", h.Durable.Schedules)
	}
	for doc, want := range map[string]string{
		`{"bad/id": {"orchestrator": "J", "every": "1m"}}`:     "schedules.bad/id",
		`{"x": {"orchestrator": "J"}}`:                         "give cron or every",
		`{"x": {"orchestrator": "J", "every": "1m", "z": 1}}`:  "unknown field",
		`{"x": {"orchestrator": "J", "cron": "0 0 25 * * *"}}`: "out of range",
		`[]`: "not an object",
	} {
		_, err := ParseHost([]byte(`{"extensions": {"durableTask": {"schedules": `+doc+`}}}`), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", doc, err, want)
		}
	}
}
