#!/usr/bin/env bash
# The buffered-answer memory scenario: 36 device connections (3 accounts ×
# 12, each account's mailbox spelled as me, UPN and object id) fetch a
# message with a 15 MB HTML body through devicebridge, once with the
# default buffer budget (max_buffered_bytes 256MiB) and once with the
# budget out of reach (1TiB), each against a fresh bridge process. Prints
# the bridge's peak RSS for both. Needs Go; Linux (/proc). Set GOMEMLIMIT
# (e.g. GOMEMLIMIT=400MiB) to see the processes under a memory limit, as
# Caddy runs under a cgroup limit. Results: docs/performance.md.
#
#   bench/buffers.sh
#   SIZE=15000000 CONNECTIONS=36 ROUNDS=3 BUDGETS="256MiB 1TiB" bench/buffers.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-15000000}
CONNECTIONS=${CONNECTIONS:-36}
ROUNDS=${ROUNDS:-3}
BUDGETS=${BUDGETS:-256MiB 1TiB}

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

export XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config"
export BENCH_EMULATOR_PORT=${BENCH_EMULATOR_PORT:-9553}
export BENCH_BRIDGE_PORT=${BENCH_BRIDGE_PORT:-9551}
root="$XDG_DATA_HOME/caddy/pki/authorities/local/root.crt"

echo "== building ./cmd/caddy and bench/bufferpeak"
go build -o "$work/caddy" ./cmd/caddy
go build -o "$work/bufferpeak" ./bench/bufferpeak

wait_for() { # url
	for _ in $(seq 1 150); do
		if [ -f "$root" ] && curl -s -o /dev/null --cacert "$root" "$1"; then return 0; fi
		sleep 0.2
	done
	echo "timed out waiting for $1" >&2
	return 1
}

"$work/caddy" run --config bench/emulator.Caddyfile --adapter caddyfile >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "https://localhost:$BENCH_EMULATOR_PORT/_emulator/mailboxes"

for budget in $BUDGETS; do
	BENCH_MAX_BUFFERED=$budget "$work/caddy" run --config bench/buffers.Caddyfile --adapter caddyfile >"$work/edge.log" 2>&1 &
	edge=$!
	pids+=($edge)
	wait_for "https://localhost:$BENCH_BRIDGE_PORT/"
	echo "== max_buffered_bytes $budget"
	"$work/bufferpeak" -bridge "https://localhost:$BENCH_BRIDGE_PORT/device/v1/batch" \
		-emulator "https://localhost:$BENCH_EMULATOR_PORT" -root "$root" -pid "$edge" \
		-size "$SIZE" -connections "$CONNECTIONS" -rounds "$ROUNDS"
	kill "$edge"
	wait "$edge" 2>/dev/null || true
done
