package durable

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		// Unset versions.
		{"", "", 0},
		{"", "  ", 0},
		{"", "1", -1},
		{"1", "", 1},
		{"", "alpha", -1},
		{" ", "0", -1},
		// Numeric versions compare numerically.
		{"1", "1", 0},
		{"1", "2", -1},
		{"2", "10", -1},
		{"10", "9", 1},
		{"1.2", "1.10", -1},
		{"1.2.3.4", "1.2.3.4", 0},
		{"1.2.3.4", "1.2.3.10", -1},
		{"2.0", "1.9.9.9", 1},
		{"01.2", "1.2", 0},
		// A missing component sorts before a present one, as in .NET.
		{"1.2", "1.2.0", -1},
		{"1", "1.0", -1},
		{"1.0.0", "1.0", 1},
		// Anything else compares as case-insensitive text.
		{"beta", "BETA", 0},
		{"alpha", "Beta", -1},
		{"v2", "V10", 1},            // text: "V2" > "V10"
		{"10", "9a", -1},            // one side is not numeric: text order
		{"1.2.3.4.5", "1.2.3.4", 1}, // five components are not numeric
		{"1.-2", "1.2", -1},         // nor are signs
		{"1..2", "1.2", -1},
		{"99999999999", "2", 1}, // over int32: text, "9" > "2"
	} {
		if got := sign(CompareVersions(tc.a, tc.b)); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := sign(CompareVersions(tc.b, tc.a)); got != -tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tc.b, tc.a, got, -tc.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
