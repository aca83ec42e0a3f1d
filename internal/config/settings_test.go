package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustGet(t *testing.T, s *Settings, name, want string) {
	t.Helper()
	got, ok := s.Get(name)
	if !ok {
		t.Errorf("Get(%q): not set, want %q", name, want)
		return
	}
	if got != want {
		t.Errorf("Get(%q) = %q, want %q", name, got, want)
	}
}

func mustNotGet(t *testing.T, s *Settings, name string) {
	t.Helper()
	if v, ok := s.Get(name); ok {
		t.Errorf("Get(%q) = %q, want not set", name, v)
	}
}

func TestLoadSettingsFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, LocalSettingsFile, `{
		"IsEncrypted": false,
		"Values": {
			"FUNCTIONS_WORKER_RUNTIME": "custom",
			"AzureWebJobsStorage": "UseDevelopmentStorage=true",
			"CONFIG_TEST_OVERRIDDEN": "from-file",
			"CONFIG_TEST_NUMBER": 42,
			"CONFIG_TEST_FLOAT": 1.50,
			"CONFIG_TEST_BOOL": true,
			"CONFIG_TEST_NULL": null,
			"CONFIG_TEST_EMPTY": ""
		}
	}`)
	t.Setenv("CONFIG_TEST_OVERRIDDEN", "from-env")
	t.Setenv("CONFIG_TEST_ENV_ONLY", "env")

	s, err := LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "FUNCTIONS_WORKER_RUNTIME", "custom")
	mustGet(t, s, "AzureWebJobsStorage", "UseDevelopmentStorage=true")
	mustGet(t, s, "CONFIG_TEST_OVERRIDDEN", "from-env")
	mustGet(t, s, "CONFIG_TEST_ENV_ONLY", "env")
	mustGet(t, s, "CONFIG_TEST_NUMBER", "42")
	mustGet(t, s, "CONFIG_TEST_FLOAT", "1.50")
	mustGet(t, s, "CONFIG_TEST_BOOL", "true")
	mustGet(t, s, "CONFIG_TEST_EMPTY", "")
	mustNotGet(t, s, "CONFIG_TEST_NULL")
	mustNotGet(t, s, "CONFIG_TEST_NOT_THERE")
}

func TestLoadSettingsEnvCapturedAtLoad(t *testing.T) {
	t.Setenv("CONFIG_TEST_LATE", "before")
	s, err := LoadSettings(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_TEST_LATE", "after")
	mustGet(t, s, "CONFIG_TEST_LATE", "before")
}

func TestLoadSettingsMissingFile(t *testing.T) {
	t.Setenv("CONFIG_TEST_ONLY_ENV", "x")
	s, err := LoadSettings(t.TempDir())
	if err != nil {
		t.Fatalf("missing local.settings.json: %v", err)
	}
	mustGet(t, s, "CONFIG_TEST_ONLY_ENV", "x")
}

func TestLoadSettingsCommentsAndBOM(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, LocalSettingsFile, "\uFEFF{\n // local only\n \"Values\": { \"A\": \"http://x/*y*/\", /* note */ \"B\": \"2\", },\n}")
	s, err := LoadSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "A", "http://x/*y*/")
	mustGet(t, s, "B", "2")
}

func TestLoadSettingsErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"malformed", "{\n  \"Values\": {\n    \"A\": \"x\"\n    \"B\": \"y\"\n  }\n}", []string{LocalSettingsFile, "invalid JSON at line 4"}},
		{"truncated", `{"Values": {"A": "x"`, []string{LocalSettingsFile, "invalid JSON"}},
		{"not object", `[1,2]`, []string{LocalSettingsFile, "top-level value is an array"}},
		{"values not object", `{"Values": "x"}`, []string{`Values is "x", not an object`}},
		{"nested value", `{"Values": {"A": {"b": 1}}}`, []string{"Values.A is an object"}},
		{"encrypted", `{"IsEncrypted": true, "Values": {"A": "x"}}`, []string{"IsEncrypted is true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, LocalSettingsFile, tt.content)
			_, err := LoadSettings(dir)
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadSettingsUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be cannot be read; that is not the
	// same as a missing file and must be reported.
	if err := os.Mkdir(filepath.Join(dir, LocalSettingsFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSettings(dir); err == nil || !strings.Contains(err.Error(), LocalSettingsFile) {
		t.Fatalf("err = %v, want an error naming %s", err, LocalSettingsFile)
	}
}

func TestSettingsSeparatorsAndCase(t *testing.T) {
	s := NewSettings(map[string]string{
		"Conn__accountName":  "acct",
		"Other:blobEndpoint": "https://b",
		"MixedCase":          "m",
		"mixedcase":          "lower",
	}, false)
	mustGet(t, s, "Conn__accountName", "acct")
	mustGet(t, s, "Conn:accountName", "acct")
	mustGet(t, s, "conn__ACCOUNTNAME", "acct")
	mustGet(t, s, "Other__blobEndpoint", "https://b")
	mustGet(t, s, "Other:blobEndpoint", "https://b")
	// Exact matches win over case-insensitive ones.
	mustGet(t, s, "MixedCase", "m")
	mustGet(t, s, "mixedcase", "lower")
	mustGet(t, s, "MIXEDCASE", "m")
	mustNotGet(t, s, "")
}

func TestSettingsEnvWinsEvenWithOtherSeparator(t *testing.T) {
	t.Setenv("CONFIG_TEST_CONN__accountName", "envacct")
	s := NewSettings(map[string]string{"CONFIG_TEST_CONN:accountName": "fileacct"}, true)
	mustGet(t, s, "CONFIG_TEST_CONN:accountName", "envacct")
	mustGet(t, s, "config_test_conn__accountname", "envacct")

	noEnv := NewSettings(map[string]string{"CONFIG_TEST_CONN:accountName": "fileacct"}, false)
	mustGet(t, noEnv, "CONFIG_TEST_CONN__accountName", "fileacct")
}

func TestSettingsCopiesInput(t *testing.T) {
	m := map[string]string{"A": "1"}
	s := NewSettings(m, false)
	m["A"] = "2"
	mustGet(t, s, "A", "1")
}

func TestNilSettings(t *testing.T) {
	var s *Settings
	mustNotGet(t, s, "anything")
}
