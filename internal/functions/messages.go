package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/durable-go/durable/internal/layout"
)

// Defaults taken from the seed's examples.
const (
	// DefaultOrchestrator is what a plain start-queue message starts.
	DefaultOrchestrator = "HelloWorld"
	// DefaultEventName and DefaultEventData are raised by a bare instance
	// ID on event-queue.
	DefaultEventName = "MyEvent"
	DefaultEventData = "[1,2,3]"
	// DefaultTerminateReason and DefaultRewindReason are used when a
	// message names no reason.
	DefaultTerminateReason = "It was time to be done."
	DefaultRewindReason    = "Orchestrator failed and needs to be revived."
)

// StartMessage is a start-queue message, decoded.
type StartMessage struct {
	// Orchestrator is the orchestrator to start.
	Orchestrator string
	// InstanceID is the ID to use, "" for a random one.
	InstanceID string
	// Input is the input as JSON text, "" for none.
	Input json.RawMessage
	// TraceParent and TraceState are the sender's W3C trace context, ""
	// for none: the orchestration's trace then goes on from the sender's.
	TraceParent, TraceState string
}

// ParseStartMessage reads a start-queue message. A JSON object with a
// functionName member is a start command:
//
//	{"functionName": "E1_HelloSequence", "instanceId": "order-42", "input": {...}}
//
// (instanceId, input, and the sender's W3C trace context as "traceparent"
// and "tracestate", optional; no other members). Anything else is the
// input of HelloWorld, as in the seed: a JSON object or array as it is, any
// other text as a JSON string.
func ParseStartMessage(text string) (*StartMessage, error) {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		// Text that starts like JSON but is not is most likely a broken
		// start command; starting HelloWorld with it would hide that.
		if !json.Valid([]byte(t)) {
			return nil, fmt.Errorf("start message starts like JSON but is not valid JSON: %.60q", t)
		}
		var probe map[string]json.RawMessage
		if json.Unmarshal([]byte(t), &probe) == nil {
			if _, isCommand := lookup(probe, "functionName"); isCommand {
				return parseStartCommand(t)
			}
		}
		return &StartMessage{Orchestrator: DefaultOrchestrator, Input: json.RawMessage(t)}, nil
	}
	in, _ := json.Marshal(text) // a string always marshals
	return &StartMessage{Orchestrator: DefaultOrchestrator, Input: in}, nil
}

func parseStartCommand(t string) (*StartMessage, error) {
	var cmd struct {
		FunctionName *string        `json:"functionName"`
		InstanceID   *string        `json:"instanceId"`
		Input        jsonValueField `json:"input"`
		TraceParent  string         `json:"traceparent"`
		TraceState   string         `json:"tracestate"`
	}
	if err := strictUnmarshal(t, &cmd); err != nil {
		return nil, fmt.Errorf("start command: %w (want {\"functionName\":\"...\",\"instanceId\":\"...\",\"input\":...})", err)
	}
	if cmd.FunctionName == nil || strings.TrimSpace(*cmd.FunctionName) == "" {
		return nil, errors.New("start command: functionName must be a non-empty string")
	}
	m := &StartMessage{Orchestrator: *cmd.FunctionName, TraceParent: cmd.TraceParent, TraceState: cmd.TraceState}
	if cmd.InstanceID != nil && *cmd.InstanceID != "" {
		if err := layout.ValidateInstanceID(*cmd.InstanceID); err != nil {
			return nil, fmt.Errorf("start command: %w", err)
		}
		m.InstanceID = *cmd.InstanceID
	}
	if cmd.Input.set {
		m.Input = cmd.Input.raw
	}
	return m, nil
}

// jsonValueField keeps a member's raw JSON and whether it was present, so
// that "input": null (an explicit null input) differs from no input.
type jsonValueField struct {
	raw json.RawMessage
	set bool
}

func (f *jsonValueField) UnmarshalJSON(b []byte) error {
	f.raw = append(json.RawMessage(nil), b...)
	f.set = true
	return nil
}

// Target is the instance a message acts on, with an optional reason.
type Target struct {
	InstanceID string
	// Reason is "" when the message gives none.
	Reason string
}

