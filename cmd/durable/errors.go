package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/durable-go/durable/internal/client"
)

// Exit codes. Each failure a script may want to react to differently gets
// its own code: a missing instance is often fine, a wrong state may resolve
// itself, a storage error may go away on retry, bad arguments never will.
const (
	exitOK          = 0
	exitUnexpected  = 1
	exitBadArgs     = 2
	exitNotFound    = 3
	exitWrongState  = 4
	exitStorage     = 5
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

// cliError is a failure whose exit code is decided where it is raised,
// because the error itself (a file, a flag) carries no client sentinel.
type cliError struct {
	code int
	// usage adds a pointer to --help: the command line itself is wrong.
	usage bool
	err   error
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageErrorf reports a wrong command line: a missing, unknown or
// malformed flag.
func usageErrorf(format string, args ...any) error {
	return &cliError{code: exitBadArgs, usage: true, err: fmt.Errorf(format, args...)}
}

// badArgs reports an argument that parsed but cannot be used, such as a
// file that does not exist.
func badArgs(err error) error {
	return &cliError{code: exitBadArgs, err: err}
}

// configError reports settings that cannot be resolved: local.settings.json,
// host.json or the connection setting. It is exit 2 like a bad argument
// because retrying cannot fix it, unlike a storage error.
func configError(err error) error {
	return &cliError{code: exitBadArgs, err: fmt.Errorf("configuration: %w", err)}
}

// internalError reports a failure of the tool itself, such as rendering
// output.
func internalError(err error) error {
	return &cliError{code: exitUnexpected, err: err}
}

// notFound reports a missing instance or task hub found by the tool itself.
func notFound(err error) error {
	return &cliError{code: exitNotFound, err: err}
}

// exitCode maps an error to the process exit code. What the client does not
// classify (ErrNotFound, ErrWrongState, ErrBadArgument) failed while talking
// to storage.
func exitCode(ctx context.Context, err error) int {
	var ce *cliError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case ctx.Err() != nil:
		// Whatever failed, it failed because the user interrupted it.
		return exitInterrupted
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	case errors.Is(err, client.ErrWrongState):
		return exitWrongState
	case errors.Is(err, client.ErrBadArgument):
		return exitBadArgs
	}
	return exitStorage
}

// isUsage reports whether the error is about the command line, so that the
// message points at --help.
func isUsage(err error) bool {
	var ce *cliError
	return errors.As(err, &ce) && ce.usage
}
