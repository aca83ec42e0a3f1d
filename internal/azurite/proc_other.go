//go:build !linux

package azurite

import "os/exec"

// ownGroup does nothing here: process groups and parent-death signals are
// Linux's; elsewhere Azurite gets the terminal's Ctrl-C too, and stopping it
// again is harmless.
func ownGroup(*exec.Cmd) {}
