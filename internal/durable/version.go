package durable

import (
	"fmt"
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

// VersionMatch is Durable Functions' versionMatchStrategy: which
// instance versions a worker runs.
type VersionMatch string

const (
	// MatchNone runs every version.
	MatchNone VersionMatch = "None"
	// MatchStrict runs only the worker's own version.
	MatchStrict VersionMatch = "Strict"
	// MatchCurrentOrOlder runs the worker's version and older ones: the
	// default.
	MatchCurrentOrOlder VersionMatch = "CurrentOrOlder"
)

// VersionFailure is Durable Functions' versionFailureStrategy: what a
// worker does with an instance whose version it does not run.
type VersionFailure string

const (
	// FailureReject leaves the instance's work for another worker: the
	// default.
	FailureReject VersionFailure = "Reject"
	// FailureFail fails the instance, naming both versions.
	FailureFail VersionFailure = "Fail"
)

// version is the policy's version; "" for no policy.
func (p *VersionPolicy) version() string {
	if p == nil {
		return ""
	}
	return p.Version
}

// VersionPolicy is what a worker runs: instances whose version Match
// allows against Version, the worker's own (host.json's defaultVersion).
type VersionPolicy struct {
	Version string
	Match   VersionMatch
	Failure VersionFailure
}

// VersionMismatchError says that a worker's policy does not run an
// instance's version.
type VersionMismatchError struct {
	Name, InstanceVersion string
	Policy                VersionPolicy
}

func (e *VersionMismatchError) Error() string {
	rule := "only its own version"
	if e.Policy.Match == MatchCurrentOrOlder {
		rule = "its own version or older ones"
	}
	return fmt.Sprintf("orchestration %q is at version %s, which this worker does not run: it is at version %s "+
		"and runs %s (versionMatchStrategy %s)", e.Name, quoteVersion(e.InstanceVersion), quoteVersion(e.Policy.Version),
		rule, e.Policy.Match)
}

// ErrorType names the failure of an instance failed by FailureFail.
func (e *VersionMismatchError) ErrorType() string { return "VersionMismatch" }

func quoteVersion(v string) string {
	if strings.TrimSpace(v) == "" {
		return "(none)"
	}
	return strconv.Quote(v)
}

// Check returns nil when p runs an instance of orchestration name at
// version v, and a *VersionMismatchError otherwise. A nil policy runs
// everything.
func (p *VersionPolicy) Check(name, v string) error {
	if p == nil {
		return nil
	}
	ok := true
	switch p.Match {
	case MatchStrict:
		ok = CompareVersions(v, p.Version) == 0
	case MatchCurrentOrOlder, "":
		ok = CompareVersions(v, p.Version) <= 0
	}
	if ok {
		return nil
	}
	return &VersionMismatchError{Name: name, InstanceVersion: v, Policy: *p}
}
