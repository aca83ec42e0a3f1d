package client

import (
	"encoding/json"
	"time"

	iclient "github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/task"
)

// The option and result types of the client's methods are declared here,
// field for field as the internal client has them, so that go doc shows
// their fields; the methods convert at the boundary.

// StartOptions adjust StartNew.
type StartOptions struct {
	// InstanceID is the ID to use; a random one when empty.
	InstanceID string
	// StartAt delays the start until then.
	StartAt time.Time
	// Version is recorded with the instance.
	Version string
}

func (o StartOptions) internal() iclient.StartOptions {
	return iclient.StartOptions{InstanceID: o.InstanceID, StartAt: o.StartAt, Version: o.Version}
}

// StatusOptions choose what GetStatus reads.
type StatusOptions struct {
	// ShowHistory reads the instance's history into Status.History.
	ShowHistory bool
	// ShowHistoryOutput keeps the history events' results (their Result
	// field), which are cleared otherwise.
	ShowHistoryOutput bool
	// HideInput leaves Input out (the HTTP API's showInput=false).
	HideInput bool
	// ShowTraceID reads the history for Status.TraceID even when
	// ShowHistory is off: one more query.
	ShowTraceID bool
}

// FailureDetails describe why an instance failed, in the Durable Task
// Framework's shape; the same type as package task's.
type FailureDetails = task.FailureDetails

// Status is an instance's state, as GetStatus, WaitForCompletion and
// ListInstances read it.
type Status struct {
	// Name is the orchestrator's name.
	Name       string
	InstanceID string
	// RuntimeStatus is Pending, Running, Completed, Failed … .
	RuntimeStatus RuntimeStatus
	// Input, CustomStatus and Output are JSON (nil when there is none).
	// A Failed instance's Output is its failure's text form,
	// "ErrorType: ErrorMessage".
	Input           json.RawMessage
	CustomStatus    json.RawMessage
	Output          json.RawMessage
	CreatedTime     time.Time
	LastUpdatedTime time.Time
	// CompletedTime is when the instance finished; zero while it runs (and
	// for rows written by engines that do not record it).
	CompletedTime time.Time
	// ExecutionID identifies the current execution; it changes with each
	// continue-as-new.
	ExecutionID string
	// Version is the orchestration's version ("" when it has none).
	Version string
	// FailureDetails of a Failed instance, read from its history: Output
	// holds only their text form, as in Durable Functions.
	FailureDetails *FailureDetails
	// History is set only when StatusOptions.ShowHistory asks for it.
	History []HistoryEvent
	// TraceID is the current execution's trace ID (32 hex digits) when it
	// was traced (host.json tracing), set when GetStatus read the history
	// (ShowHistory, ShowTraceID, or a Failed instance).
	TraceID string
}

func publicStatus(st *iclient.Status) *Status {
	if st == nil {
		return nil
	}
	return &Status{Name: st.Name, InstanceID: st.InstanceID, RuntimeStatus: st.RuntimeStatus, Input: st.Input,
		CustomStatus: st.CustomStatus, Output: st.Output, CreatedTime: st.CreatedTime, LastUpdatedTime: st.LastUpdatedTime,
		CompletedTime: st.CompletedTime, ExecutionID: st.ExecutionID, Version: st.Version, FailureDetails: publicFailure(st.FailureDetails),
		History: st.History, TraceID: st.TraceID}
}

func publicFailure(f *history.FailureDetails) *FailureDetails {
	if f == nil {
		return nil
	}
	return &FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace,
		InnerFailure: publicFailure(f.InnerFailure), IsNonRetriable: f.IsNonRetriable, Properties: f.Properties}
}

// Query selects instances for ListInstances and CountInstances. Instances
// of internal orchestrations (IsInternalName) are left out unless
// ShowInternal is set or Names names them.
type Query struct {
	// CreatedFrom and CreatedTo bound CreatedTime: from inclusive, to
	// exclusive; zero means no bound.
	CreatedFrom, CreatedTo time.Time
	// Statuses keeps instances in these runtime statuses (any of them).
	Statuses []RuntimeStatus
	// InstanceIDPrefix keeps instances whose ID starts with it.
	InstanceIDPrefix string
	// Names keeps instances of these orchestrators only (any of them).
	Names []string
	// Versions keeps instances of these versions only (any of them), equal
	// as task.CompareVersions says ("1.0" matches "01.0"); "" among them
	// matches instances without a version. Storage cannot compare
	// versions, so the rows read are filtered after reading.
	Versions []string
	// PageSize caps the page (default 100, at most 1000).
	PageSize int
	// ContinuationToken resumes after a previous page ("" = first page).
	ContinuationToken string
	// ShowInput includes each instance's input.
	ShowInput bool
	// ShowInternal includes the instances of internal orchestrations (the
	// bulk operations' own, say).
	ShowInternal bool
}

