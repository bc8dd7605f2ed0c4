#!/usr/bin/env bash
# devicebridge load harness: the Graph emulator behind (a) a plain
# reverse_proxy serving Graph's raw delta pages and (b) devicebridge serving
# mail.sync of the same pages, TLS on both legs for both, measured in the
# same run. Needs Go and wrk (apt-get install -y wrk).
#
#   bench/run.sh                 # defaults: 15s per run, 16 connections, 2 rounds
#   DURATION=30s CONNECTIONS=32 ROUNDS=3 bench/run.sh
#
# Throughput is measured at CONNECTIONS connections (the machine saturated),
# latency at one connection (LATENCY_DURATION, default DURATION), where the
# added latency is the bridge's own work rather than queueing. Each run also
# reports the edge's and the emulator's CPU time per request (from
# /proc/{pid}/stat), which is what the bridge adds independent of how the
# client, the edge and the emulator share the machine.
#
# Prints requests/s of both and their ratio, added p50/p99 latency, the
# bytes a full Inbox sync sends (device vs Graph, uncompressed and gzip), and
# a large attachment's download throughput through both with the edge's peak
# RSS growth (ATTACHMENT_SIZE bytes, default 1 GiB; ATTACHMENT_ROUNDS, default 2), and the same
# for a OneDrive file of that size (the download URL through the proxy vs the file endpoint).
#
# wrk: apt-get install -y wrk (Debian/Ubuntu), brew install wrk (macOS), or
# build it from https://github.com/wg/wrk (git clone; make; copy ./wrk to PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
LATENCY_DURATION=${LATENCY_DURATION:-$DURATION}
ATTACHMENT_SIZE=${ATTACHMENT_SIZE:-1073741824}
ATTACHMENT_ROUNDS=${ATTACHMENT_ROUNDS:-2}

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
go build -o "$work/attachment" ./bench/attachment

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
emulator_pid=$!
pids+=($emulator_pid)
wait_for "https://localhost:$BENCH_EMULATOR_PORT/_emulator/mailboxes"
"$work/caddy" run --config bench/edge.Caddyfile --adapter caddyfile >"$work/edge.log" 2>&1 &
edge_pid=$!
pids+=($edge_pid)
wait_for "https://localhost:$BENCH_PROXY_PORT/_emulator/mailboxes"
wait_for "https://localhost:$BENCH_BRIDGE_PORT/"

select="id,parentFolderId,conversationId,subject,from,toRecipients,ccRecipients,receivedDateTime,sentDateTime,bodyPreview,isRead,flag,importance,hasAttachments,categories,isDraft"
raw_url="https://localhost:$BENCH_PROXY_PORT/v1.0/me/mailFolders/inbox/messages/delta?\$select=$select"
bridge_url="https://localhost:$BENCH_BRIDGE_PORT/device/v1/batch"

# run_proxy and run_bridge run wrk for DURATION with $CONNECTIONS and $THREADS.
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

# cpu_ticks prints a process's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
mean() { awk '{s+=$1} END {printf "%.1f", s/NR}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
diff_us() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a-b}'; }

