package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
)

// multiValue marks a flag that, like Core Tools' --runtime-status, takes
// every following argument up to the next flag
// (--runtime-status Completed Failed).
type multiValue interface {
	flag.Value
	takesMany()
}

// boolFlag is the interface the flag package uses to recognize booleans.
type boolFlag interface {
	IsBoolFlag() bool
}

// normalizeArgs rewrites a Core Tools command line into one the flag package
// parses identically. Two Core Tools spellings need it:
//
//   - a boolean with its value as the next argument: --show-input true
//     (the flag package would take "true" as a positional argument);
//   - a multi-value flag: --runtime-status Completed Failed.
//
// Both become --name=value. Everything after "--" is left alone.
func normalizeArgs(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...)
		}
		if len(arg) < 2 || arg[0] != '-' || strings.Contains(arg, "=") {
			out = append(out, arg)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
		f := fs.Lookup(name)
		if f == nil {
			out = append(out, arg)
			continue
		}
		if b, ok := f.Value.(boolFlag); ok && b.IsBoolFlag() {
			if i+1 < len(args) {
				if _, err := strconv.ParseBool(args[i+1]); err == nil {
					out = append(out, "--"+name+"="+args[i+1])
					i++
					continue
				}
			}
			out = append(out, arg)
			continue
		}
		if _, ok := f.Value.(multiValue); ok {
			var vals []string
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				vals = append(vals, args[i+1])
				i++
			}
			if len(vals) > 0 {
				out = append(out, "--"+name+"="+strings.Join(vals, ","))
				continue
			}
		}
		out = append(out, arg)
	}
	return out
}

// statusList collects runtime statuses given space-separated after one flag,
// comma-separated, or by repeating the flag. Names are case-insensitive.
type statusList []history.RuntimeStatus

func (l *statusList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, st := range *l {
		s[i] = string(st)
	}
	return strings.Join(s, ",")
}

func (l *statusList) Set(v string) error {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(names) == 0 {
		return fmt.Errorf("no runtime status given")
	}
	for _, n := range names {
		st, err := history.ParseRuntimeStatus(n)
		if err != nil {
			return err
		}
		if !containsStatus(*l, st) {
			*l = append(*l, st)
		}
	}
	return nil
}

func (l *statusList) takesMany() {}

// filterFlags are the filters of the list query, as get-instances and
// batch take them.
type filterFlags struct {
	createdAfter  timeValue
	createdBefore timeValue
	statuses      statusList
	idPrefix      string
	names         nameList
	versions      versionList
	showInternal  bool
}

// define adds the flags; statusUsage tells what --runtime-status does for
// the command.
func (f *filterFlags) define(fs *flag.FlagSet, statusUsage string) {
	fs.Var(&f.createdAfter, "created-after", "only instances created at or after this ISO 8601 `time` (UTC unless it names a zone)")
	fs.Var(&f.createdBefore, "created-before", "only instances created before this ISO 8601 `time` (UTC unless it names a zone)")
	fs.Var(&f.statuses, "runtime-status", statusUsage)
	fs.StringVar(&f.idPrefix, "instance-id-prefix", "", "only instances whose ID starts with `prefix`")
	fs.Var(&f.names, "name", "only instances of these orchestrator `names` (several space- or comma-separated, or repeat the flag)")
	fs.Var(&f.versions, "version", "only instances of this orchestration `version` (repeat the flag for several; --version '' for\ninstances without one); versions are equal as Durable Functions compares them (\"1.0\" = \"01.0\", case ignored)")
	fs.BoolVar(&f.showInternal, "show-internal", false, "include internal orchestrations (names starting with "+client.InternalNamePrefix+
		",\nsuch as the bulk operations' own), which are left out unless --name names them")
}

// query is the filters as a list query, once the time range is checked.
func (f *filterFlags) query() (client.Query, error) {
	if err := checkRange(f.createdAfter, f.createdBefore); err != nil {
		return client.Query{}, err
	}
	return client.Query{CreatedFrom: f.createdAfter.t, CreatedTo: f.createdBefore.t, Statuses: f.statuses,
		InstanceIDPrefix: f.idPrefix, Names: f.names, Versions: f.versions, ShowInternal: f.showInternal}, nil
}

// versionList collects versions, one per flag: a version may hold any
// character, so none separates them.
type versionList []string

func (l *versionList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *versionList) Set(v string) error {
	*l = append(*l, strings.TrimSpace(v))
	return nil
}

// nameList collects orchestrator names given space- or comma-separated
// after one flag, or by repeating the flag.
type nameList []string

func (l *nameList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, " ")
}

func (l *nameList) Set(v string) error {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(names) == 0 {
		return fmt.Errorf("no orchestrator name given")
	}
	*l = append(*l, names...)
	return nil
}

func (l *nameList) takesMany() {}

func containsStatus(l []history.RuntimeStatus, st history.RuntimeStatus) bool {
	for _, x := range l {
		if x == st {
			return true
		}
	}
	return false
}

// timeValue is an ISO 8601 date-time flag, read as UTC when it names no
// zone, as Core Tools does.
type timeValue struct {
	t   time.Time
	set bool
}

func (v *timeValue) String() string {
	if v == nil || !v.set {
		return ""
	}
	return v.t.Format(time.RFC3339Nano)
}

func (v *timeValue) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	v.t, v.set = t, true
	return nil
}

// parseTime reads an ISO 8601 date-time such as 2018-03-10T13:57:31Z,
// 2018-03-10T23:59Z, 2018-11-14T19:35:00.0000000Z or 2018-03-10; a time
// without a zone is UTC.
func parseTime(s string) (time.Time, error) {
	norm := strings.TrimSpace(s)
	// Accept the RFC 3339 variants ISO 8601 allows: a space for "T" and a
	// lower-case "z".
	if len(norm) > 10 && norm[10] == ' ' {
		norm = norm[:10] + "T" + norm[11:]
	}
	norm = strings.ToUpper(norm)
	// The ISO 8601 forms accepted, most specific first. When parsing, Go
	// accepts a fractional second after the seconds field even if the
	// layout has none, so .NET's seven-digit "…:00.0000000Z" is covered.
	layouts := [...]string{
		"2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04Z07:00",
		"2006-01-02T15:04:05",
		"2006-01-02T15:04",
		"2006-01-02",
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time; use e.g. 2018-03-10T13:57:31Z or 2018-03-10", s)
}

// flagError rewrites the flag package's messages, which spell flags with
// one dash, into the --name spelling used everywhere else.
func flagError(err error) string {
	msg := err.Error()
	for _, p := range []string{"for flag -", "not defined: -", "needs an argument: -"} {
		msg = strings.Replace(msg, p, p+"-", 1)
	}
	return msg
}

// printFlags lists the flags of fs that pass keep as "--name value" with
// their usage and non-zero defaults. flag.PrintDefaults would spell them
// "-name".
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(name string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		valueName, usage := flag.UnquoteUsage(f)
		if b, ok := f.Value.(boolFlag); ok && b.IsBoolFlag() {
			valueName = ""
		}
		line := "  --" + f.Name
		if valueName != "" {
			line += " " + valueName
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "        %s", strings.ReplaceAll(usage, "\n", "\n        "))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
