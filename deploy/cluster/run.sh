#!/usr/bin/env bash
# Starts a devicebridge cluster on one machine: the Graph emulator, NODES
# bridge nodes (separate Caddy processes sharing the state keys and a
# file_system storage directory) and an edge load balancer in front of
# them, TLS on every hop. Stops them all on Ctrl-C or exit.
#
#   deploy/cluster/run.sh                 # 2 nodes, devices use https://localhost:9680
#   NODES=3 deploy/cluster/run.sh
#
# Then, for example:
#
#   curl --cacert "$CLUSTER_DIR/storage/pki/authorities/local/root.crt" \
#        -H 'Authorization: Bearer demo' -H 'Content-Type: application/json' \
#        -d '{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox","window":5}}]}' \
#        https://localhost:9680/device/v1/batch
#
# (the script prints the directory; each answer's Cluster-Node header names
# the node that served it). Ports: the load balancer BASE_PORT (default
# 9680) and admin BASE_PORT+1; the emulator BASE_PORT+2; node i HTTPS
# BASE_PORT+2+2i and admin BASE_PORT+3+2i. Data directories are per
# process under CLUSTER_DIR (default a new temporary directory, removed on
# exit); CLUSTER_DIR/storage is shared by all.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODES=${NODES:-2}
BASE_PORT=${BASE_PORT:-9680}
keep_dir=1
if [ -z "${CLUSTER_DIR:-}" ]; then
	CLUSTER_DIR=$(mktemp -d)
	keep_dir=0
fi
mkdir -p "$CLUSTER_DIR"
export CLUSTER_STORAGE="$CLUSTER_DIR/storage"
export CLUSTER_LB_PORT=$BASE_PORT CLUSTER_LB_ADMIN=$((BASE_PORT + 1)) CLUSTER_EMULATOR_PORT=$((BASE_PORT + 2))
root="$CLUSTER_STORAGE/pki/authorities/local/root.crt"

pids=()
cleanup() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "$keep_dir" = 1 ] || rm -rf "$CLUSTER_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building ./cmd/caddy"
go build -o "$CLUSTER_DIR/caddy" ./cmd/caddy
caddy="$CLUSTER_DIR/caddy"

echo "== generating the state key (caddy devicebridge keygen)"
export DEVICEBRIDGE_STATE_KEYS="${DEVICEBRIDGE_STATE_KEYS:-$("$caddy" devicebridge keygen)}"

wait_for() { # name url
	for _ in $(seq 1 150); do
		if [ -f "$root" ] && curl -sf -o /dev/null --cacert "$root" "$2"; then
			echo "   $1 is up: $2"
			return 0
		fi
		sleep 0.2
	done
	echo "timed out waiting for $1 at $2; its log is $CLUSTER_DIR/$1/caddy.log" >&2
	return 1
}

start() { # name caddyfile [VAR=value...]
	local name=$1 file=$2
	shift 2
	mkdir -p "$CLUSTER_DIR/$name"
	env XDG_DATA_HOME="$CLUSTER_DIR/$name/data" XDG_CONFIG_HOME="$CLUSTER_DIR/$name/config" "$@" \
		"$caddy" run --config "deploy/cluster/$file" --adapter caddyfile >"$CLUSTER_DIR/$name/caddy.log" 2>&1 &
	pids+=($!)
}

# The emulator first: it creates the local CA in the shared storage that
# every other process then loads.
echo "== starting"
start emulator emulator.Caddyfile
wait_for emulator "https://localhost:$CLUSTER_EMULATOR_PORT/_emulator/mailboxes"

nodes=""
for i in $(seq 1 "$NODES"); do
	port=$((BASE_PORT + 2 + 2 * i))
	start "node$i" node.Caddyfile CLUSTER_NODE_NAME="node$i" CLUSTER_NODE_PORT=$port CLUSTER_NODE_ADMIN=$((port + 1)) \
		CLUSTER_DRAIN_FILE="$CLUSTER_DIR/node$i/drain"
	nodes="$nodes https://localhost:$port"
done
for i in $(seq 1 "$NODES"); do
	wait_for "node$i" "https://localhost:$((BASE_PORT + 2 + 2 * i))/device/v1/health"
done
export CLUSTER_NODES="${nodes# }"
start lb lb.Caddyfile
wait_for lb "https://localhost:$CLUSTER_LB_PORT/device/v1/health"

cat <<INFO
== the cluster is up (Ctrl-C stops it)
   devices:   https://localhost:$CLUSTER_LB_PORT/device/v1/batch  (token "demo")
   CA root:   $root
   nodes:     $CLUSTER_NODES
   emulator:  https://localhost:$CLUSTER_EMULATOR_PORT  (control API /_emulator)
   logs:      $CLUSTER_DIR/{lb,emulator,node1..node$NODES}/caddy.log
   rotate keys or change a limit, node by node (docs/operations.md): drain the node
     (touch $CLUSTER_DIR/node1/drain; wait for the health interval), then with new
     DEVICEBRIDGE_STATE_KEYS / DEVICEBRIDGE_MAX_INFLIGHT
       CLUSTER_STORAGE=$CLUSTER_STORAGE CLUSTER_EMULATOR_PORT=$CLUSTER_EMULATOR_PORT \\
       CLUSTER_NODE_NAME=node1 CLUSTER_NODE_PORT=$((BASE_PORT + 4)) CLUSTER_NODE_ADMIN=$((BASE_PORT + 5)) \\
       CLUSTER_DRAIN_FILE=$CLUSTER_DIR/node1/drain \\
       $caddy reload --config deploy/cluster/node.Caddyfile --address localhost:$((BASE_PORT + 5))
     and rm $CLUSTER_DIR/node1/drain
INFO
wait -n "${pids[@]}" || true
echo "a process of the cluster exited; stopping the rest" >&2
exit 1
