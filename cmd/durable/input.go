package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// readJSONArg returns the JSON text given to a flag such as --input or
// --event-data: the value itself, or the contents of the file it names after
// "@" (as Core Tools: --input @path/to/file.json). An empty value means no
// data and returns nil. The text is compacted, because it is stored as is
// and indentation would only cost storage.
//
// Anything that is not valid JSON is rejected rather than sent as a string:
// a typo would otherwise reach the orchestration as a different value.
func readJSONArg(flagName, value string) (json.RawMessage, error) {
	if value == "" {
		return nil, nil
	}
	data := []byte(value)
	what := "the value"
	if path, ok := strings.CutPrefix(value, "@"); ok {
		if path == "" {
			return nil, badArgs(fmt.Errorf("--%s: \"@\" must be followed by a file path, e.g. @input.json", flagName))
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, badArgs(fmt.Errorf("--%s: cannot read %s: %w", flagName, path, err))
		}
		// Editors on Windows like to start UTF-8 files with a byte-order
		// mark, which is not JSON.
		data = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		what = path
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, badArgs(fmt.Errorf("--%s: %s is empty; write null in it for no data", flagName, path))
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, badArgs(fmt.Errorf("--%s: %s is not valid JSON: %s%s", flagName, what, jsonErrorText(err), quoteHint(flagName, value)))
	}
	return buf.Bytes(), nil
}

// jsonErrorText adds the byte offset to a syntax error, which encoding/json
// leaves out of the message.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", err, se.Offset)
	}
	return err.Error()
}

// quoteHint suggests JSON quoting for an inline value that looks like a bare
// word, the most common mistake: --input Tokyo instead of --input '"Tokyo"'.
func quoteHint(flagName, value string) string {
	if strings.HasPrefix(value, "@") || strings.ContainsAny(value, `{}[]"`) {
		return ""
	}
	q, _ := json.Marshal(value)
	return fmt.Sprintf("; a string must be JSON-quoted: --%s '%s'", flagName, q)
}
