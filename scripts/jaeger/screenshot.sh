#!/usr/bin/env bash
# Makes docs/jaeger-trace.png: a SubOrchestrationDemo's trace in Jaeger's UI, taken by headless
# Chromium. Not part of make test (it builds Jaeger and its UI, several minutes).
#
#   JAEGER_UI_SRC=/path/to/jaeger-ui scripts/jaeger/screenshot.sh
#
# JAEGER_UI_SRC is a checkout of the jaegertracing/jaeger-ui repository at tag v1.75.0 (its
# built files are not published to npm). Needs Go, node >= 20.19 (the UI asks for 24; 20 builds
# it with --engine-strict=false), the npm registry, Azurite (node_modules, as make test) and
# Debian's chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
: "${JAEGER_UI_SRC:?set JAEGER_UI_SRC to a checkout of jaegertracing/jaeger-ui at v1.75.0}"
work=$(mktemp -d)
trap 'kill "${jaeger_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# Jaeger v2 from the Go module proxy, as a tool of a module of its own (its go.mod has replace
# directives, so go install pkg@version refuses it).
(cd "$work" && go mod init jaegertool >/dev/null 2>&1 &&
	go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0 &&
	go build -o "$work/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)

# The UI: npm ci also builds its packages/plexus; the build goes to packages/jaeger-ui/build.
(cd "$JAEGER_UI_SRC" && npm ci --no-audit --no-fund --engine-strict=false &&
	cd packages/jaeger-ui && npm run build)

export JAEGER_UI_BUILD="$JAEGER_UI_SRC/packages/jaeger-ui/build"
export JAEGER_OTLP_HTTP=127.0.0.1:14318 JAEGER_UI_ADDR=127.0.0.1:16696
"$work/jaeger" --config "$root/scripts/jaeger/config.yaml" >"$work/jaeger.log" 2>&1 &
jaeger_pid=$!
for _ in $(seq 50); do curl -fs "http://$JAEGER_UI_ADDR/" >/dev/null && break; sleep 0.2; done

# The app under the dev host, tracing to Jaeger (e2e/otel's TestJaegerScreenshotTrace).
(cd e2e/otel && JAEGER_OTLP="http://$JAEGER_OTLP_HTTP" go test -count=1 -run '^TestJaegerScreenshotTrace$' -v . >"$work/app.log" 2>&1) ||
	{ tail -50 "$work/app.log"; exit 1; }

trace=$(curl -fs "http://$JAEGER_UI_ADDR/api/traces?service=durable-functions-go&operation=create_orchestration:SubOrchestrationDemo" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["traceID"])')
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$work/chromium" --window-size=1920,680 \
	--virtual-time-budget=10000 --screenshot="$root/docs/jaeger-trace.png" "http://$JAEGER_UI_ADDR/trace/$trace" 2>/dev/null
echo "docs/jaeger-trace.png: trace $trace"
