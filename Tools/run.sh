#!/usr/bin/env bash
# Runs the hub on its embedded default: a local RocksDB data directory, nothing else to start.
# With --demo it first loads a small generated city into ./yidang-demo and prints demo tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/deps.sh
Tools/build-release.sh
BIN=.build/release/yidang
if [ "${1:-}" = "--demo" ]; then
  shift
  DATA=./yidang-demo
  if [ ! -d "$DATA/db" ]; then
    python3 Tools/citygen.py --persons 2000 --enterprises 200 --seed 2026 --out /tmp/yidang-demo-city.ndjson
    "$BIN" import /tmp/yidang-demo-city.ndjson --data "$DATA" --rejects /tmp/yidang-demo-rejects.ndjson
    for role in publisher:gongan publisher:zhujian reader steward admin subscriber; do
      r=${role%%:*}; s=${role#*:}; [ "$s" = "$role" ] && s=""
      t=$("$BIN" tokens create --data "$DATA" --role "$r" ${s:+--source "$s"} --name "demo-$r${s:+-$s}")
      echo "demo token $role: $t"
    done | tee "$DATA/demo-tokens.txt"
  else
    cat "$DATA/demo-tokens.txt"
  fi
  exec "$BIN" serve --data "$DATA" "$@"
fi
exec "$BIN" serve "$@"
