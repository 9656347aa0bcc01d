#!/usr/bin/env bash
# The hub cluster on loopback: durable single-event publishes through three hub nodes on a
# three-server JetStream cluster (R3), beside the single-node hub and raw JetStream R3
# publishes measured in the same run (the ceiling for this design: every hub publish is
# one R3 publish its node waits for, then applies), and the catch-up rate of a node
# restarted EVENTS_BEHIND events behind. Prints every figure.
#
#   Benchmarks/cluster.sh          # CONNS=9 DURATION=10 EVENTS_BEHIND=100000
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/deps.sh nats-server wrk
Tools/build-release.sh >&2
BIN=$PWD/.build/release/yidang
CONNS=${CONNS:-9}; DURATION=${DURATION:-10}; EVENTS_BEHIND=${EVENTS_BEHIND:-100000}
WORK=$(mktemp -d /tmp/yidang-cluster.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "[cluster] $*" >&2; }
ports() { python3 -c "
import socket
ss = [socket.socket() for _ in range($1)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))"; }
retry() { for _ in $(seq 60); do "$@" && return 0; sleep 0.5; done; return 1; }
wrk_figures() {  # "rps p50_ms p99_ms" of each wrk --latency output given; rps summed, p50 median, p99 max
  python3 - "$@" <<'PY'
import re, statistics, sys
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps, p50, p99 = 0.0, [], []
for path in sys.argv[1:]:
    t = open(path).read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    p = {k: ms(v, u) for k, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", t)}
    p50.append(p["50"]); p99.append(p["99"])
    if re.search(r"Non-2xx", t): sys.exit(f"{path}: non-2xx answers:\n{t}")
print(f"{rps:.0f} {statistics.median(p50):.2f} {max(p99):.2f}")
PY
}
ready() { for _ in $(seq 200); do curl -sf "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

read -r P1 P2 P3 C1 C2 C3 H0 H1 H2 H3 <<< "$(ports 10)"
for i in 1 2 3; do
  eval p=\$P$i; eval c=\$C$i
  nats-server -a 127.0.0.1 -p "$p" -js -sd "$WORK/n$i" --server_name "n$i" --cluster_name yidang \
    --cluster "nats://127.0.0.1:$c" --routes "nats://127.0.0.1:$C1,nats://127.0.0.1:$C2,nats://127.0.0.1:$C3" >/dev/null 2>&1 & PIDS+=($!)
done
NATS="nats://127.0.0.1:$P1,nats://127.0.0.1:$P2,nats://127.0.0.1:$P3"

log "raw JetStream R3: $CONNS publishers, each waiting for its acknowledgement, 600-byte messages"
RAW=$(retry "$BIN" bench-jetstream --servers "$NATS" --messages $(( 3000 * DURATION )) --size 600 --publishers "$CONNS" --replicas 3)
echo "raw JetStream R3:  $RAW"

log "single-node hub (embedded RocksDB): durable single-event publishes, $CONNS connections, ${DURATION}s"
PUB=$("$BIN" tokens create --data "$WORK/single" --role publisher --source gongan)
"$BIN" serve --data "$WORK/single" --port "$H0" >/dev/null 2>&1 & SP=$!; PIDS+=($SP)
ready "http://127.0.0.1:$H0"
TOKEN=$PUB ID_PREFIX=s wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s Benchmarks/lua/publish.lua "http://127.0.0.1:$H0" > "$WORK/single.wrk"
read -r S_RPS S_P50 S_P99 < <(wrk_figures "$WORK/single.wrk")
kill "$SP"; wait "$SP" 2>/dev/null || true
echo "single-node hub:   $S_RPS publishes/s, p50 $S_P50 ms, p99 $S_P99 ms"

log "three hub nodes on the JetStream cluster: $CONNS connections spread over them, ${DURATION}s"
PUB=$(retry "$BIN" tokens create --role publisher --source gongan --nats "$NATS")
ADMIN=$("$BIN" tokens create --role admin --nats "$NATS")
NODE_PIDS=()
for i in 1 2 3; do
  eval h=\$H$i
  "$BIN" serve --data "$WORK/hub$i" --port "$h" --nats "$NATS" --node "hub$i" >"$WORK/hub$i.log" 2>&1 & NODE_PIDS[$i]=$!; PIDS+=($!)
done
for i in 1 2 3; do eval h=\$H$i; ready "http://127.0.0.1:$h"; done
WRKS=()
for i in 1 2 3; do
  eval h=\$H$i
  TOKEN=$PUB ID_PREFIX=n$i wrk -t1 -c$(( CONNS / 3 )) -d"${DURATION}s" --latency -s Benchmarks/lua/publish.lua "http://127.0.0.1:$h" > "$WORK/node$i.wrk" & WRKS+=($!)
done
wait "${WRKS[@]}"
read -r C_RPS C_P50 C_P99 < <(wrk_figures "$WORK"/node{1,2,3}.wrk)
echo "3-node hub cluster: $C_RPS publishes/s, p50 $C_P50 ms, p99 $C_P99 ms (over the three nodes)"

log "catch-up: node 3 stopped, $EVENTS_BEHIND events imported through node 1, node 3 restarted"
kill "${NODE_PIDS[3]}"; wait "${NODE_PIDS[3]}" 2>/dev/null || true
python3 Tools/citygen.py --persons $(( EVENTS_BEHIND / 7 + 1 )) --enterprises $(( EVENTS_BEHIND / 70 + 1 )) --seed 7 --out "$WORK/city.ndjson" 2>/dev/null
head -n "$EVENTS_BEHIND" "$WORK/city.ndjson" > "$WORK/behind.ndjson"
"$BIN" import "$WORK/behind.ndjson" --server "http://127.0.0.1:$H1" --token "$ADMIN" >/dev/null
applied() { curl -s "http://127.0.0.1:$1/readyz" | python3 -c 'import json,sys; l=json.load(sys.stdin).get("log",{}); print(l.get("applied",0), l.get("stream",0))' 2>/dev/null || echo "0 1"; }
read -r _ STREAM < <(applied "$H1")
BEHIND_FROM=$(cd "$WORK" && "$BIN" verify --json --data "$WORK/hub3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])')
start=$(date +%s.%N)
"$BIN" serve --data "$WORK/hub3" --port "$H3" --nats "$NATS" --node hub3 >>"$WORK/hub3.log" 2>&1 & PIDS+=($!)
while true; do
  read -r A S < <(applied "$H3")
  [ "$A" -ge "$STREAM" ] 2>/dev/null && break
  sleep 0.05
done
end=$(date +%s.%N)
CAUGHT=$("$BIN" verify --json --data "$WORK/hub3" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head"])')
CATCHUP=$(python3 -c "print(f'{($CAUGHT - $BEHIND_FROM) / ($end - $start):.0f} {$end - $start:.2f}')")
read -r C_EPS C_SEC <<< "$CATCHUP"
echo "catch-up:          $(( CAUGHT - BEHIND_FROM )) events in ${C_SEC}s = $C_EPS events/s (from its restart to the stream's head)"

RAW_RPS=$(echo "$RAW" | sed -E 's/.*: ([0-9]+) msg\/s.*/\1/')
echo
echo "| workload | Yidang | anchor, same run | ratio |"
echo "| --- | ---: | ---: | ---: |"
printf '| durable publishes/s, %s connections: 3-node hub cluster (R3), p50 / p99 ms | %.0f, %.2f / %.2f | raw JetStream R3, %s publishers: %.0f msg/s | %.2f |\n' \
  "$CONNS" "$C_RPS" "$C_P50" "$C_P99" "$CONNS" "$RAW_RPS" "$(python3 -c "print($C_RPS / $RAW_RPS)")"
printf '| durable publishes/s, %s connections: single-node hub, p50 / p99 ms | %.0f, %.2f / %.2f | the 3-node cluster: %.0f | %.2f |\n' \
  "$CONNS" "$S_RPS" "$S_P50" "$S_P99" "$C_RPS" "$(python3 -c "print($C_RPS / $S_RPS)")"
printf '| catch-up of a node restarted %s events behind | %s events/s | — | — |\n' "$(( CAUGHT - BEHIND_FROM ))" "$C_EPS"
