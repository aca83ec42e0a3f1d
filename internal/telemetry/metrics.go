package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/durable-go/durable/internal/history"
)

// Metric instrument names. Every one has the durabletask. prefix; units
// follow OpenTelemetry's conventions (seconds for durations, {thing} for
// counts).
const (
	MetricOrchestrationsStarted   = "durabletask.orchestration.started"
	MetricOrchestrationsCompleted = "durabletask.orchestration.completed"
	MetricEpisodeDuration         = "durabletask.orchestration.episode.duration"
	MetricActivityDuration        = "durabletask.activity.duration"
	MetricRetries                 = "durabletask.task.retries"
	MetricCheckpointDuration      = "durabletask.checkpoint.duration"
	MetricPartitionsOwned         = "durabletask.partitions.owned"
	MetricControlQueueBacklog     = "durabletask.control_queue.backlog"
	MetricControlQueueOldestAge   = "durabletask.control_queue.oldest_message_age"
	MetricStorageRequests         = "durabletask.storage.requests"
	MetricStartsResent            = "durabletask.recovery.starts_resent"
	MetricRecoveryDuration        = "durabletask.recovery.duration"
)

// Attribute keys of the metrics beyond the tracing schema's. All of them
// take a handful of values: no instrument is keyed by an instance.
const (
	// AttrOutcome is "success" or "failure": of an activity attempt (its
	// result), an episode, a checkpoint or a recovery run (an error).
	AttrOutcome = attribute.Key("durabletask.outcome")
	// AttrPartition is a control queue's partition index.
	AttrPartition = attribute.Key("durabletask.partition")
	// AttrStorageService is "table", "queue" or "blob".
	AttrStorageService = attribute.Key("durabletask.storage.service")
	// AttrStorageOperation is what a storage request does (see
	// StoragePolicy), e.g. "dequeue" or "batch".
	AttrStorageOperation = attribute.Key("durabletask.storage.operation")
	// AttrStorageThrottled is true on a request the service throttled
	// (HTTP 429 or 503).
	AttrStorageThrottled = attribute.Key("durabletask.storage.throttled")
	// AttrErrorType is OpenTelemetry's error.type: the HTTP status code of
	// a storage request that failed (400 and up), or "transport" when no
	// response came; absent on success.
	AttrErrorType = attribute.Key("error.type")
)

// Outcome values.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// durationBuckets are the histograms' bucket bounds in seconds: from a
// millisecond (an episode or checkpoint on a local emulator) to minutes
// (a long activity), since the SDK's defaults (0 to 10,000) suit
// milliseconds, not seconds.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics records the durable-task metrics of one app through an
// OpenTelemetry MeterProvider. A nil *Metrics is metrics turned off:
// every method returns at once and allocates nothing.
type Metrics struct {
	meter        metric.Meter
	started      metric.Int64Counter
	completed    metric.Int64Counter
	retries      metric.Int64Counter
	startsResent metric.Int64Counter
	storage      metric.Int64Counter
	episode      metric.Float64Histogram
	activity     metric.Float64Histogram
	checkpoint   metric.Float64Histogram
	recovery     metric.Float64Histogram
	owned        metric.Int64ObservableGauge
	backlog      metric.Int64ObservableGauge
	oldestAge    metric.Float64ObservableGauge
	// storageAttrs caches the attribute sets of storage requests
	// (storageKey to metric.MeasurementOption), which repeat: a request
	// then costs a lock-free look-up, not a new set.
	storageAttrs sync.Map
}

// NewMetrics returns Metrics that record through mp; nil for a nil mp.
func NewMetrics(mp metric.MeterProvider) (*Metrics, error) {
	if mp == nil {
		return nil, nil
	}
	m := &Metrics{meter: mp.Meter(ScopeName)}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, err := m.meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	m.started = counter(MetricOrchestrationsStarted, "{execution}",
		"Orchestration executions started (their ExecutionStarted event checkpointed), continue-as-new included.")
	m.completed = counter(MetricOrchestrationsCompleted, "{execution}",
		"Orchestration executions ended (their ExecutionCompleted or ContinueAsNew event checkpointed), by status.")
	m.retries = counter(MetricRetries, "{retry}",
		"Activities and sub-orchestrations scheduled again by a retry policy after a failed attempt.")
	m.startsResent = counter(MetricStartsResent, "{start}",
		"Lost orchestration starts (a Pending instance without history) whose start message was sent again.")
	m.storage = counter(MetricStorageRequests, "{request}",
		"HTTP requests to Azure Storage, each attempt of a retried operation counted, by service and operation.")
	m.episode = histogram(MetricEpisodeDuration,
		"Orchestration episodes, from the dequeue of their first message to the end of their checkpoint.")
	m.activity = histogram(MetricActivityDuration, "Activity attempts: how long the activity function ran.")
	m.checkpoint = histogram(MetricCheckpointDuration, "History checkpoints: the write of an episode's events.")
	m.recovery = histogram(MetricRecoveryDuration,
		"Partition recovery runs after a takeover without a clean hand-over; the count is the number of runs.")
	m.owned = gauge(MetricPartitionsOwned, "{partition}", "Control-queue partitions this worker holds the lease of.")
	m.backlog = gauge(MetricControlQueueBacklog, "{message}",
		"Approximate message count of each control queue this worker owns (read with the oldest message's age: two storage requests per partition per export).")
	var err error
	m.oldestAge, err = m.meter.Float64ObservableGauge(MetricControlQueueOldestAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the first message waiting in each control queue this worker owns (0 when none waits): how long work has waited for it."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("create the metric instruments: %w", err)
	}
	return m, nil
}

