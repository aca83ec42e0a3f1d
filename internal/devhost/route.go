package devhost

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// routeTemplate is an HTTP trigger route in ASP.NET Core's template syntax, the subset
// function.json routes use: literal segments, {name}, optional {name?}, defaults {name=x},
// catch-all {*rest}, constraints {id:int}, and one parameter per segment with optional
// literal text around it (v{version}).
type routeTemplate struct {
	raw  string
	segs []routeSeg
}

type routeSeg struct {
	literal string // the whole segment for a literal; the text before the parameter otherwise
	suffix  string // text after the parameter
	param   string // "" for a literal segment
	// optional parameters may be absent from the path; so may a parameter with a default.
	optional    bool
	defaultVal  string
	hasDefault  bool
	catchAll    bool
	constraints []string
}

// precedence orders segments from most to least specific, as ASP.NET Core does: a request
// that several routes match goes to the route whose first differing segment is more
// specific, so "api/orchestrators/start" wins over "api/orchestrators/{name}".
func (s routeSeg) precedence() byte {
	switch {
	case s.param == "":
		return '1'
	case s.literal != "" || s.suffix != "":
		return '2'
	case s.catchAll:
		return '5'
	case len(s.constraints) > 0:
		return '3'
	default:
		return '4'
	}
}

func (t *routeTemplate) precedence() string {
	b := make([]byte, len(t.segs))
	for i, s := range t.segs {
		b[i] = s.precedence()
	}
	return string(b)
}

// parseRoute parses a route template such as "api/orders/{id:int}/{*rest}".
func parseRoute(tmpl string) (*routeTemplate, error) {
	t := &routeTemplate{raw: tmpl}
	trimmed := strings.Trim(tmpl, "/")
	if trimmed == "" {
		return t, nil
	}
	parts := strings.Split(trimmed, "/")
	seen := map[string]bool{}
	for i, part := range parts {
		if part == "" {
			return nil, fmt.Errorf("route %q: empty segment", tmpl)
		}
		seg, err := parseSegment(part)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", tmpl, err)
		}
		if seg.param != "" {
			key := strings.ToLower(seg.param)
			if seen[key] {
				return nil, fmt.Errorf("route %q: parameter %q appears twice", tmpl, seg.param)
			}
			seen[key] = true
		}
		if seg.catchAll && i != len(parts)-1 {
			return nil, fmt.Errorf("route %q: catch-all {*%s} must be the last segment", tmpl, seg.param)
		}
		t.segs = append(t.segs, seg)
	}
	return t, nil
}

func parseSegment(part string) (routeSeg, error) {
	open, closing := strings.IndexByte(part, '{'), strings.LastIndexByte(part, '}')
	if open < 0 && closing < 0 {
		return routeSeg{literal: part}, nil
	}
	if open < 0 || closing < open {
		return routeSeg{}, fmt.Errorf("segment %q: unbalanced braces", part)
	}
	seg := routeSeg{literal: part[:open], suffix: part[closing+1:]}
	if strings.ContainsAny(seg.literal+seg.suffix, "{}") {
		return routeSeg{}, fmt.Errorf("segment %q: only one parameter per segment is supported", part)
	}
	body := part[open+1 : closing]
	if strings.HasPrefix(body, "*") {
		seg.catchAll = true
		body = strings.TrimLeft(body, "*") // {**path} is a catch-all too
	}
	if strings.HasSuffix(body, "?") {
		seg.optional = true
		body = strings.TrimSuffix(body, "?")
	}
	if name, def, ok := strings.Cut(body, "="); ok {
		seg.hasDefault, seg.defaultVal, body = true, def, name
	}
	// Constraints are separated by ':'; a regex constraint may itself contain ':' but only
	// inside its parentheses, which this split keeps together well enough for matching.
	name, cons, _ := strings.Cut(body, ":")
	if cons != "" {
		seg.constraints = splitConstraints(cons)
	}
	if name == "" {
		return routeSeg{}, fmt.Errorf("segment %q: parameter without a name", part)
	}
	if strings.ContainsAny(name, "{}") {
		return routeSeg{}, fmt.Errorf("segment %q: only one parameter per segment is supported", part)
	}
	seg.param = name
	if (seg.optional || seg.catchAll) && (seg.literal != "" || seg.suffix != "") {
		return routeSeg{}, fmt.Errorf("segment %q: optional and catch-all parameters must be the whole segment", part)
	}
	return seg, nil
}

func splitConstraints(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ':':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// match matches an escaped URL path against the template and returns the route values.
// Segments are unescaped one by one so that an encoded slash stays inside its segment.
func (t *routeTemplate) match(escapedPath string) (map[string]string, bool) {
	trimmed := strings.Trim(escapedPath, "/")
	var parts []string
	if trimmed != "" {
		parts = strings.Split(trimmed, "/")
	}
	values := map[string]string{}
	for i, seg := range t.segs {
		if seg.catchAll {
			rest := make([]string, 0, len(parts)-min(i, len(parts)))
			for _, p := range parts[min(i, len(parts)):] {
				v, err := url.PathUnescape(p)
				if err != nil {
					return nil, false
				}
				rest = append(rest, v)
			}
			if len(rest) > 0 {
				values[seg.param] = strings.Join(rest, "/")
			} else if seg.hasDefault {
				values[seg.param] = seg.defaultVal
			}
			return values, true
		}
		if i >= len(parts) {
			if !seg.optional && !seg.hasDefault {
				return nil, false
			}
			if seg.hasDefault {
				values[seg.param] = seg.defaultVal
			}
			continue
		}
		v, err := url.PathUnescape(parts[i])
		if err != nil {
			return nil, false
		}
		if seg.param == "" {
			if !strings.EqualFold(v, seg.literal) {
				return nil, false
			}
			continue
		}
		if len(v) < len(seg.literal)+len(seg.suffix) ||
			!strings.EqualFold(v[:len(seg.literal)], seg.literal) ||
			!strings.EqualFold(v[len(v)-len(seg.suffix):], seg.suffix) {
			return nil, false
		}
		v = v[len(seg.literal) : len(v)-len(seg.suffix)]
		if v == "" || !meetsConstraints(v, seg.constraints) {
			return nil, false
		}
		values[seg.param] = v
	}
	if len(parts) > len(t.segs) {
		return nil, false
	}
	return values, true
}

var guidRE = regexp.MustCompile(`^[{(]?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}[)}]?$`)

// meetsConstraints checks the type constraints that decide which route a request takes.
// Other constraints (length, range, regex, ...) are accepted without checking: the handler
// validates its input anyway, and this is a development host.
func meetsConstraints(v string, constraints []string) bool {
	for _, c := range constraints {
		switch strings.ToLower(c) {
		case "int", "long":
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return false
			}
		case "bool":
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return false
			}
		case "double", "float", "decimal":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return false
			}
		case "alpha":
			for _, r := range v {
				if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
					return false
				}
			}
		case "guid":
			if !guidRE.MatchString(v) {
				return false
			}
		}
	}
	return true
}
