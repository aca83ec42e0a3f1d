package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// decodeRelaxedJSON decodes a JSON document into maps, slices, strings,
// json.Number, bools and nils. The Functions host and Core Tools parse
// host.json and local.settings.json with Newtonsoft.Json, which tolerates
// comments and trailing commas; hand-edited files rely on that, so they are
// blanked out here before the strict standard-library decoder sees the data.
// Blanking (rather than deleting) keeps byte offsets, and so the line and
// column in error messages, true to the original file.
func decodeRelaxedJSON(data []byte) (any, error) {
	clean := relaxJSON(data)
	// Unmarshal into RawMessage only validates, but unlike a Decoder it
	// reports truncated input and trailing garbage as a SyntaxError with an
	// offset, which lets the error point at a line.
	if err := json.Unmarshal(clean, new(json.RawMessage)); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineCol(clean, syn.Offset)
			return nil, fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(clean))
	// Numbers stay as text so that integers are not rounded through float64
	// and so that they can be turned into setting strings verbatim.
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}

// relaxJSON returns a copy of data with a UTF-8 byte order mark, // and /* */
// comments, and commas directly before a closing bracket replaced by spaces.
func relaxJSON(data []byte) []byte {
	out := bytes.Clone(data)
	if bytes.HasPrefix(out, []byte("\xEF\xBB\xBF")) {
		copy(out, "   ")
	}
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			// Newlines survive so line numbers in errors stay right.
			if out[i] != '\n' && out[i] != '\r' {
				out[i] = ' '
			}
		}
	}

	// Pass 1: comments. Strings must be tracked so that "http://x" is not
	// mistaken for the start of a comment.
	inString := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			end := bytes.IndexByte(out[i:], '\n')
			if end < 0 {
				end = len(out) - i
			}
			blank(i, i+end)
			i += end
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			end := bytes.Index(out[i+2:], []byte("*/"))
			if end < 0 {
				// Leave an unterminated comment alone: the decoder will
				// then report a syntax error at its position.
				continue
			}
			blank(i, i+2+end+2)
			i += 2 + end + 1
		}
	}

	// Pass 2: trailing commas, now that comments between a comma and the
	// closing bracket have become whitespace.
	inString = false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',':
			j := i + 1
			for j < len(out) && isJSONSpace(out[j]) {
				j++
			}
			if j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
			}
		}
	}
	return out
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	prefix := data[:offset]
	line = bytes.Count(prefix, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(prefix, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// lookupKey finds key in obj the way .NET configuration does: ignoring case.
// Two keys differing only in case are an error: the Functions host keeps
// whichever comes last in the file, an order a Go map does not preserve, and
// such a file is a mistake anyway.
func lookupKey(obj map[string]any, key string) (any, bool, error) {
	var found []string
	for k := range obj {
		if strings.EqualFold(k, key) {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return nil, false, nil
	case 1:
		return obj[found[0]], true, nil
	default:
		sort.Strings(found)
		return nil, false, fmt.Errorf("the object has several keys that differ only in case: %q", found)
	}
}

// describeJSON renders a decoded JSON value for an error message the way it
// appeared in the file, so the user can search for it.
func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%v", x)
	}
}
