package main

import (
	"strings"
	"testing"
)

func TestDevArguments(t *testing.T) {
	if out, _, code := runCLI(t, "dev", "--help"); code != exitOK || !strings.Contains(out, "Azurite") || !strings.Contains(out, "Ctrl-C") {
		t.Errorf("dev --help: exit %d\n%s", code, out)
	}
	if out, _, _ := runCLI(t, "--help"); !strings.Contains(out, "  dev ") {
		t.Errorf("the main help does not list dev:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "--port", "70000"}, "not a port"},
		{[]string{"dev", "a", "b"}, `unexpected argument "b"`},
		{[]string{"dev", "--bogus"}, "bogus"},
		// Run outside an app, it says what an app folder is and how to get one.
		{[]string{"dev", t.TempDir()}, "durable init"},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code != exitBadArgs || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %q", c.args, code, errOut, c.want)
		}
	}
	f, err := parseDevFlags([]string{"--port", "0", "myapp"})
	if err != nil || f.dir != "myapp" || f.port != 0 {
		t.Errorf("flags before the folder: %+v %v", f, err)
	}
}

// durable init's next steps work without Core Tools and still name
// func start for those who have it.
func TestInitNextSteps(t *testing.T) {
	var b strings.Builder
	printNextSteps(&b, "myapp")
	for _, want := range []string{"cd myapp", "durable dev", "orchestrators/Hello/wait", "go build -o handler . && func start", "azurite"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("next steps lack %q:\n%s", want, b.String())
		}
	}
}
