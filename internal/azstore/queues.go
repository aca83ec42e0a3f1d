package azstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/google/uuid"

	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
)

// MaxVisibilityDelay is the longest a queue message can stay hidden; a
// later timer is delivered early and sent again for the rest of its wait.
const MaxVisibilityDelay = 7*24*time.Hour - time.Minute

// Message is a dequeued message with what is needed to settle it. Its
// methods may be called from several goroutines: the pop receipt changes
// with every visibility update, so updates and the delete are serialized.
type Message struct {
	queue *azqueue.QueueClient
	ID    string
	// mu guards popReceipt and settled and serializes the requests that
	// use them.
	mu         sync.Mutex
	popReceipt string
	// settled is set once the message was deleted or given back: a renewal
	// after that would hide it again from whoever takes it next.
	settled      bool
	DequeueCount int64
	Inserted     time.Time
	// Dequeued is when this worker received the message: an episode's
	// duration is measured from it.
	Dequeued time.Time
	Data     layout.MessageData
	// text is the body as stored; an update must send it back, since the
	// service replaces the body on every update.
	text string
	// Partition is the control queue's index, or -1 for the work-item queue.
	Partition int
}

// Event is the message's history event, carrying the message's ID (the
// envelope's ActivityId, which a redelivery repeats) for de-duplication.
func (m *Message) Event() history.Event {
	ev := m.Data.TaskMessage.Received()
	ev.MessageID = m.Data.ActivityID
	if ev.MessageID == "" {
		ev.MessageID = m.ID
	}
	return ev
}

// InstanceID is the instance the message is addressed to.
func (m *Message) InstanceID() string { return m.Data.TaskMessage.OrchestrationInstance.InstanceID }

// sequence numbers messages sent by this process, like the provider's
// SequenceNumber, to help reading traces.
type sequence struct{ n atomic.Int64 }

func (s *sequence) next() int64 { return s.n.Add(1) }

// SendToInstance puts a message on the control queue of the instance it is
// addressed to, hidden until visibleAt when that is in the future.
func (h *Hub) SendToInstance(ctx context.Context, tm history.TaskMessage, visibleAt time.Time) error {
	p := h.PartitionOf(tm.OrchestrationInstance.InstanceID)
	return h.send(ctx, h.control[p], tm, visibleAt)
}

// SendToWorkItems puts an activity message on the shared work-item queue.
func (h *Hub) SendToWorkItems(ctx context.Context, tm history.TaskMessage) error {
	return h.send(ctx, h.workItems, tm, time.Time{})
}

func (h *Hub) send(ctx context.Context, q *azqueue.QueueClient, tm history.TaskMessage, visibleAt time.Time) error {
	tm.SequenceNumber = h.seq.next()
	// A message the engine may send again after a crash carries a
	// deterministic ID, so the receiver can tell the copies apart from
	// new messages; any other message gets a new one.
	id := tm.Event.MessageID
	if id == "" {
		id = uuid.NewString()
	}
	md := layout.MessageData{ActivityID: id, TaskMessage: tm, SequenceNumber: tm.SequenceNumber}
	text, err := layout.EncodeMessage(ctx, h.blobs, md)
	if err != nil {
		return fmt.Errorf("encode %s message for %q: %w", tm.Event.Type, tm.OrchestrationInstance.InstanceID, err)
	}
	ttl := int32(-1)
	opts := &azqueue.EnqueueMessageOptions{TimeToLive: &ttl}
	if d := time.Until(visibleAt); d > 0 {
		opts.VisibilityTimeout = seconds(min(d, MaxVisibilityDelay), true)
	}
	if _, err := q.EnqueueMessage(ctx, text, opts); err != nil {
		return fmt.Errorf("send %s message for %q to %s: %w", tm.Event.Type, tm.OrchestrationInstance.InstanceID, q.URL(), err)
	}
	return nil
}

// seconds converts to the queue service's whole seconds; rounding up keeps
// a timer from firing before its time.
func seconds(d time.Duration, roundUp bool) *int32 {
	s := d.Seconds()
	if roundUp {
		s = math.Ceil(s)
	}
	v := int32(max(s, 0))
	return &v
}

// Dequeued is the result of one dequeue: decoded messages, and raw ones
// that could not be decoded and were moved to the poison queue.
type Dequeued struct {
	Messages []*Message
	Poisoned int
}

