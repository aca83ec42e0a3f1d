package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/client"
	"github.com/durable-go/durable/internal/entity"
)

// accounts is how many Accounts the transfers move money between, each
// funded with accountFunds.
const (
	accounts     = 10
	accountFunds = 100
)

func account(key string) entity.ID { return entity.ID{Name: "account", Key: key} }

// TestEntitiesUnderKills proves entities exactly once under crashes, with
// the samples' Account and Transfer: many senders signal deposit(1) to one
// Account, and Transfers lock two of ten Accounts and move money between
// them, while a handler of two is killed again and again. The signals go
// straight to storage from the test, so each is acknowledged exactly once:
// the Account must end at exactly their number, the ten must still hold
// what they were funded with, no lock may be left held, and every Transfer
// must complete once. The samples' Starter, meanwhile, starts Deposits of 1
// into another Account on request: each request must start exactly one, so
// that Account must end at exactly their number.
func TestEntitiesUnderKills(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	senders, perSender, transfers, starts, kills := 10, 20, 10, 5, 3
	if sz.full {
		senders, perSender, transfers, starts, kills = 50, 20, 40, 30, 10
	}
	sz.forSeeds(t, "entities under kills", func(t *testing.T, r *rand.Rand) row {
		hub, conn, s := newHub(t)
		c := newCluster(t, hub, conn, 2)
		ctx := context.Background()
		for i := range accounts {
			if _, err := s.c.SignalEntity(ctx, account(fmt.Sprint(i)), "deposit", accountFunds, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		tr := s.track(transfers + starts)
		done := c.chaos(r, kills, minKillGap, maxKillGap)
		span := time.Duration(kills) * meanKillGap
		var wg sync.WaitGroup
		defer wg.Wait()
		for range senders {
			wg.Go(func() {
				for range perSender {
					time.Sleep(span / time.Duration(perSender))
					if _, err := s.c.SignalEntity(ctx, account("pool"), "deposit", 1, time.Time{}); err != nil {
						t.Errorf("signal: %v", err)
					}
				}
			})
		}
		var wants []want
		wg.Go(func() {
			for i := range starts {
				time.Sleep(span / time.Duration(starts))
				in, _ := json.Marshal(map[string]any{"account": "started", "amount": 1})
				req := map[string]any{"orchestrator": "Deposit", "instanceId": fmt.Sprintf("deposit-%03d", i), "input": json.RawMessage(in)}
				if _, err := s.c.SignalEntity(ctx, entity.ID{Name: "starter", Key: "s"}, "start", req, time.Time{}); err != nil {
					t.Errorf("signal the starter: %v", err)
				}
			}
		})
		for i := range starts {
			wants = append(wants, want{id: fmt.Sprintf("deposit-%03d", i), name: "Deposit", desc: "no output",
				ok: func(out string) bool { return out == "" || out == "null" }})
		}
		for i := range transfers {
			from := r.IntN(accounts)
			to := (from + 1 + r.IntN(accounts-1)) % accounts
			id := fmt.Sprintf("transfer-%03d", i)
			wants = append(wants, want{id: id, name: "Transfer", desc: "true or false",
				ok: func(out string) bool { return out == "true" || out == "false" }})
			time.Sleep(span / time.Duration(transfers))
			in := map[string]any{"from": fmt.Sprint(from), "to": fmt.Sprint(to), "amount": 1 + r.IntN(60)}
			if _, err := s.c.StartNew(ctx, "Transfer", in, client.StartOptions{InstanceID: id}); err != nil {
				t.Fatalf("start %s: %v", id, err)
			}
		}
		wg.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		x := finish(t, s, c, tr, wants, sz.deadline)
		signalled := senders * perSender
		var b balances
		for deadline := time.Now().Add(sz.deadline); ; time.Sleep(250 * time.Millisecond) {
			b = s.balances(t)
			if b.pool == signalled && b.total == accounts*accountFunds && b.started == starts && b.locked == 0 && b.queued == 0 ||
				time.Now().After(deadline) {
				break
			}
		}
		x.notes = fmt.Sprintf("pool %d of %d signals; accounts hold %d of %d; %d of %d deposits started; %d locked, %d queued",
			b.pool, signalled, b.total, accounts*accountFunds, b.started, starts, b.locked, b.queued)
		if b.pool != signalled || b.total != accounts*accountFunds || b.started != starts || b.locked != 0 || b.queued != 0 {
			x.verdict.wrong++
			t.Errorf("entities: %s\n%s", x.notes, s.lockReport(t))
		}
		return x
	})
}

// balances is what the Accounts hold: the pool, the sum of the ten, and
// what the started Deposits paid in; and how many Accounts are still
// locked or have operations queued.
type balances struct{ pool, total, started, locked, queued int }

// balances reads the Accounts.
func (s *store) balances(t *testing.T) (out balances) {
	t.Helper()
	q := client.EntityQuery{Name: "account", FetchState: true, IncludeDeleted: true, PageSize: 1000}
	page, err := s.c.ListEntities(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Entities {
		var b int
		if e.State != nil {
			if err := json.Unmarshal(e.State, &b); err != nil {
				t.Fatalf("%s: state %s: %v", e.ID, e.State, err)
			}
		}
		switch e.ID.Key {
		case "pool":
			out.pool = b
		case "started":
			out.started = b
		default:
			out.total += b
		}
		if e.LockedBy != "" {
			out.locked++
		}
		if e.BacklogQueueSize > 0 {
			out.queued++
		}
	}
	return out
}

// lockReport describes the Accounts left locked or with operations
// waiting: who holds each, what waits, and how the holder ended.
func (s *store) lockReport(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	page, err := s.c.ListEntities(ctx, client.EntityQuery{Name: "account", IncludeDeleted: true, PageSize: 1000})
	if err != nil {
		return err.Error()
	}
	for _, e := range page.Entities {
		if e.LockedBy == "" && e.BacklogQueueSize == 0 {
			continue
		}
		row, err := s.h.GetInstance(ctx, e.ID.String())
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", e.ID, err)
			continue
		}
		st, _ := entity.DecodeState(row.Input)
		fmt.Fprintf(&b, "%s (%s %.200s) locked by %q; queue:", e.ID, row.RuntimeStatus, row.Output, e.LockedBy)
		for _, q := range st.Queue {
			fmt.Fprintf(&b, " [op %q from %s pos %d set %v id %s]", q.Operation, q.Parent, q.Position, q.LockSet, q.ID)
		}
		if e.LockedBy != "" {
			if hs, err := s.h.GetInstance(ctx, e.LockedBy); err == nil {
				fmt.Fprintf(&b, "; holder %s", hs.RuntimeStatus)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
