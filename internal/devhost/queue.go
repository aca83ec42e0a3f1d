package devhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/durable-go/durable/internal/config"
)

// settleTimeout bounds the storage calls that finish a message (delete, release, poison);
// they run even while the host shuts down so that a message is not left hidden for the
// whole visibility timeout.
const settleTimeout = 10 * time.Second

// queueListener polls one function's queue.
type queueListener struct {
	h      *host
	fn     *function
	queue  *azqueue.QueueClient
	poison *azqueue.QueueClient
}

// pollQueue delivers the function's queue messages until ctx is done. Storage errors (such
// as Azurite not running yet) are retried with back-off, so the host can be started before
// the storage emulator; they are logged at most every errorLogEvery to keep the log
// readable (storage error texts differ per request, so "log when it changes" would not do).
func (h *host) pollQueue(ctx context.Context, fn *function) {
	const errorLogEvery = 30 * time.Second
	log := h.log.With("function", fn.name, "queue", fn.queue.queueName)
	maxPoll := h.opts.QueuePollMax
	if h.app.maxPoll > 0 {
		maxPoll = max(h.app.maxPoll, h.opts.QueuePollMin)
	}
	delay := h.opts.QueuePollMin
	var failingSince, lastLogged time.Time
	unreachable := false // the current failure is storage not answering at all
	var l *queueListener
	for {
		var n int
		var err error
		if l == nil {
			l, err = h.newQueueListener(ctx, fn)
		}
		if err == nil {
			n, err = l.pollOnce(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			unreachable = config.IsUnreachable(err)
			if unreachable {
				// Every queue function sees the same outage: one line for
				// the host says it (storageUnreachable), not one per function.
				h.storageUnreachable(fn.queue.connection, err)
				log.Debug("queue polling failed; retrying", "err", err, "failingFor", time.Since(failingSince).Round(time.Second))
			} else if time.Since(lastLogged) >= errorLogEvery {
				log.Error("queue polling failed; retrying", "err", err, "failingFor", time.Since(failingSince).Round(time.Second))
				lastLogged = time.Now()
			}
			delay = min(delay*2, maxPoll)
		case !failingSince.IsZero():
			if unreachable {
				h.storageAnswers()
				log.Debug("queue polling recovered", "failedFor", time.Since(failingSince).Round(time.Second))
			} else {
				log.Info("queue polling recovered", "failedFor", time.Since(failingSince).Round(time.Second))
			}
			failingSince, lastLogged, unreachable = time.Time{}, time.Time{}, false
			delay = h.opts.QueuePollMin
		case n > 0:
			delay = h.opts.QueuePollMin
			continue // more may be waiting
		default:
			delay = min(delay*2, maxPoll)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// storageUnreachable logs, once per outage for the whole host, that queue
// triggers wait for storage, naming the endpoint and what to do: a new app
// started without Azurite used to log a "queue polling failed" error per
// queue function every 30 s, burying the handler's own explanation.
func (h *host) storageUnreachable(connection string, err error) {
	if !h.storageDown.CompareAndSwap(false, true) {
		return
	}
	endpoint := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			endpoint = u.Scheme + "://" + u.Host
		}
	}
	h.log.Error("storage does not answer, so queue triggers wait for it: start Azurite "+
		"(durable dev starts it with the app) or fix the connection setting", "endpoint", endpoint, "connection", connection, "err", err)
}

// storageAnswers logs, once, that storage answers again after an outage
// storageUnreachable reported.
func (h *host) storageAnswers() {
	if h.storageDown.CompareAndSwap(true, false) {
		h.log.Info("storage answers; queue triggers run")
	}
}

func (h *host) newQueueListener(ctx context.Context, fn *function) (*queueListener, error) {
	cs, err := h.connectionString(fn.queue.connection)
	if err != nil {
		return nil, err
	}
	acct, err := parseConnectionString(cs)
	if err != nil {
		return nil, fmt.Errorf("setting %s: %w", fn.queue.connection, err)
	}
	svc, err := newQueueService(acct)
	if err != nil {
		return nil, err
	}
	l := &queueListener{
		h:      h,
		fn:     fn,
		queue:  svc.NewQueueClient(fn.queue.queueName),
		poison: svc.NewQueueClient(fn.queue.queueName + "-poison"),
	}
	if err := createQueue(ctx, l.queue); err != nil {
		return nil, err
	}
	return l, nil
}

// connectionString finds the storage connection string for a binding's connection
// setting, trying the AzureWebJobs-prefixed name as the real host does.
func (h *host) connectionString(setting string) (string, error) {
	for _, name := range []string{setting, "AzureWebJobs" + setting} {
		if v := h.app.settings[name]; v != "" {
			return v, nil
		}
	}
	if h.app.settings[setting+"__accountName"] != "" || h.app.settings[setting+"__queueServiceUri"] != "" {
		return "", fmt.Errorf("setting %s: identity-based connections are not supported by the dev host; use a connection string", setting)
	}
	return "", fmt.Errorf("app setting %s is not set (local.settings.json Values or the environment); for Azurite use UseDevelopmentStorage=true", setting)
}

func createQueue(ctx context.Context, q *azqueue.QueueClient) error {
	_, err := q.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return fmt.Errorf("create queue %s: %w", q.URL(), err)
	}
	return nil
}

// pollOnce dequeues one batch and processes its messages concurrently, as the real host
// does; it returns how many messages it got.
func (l *queueListener) pollOnce(ctx context.Context) (int, error) {
	vt := int32(l.h.opts.VisibilityTimeout / time.Second)
	resp, err := l.queue.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
		NumberOfMessages:  &l.h.app.batchSize,
		VisibilityTimeout: &vt,
	})
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			// Deleted under us (a test cleaning up, Azurite restarted without data).
			if cerr := createQueue(ctx, l.queue); cerr != nil {
				return 0, cerr
			}
		}
		return 0, fmt.Errorf("dequeue from %s: %w", l.fn.queue.queueName, err)
	}
	var wg sync.WaitGroup
	for _, m := range resp.Messages {
		if m == nil || m.MessageID == nil || m.PopReceipt == nil {
			continue
		}
		wg.Go(func() { l.process(ctx, m) })
	}
	wg.Wait()
	return len(resp.Messages), nil
}

