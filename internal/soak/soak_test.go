package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/durable-go/durable/internal/azstore"
	"github.com/durable-go/durable/internal/history"
	"github.com/durable-go/durable/internal/layout"
	"github.com/durable-go/durable/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// size is how hard the scenarios push: short by default, full with SOAK=full.
type size struct {
	full  bool
	seeds []uint64
	// deadline bounds the wait for every instance to complete once the scenario's
	// disturbances are over; an instance still incomplete then is lost.
	deadline time.Duration

	killCities, killFanOuts, fanOutN, killKills int
	eventCounters, eventKills                   int
	chainGroups, chainCounters, chainBurst      int
	outageCities                                int
	outagePause                                 time.Duration
	scalePhase                                  time.Duration
	gracefulRestarts                            int

	// The scenarios of issue 16 (issue16_test.go).
	handOverPhase                               time.Duration // each of 1, 3 and 1 handlers
	handOverBurst                               int           // HelloCities5 started each second
	brownout                                    time.Duration // table answers 503 ServerBusy
	brownoutCities                              int
	startBursts                                 int // bursts of startBurst starts, one kill each
	busyCounters, busyAdds, busyKills           int
	canKillCounters, canKillAdds, canKillRounds int
}

func sizeOf(t *testing.T) size {
	t.Helper()
	if testing.Short() {
		t.Skip("starts handler processes")
	}
	sz := size{deadline: 90 * time.Second,
		killCities: 40, killFanOuts: 4, fanOutN: 20, killKills: 3,
		eventCounters: 20, eventKills: 3,
		chainGroups: 2, chainCounters: 4, chainBurst: 20,
		outageCities: 40, outagePause: 4 * time.Second,
		scalePhase: 8 * time.Second, gracefulRestarts: 1,
		handOverPhase: 6 * time.Second, handOverBurst: 8,
		brownout: 10 * time.Second, brownoutCities: 80,
		startBursts:  3,
		busyCounters: 4, busyAdds: 250, busyKills: 3,
		canKillCounters: 60, canKillAdds: 5, canKillRounds: 1}
	seeds := 1
	if os.Getenv("SOAK") == "full" {
		sz = size{full: true, deadline: 3 * time.Minute,
			killCities: 300, killFanOuts: 50, fanOutN: 20, killKills: 20,
			eventCounters: 100, eventKills: 10,
			chainGroups: 8, chainCounters: 5, chainBurst: 20,
			outageCities: 150, outagePause: 10 * time.Second,
			scalePhase: 20 * time.Second, gracefulRestarts: 3,
			handOverPhase: 20 * time.Second, handOverBurst: 8,
			brownout: 18 * time.Second, brownoutCities: 200,
			startBursts:  20,
			busyCounters: 12, busyAdds: 250, busyKills: 10,
			canKillCounters: 60, canKillAdds: 5, canKillRounds: 3}
		seeds = 3
	}
	if s := os.Getenv("SOAK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", s, err)
		}
		sz.seeds = []uint64{seed}
		return sz
	}
	for range seeds {
		sz.seeds = append(sz.seeds, rand.Uint64())
	}
	return sz
}

// parallel lets the short size's scenarios share the machine, to fit a plain `go test`;
// the full size runs them one at a time so that each has the machine to itself.
func (sz size) parallel(t *testing.T) {
	if !sz.full {
		t.Parallel()
	}
}

// forSeeds runs fn once per seed, each in a subtest named after its seed, and adds its row
// to a report logged when t ends.
func (sz size) forSeeds(t *testing.T, scenario string, fn func(t *testing.T, r *rand.Rand) row) {
	rep := newReport(t)
	for _, seed := range sz.seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("%s: seed %d (SOAK_SEED=%d repeats it)", scenario, seed, seed)
			x := fn(t, rand.New(rand.NewPCG(seed, seed)))
			x.scenario, x.seed = scenario, seed
			rep.add(x)
		})
	}
}

// insertStuckStart writes a Pending instance row as client.StartNew does but sends no start
// message, as when a client dies between the two writes.
func insertStuckStart(t *testing.T, h *azstore.Hub, id, name string) {
	t.Helper()
	now := time.Now().UTC()
	row := &layout.InstanceRow{InstanceID: id, Name: name, ExecutionID: fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()),
		RuntimeStatus: history.StatusPending, CreatedTime: now, LastUpdatedTime: now, TaskHubName: h.Name()}
	// As a client's start does: the index row, then the instance row.
	if err := h.PutIndex(context.Background(), id, now); err != nil {
		t.Fatal(err)
	}
	if err := h.InsertInstance(context.Background(), row); err != nil {
		t.Fatal(err)
	}
}

// TestAzuriteProcess checks the harness's own storage faults: a paused Azurite answers
// nothing, a resumed one answers again, and a restarted one keeps its data and address.
func TestAzuriteProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	az := testutil.StartAzuriteProcess(t, t.TempDir())
	conn := az.ConnectionString()
	s := openStore(t, testutil.UniqueHubName(t), conn)
	insertStuckStart(t, s.h, "kept", "HelloCities5")
	read := func(within time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		_, err := s.h.GetInstance(ctx, "kept")
		return err
	}

	az.Pause()
	if err := read(time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read from a paused Azurite: %v, want a timeout", err)
	}
	az.Resume()
	if err := read(10 * time.Second); err != nil {
		t.Fatalf("read after Resume: %v", err)
	}
	az.Pause() // Restart must cope with a paused Azurite
	az.Restart(t)
	if got := az.ConnectionString(); got != conn {
		t.Fatalf("connection string changed on restart:\n%s\n%s", conn, got)
	}
	if err := read(30 * time.Second); err != nil {
		t.Fatalf("read after Restart: %v", err)
	}
}

// once is sz with its first seed only, for scenarios whose faults are not random.
func (sz size) once() size {
	sz.seeds = sz.seeds[:1]
	return sz
}
