package tasktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/durable-go/durable/internal/durable"
	"github.com/durable-go/durable/internal/replaycheck"
	"github.com/durable-go/durable/internal/taskbridge"
	"github.com/durable-go/durable/task"
)

// ErrNotReplayable is wrapped by ParseHistory's error for a history in the
// Durable Functions HTTP API's shape (`durable get-history --json` without
// --raw, or a status body's historyEvents). That shape is for people: it
// leaves out the inputs of the orchestration, of activities and of events,
// the event IDs that pair results with their tasks and timers, and the
// episode boundaries that set the orchestration's clock, so replaying it
// would report differences that are not there and miss some that are.
var ErrNotReplayable = errors.New("tasktest: history is in the HTTP API's shape, which cannot be replayed")

// ParseHistory reads a history printed by `durable get-history --id ID
// --json --raw`: the JSON array of the engine's events, oldest first, which
// is also what encoding/json makes of a []HistoryEvent such as
// Result.History.
func ParseHistory(data []byte) ([]HistoryEvent, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		return nil, fmt.Errorf("parse history: %w: this looks like a status body; fetch the history with "+
			"`durable get-history --id ID --json --raw`", ErrNotReplayable)
	}
	var probe []map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("parse history: want a JSON array of history events: %w", err)
	}
	for i, ev := range probe {
		t := bytes.TrimSpace(ev["EventType"])
		if len(t) == 0 {
			return nil, fmt.Errorf("parse history: event %d has no EventType", i)
		}
		if t[0] == '"' {
			return nil, fmt.Errorf("parse history: %w: event types are names, as `durable get-history --json` "+
				"prints them; fetch the history with `durable get-history --id ID --json --raw`", ErrNotReplayable)
		}
	}
	var events []HistoryEvent
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, fmt.Errorf("parse history: %w", err)
	}
	return events, nil
}

// Replay replays one execution's recorded history against the
// orchestrators in reg, exactly as the worker does when the instance runs
// next, to check that a code change is still deterministic. It returns nil
// when the code issues the actions the history records, or a
// *task.NonDeterminismError that says where it departs from them. For a
// history that records its orchestration's completion, the code must also
// complete at the same point, without new actions; the output's value is
// not compared. A history that records a failure may end differently, since
// fixing the failure is a reason to change the code.
//
// Any other error means the history could not be replayed: it is empty or
// has no start, names an orchestrator reg does not have, or the code fails
// on replay of a history that records neither a failure nor a completion.
func Replay(reg *task.Registry, events []HistoryEvent) error {
	err := replaycheck.Replay(taskbridge.Engine(reg), events, DefaultInstanceID)
	var nd *durable.NonDeterminismError
	if errors.As(err, &nd) {
		return &task.NonDeterminismError{Message: nd.Message}
	}
	if err != nil {
		return fmt.Errorf("tasktest: %w", err)
	}
	return err
}

// ReplayReport is the outcome of CheckReplay and CheckReplayDir, and of
// `durable replay-check`: per orchestrator and version, how many
// instances replay and which do not, with where each departs from its
// history. Write prints it as the CLI does; Failed counts the failures.
type ReplayReport = replaycheck.Report

// ReplayGroup counts the instances of one orchestrator and version.
type ReplayGroup = replaycheck.Group

// ReplayFailure is an instance that does not replay.
type ReplayFailure = replaycheck.Failure

// CheckReplay replays each history (keyed by instance ID) against the
// orchestrators in reg, as Replay does, and reports per orchestrator and
// version. Histories without a start count as NotStarted.
func CheckReplay(reg *task.Registry, histories map[string][]HistoryEvent) *ReplayReport {
	ids := make([]string, 0, len(histories))
	for id := range histories {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c := replaycheck.NewChecker(taskbridge.Engine(reg))
	for _, id := range ids {
		c.Add(replaycheck.Instance{InstanceID: id, Events: histories[id]})
	}
	return c.Report()
}

// CheckReplayDir is CheckReplay of the histories in dir: every *.json
// file in it holds one, as `durable get-history --id ID --raw` prints it
// and `durable replay-check --save DIR` writes them, and is named after
// its instance (ID.json). Commit such a folder to check in CI that a
// change still replays the instances it holds:
//
//	rep, err := tasktest.CheckReplayDir(reg, "testdata/histories")
//	if err != nil || rep.Failed() > 0 { rep.Write(os.Stderr); t.Fail() }
func CheckReplayDir(reg *task.Registry, dir string) (*ReplayReport, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("tasktest: check replay: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("tasktest: check replay: no *.json history in %s", dir)
	}
	histories := map[string][]HistoryEvent{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("tasktest: check replay: %w", err)
		}
		events, err := ParseHistory(data)
		if err != nil {
			return nil, fmt.Errorf("tasktest: check replay: %s: %w", f, err)
		}
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		if un, err := url.PathUnescape(id); err == nil {
			id = un // --save escapes IDs into file names
		}
		histories[id] = events
	}
	return CheckReplay(reg, histories), nil
}
