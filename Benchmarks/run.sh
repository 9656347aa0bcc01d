#!/usr/bin/env bash
# Yidang benchmark suite. Each figure is printed beside its anchor measured in the same run
# (RocksDB's db_bench, PostgreSQL 15 doing the same work), because this machine is noisy.
# Builds in release mode; installs the anchors (rocksdb-tools, postgresql, wrk) from Debian.
#
#   Benchmarks/run.sh                                   # 200,000 events, 3 runs, 15 s HTTP loads
# Two bulk workloads: the city (record by record) and a registry snapshot (department by
# department), each imported and rebuilt beside db_bench's fillseq and readseq.
#   EVENTS=2000 RUNS=1 DURATION=2 Benchmarks/run.sh     # CI smoke size: proves it works, judges nothing
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
Tools/deps.sh rocksdb-tools postgresql wrk
EVENTS=${EVENTS:-200000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-15}
CONNS=${CONNS:-8}
WORK=${WORK:-$(mktemp -d /tmp/yidang-bench.XXXXXX)}
PORT=${PORT:-18480}
PGPORT=${PGPORT:-55480}
export LUA_DIR=$ROOT/Benchmarks/lua
Tools/build-release.sh >&2
BIN=$ROOT/.build/release/yidang
log() { echo "[bench] $*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { python3 -c "print($1)"; }

cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -d "$WORK/pg" ] && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- bulk import and rebuild
# bulk_runs FILE LABEL: import and rebuild FILE $RUNS times, each beside db_bench's fillseq and
# readseq of as many values of the file's mean event size, and RocksDB alone doing the rebuild's
# reads and writes (yidang bench-rebuild-ceiling); sets I R F S C RSS (medians), N, VALUE, and
# RU CU: the CPU (user + system) an event of the rebuild and of that ceiling, µs (medians).
bulk_runs() {
  local file=$1 label=$2
  N=$(wc -l < "$file")
  VALUE=$(( $(stat -c %s "$file") / N ))
  local imp=() reb=() fill=() rseq=() ceil=() rss=() rcpu=() ccpu=() r out start end said own split
  for r in $(seq "$RUNS"); do
    log "$label: import/rebuild run $r of $RUNS ($N events)"
    rm -rf "$WORK/data" "$WORK/dbb"
    out=$(/usr/bin/time -f "RSS %M" "$BIN" import "$file" --data "$WORK/data" --json 2>"$WORK/time.txt")
    imp+=("$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["lines"]/float(d["seconds"]))')")
    rss+=("$(awk '/RSS/ {print $2}' "$WORK/time.txt")")
    start=$(date +%s.%N); said=$(/usr/bin/time -f "CPU %U %S" -o "$WORK/rtime.txt" "$BIN" rebuild --data "$WORK/data"); end=$(date +%s.%N)
    reb+=("$(calc "$N/($end-$start)")")
    rcpu+=("$(awk -v n="$N" '/^CPU/ {print ($2 + $3) * 1e6 / n}' "$WORK/rtime.txt")")
    # The command's own timer stops before the database closes; the figure is the whole
    # process. The two differ when closing waits for a compaction (see RESULTS.md).
    own=$(echo "$said" | awk '/^rebuilt/ {print $6}')
    # Its own split: the replay (the fold), then the golden records written and the files ingested.
    split=$(echo "$said" | sed -n 's/.*; replay \([0-9.]*\) s, then golden records, small writes and ingest \([0-9.]*\) s).*/replay \1 s, then \2 s/p')
    # Its rate, then the CPU an event cost over its own timed part (the process also opens
    # the store, which may start a compaction of the rebuild's level-0 files).
    out=$("$BIN" bench-rebuild-ceiling --data "$WORK/data")
    ceil+=("$(echo "$out" | awk '{print $1}')"); ccpu+=("$(echo "$out" | awk '{print $2}')")
    fill+=("$(db_bench --benchmarks=fillseq --batch_size=1000 --value_size="$VALUE" --num="$N" --db="$WORK/dbb" --compression_type=lz4 --sync=1 2>/dev/null | awk '/^fillseq/ {print $5}')")
    rseq+=("$(db_bench --benchmarks=readseq --use_existing_db=1 --value_size="$VALUE" --num="$N" --db="$WORK/dbb" 2>/dev/null | awk '/^readseq/ {print $5}')")
    # Each run beside its own anchors, so a noisy suite can be told from a slow build.
    log "  run $r: import ${imp[-1]%.*}/s (fillseq ${fill[-1]}), rebuild ${reb[-1]%.*}/s (readseq ${rseq[-1]}; process $(calc "round($end-$start, 2)") s, its own timer ${own:-?} s: ${split:-?}; $(calc "round(${rcpu[-1]}, 2)") µs of CPU an event; RocksDB alone ${ceil[-1]}/s, $(calc "round(${ccpu[-1]}, 2)") µs)"
  done
  I=$(printf '%s\n' "${imp[@]}" | median); R=$(printf '%s\n' "${reb[@]}" | median)
  F=$(printf '%s\n' "${fill[@]}" | median); S=$(printf '%s\n' "${rseq[@]}" | median)
  C=$(printf '%s\n' "${ceil[@]}" | median)
  RSS=$(printf '%s\n' "${rss[@]}" | median)
  RU=$(printf '%s\n' "${rcpu[@]}" | median); CU=$(printf '%s\n' "${ccpu[@]}" | median)
}