// DequeueControl takes up to n messages from a control queue, hiding them
// for visibility.
func (h *Hub) DequeueControl(ctx context.Context, partition, n int, visibility time.Duration) (*Dequeued, error) {
	return h.dequeue(ctx, h.control[partition], partition, n, visibility)
}

// Backlog is what waits in a control queue: its approximate message
// count and the age of the first message a dequeue would take (zero when
// none is visible; messages held by a worker or due later are not).
type Backlog struct {
	Messages  int64
	OldestAge time.Duration
}

// ControlBacklog reads the backlog of partition's control queue: the
// queue's properties and a peek at its first message, two requests that
// take no message.
func (h *Hub) ControlBacklog(ctx context.Context, partition int) (Backlog, error) {
	q := h.control[partition]
	props, err := q.GetProperties(ctx, nil)
	if err != nil {
		return Backlog{}, fmt.Errorf("read the properties of %s: %w", q.URL(), err)
	}
	var b Backlog
	if props.ApproximateMessagesCount != nil {
		b.Messages = int64(*props.ApproximateMessagesCount)
	}
	one := int32(1)
	peeked, err := q.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &one})
	if err != nil {
		return Backlog{}, fmt.Errorf("peek at %s: %w", q.URL(), err)
	}
	if len(peeked.Messages) > 0 && peeked.Messages[0].InsertionTime != nil {
		b.OldestAge = max(time.Since(*peeked.Messages[0].InsertionTime), 0)
	}
	return b, nil
}

// DequeueWorkItems takes up to n activity messages.
func (h *Hub) DequeueWorkItems(ctx context.Context, n int, visibility time.Duration) (*Dequeued, error) {
	return h.dequeue(ctx, h.workItems, -1, n, visibility)
}

func (h *Hub) dequeue(ctx context.Context, q *azqueue.QueueClient, partition, n int, visibility time.Duration) (*Dequeued, error) {
	count := int32(min(max(n, 1), 32))
	resp, err := q.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: &count, VisibilityTimeout: seconds(visibility, true)})
	if err != nil {
		return nil, fmt.Errorf("dequeue from %s: %w", q.URL(), err)
	}
	out := &Dequeued{}
	now := time.Now()
	for _, dm := range resp.Messages {
		if dm == nil || dm.MessageID == nil || dm.PopReceipt == nil {
			continue
		}
		m := &Message{queue: q, ID: *dm.MessageID, popReceipt: *dm.PopReceipt, Partition: partition, Dequeued: now}
		if dm.DequeueCount != nil {
			m.DequeueCount = *dm.DequeueCount
		}
		if dm.InsertionTime != nil {
			m.Inserted = *dm.InsertionTime
		}
		text := ""
		if dm.MessageText != nil {
			text = *dm.MessageText
		}
		md, derr := layout.DecodeMessage(ctx, h.blobs, text)
		if derr != nil {
			// A message nobody can read would come back forever; park it
			// where an operator can look at it.
			h.logger.Error("moving unreadable message to the poison queue", "queue", q.URL(), "messageId", m.ID, "error", derr)
			if err := h.poisonRaw(ctx, m, text, derr.Error()); err != nil {
				return nil, err
			}
			out.Poisoned++
			continue
		}
		m.Data, m.text = md, text
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}

// DeleteMessage removes a processed message. A message already gone, or
// dequeued again by someone else after its visibility ran out (a pop-receipt
// mismatch), is reported as ErrConflict.
func (h *Hub) DeleteMessage(ctx context.Context, m *Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settled = true
	if _, err := m.queue.DeleteMessage(ctx, m.ID, m.popReceipt, nil); err != nil {
		if isMessageGone(err) {
			return fmt.Errorf("delete message %s: %w", m.ID, ErrConflict)
		}
		return fmt.Errorf("delete message %s from %s: %w", m.ID, m.queue.URL(), err)
	}
	return nil
}

// Abandon makes a message visible again after delay, for a later retry.
func (h *Hub) Abandon(ctx context.Context, m *Message, delay time.Duration) error {
	if err := m.setVisibility(ctx, delay, false, true); err != nil {
		return fmt.Errorf("abandon %w", err)
	}
	return nil
}

// Renew keeps a held message hidden for another visibility period, so
// that no other worker takes it while this one still works on it.
// A message already deleted or given back is left alone.
func (h *Hub) Renew(ctx context.Context, m *Message, visibility time.Duration) error {
	if err := m.setVisibility(ctx, visibility, true, false); err != nil {
		return fmt.Errorf("renew %w", err)
	}
	return nil
}

