#!/usr/bin/env bash
# What ringlab-load adds to the latency it reports, against the tool users
# would pick instead: ringlab-load at a low open-loop rate (1,000 req/s, one
# connection) next to `redis-benchmark -c 1` (closed loop, one connection),
# against the same redis-server, alternately, RUNS times each. Both send one
# request at a time on one connection, so their p50s should be one loopback
# round trip plus each tool's own overhead; the ratio of the medians is the
# figure (target: ringlab-load within 1.3x of redis-benchmark).
#
# Usage: benches/loadgen-latency-vs-redis-benchmark.sh
#   RUNS=3 RATE=1000 SECS=10 N=20000 SIZE=100 KEYS=100000 PORT=7412 TESTS="get set"
# Prints one line per run and a Markdown table of medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
RATE=${RATE:-1000}
SECS=${SECS:-10}
N=${N:-20000}
SIZE=${SIZE:-100}
KEYS=${KEYS:-100000}
PORT=${PORT:-7412}
TESTS=${TESTS:-"get set"}

for tool in redis-server redis-benchmark redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools python3)" >&2; exit 2; }
done

cargo build --release -q -p ringlab-loadgen --bin ringlab-load
LOAD=target/release/ringlab-load
WORK=$(mktemp -d)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize no >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
    sleep 0.1
done

echo "redis-server $(redis-server --version | grep -o 'v=[^ ]*') rate=$RATE/s secs=$SECS n=$N size=${SIZE}B keys=$KEYS runs=$RUNS cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-4s %-16s %10s %10s %10s\n' test run tool "req/s" "p50 us" "p99 us"
RESULTS="$WORK/results"
: >"$RESULTS"
for test in $TESTS; do
    for run in $(seq "$RUNS"); do
        # redis-benchmark: one connection, closed loop.
        redis-cli -p "$PORT" FLUSHALL >/dev/null
        redis-benchmark -h 127.0.0.1 -p "$PORT" -t "$test" -n "$N" -c 1 \
            -d "$SIZE" -r "$KEYS" -P 1 --csv >"$WORK/rb.csv" 2>/dev/null
        read -r rps p50 p99 < <(python3 - "$WORK/rb.csv" <<'PY'
import csv, sys
head, row = list(csv.reader(open(sys.argv[1])))[:2]
col = dict(zip(head, row))
print(col["rps"], float(col["p50_latency_ms"]) * 1000, float(col["p99_latency_ms"]) * 1000)
PY
)
        printf '%-5s %-4s %-16s %10.0f %10.0f %10.0f\n' "$test" "$run" redis-benchmark "$rps" "$p50" "$p99"
        echo "$test redis-benchmark $rps $p50 $p99" >>"$RESULTS"

        # ringlab-load: one connection, open loop at RATE.
        redis-cli -p "$PORT" FLUSHALL >/dev/null
        "$LOAD" --target "127.0.0.1:$PORT" --rate "$RATE" --duration "${SECS}s" \
            --arrival uniform --connections 1 --pipeline 1 --mix "$test=1" \
            --keys "$KEYS" --value-size "${SIZE}B" \
            --no-progress --out "$WORK/report" >/dev/null 2>"$WORK/rl.err"
        read -r rps p50 p99 < <(python3 - "$WORK/report/summary.json" <<'PY'
import json, sys
all_ = json.load(open(sys.argv[1]))["overall"]["all"]
assert all_["ok"] == all_["requests"], f"not every request was ok: {all_}"
lat = all_["latency_us"]
print(all_["throughput_per_s"], lat["p50"], lat["p99"])
PY
)
        printf '%-5s %-4s %-16s %10.0f %10.0f %10.0f\n' "$test" "$run" ringlab-load "$rps" "$p50" "$p99"
        echo "$test ringlab-load $rps $p50 $p99" >>"$RESULTS"
    done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| test | redis-benchmark -c 1 p50 us | ringlab-load p50 us | p50 ratio | redis-benchmark p99 us | ringlab-load p99 us |")
print("|---|---|---|---|---|---|")
for test in dict.fromkeys(r[0] for r in rows):
    med = lambda tool, i: statistics.median(float(r[i]) for r in rows if r[0] == test and r[1] == tool)
    rb, rl = med("redis-benchmark", 3), med("ringlab-load", 3)
    print(f"| {test} | {rb:.0f} | {rl:.0f} | {rl / rb:.2f} | {med('redis-benchmark', 4):.0f} | {med('ringlab-load', 4):.0f} |")
PY
