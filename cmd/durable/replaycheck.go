package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/replaycheck"
)

// exitReplayFailed is replay-check's exit code when an instance does not
// replay with the app's code: a CI job gates a deploy on it.
const exitReplayFailed = 6

// --- replay-check --------------------------------------------------------------

type replayCheckCmd struct {
	filter  filterFlags
	sample  int
	handler string
	save    string
	json    jsonFlag
}

func (c *replayCheckCmd) define(fs *flag.FlagSet) {
	c.filter.define(fs, "only instances with one of these `statuses` (default: the unfinished ones, Pending, Running,\n"+
		"Suspended and ContinuedAsNew; several space- or comma-separated, or repeat the flag)")
	fs.IntVar(&c.sample, "sample", 0, "check at most `N` instances of each orchestrator and version, picked at random (0: all)")
	fs.StringVar(&c.handler, "handler", "", "the app's built handler `executable`; default: go build the app in --app-root")
	fs.StringVar(&c.save, "save", "", "also write each checked history to `dir`/ID.json, as get-history --raw does,\n"+
		"for tasktest.CheckReplayDir")
	c.json.define(fs)
}

func (c *replayCheckCmd) run(ctx context.Context, e *env) error {
	if c.sample < 0 {
		return usageErrorf("--sample must be 0 or more")
	}
	q, err := c.filter.query()
	if err != nil {
		return err
	}
	if len(q.Statuses) == 0 {
		q.Statuses = []history.RuntimeStatus{history.StatusPending, history.StatusRunning, history.StatusSuspended,
			history.StatusContinuedAsNew}
	}
	exe := c.handler
	if exe == "" {
		// The code to check is the app's working tree, built now.
		dir, err := os.MkdirTemp("", "durable-replay-check")
		if err != nil {
			return internalError(err)
		}
		defer os.RemoveAll(dir)
		exe = filepath.Join(dir, "handler")
		fmt.Fprintf(e.stderr, "Building: go build -o %s . (in %s)\n", exe, e.hub.appRoot)
		build := exec.CommandContext(ctx, "go", "build", "-o", exe, ".")
		build.Dir, build.Stdout, build.Stderr = e.hub.appRoot, e.stderr, e.stderr
		if err := build.Run(); err != nil {
			return badArgs(fmt.Errorf("go build in %s: %w (or name a built handler with --handler)", e.hub.appRoot, err))
		}
	} else if _, err := os.Stat(exe); err != nil {
		return badArgs(fmt.Errorf("--handler: %w", err))
	}
	if c.save != "" {
		if err := os.MkdirAll(c.save, 0o755); err != nil {
			return badArgs(fmt.Errorf("--save: %w", err))
		}
	}
	t, err := e.open(ctx)
	if err != nil {
		return err
	}
	ids, err := c.pick(ctx, t, q)
	if err != nil {
		return err
	}

	// The app's handler replays what it reads on stdin against its own
	// orchestrators and answers with the report.
	root, err := filepath.Abs(e.hub.appRoot)
	if err != nil {
		return internalError(err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), replaycheck.ServeEnv+"=1", "DURABLE_APP_ROOT="+root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, e.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return internalError(err)
	}
	if err := cmd.Start(); err != nil {
		return badArgs(fmt.Errorf("start the handler %s: %w", exe, err))
	}
	sendErr := c.send(ctx, t, ids, stdin)
	stdin.Close()
	waitErr := cmd.Wait()
	if sendErr != nil {
		return sendErr
	}
	if waitErr != nil {
		return badArgs(fmt.Errorf("the handler %s failed: %w (does its main call funcapp.Run or funcapp.Main?)", exe, waitErr))
	}
	var rep replaycheck.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return badArgs(fmt.Errorf("the handler %s did not answer with a report (does its main call funcapp.Run or funcapp.Main?): %w", exe, err))
	}
	if c.json {
		b, err := json.Marshal(&rep)
		if err != nil {
			return internalError(err)
		}
		if err := writeJSON(e.stdout, b); err != nil {
			return err
		}
	} else if err := rep.Write(e.stdout); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return &cliError{code: exitReplayFailed, err: fmt.Errorf("%d of %d instance(s) do not replay with this code", n, rep.Checked())}
	}
	return nil
}

// pick lists the instances q matches and keeps them all, or with --sample
// at most that many of each orchestrator and version, chosen at random.
func (c *replayCheckCmd) pick(ctx context.Context, t *target, q client.Query) ([]string, error) {
	type group struct {
		seen int
		ids  []string
	}
	groups := map[[2]string]*group{}
	var order [][2]string
	q.PageSize = 1000
	err := t.client.EachMatch(ctx, q, func(p *client.Page) error {
		for _, st := range p.Instances {
			k := [2]string{st.Name, st.Version}
			g := groups[k]
			if g == nil {
				g = &group{}
				groups[k] = g
				order = append(order, k)
			}
			g.seen++
			switch {
			case c.sample == 0 || len(g.ids) < c.sample:
				g.ids = append(g.ids, st.InstanceID)
			default:
				// Reservoir sampling: each instance is kept with equal odds.
				if j := rand.IntN(g.seen); j < c.sample {
					g.ids[j] = st.InstanceID
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range order {
		ids = append(ids, groups[k].ids...)
	}
	return ids, nil
}

// send writes each instance's current execution to w, one JSON line each.
func (c *replayCheckCmd) send(ctx context.Context, t *target, ids []string, w interface{ Write([]byte) (int, error) }) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, id := range ids {
		st, err := t.client.GetStatus(ctx, id, client.StatusOptions{ShowHistory: true, ShowHistoryOutput: true, HideInput: true})
		if errors.Is(err, client.ErrNotFound) {
			continue // purged meanwhile
		}
		if err != nil {
			return err
		}
		if c.save != "" && len(st.History) > 0 {
			raw, err := rawHistory(st.History)
			if err != nil {
				return internalError(err)
			}
			if err := os.WriteFile(filepath.Join(c.save, url.PathEscape(id)+".json"), raw, 0o644); err != nil {
				return fmt.Errorf("--save: %w", err)
			}
		}
		if err := enc.Encode(replaycheck.Instance{InstanceID: id, Name: st.Name, Version: st.Version, Events: st.History}); err != nil {
			return badArgs(fmt.Errorf("send histories to the handler: %w", err))
		}
	}
	return nil
}
