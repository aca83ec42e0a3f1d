package layout

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// Entity is one Azure Table entity as a property map.
//
// Values use these Go types, each mapped to an EDM type of the Table
// service:
//
//	string     Edm.String
//	bool       Edm.Boolean
//	int, int32 Edm.Int32 (an int outside the int32 range is an error)
//	int64      Edm.Int64
//	float64    Edm.Double
//	time.Time  Edm.DateTime (UTC, 100 ns precision)
//	[]byte     Edm.Binary
//	nil        null
//
// ParseEntity produces int32 for Edm.Int32, int64 for Edm.Int64 and string
// for Edm.Guid, so an entity read from the service can be written back
// unchanged (a GUID comes back as a plain string).
//
// The keys "PartitionKey" and "RowKey" hold the entity's keys. Entities read
// from the service also carry "Timestamp" and "odata.*" metadata such as
// "odata.etag"; JSON leaves those out because the service does not accept
// them as properties.
type Entity map[string]any

// Names of the system properties and annotations of the Table service's JSON
// format ("application/json;odata=minimalmetadata").
const (
	propPartitionKey = "PartitionKey"
	propRowKey       = "RowKey"
	propTimestamp    = "Timestamp"
	propETag         = "odata.etag"
	odataPrefix      = "odata."
	typeAnnotation   = "@odata.type"
)

// EDM type names used in "<property>@odata.type" annotations.
const (
	edmString   = "Edm.String"
	edmBoolean  = "Edm.Boolean"
	edmInt32    = "Edm.Int32"
	edmInt64    = "Edm.Int64"
	edmDouble   = "Edm.Double"
	edmDateTime = "Edm.DateTime"
	edmBinary   = "Edm.Binary"
	edmGUID     = "Edm.Guid"
)

// dateTimeLayout is how the .NET Table client writes DateTime values: UTC
// with all seven fractional digits of a .NET tick. Writing the same text
// keeps rows written here indistinguishable from .NET ones.
const dateTimeLayout = "2006-01-02T15:04:05.0000000Z"

// FormatTime writes t as the Table service's date-time, the form an OData
// filter's datetime literal takes.
func FormatTime(t time.Time) string { return t.UTC().Format(dateTimeLayout) }

// The Table service stores DateTime values from 1601-01-01 (the Windows file
// time epoch) to the end of year 9999; anything else is rejected with a 400,
// which JSON reports earlier and by property name.
var (
	minTableTime = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTableTime = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
)

// MinTableTime is the earliest date-time the Table service stores, which
// Core Tools' purge takes for no lower bound (DateTime.MinValue).
func MinTableTime() time.Time { return minTableTime }

// JSON encodes the entity in the form aztables' AddEntity, UpsertEntity,
// UpdateEntity and SubmitTransaction take: a JSON object with an
// "@odata.type" annotation for every value whose type JSON cannot express
// (Int64, DateTime, Double, Binary). Service metadata ("Timestamp", "odata.*"
// and stale annotations) is left out.
func (e Entity) JSON() ([]byte, error) {
	out := make(map[string]any, len(e)+4)
	for _, name := range e.sortedNames() {
		if isServiceMetadata(name) {
			continue
		}
		v, edm, err := encodeValue(e[name])
		if err != nil {
			return nil, fmt.Errorf("encode table entity (PartitionKey %q, RowKey %q): property %s: %w",
				e.str(propPartitionKey), e.str(propRowKey), name, err)
		}
		out[name] = v
		if edm != "" {
			out[name+typeAnnotation] = edm
		}
	}
	data, err := marshalJSON(out)
	if err != nil {
		return nil, fmt.Errorf("encode table entity (PartitionKey %q, RowKey %q): %w",
			e.str(propPartitionKey), e.str(propRowKey), err)
	}
	return data, nil
}

// validate checks every value the way JSON would, without building the
// JSON text, so that encoders can report a bad value together with the
// instance and row it belongs to.
func (e Entity) validate() error {
	for _, name := range e.sortedNames() {
		if isServiceMetadata(name) {
			continue
		}
		if _, _, err := encodeValue(e[name]); err != nil {
			return fmt.Errorf("property %s: %w", name, err)
		}
	}
	return nil
}

