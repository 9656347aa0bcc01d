#!/usr/bin/env bash
# JetStream on loopback: raw publishes on one server (R1) and on a three-server cluster
# (R3), one at a time (each waiting for the stream's acknowledgement) and asynchronously
# (a window in flight, the ceiling); beside them, the hub's change feed catching up with a
# city imported before it starts (every change published once per clearance level that
# sees it, asynchronously, each message expecting its predecessor). Prints every figure.
#
#   Benchmarks/jetstream.sh            # MESSAGES=20000 SIZE=600 PUBLISHERS=1 EVENTS=50000
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/deps.sh nats-server
Tools/build-release.sh >&2
BIN=$PWD/.build/release/yidang
MESSAGES=${MESSAGES:-20000}; SIZE=${SIZE:-600}; PUBLISHERS=${PUBLISHERS:-1}; EVENTS=${EVENTS:-50000}
WORK=$(mktemp -d /tmp/yidang-js.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
log() { echo "[jetstream] $*" >&2; }
ports() { python3 -c "
import socket
ss = [socket.socket() for _ in range($1)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))"; }
retry() { for _ in $(seq 60); do "$@" && return 0; sleep 0.5; done; return 1; }   # a cluster elects its JetStream leader first

read -r P0 HP <<< "$(ports 2)"
nats-server -a 127.0.0.1 -p "$P0" -js -sd "$WORK/single" >/dev/null 2>&1 & PIDS+=($!)
read -r P1 P2 P3 C1 C2 C3 <<< "$(ports 6)"
for i in 1 2 3; do
  eval p=\$P$i; eval c=\$C$i
  nats-server -a 127.0.0.1 -p "$p" -js -sd "$WORK/n$i" --server_name "n$i" --cluster_name yidang \
    --cluster "nats://127.0.0.1:$c" --routes "nats://127.0.0.1:$C1,nats://127.0.0.1:$C2,nats://127.0.0.1:$C3" >/dev/null 2>&1 & PIDS+=($!)
done
CLUSTER="nats://127.0.0.1:$P1,nats://127.0.0.1:$P2,nats://127.0.0.1:$P3"

log "raw JetStream: $MESSAGES messages of $SIZE B, $PUBLISHERS publisher(s) waiting for each acknowledgement"
R1=$(retry "$BIN" bench-jetstream --servers "nats://127.0.0.1:$P0" --messages "$MESSAGES" --size "$SIZE" --publishers "$PUBLISHERS" --replicas 1)
echo "R1 one server:      $R1"
R3=$(retry "$BIN" bench-jetstream --servers "$CLUSTER" --messages "$MESSAGES" --size "$SIZE" --publishers "$PUBLISHERS" --replicas 3)
echo "R3 three servers:   $R3"
log "raw JetStream, asynchronous (a window of unacknowledged messages, as nats bench publishes)"
A1=$(retry "$BIN" bench-jetstream --servers "nats://127.0.0.1:$P0" --messages "$(( MESSAGES * 5 ))" --size "$SIZE" --replicas 1 --async)
echo "R1 one server:      $A1"
A3=$(retry "$BIN" bench-jetstream --servers "$CLUSTER" --messages "$(( MESSAGES * 5 ))" --size "$SIZE" --replicas 3 --async)
echo "R3 three servers:   $A3"

log "the hub's change feed: a city of $EVENTS events imported, then served with --change-stream"
python3 Tools/citygen.py --persons $(( EVENTS / 7 + 1 )) --enterprises $(( EVENTS / 70 + 1 )) --seed 42 --out "$WORK/city.ndjson" 2>/dev/null
"$BIN" import "$WORK/city.ndjson" --data "$WORK/hub" >/dev/null
for target in single cluster; do
  rm -rf "$WORK/hub-$target"; cp -r "$WORK/hub" "$WORK/hub-$target"
  servers=$([ "$target" = single ] && echo "nats://127.0.0.1:$P0" || echo "$CLUSTER")
  replicas=$([ "$target" = single ] && echo 1 || echo 3)
  start=$(date +%s.%N)
  "$BIN" serve --data "$WORK/hub-$target" --port "$HP" --change-stream "$servers" --change-stream-replicas "$replicas" >/dev/null 2>&1 & SP=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  head=$(curl -s "http://127.0.0.1:$HP/metrics" | awk '/^yidang_change_position / {print int($2)}')
  line=$("$BIN" bench-jetstream --servers "$servers" --messages 0 --watch-position "$head")
  end=$(date +%s.%N)
  kill "$SP"; wait "$SP" 2>/dev/null || true
  msgs=$(echo "$line" | sed -E 's/.*s, ([0-9]+) messages/\1/')
  secs=$(python3 -c "print(round($end - $start, 2))")
  echo "hub change feed to R$replicas: $head changes, $msgs messages in $secs s from start: $(python3 -c "print(round($head / $secs))") changes/s, $(python3 -c "print(round($msgs / $secs))") msg/s"
done
