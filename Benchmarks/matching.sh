#!/usr/bin/env bash
# Identity resolution on a generated city (Tools/matchgen.py): a registry of persons with
# their 公民身份号码, then records without one from other departments (homophones,
# traditional characters, swapped day and month, new phones, address variants, namesakes,
# people the registry does not know). For each way of running it, one row: pairwise
# precision, recall and F1 (Benchmarks/pairwise.py), review tasks, the seconds training took,
# the records-without-identifier import rate beside the registry import rate of the same run
# (the anchor: records that need no matching), and the import's peak RSS.
#
#   Benchmarks/matching.sh [BIN]        # PERSONS=20000 RECORDS=10000 SEED=7
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/yidang}
PERSONS=${PERSONS:-20000}; RECORDS=${RECORDS:-10000}; SEED=${SEED:-7}
WORK=$(mktemp -d /tmp/yidang-matching.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 Tools/matchgen.py --persons "$PERSONS" --records "$RECORDS" --seed "$SEED" --parts 1 --out "$WORK/one"
python3 Tools/matchgen.py --persons "$PERSONS" --records "$RECORDS" --seed "$SEED" --parts 3 --out "$WORK/three"

timed() {  # timed OUT CMD…: runs CMD, writes "seconds peak-KiB" to OUT
  local out=$1; shift
  /usr/bin/time -o "$out" -f "%e %M" "$@" >/dev/null
}

echo "| run | precision | recall | F1 | review tasks | training, s | records without identifier, /s (peak RSS MiB) | registry import, events/s, same run | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for run in untrained trained trained-3-imports; do
  case $run in trained-3-imports) SET=three ;; *) SET=one ;; esac
  DIR="$WORK/$run"; DATA="$DIR/data"; mkdir -p "$DIR"
  FILES=$(ls "$WORK/$SET"/records-*.ndjson)
  TRAIN=0
  if [ "$run" != untrained ]; then
    timed "$DIR/train" "$BIN" matches train "$WORK/$SET/registry.ndjson" $FILES --data "$DATA"
    TRAIN=$(cut -d' ' -f1 "$DIR/train")
  fi
  timed "$DIR/registry" "$BIN" import "$WORK/$SET/registry.ndjson" --data "$DATA"
  : > "$DIR/records"
  for f in $FILES; do timed "$DIR/part" "$BIN" import "$f" --data "$DATA"; cat "$DIR/part" >> "$DIR/records"; done
  "$BIN" crosswalks --json --data "$DATA" > "$DIR/crosswalks.json"
  "$BIN" matches list --status all --limit 1000000 --json --data "$DATA" > "$DIR/matches.json"
  python3 Benchmarks/pairwise.py "$WORK/$SET/truth.json" "$DIR/crosswalks.json" "$DIR/matches.json" > "$DIR/score.json"
  python3 - "$run" "$DIR" "$PERSONS" "$RECORDS" "$TRAIN" <<'PY'
import json, sys
run, d, persons, records, train = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = json.load(open(f"{d}/score.json"))
reg = open(f"{d}/registry").read().split()
parts = [l.split() for l in open(f"{d}/records").read().strip().splitlines()]
seconds = sum(float(p[0]) for p in parts); rss = max(int(p[1]) for p in parts) / 1024
rate, anchor = records / seconds, persons / float(reg[0])
print(f"| {run} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['reviewTasks']} | {train:.1f} | "
      f"{rate:,.0f} ({rss:.0f}) | {anchor:,.0f} | {rate / anchor:.2f} |")
PY
done