func (e Entity) sortedNames() []string {
	names := make([]string, 0, len(e))
	for k := range e {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// str returns a string property or "" for error messages.
func (e Entity) str(name string) string {
	s, _ := e[name].(string)
	return s
}

func isServiceMetadata(name string) bool {
	return name == propTimestamp || strings.HasPrefix(name, odataPrefix) || strings.Contains(name, typeAnnotation)
}

// encodeValue returns the JSON value and EDM annotation (or "") of v.
func encodeValue(v any) (any, string, error) {
	switch v := v.(type) {
	case nil:
		return nil, "", nil
	case string:
		return v, "", nil
	case bool:
		return v, "", nil
	case int:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, "", fmt.Errorf("int %d does not fit Edm.Int32 (use int64 for Edm.Int64)", v)
		}
		return v, "", nil
	case int32:
		return v, "", nil
	case int64:
		// Edm.Int64 travels as a string because JSON numbers lose
		// precision above 2^53 in many readers.
		return strconv.FormatInt(v, 10), edmInt64, nil
	case float64:
		// Always annotated: a whole number like 2.0 would otherwise read
		// back as Edm.Int32.
		switch {
		case math.IsNaN(v):
			return "NaN", edmDouble, nil
		case math.IsInf(v, 1):
			return "Infinity", edmDouble, nil
		case math.IsInf(v, -1):
			return "-Infinity", edmDouble, nil
		}
		return v, edmDouble, nil
	case time.Time:
		u := v.UTC()
		if u.Before(minTableTime) || u.After(maxTableTime) {
			return nil, "", fmt.Errorf("date-time %s is outside the range the Table service stores (%s to %s)",
				u.Format(time.RFC3339Nano), minTableTime.Format(time.RFC3339), maxTableTime.Format(time.RFC3339Nano))
		}
		return u.Format(dateTimeLayout), edmDateTime, nil
	case []byte:
		return base64.StdEncoding.EncodeToString(v), edmBinary, nil
	default:
		return nil, "", fmt.Errorf("unsupported value type %T", v)
	}
}

// ParseEntity decodes an entity as aztables' GetEntity and ListEntities
// return it (minimal metadata). Values get the Go types listed on Entity,
// chosen by their "@odata.type" annotation or, without one, by their JSON
// type (a whole number is Edm.Int32). Annotations are consumed; "odata.*"
// metadata such as "odata.etag" is kept as strings.
func ParseEntity(data []byte) (Entity, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep integers exact; float64 would round Int64-sized numbers
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse table entity: %w", err)
	}
	if raw == nil {
		return nil, errors.New("parse table entity: not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse table entity: unexpected data after the JSON object")
	}
	e := make(Entity, len(raw))
	for name, v := range raw {
		if strings.Contains(name, typeAnnotation) {
			continue
		}
		if strings.HasPrefix(name, odataPrefix) {
			if s, ok := v.(string); ok {
				e[name] = s
			}
			continue
		}
		var edm string
		if a, ok := raw[name+typeAnnotation]; ok {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("parse table entity: property %s: type annotation is %T, want a string", name, a)
			}
			edm = s
		}
		val, err := decodeValue(v, edm)
		if err != nil {
			return nil, fmt.Errorf("parse table entity (PartitionKey %q, RowKey %q): property %s: %w",
				strOf(raw[propPartitionKey]), strOf(raw[propRowKey]), name, err)
		}
		e[name] = val
	}
	return e, nil
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

