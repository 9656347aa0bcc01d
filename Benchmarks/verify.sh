#!/usr/bin/env bash
# Verifications beside golden-record reads, interleaved on one serving hub: a verification
# (POST /v1/verify, two claims: name and region code, audited) should cost about one read
# (GET /v1/persons/{id}, audited). Prints every round and the medians.
#
#   Benchmarks/verify.sh [BIN]        # ROUNDS=5 SECONDS_EACH=8 CONNS=8 PERSONS=20000
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/yidang}
ROUNDS=${ROUNDS:-5}; SECONDS_EACH=${SECONDS_EACH:-8}; CONNS=${CONNS:-8}; PERSONS=${PERSONS:-20000}; PORT=${PORT:-18495}
Tools/deps.sh wrk
export LUA_DIR=$PWD/Benchmarks/lua
WORK=$(mktemp -d /tmp/yidang-verify.XXXXXX)
trap '[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
# The verifier's rate limit is lifted for the load (it is per token; the load is one token).
sed 's/claimsPerMinute: 60/claimsPerMinute: 1000000000/' config/yidang.default.yaml > "$WORK/config.yaml"
PUB=$("$BIN" tokens create --data "$WORK/data" --config "$WORK/config.yaml" --role publisher --source gongan)
READ=$("$BIN" tokens create --data "$WORK/data" --role reader)
VERIFY=$("$BIN" tokens create --data "$WORK/data" --role verifier)
"$BIN" serve --data "$WORK/data" --port "$PORT" >"$WORK/serve.log" 2>&1 & PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
# The persons: publish.lua's first thread numbers them from 10000001; one wrk thread keeps them dense.
TOKEN=$PUB wrk -t1 -c8 -d600s -s Benchmarks/lua/publish.lua "http://127.0.0.1:$PORT" >/dev/null &
LOADER=$!
until [ "$(curl -sf "http://127.0.0.1:$PORT/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])')" -ge "$PERSONS" ]; do sleep 0.5; done
kill "$LOADER"; wait "$LOADER" 2>/dev/null || true
figures() { python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p = {k: ms(v, u) for k, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", t)}
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(rps, p["50"], p["99"], non2xx.group(1) if non2xx else 0)'; }
reads=(); verifies=()
for r in $(seq "$ROUNDS"); do
  read -r rr rp50 rp99 rbad < <(TOKEN=$READ READ_MAX=$PERSONS wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s Benchmarks/lua/read.lua "http://127.0.0.1:$PORT" | figures)
  read -r vr vp50 vp99 vbad < <(TOKEN=$VERIFY READ_MAX=$PERSONS wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency -s Benchmarks/lua/verify.lua "http://127.0.0.1:$PORT" | figures)
  echo "round $r: reads $rr/s p50 $rp50 p99 $rp99 ms (non-2xx $rbad); verifications $vr/s p50 $vp50 p99 $vp99 ms (non-2xx $vbad); ratio $(python3 -c "print(round($vr/$rr, 3))")"
  reads+=("$rr $rp99"); verifies+=("$vr $vp99")
done
python3 - "${reads[@]}" -- "${verifies[@]}" <<'PY'
import statistics, sys
a = sys.argv[1:]; i = a.index("--"); r = [x.split() for x in a[:i]]; v = [x.split() for x in a[i+1:]]
med = lambda rows, k: statistics.median(float(x[k]) for x in rows)
print(f"median of {len(r)} rounds, {__import__('os').environ.get('CONNS', '8')} connections: reads {med(r,0):.0f}/s p99 {med(r,1):.2f} ms; "
      f"verifications {med(v,0):.0f}/s p99 {med(v,1):.2f} ms; verifications / reads {med(v,0)/med(r,0):.3f}")
PY