// Enabled reports whether m records anything.
func (m *Metrics) Enabled() bool { return m != nil }

// nameAttrs are the attributes of an orchestration or task by name.
func nameAttrs(name, version string, more ...attribute.KeyValue) metric.MeasurementOption {
	attrs := make([]attribute.KeyValue, 0, 2+len(more))
	attrs = append(attrs, AttrTaskName.String(name))
	if version != "" {
		attrs = append(attrs, AttrVersion.String(version))
	}
	return metric.WithAttributes(append(attrs, more...)...)
}

func outcome(failed bool) attribute.KeyValue {
	if failed {
		return AttrOutcome.String(OutcomeFailure)
	}
	return AttrOutcome.String(OutcomeSuccess)
}

// Committed counts what events, just written to the history of an
// execution after past, record: a start (ExecutionStarted), an end
// (ExecutionCompleted by its status, ContinueAsNew as ContinuedAsNew) and
// the schedulings whose event IDs are in retries (see durable.Result's
// Retries). The worker calls it once per successful checkpoint with the
// events that checkpoint wrote, so each event counts once however many
// episodes or workers replayed it.
func (m *Metrics) Committed(past, events []history.Event, retries []int) {
	if m == nil || len(events) == 0 {
		return
	}
	start := StartOf(past, events)
	var name, version string
	if start != nil {
		name, version = start.Name, start.Version
	}
	ctx := context.Background()
	for i := range events {
		e := &events[i]
		switch e.Type {
		case history.ExecutionStarted:
			m.started.Add(ctx, 1, nameAttrs(e.Name, e.Version))
		case history.ExecutionCompleted:
			m.completed.Add(ctx, 1, nameAttrs(name, version, AttrStatus.String(string(e.OrchestrationStatus))))
		case history.ContinueAsNew:
			m.completed.Add(ctx, 1, nameAttrs(name, version, AttrStatus.String(string(history.StatusContinuedAsNew))))
		case history.TaskScheduled, history.SubOrchestrationInstanceCreated:
			for _, id := range retries {
				if id == e.EventID {
					typ := TypeActivity
					if e.Type == history.SubOrchestrationInstanceCreated {
						typ = TypeOrchestration
					}
					m.retries.Add(ctx, 1, nameAttrs(e.Name, e.Version, AttrType.String(typ)))
					break
				}
			}
		}
	}
}

// Episode records an orchestration episode of name (the orchestrator)
// that took d and failed when failed.
func (m *Metrics) Episode(name, version string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.episode.Record(context.Background(), d.Seconds(), nameAttrs(name, version, outcome(failed)))
}

// Activity records one attempt of activity name that ran for d and failed
// when failed.
func (m *Metrics) Activity(name, version string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.activity.Record(context.Background(), d.Seconds(), nameAttrs(name, version, outcome(failed)))
}

// Checkpoint records a history write that took d and failed when failed.
func (m *Metrics) Checkpoint(d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.checkpoint.Record(context.Background(), d.Seconds(), metric.WithAttributes(outcome(failed)))
}

// Recovery records a partition recovery run that took d and failed when
// failed.
func (m *Metrics) Recovery(d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.recovery.Record(context.Background(), d.Seconds(), metric.WithAttributes(outcome(failed)))
}

// StartResent counts a lost start sent again.
func (m *Metrics) StartResent() {
	if m == nil {
		return
	}
	m.startsResent.Add(context.Background(), 1)
}

// WorkerGauges is what a worker reports when the metrics are collected:
// the partitions it owns, and the backlog of the control queue of each
// (Backlog nil when not measured): its approximate message count and the
// age of its first waiting message.
type WorkerGauges struct {
	Owned   func() []int
	Backlog func(ctx context.Context, partition int) (messages int64, oldest time.Duration, err error)
}

// ObserveWorker reports g's gauges at every collection (the export
// interval) until the returned function is called. Backlog, when set, is
// called once per owned partition per collection: two storage requests each.
func (m *Metrics) ObserveWorker(g WorkerGauges) (stop func(), err error) {
	if m == nil || g.Owned == nil {
		return func() {}, nil
	}
	instruments := []metric.Observable{m.owned}
	if g.Backlog != nil {
		instruments = append(instruments, m.backlog, m.oldestAge)
	}
	reg, err := m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		owned := g.Owned()
		o.ObserveInt64(m.owned, int64(len(owned)))
		if g.Backlog == nil {
			return nil
		}
		var errs []error
		for _, p := range owned {
			n, oldest, err := g.Backlog(ctx, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("read the backlog of partition %d: %w", p, err))
				continue
			}
			o.ObserveInt64(m.backlog, n, metric.WithAttributes(AttrPartition.Int(p)))
			o.ObserveFloat64(m.oldestAge, oldest.Seconds(), metric.WithAttributes(AttrPartition.Int(p)))
		}
		return errors.Join(errs...)
	}, instruments...)
	if err != nil {
		return nil, fmt.Errorf("register the worker's gauges: %w", err)
	}
	return func() { _ = reg.Unregister() }, nil
}