// decodeValue converts one JSON value of a parsed entity to its Go form.
func decodeValue(v any, edm string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch edm {
	case "":
		switch v := v.(type) {
		case string, bool:
			return v, nil
		case json.Number:
			// Only Edm.Int32 and Edm.Double may appear without an
			// annotation; a number without fraction or exponent is Int32.
			if i, err := strconv.ParseInt(v.String(), 10, 32); err == nil {
				return int32(i), nil
			}
			if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
				return i, nil
			}
			f, err := v.Float64()
			if err != nil {
				return nil, fmt.Errorf("number %s: %w", v, err)
			}
			return f, nil
		default:
			return nil, fmt.Errorf("unsupported JSON value of type %T (tables hold scalars only)", v)
		}
	case edmString, edmGUID:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case edmBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case edmInt32:
		if n, ok := v.(json.Number); ok {
			i, err := strconv.ParseInt(n.String(), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("Edm.Int32 value %s: %w", n, err)
			}
			return int32(i), nil
		}
	case edmInt64:
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case json.Number:
			text = v.String()
		default:
			return nil, fmt.Errorf("Edm.Int64 value is a JSON %T", v)
		}
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("Edm.Int64 value %q: %w", text, err)
		}
		return i, nil
	case edmDouble:
		switch v := v.(type) {
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return nil, fmt.Errorf("Edm.Double value %s: %w", v, err)
			}
			return f, nil
		case string:
			switch v {
			case "NaN":
				return math.NaN(), nil
			case "Infinity", "INF":
				return math.Inf(1), nil
			case "-Infinity", "-INF":
				return math.Inf(-1), nil
			}
			return nil, fmt.Errorf("Edm.Double value %q is not a number", v)
		}
	case edmDateTime:
		if s, ok := v.(string); ok {
			t, err := parseTime(s)
			if err != nil {
				return nil, fmt.Errorf("Edm.DateTime value: %w", err)
			}
			return t, nil
		}
	case edmBinary:
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("Edm.Binary value: %w", err)
			}
			return b, nil
		}
	default:
		return nil, fmt.Errorf("unknown EDM type %q", edm)
	}
	return nil, fmt.Errorf("%s value is a JSON %T", edm, v)
}

// parseTime reads a date-time in any RFC 3339 form (any number of
// fractional digits, any offset) and returns it in UTC. A value without an
// offset is taken as UTC, since that is how .NET writes a DateTime of
// unspecified kind (DateTime.MinValue in particular).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t.UTC(), nil
	}
	if t2, err2 := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err2 == nil {
		return t2, nil
	}
	return time.Time{}, fmt.Errorf("parse date-time %q: %w", s, err)
}

// Has reports whether the entity has a non-null property name.
func (e Entity) Has(name string) bool { return e[name] != nil }

// String returns a string property. A missing or null property yields ""
// because optional string columns are left out rather than written empty.
func (e Entity) String(name string) (string, error) {
	switch v := e[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("property %s: want a string, have %T", name, v)
	}
}

// Int returns an integer property (Edm.Int32 or Edm.Int64); a missing or
// null property yields 0.
func (e Entity) Int(name string) (int, error) {
	switch v := e[name].(type) {
	case nil:
		return 0, nil
	case int:
		return v, nil
	case int32:
		return int(v), nil
	case int64:
		return int(v), nil
	case json.Number:
		i, err := strconv.ParseInt(v.String(), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("property %s: %w", name, err)
		}
		return int(i), nil
	default:
		return 0, fmt.Errorf("property %s: want an integer, have %T", name, v)
	}
}

// Bool returns a boolean property; a missing or null property yields false.
func (e Entity) Bool(name string) (bool, error) {
	switch v := e[name].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	default:
		return false, fmt.Errorf("property %s: want a bool, have %T", name, v)
	}
}

// Time returns a date-time property in UTC; a missing or null property
// yields the zero time. A string value is parsed as RFC 3339, for entities
// built by hand rather than by ParseEntity.
func (e Entity) Time(name string) (time.Time, error) {
	switch v := e[name].(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case string:
		t, err := parseTime(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("property %s: %w", name, err)
		}
		return t, nil
	default:
		return time.Time{}, fmt.Errorf("property %s: want a date-time, have %T", name, v)
	}
}

// ETag returns the entity's "odata.etag" as the service reported it, or ""
// for an entity that was not read from the service. Pass it to UpdateEntity
// or a transaction action for optimistic concurrency.
func (e Entity) ETag() string { return e.str(propETag) }

// marshalJSON encodes v without HTML escaping (history.EncodeJSON): values
// are measured against size limits, which escaping would only inflate.
func marshalJSON(v any) ([]byte, error) { return history.EncodeJSON(v) }
