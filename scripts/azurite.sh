#!/usr/bin/env bash
# Starts and stops a local Azurite (blob, queue, table) for development and tests.
#
#   scripts/azurite.sh start DIR   start Azurite with its data in DIR, wait until it answers,
#                                  write DIR/azurite.pid and DIR/connection-string
#   scripts/azurite.sh stop DIR    stop the Azurite started for DIR
#
# Ports: free ones chosen by Azurite itself (port 0), so parallel test runs never collide;
# AZURITE_DEFAULT_PORTS=1 uses 10000/10001/10002, which `UseDevelopmentStorage=true` expects.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
azurite="$root/node_modules/.bin/azurite"

# The well-known development storage key, public by design (it is the same in every Azurite).
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

die() {
	echo "azurite.sh: $*" >&2
	exit 1
}

running() {
	local pidfile="$1/azurite.pid"
	[[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# answers PORT: true once something on PORT replies to an HTTP request. Uses bash's /dev/tcp so
# the script needs nothing beyond bash and node.
answers() {
	local port="$1" line=""
	{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	printf 'GET /%s?comp=list HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$account" >&3
	IFS= read -r -t 2 line <&3 || true
	exec 3<&- 3>&-
	[[ "$line" == HTTP/* ]]
}

start() {
	local dir="$1"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	if running "$dir"; then
		echo "azurite.sh: already running for $dir (pid $(cat "$dir/azurite.pid"))" >&2
		return 0
	fi
	if [[ ! -x "$azurite" ]]; then
		echo "azurite.sh: $azurite missing, running npm ci" >&2
		(cd "$root" && npm ci --no-audit --no-fund) >&2
	fi

	local blob=0 queue=0 table=0
	if [[ "${AZURITE_DEFAULT_PORTS:-0}" == 1 ]]; then
		blob=10000 queue=10001 table=10002
	fi
	local log="$dir/azurite.log"
	: >"$log"
	# stdin/stdout detached so that callers capturing this script's output (make, CI) do not
	# wait for Azurite to exit.
	# In-memory persistence (tests, benchmarks) skips Azurite's periodic
	# whole-database saves; it cannot be combined with --location.
	local store=(--location "$dir")
	if [[ "${AZURITE_IN_MEMORY:-0}" == 1 ]]; then
		store=(--inMemoryPersistence)
	fi
	# In a session of its own, so that a signal to the caller's process group (Ctrl-C, or
	# SIGTERM to `make run`) does not stop storage before the app has released its leases;
	# the caller stops it afterwards.
	setsid "$azurite" --silent --skipApiVersionCheck --loose "${store[@]}" \
		--blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
		--blobPort "$blob" --queuePort "$queue" --tablePort "$table" \
		</dev/null >"$log" 2>&1 &
	local pid=$!
	echo "$pid" >"$dir/azurite.pid"

	# Azurite prints the port it really bound for each service; wait for all three, then for
	# each to answer HTTP.
	local ports="" i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; rm -f "$dir/azurite.pid"; die "Azurite exited during start-up"; }
		ports="$(sed -n 's/.*\(Blob\|Queue\|Table\) service is successfully listening at http:\/\/[^:]*:\([0-9]*\).*/\1=\2/p' "$log" | sort | tr '\n' ' ')"
		if [[ "$(wc -w <<<"$ports")" -eq 3 ]]; then
			break
		fi
		sleep 0.1
	done
	[[ "$(wc -w <<<"$ports")" -eq 3 ]] || { cat "$log" >&2; stop "$dir"; die "Azurite did not report its ports within 60 s"; }

	local bport qport tport
	bport="$(sed -n 's/.*Blob=\([0-9]*\).*/\1/p' <<<"$ports")"
	qport="$(sed -n 's/.*Queue=\([0-9]*\).*/\1/p' <<<"$ports")"
	tport="$(sed -n 's/.*Table=\([0-9]*\).*/\1/p' <<<"$ports")"
	for port in "$bport" "$qport" "$tport"; do
		for ((i = 0; i < 100; i++)); do
			answers "$port" && break
			sleep 0.1
		done
		answers "$port" || { stop "$dir"; die "Azurite port $port does not answer"; }
	done

	local cs="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;"
	cs+="BlobEndpoint=http://127.0.0.1:$bport/$account;"
	cs+="QueueEndpoint=http://127.0.0.1:$qport/$account;"
	cs+="TableEndpoint=http://127.0.0.1:$tport/$account;"
	printf '%s\n' "$cs" >"$dir/connection-string"
	echo "azurite.sh: Azurite (pid $pid) blob :$bport queue :$qport table :$tport, data in $dir" >&2
}

stop() {
	local dir="$1" pidfile="$1/azurite.pid" pid i
	[[ -f "$pidfile" ]] || return 0
	pid="$(cat "$pidfile")"
	if kill -0 "$pid" 2>/dev/null; then
		# Azurite (3.35 here) saves its data and closes its three services on SIGTERM but then keeps
		# the node process alive, so wait for the "closed" lines rather than for the exit.
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			[[ "$(grep -c 'service successfully closed' "$dir/azurite.log" 2>/dev/null)" -ge 3 ]] && break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile" "$dir/connection-string"
}

[[ $# -eq 2 ]] || usage
case "$1" in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
