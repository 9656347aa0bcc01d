#!/usr/bin/env bash
# Yidang benchmark suite: each figure beside its anchor measured in the same run,
# medians of several runs. Builds in release mode; installs the anchors from Debian.
#
#   Benchmarks/run.sh                 # default size (200,000 events, 3 runs)
#   EVENTS=2000 RUNS=1 Benchmarks/run.sh   # CI smoke size: proves it works, judges nothing
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/deps.sh rocksdb-tools
EVENTS=${EVENTS:-200000}
RUNS=${RUNS:-3}
WORK=${WORK:-$(mktemp -d /tmp/yidang-bench.XXXXXX)}
swift build -c release --product yidang >&2
BIN=$PWD/.build/release/yidang

# ~7 events per person, ~400 bytes each on average with the envelope.
PERSONS=$(( EVENTS / 7 + 1 ))
python3 Tools/citygen.py --persons "$PERSONS" --enterprises $(( PERSONS / 10 + 1 )) --seed 42 --out "$WORK/city.ndjson" 2>/dev/null
N=$(wc -l < "$WORK/city.ndjson")
BYTES=$(stat -c %s "$WORK/city.ndjson")
VALUE=$(( BYTES / N ))

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

imp=(); reb=(); fill=(); rseq=()
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/data" "$WORK/dbb"
  imp+=("$("$BIN" import "$WORK/city.ndjson" --data "$WORK/data" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["lines"]/float(d["seconds"]))')")
  start=$(date +%s.%N)
  "$BIN" rebuild --data "$WORK/data" >/dev/null
  end=$(date +%s.%N)
  reb+=("$(python3 -c "print($N/($end-$start))")")
  fill+=("$(db_bench --benchmarks=fillseq --batch_size=1000 --value_size="$VALUE" --num="$N" --db="$WORK/dbb" --compression_type=lz4 2>/dev/null | awk '/^fillseq/ {print $5}')")
  rseq+=("$(db_bench --benchmarks=readseq --use_existing_db=1 --value_size="$VALUE" --num="$N" --db="$WORK/dbb" 2>/dev/null | awk '/^readseq/ {print $5}')")
done
I=$(printf '%s\n' "${imp[@]}" | median); R=$(printf '%s\n' "${reb[@]}" | median)
F=$(printf '%s\n' "${fill[@]}" | median); S=$(printf '%s\n' "${rseq[@]}" | median)
DISK=$(du -sb "$WORK/data/db" | cut -f1)
printf '\nYidang benchmarks — %s, %s events (%s bytes/event raw JSON), median of %s runs\n\n' "$(date -u +%Y-%m-%d)" "$N" "$VALUE" "$RUNS"
printf '| figure | yidang | anchor (same run) | ratio |\n| --- | ---: | ---: | ---: |\n'
printf '| bulk import with projection, events/s | %.0f | db_bench fillseq batch 1000, value %s: %.0f ops/s | %.3f |\n' "$I" "$VALUE" "$F" "$(python3 -c "print($I/$F)")"
printf '| rebuild (replay), events/s | %.0f | db_bench readseq: %.0f ops/s | %.3f |\n' "$R" "$S" "$(python3 -c "print($R/$S)")"
printf '| disk bytes per event (uncompacted) | %.0f | raw event JSON: %s | %.2f |\n' "$(python3 -c "print($DISK/$N)")" "$VALUE" "$(python3 -c "print($DISK/$N/$VALUE)")"
rm -rf "$WORK"
