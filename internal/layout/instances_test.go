package layout

import (
	"context"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/history"
)

func sampleInstance() InstanceRow {
	return InstanceRow{
		InstanceID:         "order?42",
		Name:               "ProcessOrder",
		Version:            "1",
		ExecutionID:        "e1",
		RuntimeStatus:      history.StatusRunning,
		CreatedTime:        t0,
		LastUpdatedTime:    t0.Add(time.Second),
		ScheduledStartTime: ptr(t0.Add(time.Hour)),
		Input:              `{"id":42}`,
		Generation:         1,
		Tags:               map[string]string{"tenant": "contoso"},
		TaskHubName:        "MyHub",
	}
}

func TestInstanceRowColumns(t *testing.T) {
	e, err := EncodeInstanceRow(context.Background(), nil, sampleInstance())
	if err != nil {
		t.Fatal(err)
	}
	want := Entity{
		"PartitionKey":       "order^342",
		"RowKey":             "",
		"Name":               "ProcessOrder",
		"Version":            "1",
		"ExecutionId":        "e1",
		"RuntimeStatus":      "Running",
		"CreatedTime":        t0,
		"LastUpdatedTime":    t0.Add(time.Second),
		"ScheduledStartTime": t0.Add(time.Hour),
		"Input":              `{"id":42}`,
		"CustomStatus":       "null",
		"Generation":         1,
		"Tags":               `{"tenant":"contoso"}`,
		"TaskHubName":        "MyHub",
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("EncodeInstanceRow =\n%#v\nwant\n%#v", e, want)
	}
}

func TestInstanceRowRoundTrip(t *testing.T) {
	ctx := context.Background()
	rows := []InstanceRow{
		sampleInstance(),
		{InstanceID: "x", RuntimeStatus: history.StatusPending, CreatedTime: t0, LastUpdatedTime: t0},
		func() InstanceRow {
			r := sampleInstance()
			r.RuntimeStatus = history.StatusFailed
			r.CompletedTime = ptr(t0.Add(time.Minute))
			r.Output = `{"ErrorType":"E","ErrorMessage":"boom"}`
			r.CustomStatus = `{"step":3}`
			return r
		}(),
		func() InstanceRow {
			r := sampleInstance()
			r.ParentTraceContext = &history.TraceContext{TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "k=v"}
			return r
		}(),
	}
	for _, row := range rows {
		blobs := newMemBlobs()
		e, err := EncodeInstanceRow(ctx, blobs, row)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeInstanceRow(ctx, blobs, wire(t, e))
		if err != nil {
			t.Fatal(err)
		}
		want := row
		want.ETag = `W/"datetime'x'"`
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
		}
	}
}

