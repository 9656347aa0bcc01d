#!/usr/bin/env bash
# Interleaved A/B of two yidang binaries over HTTP: each round serves a fresh data directory
# with each binary in turn and measures bulk NDJSON ingest (1000-event requests, 2
# connections) and durable single-event publishes (8 connections) with wrk.
#
#   Benchmarks/http-ab.sh A_BIN B_BIN          # ROUNDS=3 BULK_SECONDS=10 PUB_SECONDS=8
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?first binary}; B=${2:?second binary}
ROUNDS=${ROUNDS:-3}; BULK_SECONDS=${BULK_SECONDS:-10}; PUB_SECONDS=${PUB_SECONDS:-8}; PORT=${PORT:-18490}
Tools/deps.sh wrk
export LUA_DIR=$PWD/Benchmarks/lua
# The bulk load's request bodies, read by bulk.lua as the suite's are; every round's server is
# fresh, so the same events are new to each.
BODIES=$(mktemp -d /tmp/yidang-hab-bodies.XXXXXX)
trap 'rm -rf "$BODIES"' EXIT
python3 Tools/bulkgen.py --bodies "$BODIES/b" --seconds "$BULK_SECONDS"
export BULK_BODIES=$BODIES/b
for round in $(seq "$ROUNDS"); do
  for bin in "$A" "$B"; do
    d=$(mktemp -d /tmp/yidang-hab.XXXXXX)
    pub=$("$bin" tokens create --data "$d/data" --role publisher --source gongan)
    "$bin" serve --data "$d/data" --port "$PORT" >/dev/null 2>&1 & pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    bulk=$(TOKEN=$pub wrk -t2 -c2 -d"${BULK_SECONDS}s" --timeout 60s -s Benchmarks/lua/bulk.lua "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')
    single=$(TOKEN=$pub wrk -t2 -c8 -d"${PUB_SECONDS}s" -s Benchmarks/lua/publish.lua "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')
    kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$d"
    echo "round $round $bin: bulk $(python3 -c "print(int($bulk*1000))") events/s, publishes $single/s"
  done
done
