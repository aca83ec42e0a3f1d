package azurite

import (
	"os/exec"
	"syscall"
)

// ownGroup puts Azurite in a process group of its own, so that a Ctrl-C in
// the terminal does not stop storage before the app has released its
// leases, and has the kernel kill it if the process that started it dies
// without stopping it (SIGKILL, a crash), so that no orphan holds the ports.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