# measure SIDE PHASE DURATION CONNECTIONS THREADS: one wrk run; appends
# req/s, p50, p99 and the edge's and emulator's CPU microseconds per
# request to $work/PHASE.SIDE.{rps,p50,p99,edgecpu,emucpu}.
measure() {
	local side=$1 phase=$2 out="$work/$2.$1.out"
	local e0 m0 e1 m1 n
	e0=$(cpu_ticks "$edge_pid"); m0=$(cpu_ticks "$emulator_pid")
	CONNECTIONS=$4 THREADS=$5 "run_$side" "$3" >"$out"
	e1=$(cpu_ticks "$edge_pid"); m1=$(cpu_ticks "$emulator_pid")
	n=$(awk '/requests in/ {print $1}' "$out")
	field "$out" rps >>"$work/$phase.$side.rps"
	field "$out" p50 >>"$work/$phase.$side.p50"
	field "$out" p99 >>"$work/$phase.$side.p99"
	awk -v d=$((e1 - e0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f\n", d*1e6/hz/n}' >>"$work/$phase.$side.edgecpu"
	awk -v d=$((m1 - m0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f\n", d*1e6/hz/n}' >>"$work/$phase.$side.emucpu"
	local errs
	errs=$(field "$out" errors)
	[ -z "$errs" ] || echo "   $phase $side: $errs"
}

# report PHASE: the means over the rounds of PHASE.
report() {
	local p=$1 v
	for v in rps p50 p99 edgecpu emucpu; do
		eval "proxy_$v=\$(mean <\"\$work/$p.proxy.$v\")"
		eval "bridge_$v=\$(mean <\"\$work/$p.bridge.$v\")"
	done
	printf 'requests/s           proxy %9s     bridge %9s     bridge/proxy %s\n' "$proxy_rps" "$bridge_rps" "$(ratio "$bridge_rps" "$proxy_rps")"
	printf 'p50 latency          proxy %9sus   bridge %9sus   added %sus\n' "$proxy_p50" "$bridge_p50" "$(diff_us "$bridge_p50" "$proxy_p50")"
	printf 'p99 latency          proxy %9sus   bridge %9sus   added %sus\n' "$proxy_p99" "$bridge_p99" "$(diff_us "$bridge_p99" "$proxy_p99")"
	printf 'edge CPU/request     proxy %9sus   bridge %9sus   added %sus\n' "$proxy_edgecpu" "$bridge_edgecpu" "$(diff_us "$bridge_edgecpu" "$proxy_edgecpu")"
	printf 'emulator CPU/request proxy %9sus   bridge %9sus\n' "$proxy_emucpu" "$bridge_emucpu"
}

echo "== throughput: $ROUNDS rounds of $DURATION each, alternating, $CONNECTIONS connections, $THREADS wrk threads (target: bridge/proxy req/s >= 0.9)"
for round in $(seq 1 "$ROUNDS"); do
	measure proxy load "$DURATION" "$CONNECTIONS" "$THREADS"
	measure bridge load "$DURATION" "$CONNECTIONS" "$THREADS"
	printf '   round %d: proxy %s req/s   bridge %s req/s\n' "$round" "$(tail -1 "$work/load.proxy.rps")" "$(tail -1 "$work/load.bridge.rps")"
done
report load

echo "== latency: $ROUNDS rounds of $LATENCY_DURATION each, alternating, 1 connection (target: added p50 <= 100us, added p99 <= 1000us)"
for round in $(seq 1 "$ROUNDS"); do
	measure proxy latency "$LATENCY_DURATION" 1 1
	measure bridge latency "$LATENCY_DURATION" 1 1
	printf '   round %d: proxy p50 %sus p99 %sus   bridge p50 %sus p99 %sus\n' "$round" \
		"$(tail -1 "$work/latency.proxy.p50")" "$(tail -1 "$work/latency.proxy.p99")" \
		"$(tail -1 "$work/latency.bridge.p50")" "$(tail -1 "$work/latency.bridge.p99")"
done
report latency

echo "== bytes of a full Inbox sync (same fields), device vs Graph (target <= 0.75 uncompressed)"
"$work/syncbytes" -proxy "https://localhost:$BENCH_PROXY_PORT" -bridge "https://localhost:$BENCH_BRIDGE_PORT" -root "$root"

echo "== attachment of $ATTACHMENT_SIZE bytes, $ATTACHMENT_ROUNDS rounds alternating (target: throughput ratio >= 0.9, bridge RSS growth <= 16 MiB)"
"$work/attachment" -proxy "https://localhost:$BENCH_PROXY_PORT" -bridge "https://localhost:$BENCH_BRIDGE_PORT" -root "$root" \
	-size "$ATTACHMENT_SIZE" -rounds "$ATTACHMENT_ROUNDS" -edge-pid "$edge_pid"

echo "== OneDrive file of $ATTACHMENT_SIZE bytes, $ATTACHMENT_ROUNDS rounds alternating: the download URL through the proxy vs the bridge's file endpoint (target: throughput ratio >= 0.9, bridge RSS growth <= 16 MiB)"
"$work/attachment" -file -proxy "https://localhost:$BENCH_PROXY_PORT" -bridge "https://localhost:$BENCH_BRIDGE_PORT" -root "$root" \
	-size "$ATTACHMENT_SIZE" -rounds "$ATTACHMENT_ROUNDS" -edge-pid "$edge_pid"

echo "== machine"
echo "   $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
