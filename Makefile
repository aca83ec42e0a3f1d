# Build, run and test Durable Functions for Go.
#
#   make run     Azurite on the default ports (data in .azurite/), build ./handler, then
#                `func start` when Azure Functions Core Tools is installed, else `durable dev`
#   make test    go vet and go test -race against a fresh Azurite on free ports
#   make soak    the full fault-injection suite (internal/soak, SOAK=full); make test runs
#                its short version
#   make screenshots  regenerate the dashboard screenshots in docs/ (browser tests)
#   make dashboard-large  the dashboard's first page on a 5,000-instance hub, measured
#   make bench   the benchmarks in ./bench against a fresh Azurite; BENCH_LATENCY=10ms puts a
#                proxy adding 10 ms each way between the app and Azurite
#   make bench-latency  BenchmarkHelloCities5 at 0, 2.5 and 10 ms each way, each on a fresh
#                Azurite, BENCH_LATENCY_ROUNDS times (default 1), in rotation
#   make scale   the scale suite (internal/soak, SCALE=1): hubs of SCALE_N unfinished
#                instances, a kill, idle cost, queries, and step costs of long chains and
#                wide fan-outs; not part of make test
#   make bench-compare  the project against durabletask-go v0.5.0, side by side
#   make build   build every package and the handler binary
#   make fmt     gofmt the Go sources
#   make clean   remove build outputs and local Azurite data (node_modules stays)

SHELL := /bin/bash
GO ?= go

AZURITE := scripts/azurite.sh
DEVHOST_PORT ?= 7071
# More flags for durable dev under make run, e.g. DEV_FLAGS=--free-ports (durable dev --help).
DEV_FLAGS ?=

.PHONY: all build run test test-otel soak scale bench bench-latency bench-compare fmt vet tidy clean deps screenshots dashboard-large

all: build

# npm ci only when Azurite is missing: it reinstalls node_modules from scratch every time.
# scripts/setup-test-deps.sh installs chromium for the dashboard's browser tests when missing.
deps:
	@test -x node_modules/.bin/azurite || npm ci --no-audit --no-fund
	@scripts/setup-test-deps.sh

build:
	$(GO) build ./...
	$(GO) build -o handler .

vet:
	$(GO) vet ./...

# go.mod and go.sum are exactly what `go mod tidy` makes; CI fails otherwise.
tidy:
	$(GO) mod tidy -diff
	cd e2e/otel && $(GO) mod tidy -diff

fmt:
	$(GO) fmt ./...
	cd e2e/otel && $(GO) fmt ./...

# With Core Tools: Azurite on the default ports, then `func start`; the trap stops Azurite however
# the host ends (Ctrl-C included). Without: `durable dev`, which starts Azurite and the dev host
# and stops both on Ctrl-C, exiting 0. It runs as a built binary, not `go run`: go run exits with
# status 1 when interrupted, which make reported as "Error 1" after every Ctrl-C.
run: deps build
	@if command -v func >/dev/null 2>&1; then \
		trap '$(AZURITE) stop .azurite' EXIT; trap 'exit 130' INT TERM; \
		AZURITE_DEFAULT_PORTS=1 $(AZURITE) start .azurite || exit 1; \
		func start; \
	else \
		echo "func (Azure Functions Core Tools) not found: using durable dev" >&2; \
		$(GO) build -o bin/durable ./cmd/durable && exec bin/durable dev --no-build --port $(DEVHOST_PORT) $(DEV_FLAGS); \
	fi

