package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/durable-go/durable/internal/history"
)

// The .NET provider serializes queue messages with Newtonsoft.Json's
// TypeNameHandling.Objects: every object carries a "$type" property, first,
// naming its class without the assembly (the provider's binder resolves
// DurableTask.Core and DurableTask.AzureStorage names itself). A .NET
// worker cannot read a message without them, since the Event property is
// of the abstract type HistoryEvent. annotateDotNetTypes adds them to an
// encoded MessageData.

const (
	dotNetMessageData    = "DurableTask.AzureStorage.MessageData"
	dotNetTaskMessage    = "DurableTask.Core.TaskMessage"
	dotNetInstance       = "DurableTask.Core.OrchestrationInstance"
	dotNetParentInstance = "DurableTask.Core.ParentInstance"
	dotNetFailure        = "DurableTask.Core.FailureDetails"
	dotNetTraceContext   = "DurableTask.Core.Tracing.DistributedTraceContext"
)

// DotNetEventType is the Durable Task Framework's class for events of type
// t, as a "$type" value; "" for a type with no class of its own.
func DotNetEventType(t history.EventType) string {
	switch t {
	case history.ExecutionFailed:
		return ""
	case history.GenericEvent:
		return "DurableTask.Core.History.GenericEvent"
	}
	if !knownEventType(t) {
		return ""
	}
	return "DurableTask.Core.History." + t.String() + "Event"
}

func annotateDotNetTypes(data []byte, ev history.EventType) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := parseOrdered(dec)
	if err != nil {
		return nil, fmt.Errorf("annotate .NET types: %w", err)
	}
	md, ok := root.(*orderedObject)
	if !ok {
		return nil, fmt.Errorf("annotate .NET types: message is not a JSON object")
	}
	md.typed(dotNetMessageData)
	if tm := md.object("TaskMessage"); tm != nil {
		tm.typed(dotNetTaskMessage)
		tm.object("OrchestrationInstance").typed(dotNetInstance)
		if e := tm.object("Event"); e != nil {
			e.typed(DotNetEventType(ev))
			e.object("OrchestrationInstance").typed(dotNetInstance)
			if p := e.object("ParentInstance"); p != nil {
				p.typed(dotNetParentInstance)
				p.object("OrchestrationInstance").typed(dotNetInstance)
			}
			e.object("ParentTraceContext").typed(dotNetTraceContext)
			for f := e.object("FailureDetails"); f != nil; f = f.object("InnerFailure") {
				f.typed(dotNetFailure)
			}
		}
	}
	var buf bytes.Buffer
	if err := writeOrdered(&buf, md); err != nil {
		return nil, fmt.Errorf("annotate .NET types: %w", err)
	}
	return buf.Bytes(), nil
}

// orderedObject is a JSON object that keeps its keys' order, which
// encoding/json's maps do not: "$type" must come first.
type orderedObject struct {
	keys []string
	vals []any // *orderedObject, []any, json.Number, string, bool or nil
}

// typed puts "$type": name first, unless o is nil or name is empty.
func (o *orderedObject) typed(name string) {
	if o == nil || name == "" {
		return
	}
	for _, k := range o.keys {
		if k == "$type" {
			return
		}
	}
	o.keys = append([]string{"$type"}, o.keys...)
	o.vals = append([]any{name}, o.vals...)
}

// object returns the member key when it is an object, else nil.
func (o *orderedObject) object(key string) *orderedObject {
	if o == nil {
		return nil
	}
	for i, k := range o.keys {
		if k == key {
			v, _ := o.vals[i].(*orderedObject)
			return v
		}
	}
	return nil
}

func parseOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &orderedObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := parseOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

func writeOrdered(w *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case *orderedObject:
		w.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeScalar(w, k); err != nil {
				return err
			}
			w.WriteByte(':')
			if err := writeOrdered(w, x.vals[i]); err != nil {
				return err
			}
		}
		w.WriteByte('}')
	case []any:
		w.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := writeOrdered(w, e); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	case json.Number:
		w.WriteString(x.String())
	default:
		return writeScalar(w, x)
	}
	return nil
}

func writeScalar(w io.Writer, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
