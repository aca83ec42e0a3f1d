package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LocalSettingsFile is the name of the file, in the app root, that holds app
// settings during local development (Azure Functions Core Tools reads the same
// file).
const LocalSettingsFile = "local.settings.json"

// Settings answers app-setting lookups. The process environment, when
// included, takes precedence over values from a file or map, because that is
// how App Service delivers the settings configured on the function app and
// how an operator overrides a checked-in local.settings.json.
//
// Names are compared the way .NET configuration compares them: ignoring case
// (an exact match is preferred), and treating ":" and "__" as the same section
// separator. App Service passes a setting named "AzureWebJobsStorage__accountName"
// as an environment variable of that name, while a .NET developer would write
// "AzureWebJobsStorage:accountName"; both spellings find it.
//
// A Settings is immutable once built and safe for concurrent use. A nil
// *Settings behaves as if no setting were set.
type Settings struct {
	env  settingSource // consulted first; empty unless the environment is used
	file settingSource
}

// settingSource indexes one source of settings by normalized name.
type settingSource struct {
	exact  map[string]string // normalized name -> value
	folded map[string]string // lower-cased normalized name -> value
}

func newSettingSource(values map[string]string) settingSource {
	src := settingSource{
		exact:  make(map[string]string, len(values)),
		folded: make(map[string]string, len(values)),
	}
	// Sorting makes the winner deterministic when two names differ only in
	// case (possible in a Linux environment): the first in byte order wins.
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := normalizeSettingName(name)
		if _, dup := src.exact[n]; !dup {
			src.exact[n] = values[name]
		}
		f := strings.ToLower(n)
		if _, dup := src.folded[f]; !dup {
			src.folded[f] = values[name]
		}
	}
	return src
}

func (src settingSource) get(normalized string) (string, bool) {
	if v, ok := src.exact[normalized]; ok {
		return v, true
	}
	v, ok := src.folded[strings.ToLower(normalized)]
	return v, ok
}

// normalizeSettingName maps the .NET section separator ":" to the "__" form
// that environment variables must use, so both spellings index the same entry.
func normalizeSettingName(name string) string {
	return strings.ReplaceAll(name, ":", "__")
}

// NewSettings returns Settings holding a copy of values. When useEnv is true
// the process environment is captured now and takes precedence over values;
// capturing it once keeps lookups consistent even if the environment changes
// later.
func NewSettings(values map[string]string, useEnv bool) *Settings {
	s := &Settings{file: newSettingSource(values)}
	if useEnv {
		s.env = newSettingSource(environMap())
	} else {
		s.env = newSettingSource(nil)
	}
	return s
}

func environMap() map[string]string {
	env := os.Environ()
	m := make(map[string]string, len(env))
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		// Windows keeps per-drive working directories in variables whose
		// names start with "=", which are not settings.
		if !ok || name == "" {
			continue
		}
		m[name] = value
	}
	return m
}

// Get returns the value of the named setting and whether it is set. A setting
// set to the empty string is reported as set.
func (s *Settings) Get(name string) (string, bool) {
	if s == nil || name == "" {
		return "", false
	}
	n := normalizeSettingName(name)
	if v, ok := s.env.get(n); ok {
		return v, true
	}
	return s.file.get(n)
}

// All returns every setting, the environment's (when used) over the file's.
func (s *Settings) All() map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	for k, v := range s.file.exact {
		out[k] = v
	}
	for k, v := range s.env.exact {
		out[k] = v
	}
	return out
}

// LoadSettings returns the settings of the app in appRoot: the "Values" of
// appRoot/local.settings.json, if that file exists, overridden by the process
// environment. A missing file is not an error because deployed apps have
// none; their settings arrive as environment variables.
//
// Values in the file may be strings, numbers or booleans; numbers keep their
// literal text and booleans become "true" or "false". null values are
// skipped. Comments and trailing commas are tolerated, as Core Tools does.
func LoadSettings(appRoot string) (*Settings, error) {
	path := filepath.Join(appRoot, LocalSettingsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewSettings(nil, true), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read app settings: %w", err)
	}
	values, err := parseLocalSettings(data)
	if err != nil {
		return nil, fmt.Errorf("read app settings %s: %w", path, err)
	}
	return NewSettings(values, true), nil
}

// parseLocalSettings extracts the "Values" object of a local.settings.json
// document as strings.
func parseLocalSettings(data []byte) (map[string]string, error) {
	root, err := decodeRelaxedJSON(data)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the top-level value is %s, not an object", describeJSON(root))
	}
	if enc, ok, err := lookupKey(obj, "IsEncrypted"); err != nil {
		return nil, fmt.Errorf("IsEncrypted: %w", err)
	} else if ok && isTrue(enc) {
		// Core Tools encrypts with a machine-local key (DPAPI); there is no
		// portable way to decrypt, so say so rather than use ciphertext.
		return nil, errors.New("IsEncrypted is true; encrypted settings are not supported (run `func settings decrypt`)")
	}
	raw, ok, err := lookupKey(obj, "Values")
	if err != nil {
		return nil, fmt.Errorf("Values: %w", err)
	}
	if !ok || raw == nil {
		return map[string]string{}, nil
	}
	vals, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Values is %s, not an object", describeJSON(raw))
	}
	out := make(map[string]string, len(vals))
	for name, v := range vals {
		switch x := v.(type) {
		case nil:
			continue
		case string:
			out[name] = x
		case json.Number:
			out[name] = x.String()
		case bool:
			out[name] = describeJSON(x)
		default:
			return nil, fmt.Errorf("Values.%s is %s; setting values must be strings, numbers or booleans", name, describeJSON(v))
		}
	}
	return out, nil
}

func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(strings.TrimSpace(x), "true")
	}
	return false
}
