package layout

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/history"
)

// MessageData is the envelope of every control-queue and work-item-queue
// message, the JSON shape of the .NET provider's MessageData class.
type MessageData struct {
	// ActivityID identifies the message for tracing and names its blob when
	// the message is too large for the queue. .NET writes a GUID.
	ActivityID  string              `json:"ActivityId"`
	TaskMessage history.TaskMessage `json:"TaskMessage"`
	// CompressedBlobName names the blob holding the real message when the
	// queue carries only a stub. DecodeMessage keeps it set on the message
	// it loaded from that blob, so that the caller can delete the blob once
	// the message is processed.
	CompressedBlobName string `json:"CompressedBlobName,omitempty"`
	// SequenceNumber orders the messages a sender sent to one queue.
	SequenceNumber int64 `json:"SequenceNumber"`
	// Episode is the sender's orchestration episode (replay count).
	Episode int `json:"Episode"`
	// Sender identifies the sending instance, if any.
	Sender string `json:"Sender,omitempty"`
}

// EncodeMessage returns the queue message text of md: its JSON, or, when
// that exceeds MaxMessageBytes, a stub naming the blob
// "{instanceId}/message-{activityId}-{EventType}.json.gz" that holds the
// gzip'd JSON. An empty ActivityID is replaced by a new GUID. The result is
// plain JSON; a queue client that base64-encodes message bodies may do so.
func EncodeMessage(ctx context.Context, blobs BlobStore, md MessageData) (string, error) {
	id := md.TaskMessage.OrchestrationInstance.InstanceID
	ev := md.TaskMessage.Event.Type
	if id == "" {
		return "", fmt.Errorf("encode %s queue message: TaskMessage.OrchestrationInstance.InstanceId is empty", ev)
	}
	fail := func(err error) error {
		return fmt.Errorf("encode %s queue message for instance %q: %w", ev, id, err)
	}
	if !knownEventType(ev) {
		return "", fail(fmt.Errorf("unknown event type %d", int(ev)))
	}
	if md.ActivityID == "" {
		md.ActivityID = newGUID()
	}
	// A message decoded from a blob still names it; the encoding decides
	// afresh whether a blob is needed.
	md.CompressedBlobName = ""
	data, err := marshalJSON(md)
	if err == nil {
		data, err = annotateDotNetTypes(data, ev)
	}
	if err != nil {
		return "", fail(err)
	}
	if len(data) <= MaxMessageBytes {
		return string(data), nil
	}
	name := fmt.Sprintf("%s/message-%s-%s.json.gz", id, md.ActivityID, ev)
	if err := uploadGzip(ctx, blobs, name, data); err != nil {
		return "", fail(fmt.Errorf("offload %d-byte message: %w", len(data), err))
	}
	stub, err := marshalJSON(struct {
		Type               string `json:"$type"`
		ActivityID         string `json:"ActivityId"`
		CompressedBlobName string `json:"CompressedBlobName"`
	}{dotNetMessageData, md.ActivityID, name})
	if err != nil {
		return "", fail(err)
	}
	return string(stub), nil
}

// newGUID returns a random GUID in the dashed form .NET writes.
func newGUID() string {
	h := NewInstanceID()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// DecodeMessage reads a queue message body: JSON (text starting with '{')
// or base64 of JSON, as written by this package or by the .NET provider.
// .NET's "$type" properties are ignored, EventType may be a number or a
// name, and date-times may be in any RFC 3339 form. A stub naming a
// CompressedBlobName is replaced by the message stored in that blob. A
// message whose TaskMessage has no instance ID is rejected, since it cannot
// be routed.
func DecodeMessage(ctx context.Context, blobs BlobStore, text string) (MessageData, error) {
	body, err := messageJSON(text)
	if err != nil {
		return MessageData{}, fmt.Errorf("decode queue message: %w", err)
	}
	md, hasTask, err := parseMessage(body)
	if err != nil {
		return MessageData{}, fmt.Errorf("decode queue message: %w", err)
	}
	if name := md.CompressedBlobName; name != "" {
		fail := func(err error) error {
			return fmt.Errorf("decode queue message %s stored in blob %s: %w", md.ActivityID, name, err)
		}
		data, err := downloadGunzip(ctx, blobs, name)
		if err != nil {
			return MessageData{}, fail(err)
		}
		inner, innerHasTask, err := parseMessage(bytes.TrimSpace(data))
		if err != nil {
			return MessageData{}, fail(err)
		}
		if inner.CompressedBlobName != "" {
			return MessageData{}, fail(fmt.Errorf("the blob's message names another blob (%s)", inner.CompressedBlobName))
		}
		if inner.ActivityID == "" {
			inner.ActivityID = md.ActivityID
		}
		inner.CompressedBlobName = name
		md, hasTask = inner, innerHasTask
	}
	if !hasTask {
		return MessageData{}, fmt.Errorf("decode queue message %s: it has no TaskMessage event", md.ActivityID)
	}
	if md.TaskMessage.OrchestrationInstance.InstanceID == "" {
		return MessageData{}, fmt.Errorf("decode %s queue message %s: TaskMessage.OrchestrationInstance.InstanceId is missing",
			md.TaskMessage.Event.Type, md.ActivityID)
	}
	return md, nil
}

// messageJSON returns the JSON of a queue message body, decoding base64
// when the body does not look like JSON.
func messageJSON(text string) ([]byte, error) {
	s := strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
	if s == "" {
		return nil, errors.New("empty message body")
	}
	if s[0] == '{' {
		return []byte(s), nil
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var err2 error
		if data, err2 = base64.RawStdEncoding.DecodeString(s); err2 != nil {
			return nil, fmt.Errorf("body is neither JSON nor base64 (%.20q...): %w", s, err)
		}
	}
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("base64 body does not decode to a JSON object (starts %q)", hexPrefix(data))
	}
	return data, nil
}