// process invokes the function with one message and settles the message: deleted on
// success, released for a retry on failure, moved to the poison queue once it has failed
// maxDequeueCount times.
func (l *queueListener) process(ctx context.Context, m *azqueue.DequeuedMessage) {
	log := l.h.log.With("function", l.fn.name, "queue", l.fn.queue.queueName, "message", *m.MessageID)
	raw := deref(m.MessageText)
	count := deref(m.DequeueCount)
	lease := &messageLease{id: *m.MessageID, popReceipt: *m.PopReceipt}
	settleCtx, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancelSettle()

	// A message dequeued more often than allowed (its earlier attempts crashed the
	// handler, or a host stopped mid-invocation) is poison without another attempt.
	if count > l.h.app.maxDequeueCount {
		l.moveToPoison(settleCtx, lease, raw, count)
		return
	}

	text := decodeMessageText(raw)
	req := invocationRequest{
		Data:     map[string]json.RawMessage{l.fn.queue.name: queueData(text)},
		Metadata: queueMetadata(l.fn.name, m, text, time.Now()),
	}
	stopRenew := l.renew(ctx, lease, raw)
	_, err := l.h.invoke(ctx, l.fn, req)
	stopRenew()

	switch {
	case err == nil:
		if _, derr := l.queue.DeleteMessage(settleCtx, lease.id, lease.receipt(), nil); derr != nil {
			log.Error("delete processed message", "err", derr)
		}
	case ctx.Err() != nil:
		// Interrupted by shutdown rather than failed: hand the message back at once so the
		// next start delivers it, and never poison it for this.
		zero := int32(0)
		if _, uerr := l.queue.UpdateMessage(settleCtx, lease.id, lease.receipt(), raw,
			&azqueue.UpdateMessageOptions{VisibilityTimeout: &zero}); uerr != nil {
			log.Warn("release message on shutdown", "err", uerr)
		}
	case count >= l.h.app.maxDequeueCount:
		l.moveToPoison(settleCtx, lease, raw, count)
	default:
		delay := int32(l.h.app.retryDelay / time.Second)
		if _, uerr := l.queue.UpdateMessage(settleCtx, lease.id, lease.receipt(), raw,
			&azqueue.UpdateMessageOptions{VisibilityTimeout: &delay}); uerr != nil {
			log.Error("release failed message for retry", "err", uerr)
		} else {
			log.Warn("message will be retried", "dequeueCount", count, "maxDequeueCount", l.h.app.maxDequeueCount, "retryIn", time.Duration(delay)*time.Second)
		}
	}
}