# A registry snapshot: six departments each send their registry once, one after another
# (EVENTS events over EVENTS/4 people; a subject's events are far apart in the file).
python3 Tools/registrygen.py --subjects $(( EVENTS / 4 + 1 )) --events "$EVENTS" --seed 11 --out "$WORK/registry.ndjson"
bulk_runs "$WORK/registry.ndjson" "registry snapshot"
SN=$N; SVALUE=$VALUE; SI=$I; SR=$R; SF=$F; SS=$S; SC=$C; SRSS=$RSS; SRU=$RU; SCU=$CU

# The suite's city: record by record, about 7 events per subject, adjacent in the file.
PERSONS=$(( EVENTS / 7 + 1 ))
python3 Tools/citygen.py --persons "$PERSONS" --enterprises $(( PERSONS / 10 + 1 )) --seed 42 --out "$WORK/city.ndjson" 2>/dev/null
bulk_runs "$WORK/city.ndjson" "city"
"$BIN" compact --data "$WORK/data" >/dev/null
DISK=$(du -sb "$WORK/data/db" | cut -f1)

# The bulk HTTP load's own events as a file (Tools/bulkgen.py: people new to the hub, one
# event each): what `yidang import` does with them is the HTTP path's anchor without HTTP.
python3 Tools/bulkgen.py --events "$EVENTS" --out "$WORK/bulk.ndjson"
# And as the load's request bodies, read by bulk.lua as a sync client sends records it holds,
# not built by wrk between one answer and the next request on the cores the hub runs on (about
# half a millisecond of CPU a body, in each connection's cycle).
python3 Tools/bulkgen.py --bodies "$WORK/bulk-bodies" --seconds "$DURATION"
export BULK_BODIES="$WORK/bulk-bodies"
# Written back now, not during the publishes' synced writes (about a gigabyte at 15 s).
sync
# Its CPU per event (the whole process, user + system) stands in the CPU row beside the
# server's: the same fold and validation, with table files instead of RocksDB's memtable, WAL
# and flushes.
BI=(); BI_US=()
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/data"
  /usr/bin/time -f "%U %S" -o "$WORK/bulk-import.time" "$BIN" import "$WORK/bulk.ndjson" --data "$WORK/data" --json > "$WORK/bulk-import.json"
  read -r eps us < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); u,s=open(sys.argv[2]).read().split()[-2:]; print(d["lines"]/float(d["seconds"]), (float(u)+float(s))*1e6/d["lines"])' "$WORK/bulk-import.json" "$WORK/bulk-import.time")
  BI+=("$eps"); BI_US+=("$us")
  log "bulk HTTP's events through yidang import, run $r of $RUNS: ${eps%.*}/s, $(calc "round($us, 1)") µs of CPU an event"
done
BULK_IMPORT=$(printf '%s\n' "${BI[@]}" | median)
BULK_IMPORT_US=$(printf '%s\n' "${BI_US[@]}" | median)
rm -rf "$WORK/data"