// ParseTarget reads a message naming an instance: either the bare instance
// ID or {"instanceId": "...", "reason": "..."}; reason is accepted only when
// withReason is true. A JSON string literal ("abc" in quotes) is the ID it
// holds.
func ParseTarget(text string, withReason bool) (*Target, error) {
	t := strings.TrimSpace(text)
	want := `an instance ID or {"instanceId":"..."}`
	if withReason {
		want = `an instance ID or {"instanceId":"...","reason":"..."}`
	}
	switch {
	case t == "":
		return nil, fmt.Errorf("the message is empty; want %s", want)
	case t[0] == '{':
		var m struct {
			InstanceID *string `json:"instanceId"`
			Reason     *string `json:"reason"`
		}
		if err := strictUnmarshal(t, &m); err != nil {
			return nil, fmt.Errorf("%w; want %s", err, want)
		}
		if m.Reason != nil && !withReason {
			return nil, fmt.Errorf("unexpected member \"reason\"; want %s", want)
		}
		if m.InstanceID == nil {
			return nil, fmt.Errorf("instanceId is missing; want %s", want)
		}
		tg := &Target{InstanceID: *m.InstanceID}
		if m.Reason != nil {
			tg.Reason = *m.Reason
		}
		return tg, validateID(tg.InstanceID)
	case t[0] == '[':
		return nil, fmt.Errorf("the message is a JSON array; want %s", want)
	case t[0] == '"':
		if inner, ok := unquoteLiteral(t); ok {
			t = strings.TrimSpace(inner)
		}
	}
	return &Target{InstanceID: t}, validateID(t)
}

// EventMessage is an event-queue message, decoded.
type EventMessage struct {
	InstanceID string
	EventName  string
	// Data is the event's payload as JSON text ("null" when absent).
	Data json.RawMessage
}

// ParseEventMessage reads an event-queue message: either
// {"instanceId": "...", "eventName": "...", "eventData": ...} (eventData
// optional) or a bare instance ID, which raises MyEvent with [1,2,3] as in
// the seed.
func ParseEventMessage(text string) (*EventMessage, error) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "{") {
		tg, err := ParseTarget(t, false)
		if err != nil {
			return nil, err
		}
		return &EventMessage{InstanceID: tg.InstanceID, EventName: DefaultEventName, Data: json.RawMessage(DefaultEventData)}, nil
	}
	const want = `want {"instanceId":"...","eventName":"...","eventData":...} or an instance ID`
	var m struct {
		InstanceID *string        `json:"instanceId"`
		EventName  *string        `json:"eventName"`
		EventData  jsonValueField `json:"eventData"`
	}
	if err := strictUnmarshal(t, &m); err != nil {
		return nil, fmt.Errorf("%w; %s", err, want)
	}
	if m.InstanceID == nil {
		return nil, fmt.Errorf("instanceId is missing; %s", want)
	}
	if m.EventName == nil || strings.TrimSpace(*m.EventName) == "" {
		return nil, fmt.Errorf("eventName is missing or empty; %s", want)
	}
	if err := validateID(*m.InstanceID); err != nil {
		return nil, err
	}
	ev := &EventMessage{InstanceID: *m.InstanceID, EventName: *m.EventName, Data: json.RawMessage("null")}
	if m.EventData.set {
		ev.Data = m.EventData.raw
	}
	return ev, nil
}

// WakeMessage is a durable-wake message: {"instanceId":"...","reason":"start|event|timer"}.
// Both members are optional; an empty message just wakes the app.
type WakeMessage struct {
	InstanceID string `json:"instanceId"`
	Reason     string `json:"reason"`
}

// ParseWakeMessage reads a wake-up message. Unknown members are ignored so
// that newer engines can add some without breaking older apps.
func ParseWakeMessage(text string) (*WakeMessage, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return &WakeMessage{}, nil
	}
	if t[0] != '{' {
		return nil, errors.New(`wake-up message is not a JSON object; want {"instanceId":"...","reason":"start|event|timer"}`)
	}
	var m WakeMessage
	if err := json.Unmarshal([]byte(t), &m); err != nil {
		return nil, fmt.Errorf("wake-up message: %w", err)
	}
	if m.InstanceID != "" {
		if err := validateID(m.InstanceID); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

func validateID(id string) error {
	if err := layout.ValidateInstanceID(id); err != nil {
		return fmt.Errorf("bad instance ID: %w", err)
	}
	return nil
}

// strictUnmarshal decodes one JSON object into v, rejecting unknown
// members (most likely typos that would otherwise be silently ignored) and
// trailing data.
func strictUnmarshal(t string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(t)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON message: data after the object")
	}
	return nil
}
