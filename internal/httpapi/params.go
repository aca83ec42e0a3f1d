package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// params is a request's query string with case-insensitive names, as
// ASP.NET reads them for Durable Functions.
type params url.Values

func query(r *http.Request) params { return params(r.URL.Query()) }

// all returns every value of name.
func (p params) all(name string) []string {
	var out []string
	for k, vs := range p {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// get returns the first value of name, "" when absent.
func (p params) get(name string) string {
	if vs := p.all(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (p params) has(name string) bool { return len(p.all(name)) > 0 }

// bool reads a boolean parameter ("true"/"false" in any case, or 1/0);
// def when absent or empty.
func (p params) bool(name string, def bool) (bool, error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return false, fmt.Errorf("%w: query parameter %s=%q is not true or false", client.ErrBadArgument, name, v)
	}
	return b, nil
}

// seconds reads a duration given in seconds (decimals allowed, as in
// timeout=2&retryInterval=0.5); ok is false when absent.
func (p params) seconds(name string) (d time.Duration, ok bool, err error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > MaxWait.Seconds() {
		return 0, false, fmt.Errorf("%w: query parameter %s=%q must be a number of seconds from 0 to %.0f", client.ErrBadArgument, name, v, MaxWait.Seconds())
	}
	return time.Duration(f * float64(time.Second)), true, nil
}

// interval reads a polling interval in seconds, which must be positive: a
// zero interval asks for a busy loop against storage.
func (p params) interval(name string) (d time.Duration, ok bool, err error) {
	d, ok, err = p.seconds(name)
	if err == nil && ok && d <= 0 {
		return 0, false, fmt.Errorf("%w: query parameter %s=%q must be a positive number of seconds", client.ErrBadArgument, name, p.get(name))
	}
	return d, ok, err
}

// time reads a date-time parameter; ok is false when absent.
func (p params) time(name string) (t time.Time, ok bool, err error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err = parseTime(v)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: query parameter %s=%q is not an ISO 8601 date-time (e.g. 2018-06-04T10:46:39Z)", client.ErrBadArgument, name, v)
	}
	return t, true, nil
}

func parseTime(v string) (time.Time, error) {
	// A '+' in an offset arrives as a space when the caller did not
	// escape it: "2018-06-04T10:46:39 00:00".
	if i := strings.LastIndexByte(v, ' '); i > 10 && strings.Count(v[i:], ":") == 1 {
		v = v[:i] + "+" + v[i+1:]
	}
	// The ISO 8601 forms accepted for createdTimeFrom and createdTimeTo. A
	// time without an offset is UTC, as the docs state the parameters are.
	layouts := [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05",
		"2006-01-02",
	}
	var firstErr error
	for _, l := range layouts {
		t, err := time.Parse(l, v)
		if err == nil {
			return t.UTC(), nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, firstErr
}

// statuses reads runtimeStatus, comma-separated or repeated.
func (p params) statuses(name string) ([]history.RuntimeStatus, error) {
	var out []history.RuntimeStatus
	for _, v := range p.all(name) {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			st, err := history.ParseRuntimeStatus(part)
			if err != nil {
				return nil, fmt.Errorf("%w: query parameter %s: %v", client.ErrBadArgument, name, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// positiveInt reads a positive integer parameter; def when absent.
func (p params) positiveInt(name string, def int) (int, error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: query parameter %s=%q must be a positive integer", client.ErrBadArgument, name, v)
	}
	return n, nil
}
