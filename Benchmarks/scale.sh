#!/usr/bin/env bash
# Scale run: import, disk, memory, read latency and rebuild at 10^5, 10^6 and 10^7 events
# (the largest ≈ 1,400,000 persons / 140,000 enterprises). Writes a table on stdout.
#   Benchmarks/scale.sh                 # SIZES="100000 1000000 10000000"
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
Tools/deps.sh wrk
SIZES=${SIZES:-"100000 1000000 10000000"}
WORK=${WORK:-/tmp/yidang-scale}
PORT=${PORT:-18580}
export LUA_DIR=$ROOT/Benchmarks/lua
Tools/build-release.sh >&2
BIN=$ROOT/.build/release/yidang
mkdir -p "$WORK"
printf '| events | persons | import events/s | import peak RSS MiB | disk MiB (compacted) | bytes/event | rebuild events/s | verify s | reads/s (8 conns) | read p99 ms |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for size in $SIZES; do
  persons=$(( size / 7 + 1 ))
  rm -rf "$WORK/data" "$WORK/city.ndjson"
  python3 Tools/citygen.py --persons "$persons" --enterprises $(( persons / 10 + 1 )) --seed 7 --out "$WORK/city.ndjson" 2>/dev/null
  n=$(wc -l < "$WORK/city.ndjson")
  out=$(/usr/bin/time -f "RSS %M" "$BIN" import "$WORK/city.ndjson" --data "$WORK/data" --json 2>"$WORK/time.txt")
  rate=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["lines"]/float(d["seconds"])))')
  rss=$(( $(awk '/RSS/ {print $2}' "$WORK/time.txt") / 1024 ))
  start=$(date +%s.%N); "$BIN" rebuild --data "$WORK/data" >/dev/null; end=$(date +%s.%N)
  rebuild=$(python3 -c "print(round($n/($end-$start)))")
  start=$(date +%s.%N); "$BIN" verify --data "$WORK/data" >/dev/null; end=$(date +%s.%N)
  verify=$(python3 -c "print(round($end-$start, 1))")
  "$BIN" compact --data "$WORK/data" >/dev/null
  disk=$(du -sb "$WORK/data/db" | cut -f1)
  # reads of real persons from the generated city
  python3 - "$WORK/city.ndjson" > "$WORK/ids.lua" <<'PY'
import json, sys
ids = []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if '"person.updated"' in line and '"gongan"' in line:
            try: s = json.loads(line)["subject"]
            except Exception: continue
            if len(s) == 25: ids.append(s[7:])
        if len(ids) >= 20000: break
print("ids = {" + ",".join('"%s"' % i for i in ids) + "}")
PY
  READ=$("$BIN" tokens create --data "$WORK/data" --role reader)
  "$BIN" serve --data "$WORK/data" --port "$PORT" > "$WORK/serve.log" 2>&1 & pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  cat > "$WORK/read-ids.lua" <<LUA
dofile("$WORK/ids.lua")
function request() return wrk.format("GET", "/v1/persons/" .. ids[math.random(1, #ids)], {["Authorization"] = "Bearer $READ"}) end
LUA
  w=$(wrk -t2 -c8 -d10s --latency -s "$WORK/read-ids.lua" "http://127.0.0.1:$PORT")
  kill $pid; wait $pid 2>/dev/null || true
  rps=$(echo "$w" | awk '/Requests\/sec/ {print int($2)}')
  p99=$(echo "$w" | awk '$1=="99%" {print $2}')
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$persons" "$rate" "$rss" "$(( disk / 1048576 ))" "$(( disk / n ))" "$rebuild" "$verify" "$rps" "$p99"
done
