package task

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/history"
)

// FailureDetails mirrors the engine's type field for field, with the same
// JSON names, so that copying between them loses nothing.
func TestFailureDetailsMirrorsTheEngine(t *testing.T) {
	pub, eng := reflect.TypeFor[FailureDetails](), reflect.TypeFor[history.FailureDetails]()
	if pub.NumField() != eng.NumField() {
		t.Fatalf("task.FailureDetails has %d fields, the engine's %d", pub.NumField(), eng.NumField())
	}
	for i := range pub.NumField() {
		p, e := pub.Field(i), eng.Field(i)
		if p.Name != e.Name || p.Tag != e.Tag || (p.Type != e.Type && p.Name != "InnerFailure") {
			t.Errorf("field %d: %s %s %q, engine's %s %s %q", i, p.Name, p.Type, p.Tag, e.Name, e.Type, e.Tag)
		}
	}
	in := &history.FailureDetails{ErrorType: "A", ErrorMessage: "a", StackTrace: "s", IsNonRetriable: true,
		Properties: map[string]any{"k": "v"}, InnerFailure: &history.FailureDetails{ErrorType: "B", ErrorMessage: "b"}}
	if back := engineFailure(publicFailure(in)); !reflect.DeepEqual(back, in) {
		t.Errorf("round trip: %+v", back)
	}
	if publicFailure(in).String() != in.String() {
		t.Errorf("String: %q, engine's %q", publicFailure(in).String(), in.String())
	}
}

// An orchestrator that returns the public TaskFailedError, as it is or
// wrapped, fails with the same failure details as with the engine's own
// error: same type name and message, the task's failure as the inner one.
func TestTaskFailedErrorFailsLikeTheEngines(t *testing.T) {
	details := &history.FailureDetails{ErrorType: "DatabaseError", ErrorMessage: "down", StackTrace: "at X"}
	eng := &durable.TaskFailedError{Kind: "activity", Name: "Save", TaskID: 4, Details: details}
	pub := newTaskFailedError(eng)
	if pub.Error() != eng.Error() || pub.ErrorType() != eng.ErrorType() {
		t.Fatalf("public %q/%q, engine %q/%q", pub.Error(), pub.ErrorType(), eng.Error(), eng.ErrorType())
	}
	for _, wrap := range []func(error) error{
		func(err error) error { return err },
		func(err error) error { return fmt.Errorf("save the order: %w", err) },
	} {
		want := durable.FailureFromError(wrap(eng), "")
		got := durable.FailureFromError(wrap(pub), "")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("failure details\n got %+v (inner %+v)\nwant %+v (inner %+v)", got, got.InnerFailure, want, want.InnerFailure)
		}
	}
	var target *TaskFailedError
	if !errors.As(fmt.Errorf("x: %w", pub), &target) || target.Details.ErrorType != "DatabaseError" {
		t.Errorf("errors.As does not find the public error")
	}
	nd := &NonDeterminismError{Message: "m"}
	end := &durable.NonDeterminismError{Message: "m"}
	if nd.Error() != end.Error() || nd.ErrorType() != end.ErrorType() {
		t.Errorf("NonDeterminismError %q/%q, engine's %q/%q", nd.Error(), nd.ErrorType(), end.Error(), end.ErrorType())
	}
	if !errors.Is(fmt.Errorf("wait: %w", durable.ErrTimedOut), ErrTimedOut) {
		t.Errorf("ErrTimedOut is not the engine's")
	}
}
