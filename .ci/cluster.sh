#!/usr/bin/env bash
# CI stage: a two-node RabbitMQ cluster (Debian's rabbitmq-server with its MQTT plugin)
# on this machine, and a fleet across it: the coordinator on node 1, worker 1's hubs on
# node 1 and its devices on node 2, worker 2 the other way round, so every service
# request and every control message crosses the cluster. Fails, never skips, when the
# cluster cannot be installed, started or joined. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

PREMISES="${FLEET_CLUSTER_PREMISES:-20}"
DURATION="${FLEET_CLUSTER_DURATION:-10}"
RABBIT_BIN=/usr/lib/rabbitmq/bin

if [ ! -x "$RABBIT_BIN/rabbitmq-server" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # policy-rc.d keeps the package's own service from starting; we run our nodes.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        rabbitmq-server
fi
if [ ! -x "$RABBIT_BIN/rabbitmq-server" ]; then
    echo "FAIL: rabbitmq-server is not installed and could not be installed" >&2
    exit 1
fi

WORK="$(mktemp -d /tmp/smets-cluster.XXXXXX)"
PIDS=()
cleanup() {
    for node in rabbit-fleet1 rabbit-fleet2; do
        HOME="$WORK" "$RABBIT_BIN/rabbitmqctl" -n "$node@localhost" stop >/dev/null 2>&1 || true
    done
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Six distinct ports below the kernel's ephemeral range (32768 up): a port picked from
# that range can be taken by any outgoing connection before the node binds it.
read -r -a PORTS <<< "$(.venv/bin/python - <<'PY'
import random, socket
picked = []
while len(picked) < 6:
    port = random.randrange(20000, 32000)
    if port in picked:
        continue
    try:
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((host, port))
    except OSError:
        continue
    picked.append(port)
print(*picked)
PY
)"

export HOME="$WORK"  # the Erlang cookie both nodes and rabbitmqctl share
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/.erlang.cookie"
chmod 400 "$WORK/.erlang.cookie"
echo "[rabbitmq_mqtt]." > "$WORK/enabled_plugins"

declare -A MQTT_PORT
for n in 1 2; do
    node="rabbit-fleet$n"
    mkdir -p "$WORK/$n"
    base=$(((n - 1) * 3))
    MQTT_PORT[$n]="${PORTS[$base]}"
    cat > "$WORK/$n/rabbitmq.conf" <<CONF
listeners.tcp.default = ${PORTS[$((base + 1))]}
mqtt.listeners.tcp.default = ${MQTT_PORT[$n]}
mqtt.allow_anonymous = true
loopback_users = none
log.console = false
log.file.level = warning
CONF
    RABBITMQ_NODENAME="$node@localhost" \
    RABBITMQ_DIST_PORT="${PORTS[$((base + 2))]}" \
    RABBITMQ_CONFIG_FILE="$WORK/$n/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$WORK/$n/mnesia" \
    RABBITMQ_LOG_BASE="$WORK/$n/log" \
    RABBITMQ_PID_FILE="$WORK/$n/pid" \
        "$RABBIT_BIN/rabbitmq-server" > "$WORK/$n/stdout" 2>&1 &
    PIDS+=("$!")
done

# A node registers with epmd a moment after it starts: until then await_startup fails.
for n in 1 2; do
    deadline=$((SECONDS + 90))
    until "$RABBIT_BIN/rabbitmqctl" -n "rabbit-fleet$n@localhost" -q await_startup \
        --timeout 10 >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null; then
            echo "FAIL: RabbitMQ node $n did not start" >&2
            tail -n 30 "$WORK/$n/stdout" "$WORK/$n"/log/*.log >&2 || true
            exit 1
        fi
        sleep 1
    done
done
ctl2() { "$RABBIT_BIN/rabbitmqctl" -n rabbit-fleet2@localhost -q "$@"; }
ctl2 stop_app
ctl2 join_cluster rabbit-fleet1@localhost
ctl2 start_app
running="$("$RABBIT_BIN/rabbitmqctl" -n rabbit-fleet1@localhost -q cluster_status --formatter json |
    .venv/bin/python -c 'import json,sys; print(len(json.load(sys.stdin)["running_nodes"]))')"
if [ "$running" != 2 ]; then
    echo "FAIL: the cluster has $running running node(s), not 2" >&2
    exit 1
fi
NODE1="mqtt://127.0.0.1:${MQTT_PORT[1]}"
NODE2="mqtt://127.0.0.1:${MQTT_PORT[2]}"
echo "cluster up: node 1 MQTT $NODE1, node 2 MQTT $NODE2"

.venv/bin/smets-hil fleet worker --broker "$NODE1" --device-broker "$NODE2" --shard 1/2 \
    --run ci-cluster &
PIDS+=("$!")
.venv/bin/smets-hil fleet worker --broker "$NODE2" --device-broker "$NODE1" --shard 2/2 \
    --run ci-cluster &
PIDS+=("$!")
.venv/bin/smets-hil fleet --premises "$PREMISES" --workers 2 --broker "$NODE1" --no-spawn \
    --run ci-cluster --duration "$DURATION" --seed ci --json "$WORK/fleet.json"
.venv/bin/python - "$WORK/fleet.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
workers = report["workers"]
assert report["verdict"] == "passed", report["failures"]
assert all(w["ok"] > 0 and not w["lost"] for w in workers.values()), workers
print(f"cluster fleet: {report['requests']['ok']} requests across 2 nodes, "
      f"p99 {report['latency_ms']['p99']} ms")
PY