func hexPrefix(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return hex.EncodeToString(b)
}

// wireMessage, wireTaskMessage and wireEvent accept what .NET writes where
// it differs from this package's own output: null instead of absent, enums
// as numbers or names, date-times without an offset, a Sender that is not a
// string. Unknown properties, "$type" included, are ignored by encoding/json.
type wireMessage struct {
	ActivityID         string           `json:"ActivityId"`
	TaskMessage        *wireTaskMessage `json:"TaskMessage"`
	CompressedBlobName string           `json:"CompressedBlobName"`
	SequenceNumber     int64            `json:"SequenceNumber"`
	Episode            int              `json:"Episode"`
	Sender             json.RawMessage  `json:"Sender"`
}

type wireTaskMessage struct {
	Event                 *wireEvent                     `json:"Event"`
	SequenceNumber        int64                          `json:"SequenceNumber"`
	OrchestrationInstance *history.OrchestrationInstance `json:"OrchestrationInstance"`
}

// wireEvent decodes a history.Event; its own fields shadow the embedded
// ones with the same JSON names (encoding/json prefers the shallower field).
type wireEvent struct {
	history.Event
	Type                wireEventType `json:"EventType"`
	Timestamp           wireTime      `json:"Timestamp"`
	FireAt              wireTime      `json:"FireAt"`
	ScheduledStartTime  *wireTime     `json:"ScheduledStartTime"`
	OrchestrationStatus wireStatus    `json:"OrchestrationStatus"`
}

// parseMessage decodes one MessageData JSON object. hasTask reports whether
// it had a TaskMessage with an Event.
func parseMessage(data []byte) (md MessageData, hasTask bool, err error) {
	var w wireMessage
	if err := json.Unmarshal(data, &w); err != nil {
		return MessageData{}, false, err
	}
	md = MessageData{
		ActivityID:         w.ActivityID,
		CompressedBlobName: w.CompressedBlobName,
		SequenceNumber:     w.SequenceNumber,
		Episode:            w.Episode,
	}
	if len(w.Sender) > 0 && w.Sender[0] == '"' {
		// Any other form (an object in some .NET versions, null) carries
		// nothing this project uses.
		_ = json.Unmarshal(w.Sender, &md.Sender)
	}
	if w.TaskMessage == nil {
		return md, false, nil
	}
	md.TaskMessage.SequenceNumber = w.TaskMessage.SequenceNumber
	if oi := w.TaskMessage.OrchestrationInstance; oi != nil {
		md.TaskMessage.OrchestrationInstance = *oi
	}
	we := w.TaskMessage.Event
	if we == nil {
		return md, false, nil
	}
	if !we.Type.set {
		return MessageData{}, false, errors.New("TaskMessage.Event has no EventType")
	}
	ev := we.Event
	ev.Type = we.Type.t
	ev.Timestamp = we.Timestamp.t
	ev.FireAt = we.FireAt.t
	if we.ScheduledStartTime != nil {
		t := we.ScheduledStartTime.t
		ev.ScheduledStartTime = &t
	}
	ev.OrchestrationStatus = we.OrchestrationStatus.s
	delete(ev.Tags, "$type")
	if len(ev.Tags) == 0 {
		ev.Tags = nil
	}
	md.TaskMessage.Event = ev
	return md, true, nil
}

type wireEventType struct {
	t   history.EventType
	set bool
}

func (w *wireEventType) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		t, err := history.ParseEventType(name)
		if err != nil {
			return fmt.Errorf("EventType: %w", err)
		}
		w.t, w.set = t, true
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("EventType: %w", err)
	}
	if !knownEventType(history.EventType(n)) {
		return fmt.Errorf("EventType: unknown event type %d", n)
	}
	w.t, w.set = history.EventType(n), true
	return nil
}

type wireTime struct{ t time.Time }

func (w *wireTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	// Converting an offset to UTC can carry the year out of the range a
	// time.Time can be written back as JSON; such a message is corrupt.
	if y := t.Year(); y < 1 || y > 9999 {
		return fmt.Errorf("date-time %q is out of range", s)
	}
	w.t = t
	return nil
}

type wireStatus struct{ s history.RuntimeStatus }

func (w *wireStatus) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		st, err := history.ParseRuntimeStatus(name)
		if err != nil {
			return fmt.Errorf("OrchestrationStatus: %w", err)
		}
		w.s = st
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("OrchestrationStatus: %w", err)
	}
	st, err := statusFromNumber(n)
	if err != nil {
		return fmt.Errorf("OrchestrationStatus: %w", err)
	}
	w.s = st
	return nil
}
