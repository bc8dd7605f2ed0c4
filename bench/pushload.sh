#!/usr/bin/env bash
# The push webhook harness: one bridge process (bench/pushbridge.Caddyfile)
# whose APNs endpoint is the push-service emulator in a second Caddy process
# (bench/pushemulator.Caddyfile), TLS on both legs, loopback only.
# bench/pushload plays Graph: it seals R and computes clientState from the
# bridge's state key and POSTs change notifications to the webhook. It
# prints latency at 1 and 200 notifications/s, the sustained rate with the
# bridge's CPU per notification, memory per in-flight send, and the slowest
# answer against send_timeout. About 2 minutes. Needs Go; Linux (/proc).
# Results: docs/performance.md §4.
#
#   bench/pushload.sh
#   RATE=200 RATE_DURATION=20s CONCURRENCY=64 SUSTAINED_DURATION=15s bench/pushload.sh
#   PUSHLOAD_FLAGS=-http1 bench/pushload.sh   # Graph's side over HTTP/1.1 instead of HTTP/2
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

export XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config"
export BENCH_PUSH_BRIDGE_PORT=${BENCH_PUSH_BRIDGE_PORT:-9671}
export BENCH_PUSH_EMULATOR_PORT=${BENCH_PUSH_EMULATOR_PORT:-9672}
export BENCH_PUSH_ADMIN_PORT=${BENCH_PUSH_ADMIN_PORT:-9673}
export BENCH_PUSH_STATE_KEY=${BENCH_PUSH_STATE_KEY:-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8}
export BENCH_PUSH_SEND_TIMEOUT=${BENCH_PUSH_SEND_TIMEOUT:-1500ms}
export BENCH_PUSH_APNS_KEY="$work/AuthKey_EMUKEY0001.p8"
root="$XDG_DATA_HOME/caddy/pki/authorities/local/root.crt"

echo "== building ./cmd/caddy and bench/pushload"
go build -o "$work/caddy" ./cmd/caddy
go build -o "$work/pushload" ./bench/pushload

wait_for() { # url
	for _ in $(seq 1 150); do
		if [ -f "$root" ] && curl -s -o /dev/null --cacert "$root" "$1"; then return 0; fi
		sleep 0.2
	done
	echo "timed out waiting for $1" >&2
	return 1
}

# The emulator first: it creates the shared local CA and the APNs key.
"$work/caddy" run --config bench/pushemulator.Caddyfile --adapter caddyfile >"$work/emulator.log" 2>&1 &
emulator_pid=$!
pids+=($emulator_pid)
wait_for "https://localhost:$BENCH_PUSH_EMULATOR_PORT/_push/stats"
"$work/caddy" run --config bench/pushbridge.Caddyfile --adapter caddyfile >"$work/bridge.log" 2>&1 &
bridge_pid=$!
pids+=($bridge_pid)
wait_for "https://localhost:$BENCH_PUSH_BRIDGE_PORT/"

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$work/pushload" -bridge "https://localhost:$BENCH_PUSH_BRIDGE_PORT" \
	-control "https://localhost:$BENCH_PUSH_EMULATOR_PORT/_push" \
	-admin "http://localhost:$BENCH_PUSH_ADMIN_PORT" -root "$root" -state-key "$BENCH_PUSH_STATE_KEY" \
	-bridge-pid "$bridge_pid" -emulator-pid "$emulator_pid" -hz "$(getconf CLK_TCK)" \
	-send-timeout "$BENCH_PUSH_SEND_TIMEOUT" \
	-low-rate "${LOW_RATE:-1}" -low-duration "${LOW_DURATION:-30s}" \
	-rate "${RATE:-200}" -rate-duration "${RATE_DURATION:-20s}" \
	-sustained-duration "${SUSTAINED_DURATION:-15s}" -concurrency "${CONCURRENCY:-64}" \
	-inflight "${INFLIGHT:-200}" -slow "${SLOW:-1s}" ${PUSHLOAD_FLAGS:-}
echo "== machine: load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