func TestInstanceRowOffload(t *testing.T) {
	ctx := context.Background()
	blobs := newMemBlobs()
	row := sampleInstance()
	row.Input = nonASCII(100_000)
	row.Output = nonASCII(1_000_000)
	row.RuntimeStatus = history.StatusCompleted
	row.CompletedTime = ptr(t0.Add(time.Hour))
	e, err := EncodeInstanceRow(ctx, blobs, row)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^order\^342/instance-(Input|Output)-[0-9a-f]{8}\.json\.gz$`)
	for _, col := range []string{"Input", "Output"} {
		name, _ := e[col+"BlobName"].(string)
		if m := re.FindStringSubmatch(name); m == nil || m[1] != col {
			t.Errorf("%sBlobName = %q", col, name)
		}
		if e[col] != blobs.URL(name) {
			t.Errorf("%s column = %.60q, want the blob URL", col, e[col])
		}
	}
	if got := gunzip(t, blobs.get(e["OutputBlobName"].(string))); got != row.Output {
		t.Error("Output blob differs")
	}
	got, err := DecodeInstanceRow(ctx, blobs, wire(t, e))
	if err != nil {
		t.Fatal(err)
	}
	row.ETag = got.ETag
	if !reflect.DeepEqual(got, row) {
		t.Error("offloaded round trip differs")
	}
}

// merge applies a Merge-mode update the way the Table service does.
func merge(row, patch Entity) Entity {
	out := maps.Clone(row)
	maps.Copy(out, patch)
	return out
}

func TestInstancePatch(t *testing.T) {
	ctx := context.Background()
	blobs := newMemBlobs()
	row := sampleInstance()
	row.Input = nonASCII(200_000)
	row.Output = nonASCII(200_000) // an earlier large output, offloaded
	stored, err := EncodeInstanceRow(ctx, blobs, row)
	if err != nil {
		t.Fatal(err)
	}
	inputCol, inputBlob := stored["Input"], stored["InputBlobName"]

	done := history.StatusCompleted
	p := InstancePatch{
		RuntimeStatus:   &done,
		LastUpdatedTime: ptr(t0.Add(2 * time.Hour)),
		CompletedTime:   ptr(t0.Add(2 * time.Hour)),
		Output:          ptr(`"small"`),
		CustomStatus:    ptr(""),
		ExecutionID:     ptr("e1"),
	}
	patch, err := EncodeInstancePatch(ctx, blobs, row.InstanceID, p)
	if err != nil {
		t.Fatal(err)
	}
	want := Entity{
		"PartitionKey":         "order^342",
		"RowKey":               "",
		"RuntimeStatus":        "Completed",
		"LastUpdatedTime":      t0.Add(2 * time.Hour),
		"CompletedTime":        t0.Add(2 * time.Hour),
		"Output":               `"small"`,
		"OutputBlobName":       "",
		"CustomStatus":         "null",
		"CustomStatusBlobName": "",
		"ExecutionId":          "e1",
	}
	if !reflect.DeepEqual(patch, want) {
		t.Errorf("patch =\n%#v\nwant\n%#v", patch, want)
	}
	merged := merge(stored, wire(t, patch))
	if merged["Input"] != inputCol || merged["InputBlobName"] != inputBlob {
		t.Error("patch touched Input")
	}
	got, err := DecodeInstanceRow(ctx, blobs, wire(t, merged))
	if err != nil {
		t.Fatal(err)
	}
	if got.Output != `"small"` {
		t.Errorf("Output after merge = %.40q, want the new small value (stale blob followed?)", got.Output)
	}
	if got.Input != row.Input || got.RuntimeStatus != history.StatusCompleted || got.CustomStatus != "" ||
		got.CompletedTime == nil || !got.CompletedTime.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("merged row = %+v", got)
	}

	// A large value in a patch is offloaded like in a full row.
	big := nonASCII(80_000)
	patch, err = EncodeInstancePatch(ctx, blobs, row.InstanceID, InstancePatch{CustomStatus: &big})
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := patch["CustomStatusBlobName"].(string); name == "" || patch["CustomStatus"] != blobs.URL(name) {
		t.Errorf("large custom status not offloaded: %v", patch["CustomStatusBlobName"])
	}
	got, err = DecodeInstanceRow(ctx, blobs, merge(merged, patch))
	if err != nil || got.CustomStatus != big {
		t.Errorf("custom status after merge: %v", err)
	}

	// An empty patch only names the row.
	patch, err = EncodeInstancePatch(ctx, nil, "i", InstancePatch{})
	if err != nil || !reflect.DeepEqual(patch, Entity{"PartitionKey": "i", "RowKey": ""}) {
		t.Errorf("empty patch = %v, %v", patch, err)
	}
}

func TestInstanceRowErrors(t *testing.T) {
	ctx := context.Background()
	good := sampleInstance()
	bad := func(f func(*InstanceRow)) InstanceRow {
		r := good
		f(&r)
		return r
	}
	cases := []struct {
		row  InstanceRow
		want string
	}{
		{bad(func(r *InstanceRow) { r.InstanceID = "" }), "empty instance ID"},
		{bad(func(r *InstanceRow) { r.RuntimeStatus = "Bogus" }), "unknown runtime status"},
		{bad(func(r *InstanceRow) { r.RuntimeStatus = "" }), "unknown runtime status"},
		{bad(func(r *InstanceRow) { r.CreatedTime = time.Time{} }), "property CreatedTime"},
		{bad(func(r *InstanceRow) { r.Generation = 1 << 40 }), "property Generation"},
		{bad(func(r *InstanceRow) { r.Input = strings.Repeat("x", 70000) }), "no BlobStore"},
	}
	for _, c := range cases {
		_, err := EncodeInstanceRow(ctx, nil, c.row)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EncodeInstanceRow error %v, want mention of %q", err, c.want)
		}
	}
	if _, err := EncodeInstancePatch(ctx, nil, "", InstancePatch{}); err == nil {
		t.Error("EncodeInstancePatch accepted an empty instance ID")
	}
	bogus := history.RuntimeStatus("Bogus")
	if _, err := EncodeInstancePatch(ctx, nil, "i", InstancePatch{RuntimeStatus: &bogus}); err == nil ||
		!strings.Contains(err.Error(), `instance update of "i"`) {
		t.Errorf("bad patch status: %v", err)
	}
	if _, err := EncodeInstancePatch(ctx, nil, "i", InstancePatch{LastUpdatedTime: &time.Time{}}); err == nil ||
		!strings.Contains(err.Error(), "LastUpdatedTime") {
		t.Errorf("bad patch time: %v", err)
	}

	decodeCases := []struct {
		e    Entity
		want string
	}{
		{Entity{"PartitionKey": "a/b", "RuntimeStatus": "Running"}, "unescaped"},
		{Entity{"RuntimeStatus": "Running"}, "PartitionKey is missing"},
		{Entity{"PartitionKey": "a"}, "RuntimeStatus is missing"},
		{Entity{"PartitionKey": "a", "RuntimeStatus": "Sleeping"}, "unknown runtime status"},
		{Entity{"PartitionKey": "a", "RuntimeStatus": "Running", "Tags": "nope"}, "property Tags"},
		{Entity{"PartitionKey": "a", "RuntimeStatus": "Running", "CreatedTime": true}, "property CreatedTime"},
		{Entity{"PartitionKey": "a", "RuntimeStatus": "Running", "InputBlobName": "a/gone"}, "load property Input"},
	}
	for _, c := range decodeCases {
		_, err := DecodeInstanceRow(ctx, newMemBlobs(), c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DecodeInstanceRow(%v) error %v, want mention of %q", c.e, err, c.want)
		}
	}
	// Status names are matched case-insensitively and numbers are accepted.
	r, err := DecodeInstanceRow(ctx, nil, Entity{"PartitionKey": "a", "RuntimeStatus": "completed"})
	if err != nil || r.RuntimeStatus != history.StatusCompleted {
		t.Errorf("lower-case status: %v %v", r.RuntimeStatus, err)
	}
	// .NET's placeholder for an unset date-time.
	r, err = DecodeInstanceRow(ctx, nil, Entity{"PartitionKey": "a", "RuntimeStatus": "Running", "CompletedTime": minTableTime})
	if err != nil || r.CompletedTime != nil {
		t.Errorf("CompletedTime 1601-01-01 = %v, %v, want nil", r.CompletedTime, err)
	}
	r, err = DecodeInstanceRow(ctx, nil, Entity{"PartitionKey": "a", "RuntimeStatus": int32(6)})
	if err != nil || r.RuntimeStatus != history.StatusPending {
		t.Errorf("numeric status: %v %v", r.RuntimeStatus, err)
	}
}

// TestStartMessageFromRow: a start sent again from its row (a lost start)
// keeps the caller's trace context, which the row records.
func TestStartMessageFromRow(t *testing.T) {
	row := sampleInstance()
	row.ParentTraceContext = &history.TraceContext{TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	tm := StartMessage(&row)
	if tm.Event.ParentTraceContext == nil || *tm.Event.ParentTraceContext != *row.ParentTraceContext {
		t.Errorf("start message trace context %+v, want the row's %+v", tm.Event.ParentTraceContext, row.ParentTraceContext)
	}
}
