#!/usr/bin/env bash
# devicebridge load harness: the Graph emulator behind (a) a plain
# reverse_proxy serving Graph's raw delta pages and (b) devicebridge serving
# mail.sync of the same pages, TLS on both legs for both, measured in the
# same run. Needs Go and wrk (apt-get install -y wrk).
#
#   bench/run.sh                 # defaults: 15s per run, 16 connections
#   DURATION=30s CONNECTIONS=32 ROUNDS=3 bench/run.sh
#
# Prints requests/s of both and their ratio, added p50/p99 latency, and the
# bytes a full Inbox sync sends (device vs Graph, uncompressed and gzip).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}

command -v wrk >/dev/null || { echo "bench/run.sh needs wrk (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

export XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config"
export BENCH_EMULATOR_PORT=${BENCH_EMULATOR_PORT:-9543}
export BENCH_BRIDGE_PORT=${BENCH_BRIDGE_PORT:-9541}
export BENCH_PROXY_PORT=${BENCH_PROXY_PORT:-9542}
export BENCH_ADMIN_PORT=${BENCH_ADMIN_PORT:-9549}
root="$XDG_DATA_HOME/caddy/pki/authorities/local/root.crt"

echo "== building ./cmd/caddy"
go build -o "$work/caddy" ./cmd/caddy
go build -o "$work/syncbytes" ./bench/syncbytes

wait_for() { # url
	for _ in $(seq 1 100); do
		if [ -f "$root" ] && curl -sf -o /dev/null --cacert "$root" "$1"; then return 0; fi
		sleep 0.2
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# The emulator first (it creates the shared local CA), then the edge.
"$work/caddy" run --config bench/emulator.Caddyfile --adapter caddyfile >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "https://localhost:$BENCH_EMULATOR_PORT/_emulator/mailboxes"
"$work/caddy" run --config bench/edge.Caddyfile --adapter caddyfile >"$work/edge.log" 2>&1 &
edge_pid=$!
pids+=($edge_pid)
wait_for "https://localhost:$BENCH_PROXY_PORT/_emulator/mailboxes"
wait_for "https://localhost:$BENCH_BRIDGE_PORT/"

select="id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft"
raw_url="https://localhost:$BENCH_PROXY_PORT/v1.0/me/mailFolders/inbox/messages/delta?\$select=$select"
bridge_url="https://localhost:$BENCH_BRIDGE_PORT/device/v1/batch"

run_proxy() {
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency \
		-H 'Authorization: Bearer demo' -H 'Prefer: odata.maxpagesize=50, IdType="ImmutableId"' "$raw_url"
}
run_bridge() {
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1" --latency -s bench/mailsync.lua "$bridge_url"
}

# to_us converts wrk's latency units to microseconds.
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000}}'; }
field() { # file label -> value
	case "$2" in
	rps) awk '/^Requests\/sec:/ {print $2}' "$1" ;;
	p50) awk '$1=="50%" {print $2}' "$1" | to_us ;;
	p99) awk '$1=="99%" {print $2}' "$1" | to_us ;;
	errors) awk '/Non-2xx|Socket errors/ {print}' "$1" ;;
	esac
}

echo "== sanity: one page each way"
raw_page=$(curl -sf --cacert "$root" -H 'Authorization: Bearer demo' -H 'Prefer: odata.maxpagesize=50, IdType="ImmutableId"' "$raw_url")
device_page=$(curl -sf --cacert "$root" -H 'Authorization: Bearer demo' -H 'Content-Type: application/json' \
	-d '{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox","window":50}}]}' "$bridge_url")
echo "   graph page  ${#raw_page} bytes: ${raw_page:0:120}…"
echo "   device page ${#device_page} bytes: ${device_page:0:120}…"
case "$device_page" in *'"status":200'*) ;; *) echo "bridge answered: ${device_page:0:500}" >&2; exit 1 ;; esac

echo "== warm-up"
run_proxy 3s >/dev/null
run_bridge 3s >/dev/null

echo "== $ROUNDS rounds of $DURATION each, alternating, $CONNECTIONS connections, $THREADS wrk threads"
sum() { awk '{s+=$1} END {printf "%.1f", s/NR}'; }
: >"$work/proxy.rps"; : >"$work/bridge.rps"; : >"$work/proxy.p50"; : >"$work/bridge.p50"; : >"$work/proxy.p99"; : >"$work/bridge.p99"
for round in $(seq 1 "$ROUNDS"); do
	run_proxy "$DURATION" >"$work/proxy.out"
	run_bridge "$DURATION" >"$work/bridge.out"
	for side in proxy bridge; do
		field "$work/$side.out" rps >>"$work/$side.rps"
		field "$work/$side.out" p50 >>"$work/$side.p50"
		field "$work/$side.out" p99 >>"$work/$side.p99"
		errs=$(field "$work/$side.out" errors)
		[ -z "$errs" ] || echo "   $side round $round: $errs"
	done
	printf '   round %d: proxy %s req/s (p50 %sus p99 %sus)   bridge %s req/s (p50 %sus p99 %sus)\n' "$round" \
		"$(tail -1 "$work/proxy.rps")" "$(tail -1 "$work/proxy.p50")" "$(tail -1 "$work/proxy.p99")" \
		"$(tail -1 "$work/bridge.rps")" "$(tail -1 "$work/bridge.p50")" "$(tail -1 "$work/bridge.p99")"
done
proxy_rps=$(sum <"$work/proxy.rps"); bridge_rps=$(sum <"$work/bridge.rps")
proxy_p50=$(sum <"$work/proxy.p50"); bridge_p50=$(sum <"$work/bridge.p50")
proxy_p99=$(sum <"$work/proxy.p99"); bridge_p99=$(sum <"$work/bridge.p99")
echo "== results (means over rounds)"
printf 'requests/s      proxy %10s   bridge %10s   bridge/proxy %s   (target >= 0.9)\n' "$proxy_rps" "$bridge_rps" \
	"$(awk -v a="$bridge_rps" -v b="$proxy_rps" 'BEGIN {printf "%.3f", a/b}')"
printf 'p50 latency     proxy %8sus   bridge %8sus   added %sus   (target <= 100us)\n' "$proxy_p50" "$bridge_p50" \
	"$(awk -v a="$bridge_p50" -v b="$proxy_p50" 'BEGIN {printf "%.0f", a-b}')"
printf 'p99 latency     proxy %8sus   bridge %8sus   added %sus   (target <= 1000us)\n' "$proxy_p99" "$bridge_p99" \
	"$(awk -v a="$bridge_p99" -v b="$proxy_p99" 'BEGIN {printf "%.0f", a-b}')"

echo "== bytes of a full Inbox sync (same fields), device vs Graph (target <= 0.75 uncompressed)"
"$work/syncbytes" -proxy "https://localhost:$BENCH_PROXY_PORT" -bridge "https://localhost:$BENCH_BRIDGE_PORT" -root "$root"

echo "== machine"
echo "   $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version)"