func (l *queueListener) moveToPoison(ctx context.Context, lease *messageLease, raw string, count int64) {
	log := l.h.log.With("function", l.fn.name, "queue", l.fn.queue.queueName, "message", lease.id)
	poisonName := l.fn.queue.queueName + "-poison"
	log.Warn("message reached maxDequeueCount; moving it to the poison queue",
		"dequeueCount", count, "maxDequeueCount", l.h.app.maxDequeueCount, "poisonQueue", poisonName)
	if err := createQueue(ctx, l.poison); err != nil {
		log.Error("create poison queue", "err", err)
		return
	}
	// The text is copied as it was, encoding included, so the poison message can be
	// re-queued unchanged.
	if _, err := l.poison.EnqueueMessage(ctx, raw, nil); err != nil {
		log.Error("enqueue to poison queue", "err", err)
		return
	}
	if _, err := l.queue.DeleteMessage(ctx, lease.id, lease.receipt(), nil); err != nil {
		log.Error("delete poisoned message", "err", err)
	}
}

// messageLease tracks a dequeued message's pop receipt, which changes each time the
// visibility timeout is renewed.
type messageLease struct {
	id         string
	mu         sync.Mutex
	popReceipt string
}

func (m *messageLease) receipt() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.popReceipt
}

// renew keeps the message hidden while a long invocation runs, so that another poll does
// not deliver it a second time. Update Message replaces the text, so the original raw text
// goes with each renewal. The returned func stops renewing and waits for the renewer to
// finish, so that the pop receipt is final when the message is settled.
func (l *queueListener) renew(ctx context.Context, lease *messageLease, raw string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	vt := l.h.opts.VisibilityTimeout
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(vt / 2):
			}
			secs := int32(vt / time.Second)
			resp, err := l.queue.UpdateMessage(ctx, lease.id, lease.receipt(), raw,
				&azqueue.UpdateMessageOptions{VisibilityTimeout: &secs})
			if err != nil {
				if ctx.Err() == nil {
					l.h.log.Warn("renew message visibility", "function", l.fn.name, "message", lease.id, "err", err)
				}
				continue
			}
			if resp.PopReceipt != nil {
				lease.mu.Lock()
				lease.popReceipt = *resp.PopReceipt
				lease.mu.Unlock()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// queueMetadata is a queue invocation's Metadata. Every value goes through hostValue, so
// numbers and times arrive as strings ("DequeueCount":"1") as they do from the real host.
func queueMetadata(function string, m *azqueue.DequeuedMessage, text string, now time.Time) map[string]json.RawMessage {
	meta := map[string]json.RawMessage{
		"DequeueCount": hostValue(deref(m.DequeueCount)),
		"Id":           hostValue(deref(m.MessageID)),
		"PopReceipt":   hostValue(deref(m.PopReceipt)),
		"QueueTrigger": hostValue(text),
		"sys":          sysMetadata(function, now),
	}
	for name, t := range map[string]*time.Time{
		"InsertionTime":   m.InsertionTime,
		"ExpirationTime":  m.ExpirationTime,
		"NextVisibleTime": m.TimeNextVisible,
	} {
		if t != nil {
			meta[name] = hostValue(t.UTC().Format(dotnetOffset))
		}
	}
	return meta
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
