#!/usr/bin/env bash
# Identity resolution as the city grows: records without a national identifier
# (Tools/matchgen.py) matched into registries of 10^4, 10^5 and 10^6 persons, then 10^5 such
# records into the largest. For each: training time and peak RSS, the registry's own import
# rate (the anchor, same run), the records' import rate and peak RSS, pairwise precision and
# recall (Benchmarks/pairwise.py), review tasks.
#
#   Benchmarks/matching-scale.sh [BIN]     # SIZES="10000 100000 1000000" RECORDS=10000 LARGE=100000
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/yidang}
SIZES=${SIZES:-"10000 100000 1000000"}
RECORDS=${RECORDS:-10000}
LARGE=${LARGE:-100000}
WORK=$(mktemp -d /tmp/yidang-matching-scale.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

timed() {  # timed OUT CMD…: runs CMD, writes "seconds peak-KiB" to OUT
  local out=$1; shift
  /usr/bin/time -o "$out" -f "%e %M" "$@" >/dev/null
}

echo "| registry persons | records | training s (peak MiB) | registry import events/s | records/s (peak MiB) | ratio | precision | recall | review tasks |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
runs="$(for s in $SIZES; do echo "$s:$RECORDS"; done)"
largest=${SIZES##* }
[ "$LARGE" -gt 0 ] && runs="$runs $largest:$LARGE"
for run in $runs; do
  persons=${run%%:*}; records=${run##*:}
  D="$WORK/$persons-$records"; mkdir -p "$D"
  python3 Tools/matchgen.py --persons "$persons" --records "$records" --seed 7 --parts 1 --out "$D/city" >/dev/null
  timed "$D/train" "$BIN" matches train "$D/city/registry.ndjson" "$D/city/records-1.ndjson" --data "$D/data"
  timed "$D/registry" "$BIN" import "$D/city/registry.ndjson" --data "$D/data"
  timed "$D/records" "$BIN" import "$D/city/records-1.ndjson" --data "$D/data"
  "$BIN" crosswalks --json --data "$D/data" > "$D/crosswalks.json"
  "$BIN" matches list --status all --limit 10000000 --json --data "$D/data" > "$D/matches.json"
  python3 Benchmarks/pairwise.py "$D/city/truth.json" "$D/crosswalks.json" "$D/matches.json" > "$D/score.json"
  python3 - "$D" "$persons" "$records" <<'PY'
import json, sys
d, persons, records = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.load(open(f"{d}/score.json"))
t, g, r = (open(f"{d}/{n}").read().split() for n in ("train", "registry", "records"))
reg, rate = persons / float(g[0]), records / float(r[0])
print(f"| {persons:,} | {records:,} | {float(t[0]):.1f} ({int(t[1]) / 1024:.0f}) | {reg:,.0f} | {rate:,.0f} ({int(r[1]) / 1024:.0f}) | "
      f"{rate / reg:.3f} | {s['precision']:.4f} | {s['recall']:.4f} | {s['reviewTasks']} |")
PY
  rm -rf "$D"
done
