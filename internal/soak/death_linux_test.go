package soak

import (
	"os/exec"
	"syscall"
)

// dieWithTests makes the kernel kill a handler when the test binary dies without stopping it
// (a test timeout, Ctrl-C), so that no orphaned handler goes on polling the hub.
func dieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
