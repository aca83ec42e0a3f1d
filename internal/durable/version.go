package durable

import (
	"strconv"
	"strings"
)

// CompareVersions orders two orchestration versions as Durable Functions
// does: negative when a is older than b, zero when they are the same
// version, positive when a is newer.
//
//   - An unset version ("" or only spaces) is equal to another unset one
//     and older than any set version.
//   - Two versions that both read as numeric versions (1 to 4 dot-separated
//     non-negative integers: "1", "1.2", "1.2.3.4") compare component by
//     component. As with .NET's System.Version, a missing component sorts
//     before any present one, so "1.2" is older than "1.2.0".
//   - Anything else compares as strings, ignoring case ("beta" equals
//     "BETA"; "10" and "9a" compare as text).
func CompareVersions(a, b string) int {
	aUnset, bUnset := strings.TrimSpace(a) == "", strings.TrimSpace(b) == ""
	switch {
	case aUnset && bUnset:
		return 0
	case aUnset:
		return -1
	case bUnset:
		return 1
	}
	if na, ok := parseNumericVersion(a); ok {
		if nb, ok := parseNumericVersion(b); ok {
			for i := range na {
				if na[i] != nb[i] {
					if na[i] < nb[i] {
						return -1
					}
					return 1
				}
			}
			return 0
		}
	}
	return strings.Compare(foldCase(a), foldCase(b))
}

// parseNumericVersion reads a numeric version; absent components are -1.
func parseNumericVersion(s string) (v [4]int64, ok bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) > len(v) {
		return v, false
	}
	for i := range v {
		v[i] = -1
	}
	for i, p := range parts {
		if p == "" || strings.TrimLeft(p, "0123456789") != "" {
			return v, false
		}
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// foldCase maps a string for an ordinal case-insensitive comparison: each
// rune upper-cased, as .NET's OrdinalIgnoreCase does.
func foldCase(s string) string { return strings.ToUpper(s) }
