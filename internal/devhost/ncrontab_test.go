package devhost

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleNext(t *testing.T) {
	for _, tc := range []struct {
		expr, from string
		want       []string // successive occurrences
	}{
		{"*/1 * * * * *", "2024-03-10 10:00:07", []string{"2024-03-10 10:00:08", "2024-03-10 10:00:09"}},
		{"*/15 * * * * *", "2024-03-10 10:00:07", []string{"2024-03-10 10:00:15", "2024-03-10 10:00:30", "2024-03-10 10:00:45", "2024-03-10 10:01:00"}},
		// Strictly after: an occurrence at the start time itself is not returned.
		{"0 * * * * *", "2024-03-10 10:00:00", []string{"2024-03-10 10:01:00"}},
		{"0 */5 * * * *", "2024-03-10 23:58:30", []string{"2024-03-11 00:00:00", "2024-03-11 00:05:00"}},
		{"5/20 * * * * *", "2024-03-10 10:00:00", []string{"2024-03-10 10:00:05", "2024-03-10 10:00:25", "2024-03-10 10:00:45", "2024-03-10 10:01:05"}},
		{"0 0,30 8-9 * * *", "2024-03-10 08:45:00", []string{"2024-03-10 09:00:00", "2024-03-10 09:30:00", "2024-03-11 08:00:00"}},
		// 2024-03-09 is a Saturday.
		{"0 30 9 * * MON-FRI", "2024-03-09 12:00:00", []string{"2024-03-11 09:30:00", "2024-03-12 09:30:00"}},
		{"0 30 9 * * 1-5", "2024-03-15 10:00:00", []string{"2024-03-18 09:30:00"}},
		{"0 0 0 * * 0", "2024-03-09 12:00:00", []string{"2024-03-10 00:00:00", "2024-03-17 00:00:00"}},
		{"0 0 0 * * 7", "2024-03-09 12:00:00", []string{"2024-03-10 00:00:00"}}, // 7 is Sunday too
		{"0 0 12 1 * *", "2024-01-31 13:00:00", []string{"2024-02-01 12:00:00", "2024-03-01 12:00:00"}},
		{"0 0 0 1 jan,Jul *", "2024-02-01 00:00:00", []string{"2024-07-01 00:00:00", "2025-01-01 00:00:00"}},
		{"0 0 0 29 2 *", "2024-03-01 00:00:00", []string{"2028-02-29 00:00:00"}},
		{"0 0 0 31 * *", "2024-04-01 00:00:00", []string{"2024-05-31 00:00:00", "2024-07-31 00:00:00"}},
		// Day of month and day of week must both match (NCrontab), so Friday the 13th.
		{"0 0 0 13 * FRI", "2024-01-01 00:00:00", []string{"2024-09-13 00:00:00", "2024-12-13 00:00:00"}},
		// Five fields: no seconds, fires at second 0.
		{"*/10 * * * *", "2024-03-10 10:03:20", []string{"2024-03-10 10:10:00"}},
		{"0 0 0 1 1 *", "2024-12-31 23:59:59", []string{"2025-01-01 00:00:00"}},
	} {
		s, err := parseSchedule(tc.expr)
		if err != nil {
			t.Errorf("parseSchedule(%q): %v", tc.expr, err)
			continue
		}
		at := utc(tc.from)
		for _, w := range tc.want {
			at = s.next(at)
			if !at.Equal(utc(w)) {
				t.Errorf("%q from %s: got %s, want %s", tc.expr, tc.from, at.Format(time.DateTime), w)
				break
			}
		}
	}
}

func TestScheduleNextIsUTC(t *testing.T) {
	s, err := parseSchedule("0 0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	from := time.Date(2024, 3, 10, 12, 0, 0, 0, tokyo) // 03:00 UTC
	if got, want := s.next(from), utc("2024-03-10 09:00:00"); !got.Equal(want) {
		t.Errorf("next = %s, want %s (09:00 UTC)", got, want)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, tc := range []struct{ expr, wantErr string }{
		{"* * * *", "six fields"},
		{"* * * * * * *", "six fields"},
		{"60 * * * * *", "out of range"},
		{"* * 24 * * *", "out of range"},
		{"* * * 0 * *", "out of range"},
		{"* * * * 13 *", "out of range"},
		{"* * * * * 8", "out of range"},
		{"*/0 * * * * *", "bad step"},
		{"*/x * * * * *", "bad step"},
		{"10-5 * * * * *", "backwards"},
		{"a * * * * *", "bad value"},
		{"1,,2 * * * * *", "bad value"},
		{"* * * * foo *", "bad value"},
		{"0 0 0 30 2 *", "never fires"},
	} {
		_, err := parseSchedule(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseSchedule(%q) = %v, want an error containing %q", tc.expr, err, tc.wantErr)
		}
	}
}