# ---------------------------------------------------------------- HTTP: the hub
wrk_figures() {  # prints "rps p50_ms p99_ms" from wrk --latency output on stdin
  python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p = {k: ms(v, u) for k, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", t)}
print(rps, p.get("50", 0), p.get("99", 0))'
}
start_server() {  # start_server DATA LOG: serve DATA on $PORT and wait until it answers
  "$BIN" serve --data "$1" --port "$PORT" > "$2" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
rm -rf "$WORK/http"
# The verifier's rate limit is lifted for the load (it is per token; the load is one token).
sed 's/claimsPerMinute: 60/claimsPerMinute: 1000000000/' config/yidang.default.yaml > "$WORK/http-config.yaml"
PUB=$("$BIN" tokens create --data "$WORK/http" --config "$WORK/http-config.yaml" --role publisher --source gongan)
READ=$("$BIN" tokens create --data "$WORK/http" --role reader)
VERIFY=$("$BIN" tokens create --data "$WORK/http" --role verifier)
start_server "$WORK/http" "$WORK/serve.log"
log "hub: durable single-event publishes, $CONNS connections, ${DURATION}s"
read -r H_RPS H_P50 H_P99 < <(TOKEN=$PUB wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s Benchmarks/lua/publish.lua "http://127.0.0.1:$PORT" | wrk_figures)
log "hub: golden-record reads"
READ_MAX=$(python3 -c "print(max(1, int($H_RPS * $DURATION / 2 * 0.9)))")
read -r R_RPS R_P50 R_P99 < <(TOKEN=$READ READ_MAX=$READ_MAX wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s Benchmarks/lua/read.lua "http://127.0.0.1:$PORT" | wrk_figures)
log "hub: verifications (2 claims each) of the same persons"
read -r V_RPS V_P50 V_P99 < <(TOKEN=$VERIFY READ_MAX=$READ_MAX wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s Benchmarks/lua/verify.lua "http://127.0.0.1:$PORT" | wrk_figures)
log "hub: bulk NDJSON ingest (1000 events per request, 2 connections)"
# bulk.lua's count of bodies read from the files and built during the run: any built means
# the load generator's own work was part of some requests' cycles.
bodies_line() { log "$(grep '^bulk.lua bodies' "$1" || echo 'bulk.lua bodies: no count (BULK_BODIES unset?)')"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
# The writer's two serial stages, from /metrics: seconds spent building groups (lookups and
# the fold) and writing them (the synced write), summed, and the groups counted.
stage_sums() {
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk '
    /^yidang_group_build_seconds_sum / {b = $2} /^yidang_group_build_seconds_count / {n = $2}
    /^yidang_commit_seconds_sum / {w = $2} END {print b + 0, w + 0, n + 0}'
}
B_CPU0=$(cpu_ticks "$SERVER_PID")
read -r B_BUILD0 B_WRITE0 B_GROUPS0 < <(stage_sums)
# The load generator's own CPU (wrk's user + system time) is measured too: each client's work
# between an answer and its next request is part of that connection's cycle.
TOKEN=$PUB /usr/bin/time -f "%U %S" -o "$WORK/bulk-wrk.time" wrk -t2 -c2 -d"${DURATION}s" --latency --timeout 60s -s Benchmarks/lua/bulk.lua "http://127.0.0.1:$PORT" > "$WORK/bulk-wrk.txt"
read -r B_RPS _ _ < <(wrk_figures < "$WORK/bulk-wrk.txt")
bodies_line "$WORK/bulk-wrk.txt"
read -r B_GEN_MS B_GEN_USER_MS < <(python3 -c '
import re, sys
u, s = map(float, open(sys.argv[1]).read().split()[-2:])
n = max(1, int(re.search(r"(\d+) requests in", open(sys.argv[2]).read()).group(1)))
print(round((u + s) * 1000 / n, 3), round(u * 1000 / n, 3))' "$WORK/bulk-wrk.time" "$WORK/bulk-wrk.txt")
log "bulk HTTP: the load generator (wrk) used $B_GEN_MS ms of CPU a request ($B_GEN_USER_MS ms of it in user space)"
B_CPU1=$(cpu_ticks "$SERVER_PID")
read -r B_BUILD1 B_WRITE1 B_GROUPS1 < <(stage_sums)
B_GROUPS=$(calc "max(1, $B_GROUPS1 - $B_GROUPS0)")
# Busy shares of the load's window, and each stage's time per group (ms); the cores' share is
# the server's CPU over both cores' time.
B_BUILD_SHARE=$(calc "($B_BUILD1 - $B_BUILD0) / $DURATION")
B_WRITE_SHARE=$(calc "($B_WRITE1 - $B_WRITE0) / $DURATION")
B_BUILD_MS=$(calc "($B_BUILD1 - $B_BUILD0) * 1000 / $B_GROUPS")
B_WRITE_MS=$(calc "($B_WRITE1 - $B_WRITE0) * 1000 / $B_GROUPS")
B_CORES_SHARE=$(calc "($B_CPU1 - $B_CPU0) / $(getconf CLK_TCK) / (2 * $DURATION)")
log "bulk HTTP: the writer built groups $(calc "round(100 * $B_BUILD_SHARE)") % of the time ($(calc "round($B_BUILD_MS, 1)") ms a group), wrote them $(calc "round(100 * $B_WRITE_SHARE)") % ($(calc "round($B_WRITE_MS, 1)") ms); the server used $(calc "round(100 * $B_CORES_SHARE)") % of the two cores"
B_EPS=$(calc "$B_RPS*1000")
# The server's CPU per event under the bulk load (µs): everything it did in that time.
B_US=$(calc "($B_CPU1-$B_CPU0)/$(getconf CLK_TCK)*1e6/($B_EPS*$DURATION)")
log "hub: publish → SSE receive latency, 20 subscribers at ${SSE_RATE:=5000} events/s for ${DURATION}s"
SERVER_RSS=$(awk '/VmHWM/ {print $2}' /proc/$SERVER_PID/status)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
sse_run() {  # sse_run RATE: a fresh hub, 20 SSE subscribers, RATE events/s for $DURATION s; prints bench-sse's line
  rm -rf "$WORK/http-sse"
  # The loads before wrote gigabytes: their writeback would otherwise stall this run's fsyncs.
  sync
  local spub ssub line
  spub=$("$BIN" tokens create --data "$WORK/http-sse" --role publisher --source gongan)
  ssub=$("$BIN" tokens create --data "$WORK/http-sse" --role subscriber)
  start_server "$WORK/http-sse" "$WORK/serve-sse.log"
  local before after
  before=$(head -1 /proc/stat)
  line=$("$BIN" bench-sse --server "http://127.0.0.1:$PORT" --publisher-token "$spub" --subscriber-token "$ssub" \
    --subscribers 20 --rate "$1" --seconds "$DURATION")
  after=$(head -1 /proc/stat)
  # The share of the run's CPU time the hypervisor gave to other guests (steal): on a
  # shared host it, not the hub, is what moves this latency from run to run.
  line="$line; host steal $(python3 -c "
import sys
b, a = ([int(x) for x in l.split()[1:]] for l in sys.argv[1:3])
d = [y - x for x, y in zip(b, a)]
print(round(100 * d[7] / max(1, sum(d[:8])), 1))" "$before" "$after") %"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  log "$line"
  echo "$line"
}
sse_field() { echo "$1" | sed -E "s/.*$2 ([0-9.]+).*/\1/"; }
sse_received() { echo "$1" | sed -E 's/.*received ([0-9]+ of [0-9]+).*/\1/'; }   # "N of M"
sse_sent_rate() { echo "$1" | sed -E 's/.*s \(([0-9]+) events\/s\).*/\1/'; }     # events/s published
SSE_LINE=$(sse_run "$SSE_RATE")
SSE_P50=$(sse_field "$SSE_LINE" p50); SSE_P99=$(sse_field "$SSE_LINE" p99)
SSE_GOT=$(sse_received "$SSE_LINE"); SSE_EPS=$(sse_sent_rate "$SSE_LINE")
SSE_GEN=$(echo "$SSE_LINE" | sed -E 's/.*\(([0-9]+) % of a core\).*/\1/')
SSE_STEAL=$(echo "$SSE_LINE" | sed -E 's/.*host steal ([0-9.]+) %.*/\1/')
# Changes reach subscribers once durable: the run's group commits slower than 20 ms (the
# disk's syncs) hold every change in them past the target, whatever the hub does after.
sse_commits() { echo "$1" | sed -E 's/.*; (commits [^;]*);.*/\1/'; }
SSE_COMMITS=$(sse_commits "$SSE_LINE")
# When the slow commits alone held 1 % of the events past 20 ms, no hub could have met the
# target in this run: its p99 is the disk's.
SSE_HELD=$(echo "$SSE_COMMITS" | sed -nE 's/.*holding at least [0-9]+ events \(([0-9.]+) %\).*/\1/p')
SSE_VERDICT=$(python3 -c "import sys; print('the disk alone put p99 past 20 ms' if float(sys.argv[1] or 0) >= 1 else 'within the hub\'s reach')" "${SSE_HELD:-0}")
# The highest rate held with every change delivered and p99 ≤ 20 ms (the target's bound).
SSE_MAX=0
sse_holds() {  # sse_holds LINE RATE
  python3 -c "
import re, sys
l, rate = sys.argv[1], float(sys.argv[2])
got, want = map(int, re.search(r'received (\d+) of (\d+)', l).groups())
eps = float(re.search(r'\((\d+) events/s\)', l).group(1)); p99 = float(re.search(r'p99 ([\d.]+)', l).group(1))
sys.exit(0 if got == want and eps >= 0.98 * rate and p99 <= 20 else 1)" "$1" "$2"
}
if sse_holds "$SSE_LINE" "$SSE_RATE"; then
  SSE_MAX=$SSE_RATE
  for rate in ${SSE_SWEEP:-7500 10000 15000}; do
    log "hub: SSE sweep at $rate events/s"
    line=$(sse_run "$rate")
    if sse_holds "$line" "$rate"; then SSE_MAX=$rate; else
      SSE_MAX_FAIL="at $rate asked: $(sse_sent_rate "$line") events/s sent, p99 $(sse_field "$line" p99) ms, received $(sse_received "$line"), $(sse_commits "$line")"
      break
    fi
  done
fi

# ---------------------------------------------------------------- anchor: RocksDB's own durable single writes
log "db_bench: durable single-key writes from $CONNS threads (RocksDB group commit), the ceiling under any publish path"
rm -rf "$WORK/dbsync"
DB_SYNC=$(db_bench --benchmarks=fillrandom --sync=1 --batch_size=1 --threads="$CONNS" --value_size="$VALUE" \
  --num=$(( DURATION * 500 + 200 )) --db="$WORK/dbsync" --compression_type=lz4 2>/dev/null | awk '/^fillrandom/ {print $5}')
rm -rf "$WORK/dbsync"
# The same wrk load against the hub's HTTP server doing nothing but one synced RocksDB write
# per request (yidang bench-publish-ceiling): what HTTP and the load generator leave of
# RocksDB's ceiling on these two cores, with and without the sync.
ceiling_run() {  # ceiling_run CONNECTIONS LUA [bench-publish-ceiling options…]: prints "requests/s server-CPU-ticks"
  local conns=$1 script=$2 rps c0 c1
  shift 2
  rm -rf "$WORK/ceiling"
  sync   # the runs before wrote gigabytes, whose writeback would stall these syncs
  "$BIN" bench-publish-ceiling --data "$WORK/ceiling" --port "$PORT" "$@" > "$WORK/ceiling.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break; sleep 0.1; done
  c0=$(cpu_ticks "$SERVER_PID")
  TOKEN=none wrk -t2 -c"$conns" -d"${DURATION}s" --latency --timeout 60s -s "Benchmarks/lua/$script" "http://127.0.0.1:$PORT" > "$WORK/ceiling-wrk.txt"
  read -r rps _ _ < <(wrk_figures < "$WORK/ceiling-wrk.txt")
  [ "$script" != bulk.lua ] || bodies_line "$WORK/ceiling-wrk.txt"
  c1=$(cpu_ticks "$SERVER_PID")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  rm -rf "$WORK/ceiling"
  echo "$rps $(( c1 - c0 ))"
}
log "the HTTP server alone: one synced RocksDB write per request, $CONNS connections, ${DURATION}s; then without the sync"
read -r HTTP_SYNC _ < <(ceiling_run "$CONNS" publish.lua)
read -r HTTP_NOSYNC _ < <(ceiling_run "$CONNS" publish.lua --no-sync)

# ---------------------------------------------------------------- HTTP anchor: PostgreSQL 15
log "PostgreSQL 15: initdb and start on a temp directory (fsync on, synchronous_commit on)"
mkdir -p "$WORK/pg" "$WORK/pgsock"; chown postgres "$WORK/pg" "$WORK/pgsock"; chmod 777 "$WORK"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$WORK/pg" -E UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PGPORT -k $WORK/pgsock -c listen_addresses='' -c shared_buffers=512MB -c max_connections=50" start >/dev/null
PSQL=(runuser -u postgres -- psql -h "$WORK/pgsock" -p "$PGPORT" -q -v ON_ERROR_STOP=1)
PGBENCH=(runuser -u postgres -- /usr/lib/postgresql/15/bin/pgbench -h "$WORK/pgsock" -p "$PGPORT" -n)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -d bench -f Benchmarks/pg/schema.sql >/dev/null
cp Benchmarks/pg/*.sql "$WORK/pgsock/"
log "PostgreSQL: event + JSONB golden upsert + change row per transaction, $CONNS clients, ${DURATION}s"
(cd "$WORK/pgsock" && "${PGBENCH[@]}" -c "$CONNS" -j 2 -T "$DURATION" -f publish.sql -l --log-prefix=pub bench > "$WORK/pgbench.txt" 2>&1)
P_TPS=$(awk '/^tps/ {print $3; exit}' "$WORK/pgbench.txt")
read -r P_P50 P_P99 < <(cat "$WORK"/pgsock/pub.* | python3 -c '
import sys
v = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
print(v[len(v)//2]/1000, v[int(len(v)*0.99)]/1000)')
log "PostgreSQL: the same in 1000-event transactions, 2 clients"
(cd "$WORK/pgsock" && "${PGBENCH[@]}" -c 2 -j 2 -T "$DURATION" -f bulk.sql bench > "$WORK/pgbulk.txt" 2>&1)
P_BULK=$(calc "$(awk '/^tps/ {print $3; exit}' "$WORK/pgbulk.txt")*1000")
# RocksDB alone with the hub's writes for those events (five keys each: log, subject index,
# idempotency key, golden record, change), synced 1000-event batches from 2 writers, nothing
# else: the ceiling under any bulk ingest with the hub's storage layout on this machine.
# PostgreSQL's work goes on after its bulk run (autovacuum of the rows it inserted, its
# checkpoint): the first run after it was about half as fast at twice the CPU an event in three
# suites (RocksDB's writers spin while they wait for a descheduled leader), even after a
# CHECKPOINT. Nothing below uses PostgreSQL: it is stopped (its shutdown checkpoint included).
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$WORK/pg" -m fast -w stop >/dev/null
CEIL=(); CEIL_US=()
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/ceiling"
  sync   # nothing the runs before wrote is left to write back during this one
  read -r c u < <("$BIN" bench-bulk-ceiling --data "$WORK/ceiling" --events $(( EVENTS * 2 )) --writers 2)
  CEIL+=("$c"); CEIL_US+=("$u")
  log "RocksDB alone, the hub's writes for $(( EVENTS * 2 )) bulk events, run $r of $RUNS: $c/s, $u µs of CPU per event"
done
rm -rf "$WORK/ceiling"
# The same keys written as `yidang import` writes a load (sorted table files, ingested, the
# closing compaction awaited): what the import's storage costs an event, for the bound below.
CEIL_IMP_US=()
for r in $(seq "$RUNS"); do
  rm -rf "$WORK/ceiling"
  read -r c u < <("$BIN" bench-bulk-ceiling --data "$WORK/ceiling" --events $(( EVENTS * 2 )) --as-import)
  CEIL_IMP_US+=("$u")
  log "RocksDB alone, the same writes as an import writes them, run $r of $RUNS: $c/s, $u µs of CPU per event"
done
rm -rf "$WORK/ceiling"
# The same bulk wrk load against the hub's HTTP server doing nothing but each line's five
# writes (bench-publish-ceiling --bulk: the fields the keys need read from the line's bytes, one
# synced batch and a per-event answer a request): the ceiling under any bulk HTTP ingest with
# the hub's storage layout, on this server, with this load generator on the same cores.
log "the HTTP server alone: each bulk line's five writes, one synced batch a request, 2 connections, ${DURATION}s"
read -r HB_RPS HB_TICKS < <(ceiling_run 2 bulk.lua --bulk)
HTTP_BULK=$(calc "$HB_RPS*1000")
[ "$(calc "int($HTTP_BULK > 0)")" = 1 ] || { log "the bulk HTTP ceiling answered nothing (see $WORK/ceiling.log)"; exit 1; }
HTTP_BULK_US=$(calc "$HB_TICKS/$(getconf CLK_TCK)*1e6/($HTTP_BULK*$DURATION)")
log "bulk HTTP ceiling: $(calc "round($HTTP_BULK)")/s, $(calc "round($HTTP_BULK_US, 1)") µs of server CPU an event"
BULK_CEILING_IMPORT_US=$(printf '%s\n' "${CEIL_IMP_US[@]}" | median)
BULK_CEILING=$(printf '%s\n' "${CEIL[@]}" | median)
BULK_CEILING_US=$(printf '%s\n' "${CEIL_US[@]}" | median)
# At the cores the import uses, the bulk HTTP path can reach at most this fraction of the
# import's rate: its CPU per event is at least the import's, less the import's writes, plus
# the live path's writes (the HTTP server's own work counted as nothing).
BULK_BOUND=$(calc "$BULK_IMPORT_US/($BULK_IMPORT_US-$BULK_CEILING_IMPORT_US+$BULK_CEILING_US)")
# 2 × PostgreSQL's bulk rate leaves each event this much of the two cores (µs).
BULK_BUDGET_US=$(calc "2*1e6/(2*$P_BULK)")

# ---------------------------------------------------------------- the table
printf '\nYidang benchmarks — %s, %s, %s cores; %s events (%s bytes/event raw JSON); import/rebuild medians of %s runs; HTTP loads %ss each\n\n' \
  "$(date -u +%Y-%m-%dT%H:%MZ)" "$(uname -m)" "$(nproc)" "$N" "$VALUE" "$RUNS" "$DURATION"
printf '| figure | yidang | anchor (same run) | ratio |\n| --- | ---: | ---: | ---: |\n'
printf '| bulk import with projection (city, ~7 events per subject), events/s | %.0f | db_bench fillseq batch 1000, sync, value %s B: %.0f ops/s | %.3f |\n' "$I" "$VALUE" "$F" "$(calc "$I/$F")"
printf '| rebuild (replay) of the city, events/s | %.0f | db_bench readseq: %.0f ops/s | %.3f |\n' "$R" "$S" "$(calc "$R/$S")"
printf '| bulk import, registry snapshot (%s events, 6 departments one after another), events/s | %.0f | db_bench fillseq batch 1000, sync, value %s B: %.0f ops/s | %.3f |\n' "$SN" "$SI" "$SVALUE" "$SF" "$(calc "$SI/$SF")"
printf '| rebuild of the registry snapshot, events/s | %.0f | db_bench readseq: %.0f ops/s | %.3f |\n' "$SR" "$SS" "$(calc "$SR/$SS")"
printf '| (ceiling) RocksDB alone: a rebuild'"'"'s reads and writes (the log read, the derived keys written as sorted files on 2 threads), events/s: city; snapshot | — | yidang bench-rebuild-ceiling: %.0f (%.2f × readseq); %.0f (%.2f × readseq) | hub %.2f; %.2f × it |\n' "$C" "$(calc "$C/$S")" "$SC" "$(calc "$SC/$SS")" "$(calc "$R/$C")" "$(calc "$SR/$SC")"
# The rebuild's work against the two cores: 0.20 × readseq leaves an event 2 × 10⁶ / (0.20 ×
# readseq) µs of the two cores, and the work an event takes now would reach 2 × 10⁶ / (CPU ×
# readseq) × readseq were both cores busy throughout the rebuild.
printf '| (budget) CPU per rebuilt event, µs, city; snapshot: the hub'"'"'s rebuild, the whole process (user + system) | %.2f; %.2f | RocksDB alone, its timed part (bench-rebuild-ceiling): %.2f; %.2f; what 0.20 × readseq leaves an event of two cores: %.2f; %.2f | the hub with both cores busy throughout: %.3f; %.3f × readseq |\n' \
  "$RU" "$SRU" "$CU" "$SCU" "$(calc "2e6/(0.2*$S)")" "$(calc "2e6/(0.2*$SS)")" "$(calc "2e6/($RU*$S)")" "$(calc "2e6/($SRU*$SS)")"
printf '| durable HTTP publishes/s (%s conns), p50 / p99 ms | %.0f, %.2f / %.2f | PostgreSQL 15, %s pgbench clients: %.0f tps, %.2f / %.2f | %.2f |\n' \
  "$CONNS" "$H_RPS" "$H_P50" "$H_P99" "$CONNS" "$P_TPS" "$P_P50" "$P_P99" "$(calc "$H_RPS/$P_TPS")"
printf '| (ceiling) RocksDB alone: durable single-key writes from %s threads, ops/s | — | db_bench fillrandom sync batch 1: %.0f | %.2f × PostgreSQL |\n' \
  "$CONNS" "$DB_SYNC" "$(calc "$DB_SYNC/$P_TPS")"
printf '| (ceiling) any durable HTTP publish: the same HTTP server and wrk, one synced RocksDB write per request and nothing else, /s | — | yidang bench-publish-ceiling: %.0f (%.2f × RocksDB alone; %.0f without the sync) | hub %.2f × it |\n' \
  "$HTTP_SYNC" "$(calc "$HTTP_SYNC/$DB_SYNC")" "$HTTP_NOSYNC" "$(calc "$H_RPS/$HTTP_SYNC")"
printf '| bulk HTTP NDJSON ingest (1000-event requests, 2 connections), events/s | %.0f | PostgreSQL 15, 1000-event transactions, 2 clients: %.0f | %.2f |\n' "$B_EPS" "$P_BULK" "$(calc "$B_EPS/$P_BULK")"
printf '| (ceiling) RocksDB alone: the hub'"'"'s five writes per bulk event (log, subject index, idempotency key, golden record, change), synced 1000-event batches, 2 writers, events/s | — | yidang bench-bulk-ceiling: %.0f (%.2f × PostgreSQL) | hub %.2f × it |\n' "$BULK_CEILING" "$(calc "$BULK_CEILING/$P_BULK")" "$(calc "$B_EPS/$BULK_CEILING")"
printf '| (ceiling) any bulk HTTP ingest: the same HTTP server and wrk load, each line'"'"'s five writes and nothing else (the fields its keys need read from its bytes; no parsing, validation, lookup or fold), one synced batch and a per-event answer a request, events/s | — | yidang bench-publish-ceiling --bulk: %.0f (%.2f × PostgreSQL; server %.1f µs an event) | hub %.2f × it |\n' "$HTTP_BULK" "$(calc "$HTTP_BULK/$P_BULK")" "$HTTP_BULK_US" "$(calc "$B_EPS/$HTTP_BULK")"
printf '| where the bulk HTTP load'"'"'s time went: the writer building groups (lookups, fold) and writing them (the synced write), share of the window and ms a group; the server'"'"'s share of the two cores; the load generator'"'"'s CPU a request (wrk, user + system) | %.0f %%, %.1f ms; %.0f %%, %.1f ms | cores: %.0f %%; wrk: %.2f ms a request | — |\n' "$(calc "100*$B_BUILD_SHARE")" "$B_BUILD_MS" "$(calc "100*$B_WRITE_SHARE")" "$B_WRITE_MS" "$(calc "100*$B_CORES_SHARE")" "$B_GEN_MS"
printf '| CPU per bulk event, µs: the hub'"'"'s server under the bulk HTTP load; RocksDB alone with its writes; the same writes as an import writes them; yidang import of the same events; what 2 × PostgreSQL leaves an event of two cores | %.1f | %.1f; %.1f; %.1f; %.1f | RocksDB alone %.2f × the budget |\n' "$B_US" "$BULK_CEILING_US" "$BULK_CEILING_IMPORT_US" "$BULK_IMPORT_US" "$BULK_BUDGET_US" "$(calc "$BULK_CEILING_US/$BULK_BUDGET_US")"
printf '| bulk HTTP NDJSON ingest against the same events imported, events/s | %.0f | yidang import of %s such events (Tools/bulkgen.py): %.0f | %.2f |\n' "$B_EPS" "$EVENTS" "$BULK_IMPORT" "$(calc "$B_EPS/$BULK_IMPORT")"
printf '| (bound) bulk HTTP against the import at the import'"'"'s cores, were the HTTP path'"'"'s only extra cost RocksDB'"'"'s live writes: import CPU − its writes + the live writes | — | %.1f / (%.1f − %.1f + %.1f) µs | %.2f |\n' "$BULK_IMPORT_US" "$BULK_IMPORT_US" "$BULK_CEILING_IMPORT_US" "$BULK_CEILING_US" "$BULK_BOUND"
printf '| golden-record reads/s (%s conns), p50 / p99 ms | %.0f, %.2f / %.2f | — | — |\n' "$CONNS" "$R_RPS" "$R_P50" "$R_P99"
printf '| verifications/s, 2 claims each (%s conns), p50 / p99 ms | %.0f, %.2f / %.2f | golden-record reads in this run: %.0f/s | %.2f |\n' "$CONNS" "$V_RPS" "$V_P50" "$V_P99" "$R_RPS" "$(calc "$V_RPS/$R_RPS")"
printf '| publish → SSE receive, 20 subscribers at %s events/s: p50 / p99 ms | %s / %s (received %s; the load generator used %s %% of a core; host steal %s %%; %s: %s) | — | — |\n' "$SSE_EPS" "$SSE_P50" "$SSE_P99" "$SSE_GOT" "$SSE_GEN" "$SSE_STEAL" "$SSE_COMMITS" "$SSE_VERDICT"
printf '| highest rate held by 20 SSE subscribers (all delivered, p99 ≤ 20 ms), events/s | %s%s | — | — |\n' "$SSE_MAX" "${SSE_MAX_FAIL:+ (next step missed: $SSE_MAX_FAIL)}"
printf '| disk bytes per event after compaction | %.0f | raw event JSON: %s | %.2f |\n' "$(calc "$DISK/$N")" "$VALUE" "$(calc "$DISK/$N/$VALUE")"
printf '| peak RSS, import of the city / of the snapshot / server, MiB | %.0f / %.0f / %.0f | — | — |\n' "$(calc "$RSS/1024")" "$(calc "$SRSS/1024")" "$(calc "${SERVER_RSS:-0}/1024")"
