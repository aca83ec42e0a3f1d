package cron

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
		s, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		at := utc(tc.from)
		for _, w := range tc.want {
			at = s.Next(at, time.UTC)
			if !at.Equal(utc(w)) {
				t.Errorf("%q from %s: got %s, want %s", tc.expr, tc.from, at.Format(time.DateTime), w)
				break
			}
		}
	}
}

func TestNextInUTCWhateverTheTimesZone(t *testing.T) {
	s, err := Parse("0 0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	tokyo := time.FixedZone("JST", 9*3600)
	from := time.Date(2024, 3, 10, 12, 0, 0, 0, tokyo) // 03:00 UTC
	if got, want := s.Next(from, nil), utc("2024-03-10 09:00:00"); !got.Equal(want) {
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
		_, err := Parse(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.expr, err, tc.wantErr)
		}
	}
}

// Schedules in a time zone across its daylight-saving changes: a time the
// spring change skips does not fire that day, one the autumn change
// repeats fires once, and times on either side keep their wall-clock hour.
func TestNextAcrossDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	lordHowe, err := time.LoadLocation("Australia/Lord_Howe") // a 30-minute change
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05 -0700", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name, expr string
		loc        *time.Location
		from       string
		want       []string // instants, with their offsets
	}{
		{"daily 02:30 is skipped on the spring day", "0 30 2 * * *", ny, "2024-03-09 03:00:00 -0500",
			[]string{"2024-03-11 02:30:00 -0400", "2024-03-12 02:30:00 -0400"}},
		{"daily 09:00 keeps its wall-clock hour", "0 0 9 * * *", ny, "2024-03-09 10:00:00 -0500",
			[]string{"2024-03-10 09:00:00 -0400"}},
		{"and in autumn", "0 0 9 * * *", ny, "2024-11-02 10:00:00 -0400", []string{"2024-11-03 09:00:00 -0500"}},
		{"daily 01:30 fires once on the autumn day", "0 30 1 * * *", ny, "2024-11-02 12:00:00 -0400",
			[]string{"2024-11-03 01:30:00 -0400", "2024-11-04 01:30:00 -0500"}},
		{"every 30 minutes through the repeated hour", "0 */30 * * * *", ny, "2024-11-03 00:45:00 -0400",
			[]string{"2024-11-03 01:00:00 -0400", "2024-11-03 01:30:00 -0400", "2024-11-03 02:00:00 -0500"}},
		{"every 30 minutes through the skipped hour", "0 */30 * * * *", ny, "2024-03-10 01:15:00 -0500",
			[]string{"2024-03-10 01:30:00 -0500", "2024-03-10 03:00:00 -0400"}},
		{"from inside the repeated hour, its times do not fire again", "0 45 1 * * *", ny, "2024-11-03 01:10:00 -0500",
			[]string{"2024-11-04 01:45:00 -0500"}},
		{"a half-hour change", "0 15 2 * * *", lordHowe, "2024-10-05 12:00:00 +1030",
			[]string{"2024-10-07 02:15:00 +1100"}},
	} {
		got := []string{}
		from := at(tc.loc, tc.from)
		s, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		for range tc.want {
			from = s.Next(from, tc.loc)
			got = append(got, from.In(tc.loc).Format("2006-01-02 15:04:05 -0700"))
		}
		if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%s: %q from %s gave %v, want %v", tc.name, tc.expr, tc.from, got, tc.want)
		}
	}
}