# A fresh Azurite per run so no test sees another run's queues or tables; its connection
# string reaches the tests (internal/testutil.Storage) through DURABLE_TEST_STORAGE.
test: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	$(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")"; \
	export DURABLE_REQUIRE_BROWSER=1; \
	$(GO) mod tidy -diff && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 15m ./... && \
	$(MAKE) --no-print-directory test-otel

# The traces' end-to-end test against the OpenTelemetry Collector's OTLP receiver: a module of
# its own (e2e/otel), so that the Collector's dependencies stay out of the app's go.mod. Run by
# make test with its Azurite (DURABLE_TEST_STORAGE); alone, it starts one from node_modules.
test-otel:
	cd e2e/otel && $(GO) mod tidy -diff && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 5m ./...

# The browser tests write docs/dashboard-*.png when DASHBOARD_SCREENSHOTS is set; -run names
# every test that writes one.
screenshots: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	$(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")"; \
	DASHBOARD_SCREENSHOTS=1 DURABLE_REQUIRE_BROWSER=1 $(GO) test -count=1 -run '^(TestBrowser|TestBrowserCancelledTimer|TestBrowserVersions|TestBrowserEntities|TestBrowserSchedules|TestPlainHeadlessShowsTheList)$$' -v ./internal/dashboard/

# Seeds 5,000 instances and logs how long the first page of 100 takes to show.
dashboard-large: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	$(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")"; \
	DASHBOARD_LARGE=1 DURABLE_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 20m -run '^TestFirstPageOnALargeHub$$' -v ./internal/dashboard/

# The soak scenarios own their storage where they pause or restart it, so
# only the others use this run's Azurite. SOAK=full also runs the scale suite's short
# version (a hub of 2,000 waiting instances, one kill; see make scale).
soak: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	$(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")"; \
	SOAK=full $(GO) test -race -count=1 -timeout 90m -v -run . ./internal/soak/

# The scale suite (internal/soak/scale_test.go) on a fresh Azurite, without -race so that
# the handlers' and Azurite's CPU figures are the code's. AZURITE_PID lets it read Azurite's
# CPU time, to tell Azurite's cost from the engine's. Sizes: SCALE_N (hub sizes, default
# 0,2000), SCALE_IDLE (60s), SCALE_CHAIN (100,1000,5000), SCALE_FANOUT (1000,5000); SCALE_RUN
# picks the tests (TestScaleHub, TestScaleSteps). Figures are logged as Markdown tables.
# Azurite keeps its data in memory here: on disk it saves the whole database every 5 s, which
# on a hub of 100,000 instances costs more than the work under measurement.
SCALE_RUN ?= ^TestScale(Hub|Steps)$$
scale: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	AZURITE_IN_MEMORY=1 $(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")" AZURITE_PID="$$(cat "$$dir/azurite.pid")"; \
	SCALE=1 SCALE_N="$(SCALE_N)" SCALE_IDLE="$(SCALE_IDLE)" SCALE_CHAIN="$(SCALE_CHAIN)" SCALE_FANOUT="$(SCALE_FANOUT)" \
		$(GO) test -count=1 -timeout 300m -v -run '$(SCALE_RUN)' ./internal/soak/

bench: deps
	@dir="$$(mktemp -d)"; \
	trap '$(AZURITE) stop "$$dir"; rm -rf "$$dir"' EXIT; \
	$(AZURITE) start "$$dir" || exit 1; \
	export DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")"; \
	BENCH_LATENCY="$(BENCH_LATENCY)" $(GO) test -run '^$$' -bench . -benchtime 1x ./bench/...

# The same benchmark with storage 0, 2.5 and 10 ms away each way (0, 5 and 20 ms round trip),
# through testutil.StorageProxy; a fresh Azurite for each run so that no run sees another's
# tables, the delays rotated each round so that drift of the shared machine spreads over all.
BENCH_LATENCIES ?= 0 2.5ms 10ms
BENCH_LATENCY_ROUNDS ?= 1
bench-latency: deps
	@set -o pipefail; lats=($(BENCH_LATENCIES)); \
	for ((r = 0; r < $(BENCH_LATENCY_ROUNDS); r++)); do \
		for ((i = 0; i < $${#lats[@]}; i++)); do \
			lat=$${lats[$$(( (i + r) % $${#lats[@]} ))]}; \
			dir="$$(mktemp -d)"; \
			$(AZURITE) start "$$dir" || exit 1; \
			echo "== round $$((r + 1)), BENCH_LATENCY=$$lat"; \
			DURABLE_TEST_STORAGE="$$(cat "$$dir/connection-string")" BENCH_LATENCY=$$lat \
				$(GO) test -run '^$$' -bench 'HelloCities5$$' -benchtime 1x -timeout 30m -v ./bench/ \
				| grep -v ' INFO ' ; rc=$$?; \
			$(AZURITE) stop "$$dir"; rm -rf "$$dir"; \
			[ $$rc -eq 0 ] || exit $$rc; \
		done; \
	done

# The project against microsoft/durabletask-go v0.5.0 (SQLite file and in memory), run
# alternately, each run on fresh storage; bench/peer is a module of its own so the app's
# go.mod never depends on it. More rounds: make bench-compare BENCH_COMPARE_FLAGS='-rounds 3'
bench-compare: deps
	GO=$(GO) $(GO) run ./bench/compare $(BENCH_COMPARE_FLAGS)

clean:
	-@test ! -f .azurite/azurite.pid || $(AZURITE) stop .azurite
	rm -rf handler handler.exe bin .azurite
	rm -f coverage*.txt coverage*.html *.out *.test *.prof
