package client

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/durable-go/durable/internal/apijson"
	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// The client's option and result types mirror the internal client's field
// for field (its unexported fields aside), so that go doc shows them and
// the conversions lose nothing. A field added inside must be added here.
func TestTypesMirrorTheInternalClient(t *testing.T) {
	pairs := []struct{ public, internal reflect.Type }{
		{reflect.TypeFor[StartOptions](), reflect.TypeFor[iclient.StartOptions]()},
		{reflect.TypeFor[StatusOptions](), reflect.TypeFor[iclient.StatusOptions]()},
		{reflect.TypeFor[Status](), reflect.TypeFor[iclient.Status]()},
		{reflect.TypeFor[Query](), reflect.TypeFor[iclient.Query]()},
		{reflect.TypeFor[Page](), reflect.TypeFor[iclient.Page]()},
		{reflect.TypeFor[PurgeQuery](), reflect.TypeFor[iclient.PurgeQuery]()},
		{reflect.TypeFor[TerminateOptions](), reflect.TypeFor[iclient.TerminateOptions]()},
		{reflect.TypeFor[PurgeOptions](), reflect.TypeFor[iclient.PurgeOptions]()},
		{reflect.TypeFor[BatchRequest](), reflect.TypeFor[iclient.BatchRequest]()},
		{reflect.TypeFor[BatchProgress](), reflect.TypeFor[iclient.BatchProgress]()},
		{reflect.TypeFor[BatchSummary](), reflect.TypeFor[iclient.BatchSummary]()},
		{reflect.TypeFor[BatchError](), reflect.TypeFor[iclient.BatchError]()},
		{reflect.TypeFor[HTTPManagementPayload](), reflect.TypeFor[apijson.ManagementPayload]()},
	}
	for _, p := range pairs {
		var in []reflect.StructField
		for i := range p.internal.NumField() {
			if f := p.internal.Field(i); f.IsExported() {
				in = append(in, f)
			}
		}
		if p.public.NumField() != len(in) {
			t.Errorf("client.%s has %d fields, the internal one %d exported", p.public.Name(), p.public.NumField(), len(in))
			continue
		}
		for i, f := range in {
			pf := p.public.Field(i)
			if pf.Name != f.Name || pf.Tag != f.Tag || pf.Type.Kind() != f.Type.Kind() {
				t.Errorf("client.%s field %d: %s %s %q, internal %s %s %q", p.public.Name(), i, pf.Name, pf.Type, pf.Tag, f.Name, f.Type, f.Tag)
			}
		}
	}
	statuses := []RuntimeStatus{StatusPending, StatusRunning, StatusCompleted, StatusContinuedAsNew, StatusFailed,
		StatusCanceled, StatusTerminated, StatusSuspended}
	if !reflect.DeepEqual(statuses, history.AllStatuses()) {
		t.Errorf("statuses %v, the engine's %v", statuses, history.AllStatuses())
	}
	for _, op := range iclient.BatchOperations {
		if got := BatchOperation(op); got != BatchTerminate && got != BatchSuspend && got != BatchResume && got != BatchRewind &&
			got != BatchRestart && got != BatchRaiseEvent && got != BatchPurge {
			t.Errorf("bulk operation %q has no constant here", op)
		}
	}
}

// The internal client's typed errors reach callers as this package's, with
// the same text, whether returned as they are or wrapped, and remain
// ErrWrongState.
func TestPublicErrors(t *testing.T) {
	for _, p := range []struct{ public, internal reflect.Type }{
		{reflect.TypeFor[StateError](), reflect.TypeFor[iclient.StateError]()},
		{reflect.TypeFor[PurgeIncompleteError](), reflect.TypeFor[iclient.PurgeIncompleteError]()},
	} {
		if p.public.NumField() != p.internal.NumField() {
			t.Errorf("%s has %d fields, the internal one %d", p.public.Name(), p.public.NumField(), p.internal.NumField())
		}
	}
	if MaxPayloadBytes != iclient.MaxPayloadBytes || InternalNamePrefix != iclient.InternalNamePrefix ||
		BatchOrchestrator != iclient.BatchOrchestrator {
		t.Errorf("constants differ from the internal client's")
	}
	if ErrNotFound != iclient.ErrNotFound || ErrWrongState != iclient.ErrWrongState || ErrBadArgument != iclient.ErrBadArgument {
		t.Errorf("sentinel errors differ from the internal client's")
	}

	se := &iclient.StateError{InstanceID: "x", Status: history.StatusCompleted, Op: "terminate"}
	pe := &iclient.PurgeIncompleteError{InstanceID: "root", Deleted: 2, Unfinished: []string{"c"}}
	for _, err := range []error{se, fmt.Errorf("bulk: %w", se)} {
		got := publicError(err)
		var pub *StateError
		if got.Error() != err.Error() || !errors.As(got, &pub) || pub.Status != StatusCompleted || pub.Op != "terminate" ||
			!errors.Is(got, ErrWrongState) {
			t.Errorf("publicError(%v) = %#v", err, got)
		}
	}
	for _, err := range []error{pe, fmt.Errorf("purge: %w", pe)} {
		got := publicError(err)
		var pub *PurgeIncompleteError
		if got.Error() != err.Error() || !errors.As(got, &pub) || pub.Deleted != 2 || len(pub.Unfinished) != 1 ||
			!errors.Is(got, ErrWrongState) {
			t.Errorf("publicError(%v) = %#v", err, got)
		}
	}
	if _, ok := publicError(se).(*StateError); !ok {
		t.Errorf("a StateError returned as it is is not a *client.StateError")
	}
	if err := publicError(ErrNotFound); err != ErrNotFound || publicError(nil) != nil {
		t.Errorf("other errors changed: %v", err)
	}
}