func (q Query) internal() iclient.Query {
	return iclient.Query{CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo, Statuses: q.Statuses,
		InstanceIDPrefix: q.InstanceIDPrefix, Names: q.Names, Versions: q.Versions, PageSize: q.PageSize,
		ContinuationToken: q.ContinuationToken, ShowInput: q.ShowInput, ShowInternal: q.ShowInternal}
}

// Page is one page of ListInstances.
type Page struct {
	Instances []*Status
	// ContinuationToken is "" on the last page; pass it in the next
	// Query for the next page.
	ContinuationToken string
}

// Counts is the number of instances per runtime status, as CountInstances
// returns it: every status is present, zero or not.
type Counts map[RuntimeStatus]int

// VersionCounts is the number of instances of one orchestrator and
// version, per runtime status (CountByVersion).
type VersionCounts struct {
	Name    string
	Version string
	Counts  Counts
}

// PurgeQuery selects finished instances for PurgeRange.
type PurgeQuery struct {
	// CreatedFrom is required; CreatedTo defaults to now.
	CreatedFrom, CreatedTo time.Time
	// Statuses must all be terminal (Completed, Failed, Terminated,
	// Canceled); empty means all four.
	Statuses []RuntimeStatus
}

// Progress reports how far a long operation got: done of total.
type Progress func(done, total int)

// TerminateOptions adjust TerminateWithOptions.
type TerminateOptions struct {
	// Reason is the terminated instance's output.
	Reason string
	// Recursive terminates the instance's whole tree of sub-orchestrations
	// too: every one of them that has not finished ends as Terminated with
	// the same reason.
	Recursive bool
}

// PurgeOptions adjust PurgeWithOptions.
type PurgeOptions struct {
	// Recursive purges the instance's whole tree of sub-orchestrations
	// too, children before parents.
	Recursive bool
}

// BatchOperation is what a bulk operation does to each instance it
// selects.
type BatchOperation string

// The bulk operations, spelled as in the HTTP route.
const (
	BatchTerminate  BatchOperation = "terminate"
	BatchSuspend    BatchOperation = "suspend"
	BatchResume     BatchOperation = "resume"
	BatchRewind     BatchOperation = "rewind"
	BatchRestart    BatchOperation = "restart"
	BatchRaiseEvent BatchOperation = "raiseEvent"
	BatchPurge      BatchOperation = "purge"
)

// BatchRequest asks for a bulk operation over every instance its Filter
// selects. When the filter names no runtime status, the operation targets
// the statuses it applies to: Pending, Running and Suspended instances for
// terminate and raiseEvent, Pending and Running for suspend, Suspended for
// resume, Failed for rewind, finished ones for purge and for restart in
// place. Instances created after the operation starts are never targets.
type BatchRequest struct {
	Operation BatchOperation
	// Filter selects the targets with the fields of the list query
	// (created-time range, statuses, ID prefix, names, ShowInternal); its
	// paging fields are ignored.
	Filter Query
	// Reason is recorded by terminate, suspend, resume and rewind.
	Reason string
	// EventName and EventData are raiseEvent's event: a name (required)
	// and any JSON-encodable value (json.RawMessage and []byte as JSON).
	EventName string
	EventData any
	// RestartWithNewInstanceID makes restart start each instance under a
	// new ID instead of in place, which needs a finished instance. The
	// HTTP API and the CLI default it to true.
	RestartWithNewInstanceID bool
	// BatchSize is how many instances each step lists and applies (a
	// default when 0, with a maximum).
	BatchSize int
	// Recursive makes terminate and purge reach each instance's
	// sub-orchestrations too, as TerminateWithOptions and PurgeWithOptions
	// do with Recursive.
	Recursive bool
}

func (r BatchRequest) internal() iclient.BatchRequest {
	return iclient.BatchRequest{Operation: iclient.BatchOperation(r.Operation), Filter: r.Filter.internal(),
		Reason: r.Reason, EventName: r.EventName, EventData: r.EventData,
		RestartWithNewInstanceID: r.RestartWithNewInstanceID, BatchSize: r.BatchSize, Recursive: r.Recursive}
}

// BatchProgress is a running bulk operation's progress: the instances
// matched so far and how many of them succeeded or failed, against a total
// estimated when it started.
type BatchProgress struct {
	Operation BatchOperation `json:"operation"`
	// Total is how many instances matched when the operation started: an
	// estimate for progress bars, since instances change meanwhile.
	Total     int  `json:"total"`
	Matched   int  `json:"matched"`
	Succeeded int  `json:"succeeded"`
	Failed    int  `json:"failed"`
	Pages     int  `json:"pages"`
	Done      bool `json:"done"`
}

// BatchSummary is a finished bulk operation's result: how many instances
// matched, succeeded and failed, and the first errors.
type BatchSummary struct {
	Operation BatchOperation `json:"operation"`
	Matched   int            `json:"matched"`
	Succeeded int            `json:"succeeded"`
	Failed    int            `json:"failed"`
	Errors    []BatchError   `json:"errors"`
}

// BatchError is one instance a bulk operation failed on.
type BatchError struct {
	InstanceID string `json:"instanceId"`
	Error      string `json:"error"`
}
