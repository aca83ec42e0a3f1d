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
// must complete once.
func TestEntitiesUnderKills(t *testing.T) {
	sz := sizeOf(t)
	sz.parallel(t)
	senders, perSender, transfers, kills := 10, 20, 10, 3
	if sz.full {
		senders, perSender, transfers, kills = 50, 20, 40, 10
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
		tr := s.track(transfers)
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
		pool, total, locked, queued := 0, 0, 0, 0
		for deadline := time.Now().Add(sz.deadline); ; time.Sleep(250 * time.Millisecond) {
			pool, total, locked, queued = s.balances(t)
			if pool == signalled && total == accounts*accountFunds && locked == 0 && queued == 0 || time.Now().After(deadline) {
				break
			}
		}
		x.notes = fmt.Sprintf("pool %d of %d signals; accounts hold %d of %d; %d locked, %d queued", pool, signalled, total,
			accounts*accountFunds, locked, queued)
		if pool != signalled || total != accounts*accountFunds || locked != 0 || queued != 0 {
			x.verdict.wrong++
			t.Errorf("entities: %s\n%s", x.notes, s.lockReport(t))
		}
		return x
	})
}

// balances reads the pool Account and the sum of the ten, and counts the
// Accounts still locked or with operations queued.
func (s *store) balances(t *testing.T) (pool, total, locked, queued int) {
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
		if e.ID.Key == "pool" {
			pool = b
		} else {
			total += b
		}
		if e.LockedBy != "" {
			locked++
		}
		if e.BacklogQueueSize > 0 {
			queued++
		}
	}
	return pool, total, locked, queued
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
