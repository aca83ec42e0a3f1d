package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"00:00:30", 30 * time.Second},
		{"00:05:00", 5 * time.Minute},
		{"1.02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"00:00:00.500", 500 * time.Millisecond},
		{"00:00:00.5", 500 * time.Millisecond},
		{"00:00:00.0000001", 100 * time.Nanosecond},
		{"00:00:01.1234567", time.Second + 123456700*time.Nanosecond},
		{"01:30", time.Hour + 30*time.Minute},
		{"2.01:30", 49*time.Hour + 30*time.Minute},
		{"1:02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"1:02:03:04.25", 26*time.Hour + 3*time.Minute + 4*time.Second + 250*time.Millisecond},
		{"3", 72 * time.Hour},
		{"0", 0},
		{"-00:00:10", -10 * time.Second},
		{"  00:00:10  ", 10 * time.Second},
		{"7.00:00:00", 7 * 24 * time.Hour},
		{"500ms", 500 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"-2h", -2 * time.Hour},
	}
	for _, tt := range tests {
		got, err := ParseTimeSpan(tt.in)
		if err != nil {
			t.Errorf("ParseTimeSpan(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseTimeSpan(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseTimeSpanErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"", "empty duration"},
		{"   ", "empty duration"},
		{"24:00:00", "hours 24 is out of range 0..23"},
		{"00:60:00", "minutes 60 is out of range 0..59"},
		{"00:00:60", "seconds 60 is out of range 0..59"},
		{"00:00:00.12345678", "must have 1 to 7 digits"},
		{"00:00:00.", "must have 1 to 7 digits"},
		{"00::00", "missing minutes"},
		{"1:2:3:4:5", "too many ':' separators"},
		{"1.5", `days "1.5" is not a number`},
		{"00:1-:00", "minutes \"1-\" is not a number"},
		{"10675200.00:00:00", "out of range"},
		{"30 seconds", "parse duration"},
		{"abc", "parse duration"},
		{"+00:00:01", "is not a number"},
	}
	for _, tt := range tests {
		_, err := ParseTimeSpan(tt.in)
		if err == nil {
			t.Errorf("ParseTimeSpan(%q) succeeded, want error containing %q", tt.in, tt.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseTimeSpan(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestParseTimeSpanLargest(t *testing.T) {
	// The largest whole-day count a Duration holds must parse, and one more
	// must not, so overflow is caught rather than wrapped.
	if _, err := ParseTimeSpan("106751.00:00:00"); err != nil {
		t.Fatalf("106751 days: %v", err)
	}
	if _, err := ParseTimeSpan("106752"); err == nil {
		t.Fatal("106752 days: want out-of-range error")
	}
}
