package layout

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateHubName(t *testing.T) {
	good := []string{"abc", "MyHub", "Hub2", "a" + strings.Repeat("1", 44), "DurableFunctionsHub"}
	for _, h := range good {
		if err := ValidateHubName(h); err != nil {
			t.Errorf("ValidateHubName(%q) = %v, want nil", h, err)
		}
	}
	bad := map[string]string{
		"":                            "3 to 45",
		"ab":                          "3 to 45",
		"a" + strings.Repeat("b", 45): "3 to 45",
		"1hub":                        "start with a letter",
		"my-hub":                      "only letters and digits",
		"my_hub":                      "only letters and digits",
		"hüb":                         "only letters and digits",
		"hub ":                        "only letters and digits",
	}
	for h, want := range bad {
		err := ValidateHubName(h)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateHubName(%q) = %v, want error mentioning %q", h, err, want)
		}
	}
}

func TestNames(t *testing.T) {
	cases := []struct{ got, want string }{
		{InstancesTable("MyHub"), "MyHubInstances"},
		{HistoryTable("MyHub"), "MyHubHistory"},
		{PartitionsTable("MyHub"), "MyHubPartitions"},
		{ControlQueue("MyHub", 0), "myhub-control-00"},
		{ControlQueue("MyHub", 3), "myhub-control-03"},
		{ControlQueue("MyHub", 15), "myhub-control-15"},
		{WorkItemQueue("MyHub"), "myhub-workitems"},
		{PoisonQueue("MyHub"), "myhub-poison"},
		{LargeMessagesContainer("MyHub"), "myhub-largemessages"},
		{LeasesContainer("MyHub"), "myhub-leases"},
		{BlobPrefix("a^b"), "a^^b/"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestValidateInstanceID(t *testing.T) {
	good := []string{"a", "34ce9a28a6834d8492ce6a295f1a80e2", "order:42", "a@b", "ünïcødé", "^caret",
		strings.Repeat("x", 256), strings.Repeat("é", 256)}
	for _, id := range good {
		if err := ValidateInstanceID(id); err != nil {
			t.Errorf("ValidateInstanceID(%q) = %v, want nil", id, err)
		}
	}
	bad := map[string]string{
		"":                       "must not be empty",
		strings.Repeat("x", 257): "at most 256",
		strings.Repeat("😀", 129): "at most 256", // 258 UTF-16 units
		"@entity":                "must not start with '@'",
		"a/b":                    `'/'`,
		`a\b`:                    `'\\'`,
		"a?b":                    `'?'`,
		"a#b":                    `'#'`,
		"a\tb":                   "control character U+0009",
		"a\x7fb":                 "control character U+007F",
		"a\u0085b":               "control character U+0085",
		"a\xffb":                 "valid UTF-8",
	}
	for id, want := range bad {
		err := ValidateInstanceID(id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateInstanceID(%q) = %v, want error mentioning %q", id, err, want)
		}
	}
}

func TestNewInstanceID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewInstanceID()
		if !re.MatchString(id) {
			t.Fatalf("NewInstanceID() = %q, want 32 lower-case hex digits", id)
		}
		if id[12] != '4' {
			t.Errorf("NewInstanceID() = %q, want a version 4 GUID", id)
		}
		if err := ValidateInstanceID(id); err != nil {
			t.Errorf("NewInstanceID() = %q is not a valid instance ID: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewInstanceID() repeated %q", id)
		}
		seen[id] = true
	}
	if g := newGUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(g) {
		t.Errorf("newGUID() = %q", g)
	}
}

func TestFNV1a32(t *testing.T) {
	cases := []struct {
		in   string
		want uint32
	}{
		{"", 0x811c9dc5},
		{"a", 0xe40c292c},
		{"foobar", 0xbf9cf968},
	}
	for _, c := range cases {
		if got := FNV1a32([]byte(c.in)); got != c.want {
			t.Errorf("FNV1a32(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestPartitionIndex(t *testing.T) {
	if got := PartitionIndex("34ce9a28a6834d8492ce6a295f1a80e2", 4); got != 1 {
		t.Errorf("PartitionIndex(vector, 4) = %d, want 1", got)
	}
	if got := ControlQueue("hub", PartitionIndex("34ce9a28a6834d8492ce6a295f1a80e2", 4)); got != "hub-control-01" {
		t.Errorf("control queue = %q", got)
	}
	// The hash is taken over UTF-8 bytes of the whole ID.
	id := "ünïcødé"
	if got, want := PartitionIndex(id, 16), int(FNV1a32([]byte(id))%16); got != want {
		t.Errorf("PartitionIndex(%q, 16) = %d, want %d", id, got, want)
	}
	for range 50 {
		id := NewInstanceID()
		for n := 1; n <= 16; n++ {
			if p := PartitionIndex(id, n); p < 0 || p >= n {
				t.Fatalf("PartitionIndex(%q, %d) = %d out of range", id, n, p)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("PartitionIndex(id, 0) did not panic")
		}
	}()
	PartitionIndex("x", 0)
}

func TestEscapePartitionKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain-id_42", "plain-id_42"},
		{"^", "^^"},
		{"a/b", "a^0b"},
		{`a\b`, "a^1b"},
		{"a#b", "a^2b"},
		{"a?b", "a^3b"},
		{"^0", "^^0"},
		{"\x00", "^\u00C0"},
		{"\x1f", "^\u00DF"},
		{"\x7f", "^\u013F"},
		{"\u0080", "^\u0140"},
		{"\u009f", "^\u015F"},
		{"\u00a0é😀", "\u00a0é😀"},
		{"x/\\#?^\ty", "x^0^1^2^3^^^\u00C9y"},
	}
	for _, c := range cases {
		got := EscapePartitionKey(c.in)
		if got != c.want {
			t.Errorf("EscapePartitionKey(%q) = %q, want %q", c.in, got, c.want)
		}
		back, err := UnescapePartitionKey(got)
		if err != nil || back != c.in {
			t.Errorf("UnescapePartitionKey(%q) = %q, %v, want %q", got, back, err, c.in)
		}
	}
}

func TestUnescapePartitionKeyErrors(t *testing.T) {
	bad := map[string]string{
		"abc^":        "dangling",
		"a^4":         "unknown escape",
		"a^x":         "unknown escape",
		"a^\u00BF":    "unknown escape", // just below the control range
		"a^\u00E0":    "unknown escape", // just above U+001F + 0xC0
		"a^\u013E":    "unknown escape",
		"a^\u0160":    "unknown escape",
		"a/b":         "unescaped",
		"a^0/":        "unescaped",
		"tab\there":   "unescaped",
		"q?":          "unescaped",
		"x^^\u0085":   "unescaped",
		"dangling^^^": "dangling",
		"^\xff":       "unknown escape",
	}
	for key, want := range bad {
		_, err := UnescapePartitionKey(key)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("UnescapePartitionKey(%q) error = %v, want mention of %q", key, err, want)
		}
	}
}

// FuzzEscape checks that escaping is reversible for any string, that its
// output never holds a character the Table service rejects in keys, and
// that every key Unescape accepts is one Escape produces.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "^", "^^0", "a/b\\c#d?e", "\x00\x1f\x7f\u0080\u009f", "é😀", "\xff\xfe", "^\u00C0", "x^3y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		esc := EscapePartitionKey(s)
		back, err := UnescapePartitionKey(esc)
		if err != nil || back != s {
			t.Fatalf("Unescape(Escape(%q)) = %q, %v", s, back, err)
		}
		for _, r := range esc {
			if r == '/' || r == '\\' || r == '#' || r == '?' || isControl(r) {
				t.Fatalf("Escape(%q) = %q contains %q", s, esc, r)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(esc) {
			t.Fatalf("Escape(%q) = %q is not valid UTF-8", s, esc)
		}
		if un, err := UnescapePartitionKey(s); err == nil {
			if again := EscapePartitionKey(un); again != s {
				t.Fatalf("Escape(Unescape(%q)) = %q", s, again)
			}
		}
	})
}

func TestRowKey(t *testing.T) {
	cases := []struct {
		seq  int
		want string
	}{
		{0, "0000000000000000"},
		{10, "000000000000000A"},
		{255, "00000000000000FF"},
		{1 << 40, "0000010000000000"},
		{1<<63 - 1, "7FFFFFFFFFFFFFFF"},
	}
	for _, c := range cases {
		if got := RowKey(c.seq); got != c.want {
			t.Errorf("RowKey(%d) = %q, want %q", c.seq, got, c.want)
		}
		if got, err := ParseRowKey(c.want); err != nil || got != c.seq {
			t.Errorf("ParseRowKey(%q) = %d, %v, want %d", c.want, got, err, c.seq)
		}
	}
	if got, err := ParseRowKey("000000000000000a"); err != nil || got != 10 {
		t.Errorf("ParseRowKey lower case = %d, %v", got, err)
	}
	// Lexical order is numeric order.
	if !(RowKey(9) < RowKey(10) && RowKey(15) < RowKey(16) && RowKey(255) < RowKey(4096)) {
		t.Error("row keys do not sort numerically")
	}
	for _, bad := range []string{"", "sentinel", "A", "000000000000000G", "+000000000000000", "8000000000000000", "00000000000000000", "0x00000000000000"} {
		if _, err := ParseRowKey(bad); err == nil {
			t.Errorf("ParseRowKey(%q) succeeded", bad)
		} else if !strings.Contains(err.Error(), "row key") {
			t.Errorf("ParseRowKey(%q) error %q does not name the row key", bad, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("RowKey(-1) did not panic")
		}
	}()
	RowKey(-1)
}
