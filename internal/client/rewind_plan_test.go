package client

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/history"
)

// ev builds history events for planRewind's tests: "S0" TaskScheduled #0,
// "C0"/"F0" its completion or failure, "T1"/"R1" timer #1 created/fired,
// "O2" sub-orchestration #2 created (child "c2"), "OC2"/"OF2" its
// completion or failure, "E" an event received, "X" the failed end, "|" a
// new episode.
func ev(t *testing.T, spec string) []history.Event {
	t.Helper()
	out := []history.Event{{Type: history.OrchestratorStarted, EventID: -1}, {Type: history.ExecutionStarted, EventID: -1, Name: "O"}}
	for _, f := range strings.Fields(spec) {
		kind, digits := f, ""
		if split := strings.IndexAny(f, "0123456789"); split > 0 {
			kind, digits = f[:split], f[split:]
		}
		id, _ := strconv.Atoi(digits)
		e := history.Event{EventID: -1}
		switch kind {
		case "S":
			e.Type, e.EventID, e.Name = history.TaskScheduled, id, "A"
		case "C":
			e.Type, e.TaskScheduledID = history.TaskCompleted, id
		case "F":
			e.Type, e.TaskScheduledID = history.TaskFailed, id
		case "T":
			e.Type, e.EventID = history.TimerCreated, id
		case "R":
			e.Type, e.TimerID = history.TimerFired, id
		case "O":
			e.Type, e.EventID, e.Name, e.InstanceID = history.SubOrchestrationInstanceCreated, id, "Child", "c"+digits
		case "OC":
			e.Type, e.TaskScheduledID = history.SubOrchestrationInstanceCompleted, id
		case "OF":
			e.Type, e.TaskScheduledID = history.SubOrchestrationInstanceFailed, id
		case "E":
			e.Type, e.Name = history.EventRaised, "Go"
		case "X":
			e.Type, e.OrchestrationStatus = history.ExecutionCompleted, history.StatusFailed
		case "LS", "LF", "LX":
			// The markers of an earlier version's rewind.
			e.Type, e.Data = history.GenericEvent, "Rewound: "+map[string]string{
				"LS": "TaskScheduled", "LF": "TaskFailed", "LX": "ExecutionCompleted"}[kind]
		case "G":
			e.Type, e.Data = history.GenericEvent, "Rewind: fixed"
		case "|":
			out = append(out, history.Event{Type: history.OrchestratorCompleted, EventID: -1})
			e.Type = history.OrchestratorStarted
		default:
			t.Fatalf("bad spec %q", f)
		}
		out = append(out, e)
	}
	return out
}

// kept renders what a plan keeps in the spec's notation, "-" for a row
// the rewind replaced.
func kept(events []history.Event) string {
	var b []string
	for _, e := range events[2:] {
		switch e.Type {
		case history.GenericEvent:
			b = append(b, "-")
		case history.OrchestratorStarted:
			b = append(b, "|")
		case history.OrchestratorCompleted:
		default:
			b = append(b, e.Type.String())
		}
	}
	return strings.Join(b, " ")
}