func (m *Message) setVisibility(ctx context.Context, d time.Duration, roundUp, settle bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settled {
		if settle {
			return fmt.Errorf("message %s: already settled: %w", m.ID, ErrConflict)
		}
		return nil
	}
	m.settled = settle
	resp, err := m.queue.UpdateMessage(ctx, m.ID, m.popReceipt, m.text, &azqueue.UpdateMessageOptions{VisibilityTimeout: seconds(d, roundUp)})
	if err != nil {
		if isMessageGone(err) {
			return fmt.Errorf("message %s: %w", m.ID, ErrConflict)
		}
		return fmt.Errorf("message %s on %s: %w", m.ID, m.queue.URL(), err)
	}
	if resp.PopReceipt != nil {
		m.popReceipt = *resp.PopReceipt
	}
	return nil
}

// Replace takes over a newer delivery of the same message (its visibility
// ran out and it was dequeued again): the newer pop receipt is the only
// one the service still accepts.
func (m *Message) Replace(newer *Message) {
	if newer == m {
		return
	}
	newer.mu.Lock()
	pr, count := newer.popReceipt, newer.DequeueCount
	newer.mu.Unlock()
	m.mu.Lock()
	m.popReceipt, m.DequeueCount = pr, count
	m.mu.Unlock()
}

// Poison moves a message that keeps failing to the poison queue, with the
// reason, and deletes it from its queue.
func (h *Hub) Poison(ctx context.Context, m *Message, reason string) error {
	text, err := layout.EncodeMessage(ctx, h.blobs, m.Data)
	if err != nil {
		return fmt.Errorf("poison message %s: %w", m.ID, err)
	}
	return h.poisonRaw(ctx, m, text, reason)
}

func (h *Hub) poisonRaw(ctx context.Context, m *Message, text, reason string) error {
	ttl := int32(-1)
	// A queue message holds 64 KiB; keep enough of the original to diagnose.
	if len(text) > 32<<10 {
		text = text[:32<<10] + "…(truncated)"
	}
	body := fmt.Sprintf(`{"Queue":%q,"MessageId":%q,"DequeueCount":%d,"Reason":%q,"Message":%q}`,
		m.queue.URL(), m.ID, m.DequeueCount, reason, text)
	if _, err := h.poison.EnqueueMessage(ctx, body, &azqueue.EnqueueMessageOptions{TimeToLive: &ttl}); err != nil {
		return fmt.Errorf("move message %s to poison queue: %w", m.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.queue.DeleteMessage(ctx, m.ID, m.popReceipt, nil); err != nil && !isMessageGone(err) {
		return fmt.Errorf("delete poisoned message %s: %w", m.ID, err)
	}
	return nil
}

// WakeMessage is the body of a wake-up message.
type WakeMessage struct {
	InstanceID string `json:"instanceId"`
	Reason     string `json:"reason"`
}

// Wake asks the Functions host to run the app at visibleAt (or now) by
// putting a message on the wake queue, which the app's Wake function is
// triggered by. Without a wake queue it does nothing.
func (h *Hub) Wake(ctx context.Context, instanceID, reason string, visibleAt time.Time) error {
	if h.wake == nil {
		return nil
	}
	body, _ := json.Marshal(WakeMessage{InstanceID: instanceID, Reason: reason})
	// The message expires a day after it is due: waking matters only while
	// the work is pending, and a stale wake-up costs a cold start.
	opts := &azqueue.EnqueueMessageOptions{}
	d := time.Until(visibleAt)
	if d > 0 {
		opts.VisibilityTimeout = seconds(min(d, MaxVisibilityDelay), true)
	}
	ttl := int32(min(max(d, 0)+24*time.Hour, 7*24*time.Hour) / time.Second)
	opts.TimeToLive = &ttl
	// Base64, because the Functions host's queue trigger decodes message
	// bodies as base64 by default (extensions.queues.messageEncoding).
	text := base64.StdEncoding.EncodeToString(body)
	if _, err := h.wake.EnqueueMessage(ctx, text, opts); err != nil {
		if isStatus(err, 404) {
			if _, cerr := h.wake.Create(ctx, nil); cerr == nil || isQueueExists(cerr) {
				_, err = h.wake.EnqueueMessage(ctx, text, opts)
			}
		}
		if err != nil {
			return fmt.Errorf("send wake-up for %q: %w", instanceID, err)
		}
	}
	return nil
}
