package testutil

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoBuild compiles the Go package pkg (an import path, or a path relative to the test's
// working directory, which `go test` sets to the package's directory) into the binary out.
// The error carries the compiler's output. It is for tests that need the result without a
// testing.TB, such as a build shared by a whole test binary; others use [BuildBinary].
func GoBuild(pkg, out string) error {
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// BuildBinary compiles pkg (see [GoBuild]) into a binary called name in a temporary
// directory of tb, removed when the test ends, and returns the binary's path. It fails tb
// when the build fails. The build cache makes builds after the first cheap, so tests may
// call it freely.
func BuildBinary(tb testing.TB, pkg, name string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), name)
	if err := GoBuild(pkg, out); err != nil {
		tb.Fatal(err)
	}
	return out
}
