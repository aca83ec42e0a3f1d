package devhost

import (
	"os/exec"
	"syscall"
)

// dieWithHost makes the kernel send the handler SIGTERM if the dev host dies without
// stopping it (SIGKILL, a crash, a test binary killed at its timeout), so that no orphaned
// handler keeps its port and its queue leases.
func dieWithHost(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