func TestPlanRewind(t *testing.T) {
	failed := childState{found: true, ours: true, status: history.StatusFailed}
	tests := []struct {
		name     string
		spec     string
		children map[int]childState
		want     string // kept, in kept()'s notation
		rewind   []string
		deliver  int
	}{{
		// Issue 18: three attempts with back-off timers. The cut falls after
		// the last timer that fired; the last attempt runs again.
		name: "retried activity",
		spec: "S0 | F0 T1 | R1 S2 | F2 T3 | R3 S4 | F4 X",
		want: "TaskScheduled | TaskFailed TimerCreated | TimerFired TaskScheduled | TaskFailed TimerCreated | TimerFired - | - -",
	}, {
		name: "activity without retries",
		spec: "S0 | C0 S1 | F1 X",
		want: "TaskScheduled | TaskCompleted - | - -",
	}, {
		// A fan-out: #1 failed, #2 succeeded after it, #3 was in flight.
		name: "fan-out",
		spec: "S0 S1 S2 S3 | C0 F1 | C2 X",
		want: "TaskScheduled - TaskScheduled - | TaskCompleted - | TaskCompleted -",
	}, {
		name: "event received, then a failure",
		spec: "| E S0 | F0 X",
		want: "| EventRaised - | - -",
	}, {
		name:     "failed child rewound in place, after retries",
		spec:     "O0 | OF0 T1 | R1 O2 | OF2 X",
		children: map[int]childState{0: {found: true, ours: true, status: history.StatusFailed}, 2: failed},
		want:     "SubOrchestrationInstanceCreated | SubOrchestrationInstanceFailed TimerCreated | TimerFired SubOrchestrationInstanceCreated | - -",
		rewind:   []string{"c2"},
	}, {
		name:     "completed child whose result was dropped",
		spec:     "O0 S1 | F1 X",
		children: map[int]childState{0: {found: true, ours: true, status: history.StatusCompleted, output: `"x"`}},
		want:     "SubOrchestrationInstanceCreated - | - -",
		deliver:  1,
	}, {
		name:     "purged child",
		spec:     "O0 | OF0 X",
		children: map[int]childState{0: {}},
		want:     "- | - -",
	}, {
		// A timer still waiting when the instance failed is issued again.
		name: "timer in flight",
		spec: "T0 S1 | C1 S2 | F2 X",
		want: "- TaskScheduled | TaskCompleted - | - -",
	}, {
		// What an earlier version's rewind left of issue 18's instance: the
		// attempts removed, their timers kept, and the replay failed on
		// TimerCreated #1. The cut goes back to the first removed failure.
		name: "broken by an earlier rewind",
		spec: "LS | LF T1 | R1 LS | LF T3 | R3 LS | LF LX | G X",
		want: "- | - - | - - | - - | - - | - - | - -",
	}, {
		// An earlier version's rewind that worked: the step was issued
		// again under its number, and nothing is cut back.
		name: "rewound by an earlier version, then failed again",
		spec: "LS | LF LX | G S0 | C0 S1 | F1 X",
		want: "- | - - | - TaskScheduled | TaskCompleted - | - -",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := ev(t, tt.spec)
			orig := append([]history.Event(nil), events...)
			p, err := planRewind(events, tt.children, "marker")
			if err != nil {
				t.Fatal(err)
			}
			if got := kept(p.events); got != tt.want {
				t.Errorf("kept\n got %s\nwant %s", got, tt.want)
			}
			if strings.Join(p.rewind, ",") != strings.Join(tt.rewind, ",") || len(p.deliver) != tt.deliver {
				t.Errorf("rewind %v deliver %d, want %v %d", p.rewind, len(p.deliver), tt.rewind, tt.deliver)
			}
			last := p.events[len(p.events)-1]
			if !strings.Contains(last.Data, "Rewound: ExecutionCompleted; marker") {
				t.Errorf("the failed end became %+v", last)
			}
			for i := range orig {
				if orig[i].Type != events[i].Type {
					t.Fatal("planRewind changed its input")
				}
			}
		})
	}
}

func TestPlanRewindRefuses(t *testing.T) {
	terminated := map[int]childState{0: {found: true, ours: true, status: history.StatusTerminated}}
	for _, tt := range []struct {
		name, spec string
		children   map[int]childState
		want       string
	}{
		{"terminated child before the cut", "O0 S1 | C1 S2 | F2 X", terminated, "purge it"},
		{"terminated child after the cut", "O0 | S1 F1 X", terminated, "purge it"},
		{"child running for another parent", "O0 | S1 F1 X",
			map[int]childState{0: {found: true, status: history.StatusRunning}}, "another parent"},
		{"no start", "", nil, "no ExecutionStarted"},
		{"an action twice", "S0 S0 | F0 X", nil, "twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events := ev(t, tt.spec)
			if tt.name == "no start" {
				events = events[:1]
			}
			_, err := planRewind(events, tt.children, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if strings.Contains(tt.want, "purge") && !errors.Is(err, ErrWrongState) {
				t.Errorf("err %v is not ErrWrongState", err)
			}
		})
	}
}

func TestCheckRewound(t *testing.T) {
	for _, tt := range []struct {
		spec, want string
	}{
		{"S0 | C0 C0", "two outcomes"},
		{"T0 | C0", "answers a TimerCreated"},
		{"S0 | C0 X", "still ends"},
	} {
		if err := checkRewound(ev(t, tt.spec)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.spec, err, tt.want)
		}
	}
	if err := checkRewound(ev(t, "S0 T1 | C0 R1 E")); err != nil {
		t.Errorf("a valid history: %v", err)
	}
}
