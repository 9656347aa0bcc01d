#!/usr/bin/env bash
# Interleaved A/B of two yidang binaries on one bulk workload, for changes smaller than the
# machine's hour-to-hour noise: each round runs both binaries back to back (alternating which
# goes first) on the same input, and the figure is the median of the per-round ratios B/A.
#
#   Benchmarks/ab.sh A_BIN B_BIN [rebuild|import|both|bulk]
#   EVENTS=200000 ROUNDS=10 WORKLOAD=city|registry DURATION=8 WARMUP=0 Benchmarks/ab.sh …
#
# rebuild: each binary imports the input once, then each round times `yidang rebuild` of a
# fresh copy of its own store, as the suite rebuilds right after an import (a rebuild leaves
# its files in level 0 for later: rebuilding one store again and again piled them up, and
# the rounds slowed by a fifth over ten). import: each round times a fresh `yidang import`.
# both: a fresh import and then a rebuild per round. bulk: each round starts a fresh `yidang
# serve` and sends it the suite's bulk HTTP load (1000-event NDJSON requests, 2 connections,
# DURATION seconds, bodies read from Tools/bulkgen.py's files as in the suite, after WARMUP
# seconds of it (0) whose events are not measured; needs wrk);
# its "wall" is the seconds per 100,000 events and its "cpu" the server's CPU seconds per 100,000.
# Prints per-round wall and CPU seconds and the median ratios (below 1: B is faster).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?first binary}; B=${2:?second binary}; MODE=${3:-rebuild}
EVENTS=${EVENTS:-200000}; ROUNDS=${ROUNDS:-10}; WORKLOAD=${WORKLOAD:-city}
WORK=$(mktemp -d /tmp/yidang-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ "$MODE" = bulk ]; then
  : > "$WORK/in.ndjson"
  # The measured load's request bodies, read by bulk.lua as the suite's are; the warm-up's
  # are built by bulk.lua, numbered apart.
  python3 Tools/bulkgen.py --bodies "$WORK/bodies" --seconds "${DURATION:-8}"
elif [ "$WORKLOAD" = registry ]; then
  python3 Tools/registrygen.py --subjects $(( EVENTS / 4 + 1 )) --events "$EVENTS" --seed 11 --out "$WORK/in.ndjson"
else
  P=$(( EVENTS / 7 + 1 ))
  python3 Tools/citygen.py --persons "$P" --enterprises $(( P / 10 + 1 )) --seed 42 --out "$WORK/in.ndjson" 2>/dev/null
fi
echo "A=$A B=$B mode=$MODE workload=$WORKLOAD events=$(wc -l < "$WORK/in.ndjson") rounds=$ROUNDS" >&2

timed() {  # timed CMD…: prints "wall cpu" seconds of the command
  /usr/bin/time -f "%e %U %S" "$@" >/dev/null 2>"$WORK/t" || { cat "$WORK/t" >&2; exit 1; }
  tail -1 "$WORK/t" | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}
PORT=${PORT:-18491}
bulk() {  # bulk BIN DIR: a fresh server under the bulk load; prints "s cpu" per 100,000 events
  rm -rf "$2"
  local token pid t0 t1 eps
  token=$("$1" tokens create --data "$2" --role publisher --source gongan)
  "$1" serve --data "$2" --port "$PORT" >"$WORK/serve.log" 2>&1 & pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  # WARMUP seconds of the load first, its events numbered apart so the measured ones are new.
  if [ "${WARMUP:-0}" != 0 ]; then
    BULK_FIRST=2000000 TOKEN=$token wrk -t2 -c2 -d"${WARMUP}s" --timeout 60s -s Benchmarks/lua/bulk.lua "http://127.0.0.1:$PORT" >/dev/null
  fi
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  eps=$(BULK_BODIES="$WORK/bodies" TOKEN=$token wrk -t2 -c2 -d"${DURATION:-8}s" --timeout 60s -s Benchmarks/lua/bulk.lua "http://127.0.0.1:$PORT" \
        | awk '/Requests\/sec/ {print $2 * 1000}')
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "eps=$eps; n=eps*${DURATION:-8}; print(f'{1e5/eps:.4f} {($t1-$t0)/$(getconf CLK_TCK)*1e5/n:.4f}')"
}
run() {  # run BIN DIR: one measured step of MODE; prints "wall cpu"
  case "$MODE" in
    rebuild) rm -rf "$2"; cp -a "$2.imported" "$2"; timed "$1" rebuild --data "$2" ;;
    import) rm -rf "$2"; timed "$1" import "$WORK/in.ndjson" --data "$2" ;;
    both) rm -rf "$2"
          read -r w1 c1 < <(timed "$1" import "$WORK/in.ndjson" --data "$2")
          read -r w2 c2 < <(timed "$1" rebuild --data "$2")
          python3 -c "print(f'{$w1+$w2:.3f} {$c1+$c2:.3f}')" ;;
    bulk) bulk "$1" "$2" ;;
    *) echo "mode: rebuild, import, both or bulk" >&2; exit 64 ;;
  esac
}
if [ "$MODE" = rebuild ]; then
  "$A" import "$WORK/in.ndjson" --data "$WORK/a.imported" >/dev/null
  "$B" import "$WORK/in.ndjson" --data "$WORK/b.imported" >/dev/null
fi
ratios_w=(); ratios_c=()
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then read -r aw ac < <(run "$A" "$WORK/a"); read -r bw bc < <(run "$B" "$WORK/b")
  else read -r bw bc < <(run "$B" "$WORK/b"); read -r aw ac < <(run "$A" "$WORK/a"); fi
  rw=$(python3 -c "print(f'{$bw/$aw:.3f}')"); rc=$(python3 -c "print(f'{$bc/$ac:.3f}')")
  ratios_w+=("$rw"); ratios_c+=("$rc")
  echo "round $r: A ${aw}s (cpu ${ac}s)  B ${bw}s (cpu ${bc}s)  B/A wall $rw cpu $rc"
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "median B/A: wall $(printf '%s\n' "${ratios_w[@]}" | median), cpu $(printf '%s\n' "${ratios_c[@]}" | median) ($ROUNDS rounds)"
