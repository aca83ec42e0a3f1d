package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseHostRetention(t *testing.T) {
	doc := `{"version": "2.0", "extensions": {"durableTask": {"retention": {
		"completed": "7.00:00:00", "Failed": "30.00:00:00", "terminated": "12:00", "interval": "00:05:00"}}}}`
	h, err := ParseHost([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Retention{Completed: 7 * 24 * time.Hour, Failed: 30 * 24 * time.Hour, Terminated: 12 * time.Hour, Interval: 5 * time.Minute}
	if h.Durable.Retention != want {
		t.Errorf("Retention = %+v, want %+v", h.Durable.Retention, want)
	}
	if !h.Durable.Retention.Enabled() {
		t.Error("Enabled() = false")
	}

	// Ages without an interval get the default one; no retention is off.
	h, err = ParseHost([]byte(`{"extensions": {"durableTask": {"retention": {"canceled": "1"}}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Durable.Retention; r.Canceled != 24*time.Hour || r.Interval != DefaultRetentionInterval || r.Completed != 0 {
		t.Errorf("Retention = %+v", r)
	}
	h, err = ParseHost([]byte(`{"extensions": {"durableTask": {"retention": {}}}}`), nil)
	if err != nil || h.Durable.Retention.Enabled() {
		t.Errorf("empty retention: %+v, %v", h, err)
	}
}

func TestParseHostRetentionErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{`{"completed": "soon"}`, "host.json: extensions.durableTask.retention.completed: parse duration"},
		{`{"failed": "1.25:00:00"}`, "host.json: extensions.durableTask.retention.failed: invalid TimeSpan"},
		{`{"terminated": "00:00:00"}`, "extensions.durableTask.retention.terminated: 0s is not greater than zero"},
		{`{"canceled": "-1.00:00:00"}`, "extensions.durableTask.retention.canceled: -24h0m0s is not greater than zero"},
		{`{"completed": 7}`, ""}, // 7 days, as .NET reads "7"
		{`{"complete": "7.00:00:00"}`, "extensions.durableTask.retention.complete: unknown key; the keys are canceled, completed, failed, interval, terminated"},
		{`{"completed": "1", "interval": "00:00:00.100"}`, "extensions.durableTask.retention.interval: 100ms is less than the minimum 1s"},
		{`{"completed": true}`, "extensions.durableTask.retention.completed: true is not a duration"},
		{`"7.00:00:00"`, "extensions.durableTask.retention: \"7.00:00:00\" is not an object"},
	} {
		_, err := ParseHost([]byte(`{"extensions": {"durableTask": {"retention": `+tt.doc+`}}}`), nil)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.doc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.doc, err, tt.want)
		}
	}
}

func TestValidateRetention(t *testing.T) {
	o := DefaultDurableOptions()
	o.Retention = Retention{Completed: -time.Hour}
	err := o.Validate()
	for _, w := range []string{"extensions.durableTask.retention.completed: -1h0m0s is negative",
		"extensions.durableTask.retention.interval: 0s is less than the minimum 1s"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: %v, want %q", err, w)
		}
	}
}
