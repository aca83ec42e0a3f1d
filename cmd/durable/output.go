package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/durable-go/durable/internal/apijson"
	"github.com/durable-go/durable/internal/client"
)

// streams are where a command writes: results to stdout, messages and
// progress to stderr.
type streams struct {
	stdout, stderr io.Writer
	// terminal is true when stderr is a terminal. Progress lines redraw
	// themselves with "\r", which only makes sense on a terminal; in a pipe
	// or a log file they would be noise.
	terminal bool
}

// osStreams returns the process's streams.
func osStreams() streams {
	return streams{stdout: os.Stdout, stderr: os.Stderr, terminal: isTerminal(os.Stderr)}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine shows "label: done/total" on one redrawn terminal line.
type progressLine struct {
	w     io.Writer
	label string

	// The client may report from several goroutines.
	mu    sync.Mutex
	last  time.Time
	shown bool
}

// progress returns the callback for a long operation, or nil (no
// reporting) when stderr is not a terminal.
func (s streams) progress(label string) (client.Progress, func()) {
	if !s.terminal {
		return nil, func() {}
	}
	p := &progressLine{w: s.stderr, label: label}
	return p.update, p.finish
}

func (p *progressLine) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Redrawing more than ten times a second only costs the terminal time;
	// the last update (done == total) is always drawn.
	now := time.Now()
	if p.shown && now.Sub(p.last) < 100*time.Millisecond && (total <= 0 || done < total) {
		return
	}
	p.last, p.shown = now, true
	if total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s: %d/%d", p.label, done, total)
	} else {
		fmt.Fprintf(p.w, "\r\033[K%s: %d", p.label, done)
	}
}

// finish clears the progress line so that the result message starts on a
// clean line.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// writeJSON writes raw JSON indented, with a final newline.
func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return internalError(fmt.Errorf("format JSON output: %w", err))
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return internalError(fmt.Errorf("write output: %w", err))
	}
	return nil
}

// statusJSON renders one status body in the HTTP API's shape.
func statusJSON(st *client.Status, o apijson.StatusOptions) ([]byte, error) {
	raw, err := apijson.Status(st, o)
	if err != nil {
		return nil, internalError(fmt.Errorf("render status of %s: %w", st.InstanceID, err))
	}
	return raw, nil
}

// formatTime prints a time as the HTTP API does: UTC, second precision.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// oneLine keeps a JSON payload on one table line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// table is a tab-aligned table with a header.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		// A tab or newline inside a cell would break the alignment.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return internalError(fmt.Errorf("write output: %w", err))
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it holds characters the shell
// would interpret, so that a printed continuation token can be pasted.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/+=@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// listPage is one page of a list command's output.
type listPage struct {
	// token is the page's continuation token, "" on the last page.
	token string
	// json renders the page as the HTTP API's array.
	json func() ([]byte, error)
	// rows counts the page's items; none prints empty instead of a table.
	rows  int
	empty string
	// table writes the page's table.
	table func() error
	// gap puts a blank line between the table and the token line.
	gap bool
}

// printPage prints a page of a list command: its JSON on stdout and the
// continuation token on stderr (the HTTP API sends it in a header; stderr
// keeps stdout one JSON document), or its table and then the token.
func printPage(e *env, asJSON bool, p listPage) error {
	next := ""
	if p.token != "" {
		next = "Continuation token (pass with --continuation-token for the next page): " + shellQuote(p.token) + "\n"
	}
	if asJSON {
		raw, err := p.json()
		if err != nil {
			return internalError(err)
		}
		if err := writeJSON(e.stdout, raw); err != nil {
			return err
		}
		fmt.Fprint(e.stderr, next)
		return nil
	}
	if p.rows == 0 {
		fmt.Fprintln(e.stdout, p.empty)
	} else if err := p.table(); err != nil {
		return err
	}
	if next != "" && p.gap {
		next = "\n" + next
	}
	fmt.Fprint(e.stdout, next)
	return nil
}
