#!/usr/bin/env bash
# ringlab-load next to redis-benchmark, against the same server, with the same
# connection count, value size and key range: achieved throughput of each and
# CPU time per request of each (user + system, from the kernel's rusage of the
# finished process via GNU time, i.e. /proc/PID/stat's utime + stime).
#
# redis-benchmark is closed-loop: each connection sends its next request when
# the previous answer arrives. ringlab-load is open-loop, so to measure the
# most it can drive it is given a target rate 1.5x what redis-benchmark just
# achieved and room to queue (--max-in-flight), so every connection always
# has work; its throughput is ok requests / wall time of the whole process
# (start-up, connecting and the final drain included, so it is never
# flattered).
#
# Usage: benches/loadgen-vs-redis-benchmark.sh
#   SERVER=node|redis (default node: a release ringlab-node, one node)
#   RUNS=3 CONNS=50 SIZE=100 KEYS=100000 N=300000 PORT=7411 TESTS="get set"
# Prints one line per run and a Markdown table of medians.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${SERVER:-node}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
SIZE=${SIZE:-100}
KEYS=${KEYS:-100000}
N=${N:-300000}
PORT=${PORT:-7411}
TESTS=${TESTS:-"get set"}

for tool in redis-benchmark redis-cli python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-tools time python3)" >&2; exit 2; }
done

cargo build --release -q -p ringlab-loadgen --bin ringlab-load
LOAD=target/release/ringlab-load
WORK=$(mktemp -d)
case "$SERVER" in
    node)
        cargo build --release -q -p ringlab-node --bin ringlab-node
        target/release/ringlab-node --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
        ;;
    redis)
        redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize no >"$WORK/server.log" 2>&1 &
        ;;
    *) echo "SERVER must be node or redis" >&2; exit 2 ;;
esac
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
    sleep 0.1
done

echo "server=$SERVER conns=$CONNS size=${SIZE}B keys=$KEYS n=$N runs=$RUNS cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-4s %-16s %12s %14s\n' test run tool "req/s" "cpu us/req"
RESULTS="$WORK/results"
: >"$RESULTS"
for test in $TESTS; do
    for run in $(seq "$RUNS"); do
        # redis-benchmark
        redis-cli -p "$PORT" FLUSHALL >/dev/null
        /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
            redis-benchmark -h 127.0.0.1 -p "$PORT" -t "$test" -n "$N" -c "$CONNS" \
            -d "$SIZE" -r "$KEYS" -P 1 --csv >"$WORK/rb.csv" 2>/dev/null
        rb_rps=$(python3 -c "import csv,sys; r=list(csv.reader(open(sys.argv[1]))); print(r[1][1])" "$WORK/rb.csv")
        rb_cpu=$(python3 -c "import sys; e,u,s=map(float,open(sys.argv[1]).read().split()[-3:]); print(f'{(u+s)/int(sys.argv[2])*1e6:.2f}')" "$WORK/time" "$N")
        printf '%-5s %-4s %-16s %12.0f %14s\n' "$test" "$run" redis-benchmark "$rb_rps" "$rb_cpu"
        echo "$test redis-benchmark $rb_rps $rb_cpu" >>"$RESULTS"

        # ringlab-load at 1.5x that rate, for as long as redis-benchmark ran
        redis-cli -p "$PORT" FLUSHALL >/dev/null
        rate=$(python3 -c "print(int(float('$rb_rps') * 1.5))")
        secs=$(python3 -c "print(max(2, round($N / float('$rb_rps'))))")
        /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
            "$LOAD" --target "127.0.0.1:$PORT" --rate "$rate" --duration "${secs}s" \
            --arrival uniform --connections "$CONNS" --pipeline 1 --mix "$test=1" \
            --keys "$KEYS" --value-size "${SIZE}B" --max-in-flight 100000 --timeout 60s \
            --no-progress --out "$WORK/report" >/dev/null 2>"$WORK/rl.err"
        read -r rl_rps rl_cpu < <(python3 - "$WORK/report/summary.json" "$WORK/time" <<'PY'
import json, sys
ok = json.load(open(sys.argv[1]))["overall"]["all"]["ok"]
e, u, s = map(float, open(sys.argv[2]).read().split()[-3:])
print(f"{ok / e:.0f} {(u + s) / ok * 1e6:.2f}")
PY
)
        printf '%-5s %-4s %-16s %12.0f %14s\n' "$test" "$run" ringlab-load "$rl_rps" "$rl_cpu"
        echo "$test ringlab-load $rl_rps $rl_cpu" >>"$RESULTS"
    done
done

python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| test | redis-benchmark req/s | ringlab-load req/s | ratio | redis-benchmark CPU us/req | ringlab-load CPU us/req |")
print("|---|---|---|---|---|---|")
for test in dict.fromkeys(r[0] for r in rows):
    med = lambda tool, i: statistics.median(float(r[i]) for r in rows if r[0] == test and r[1] == tool)
    rb, rl = med("redis-benchmark", 2), med("ringlab-load", 2)
    print(f"| {test} | {rb:.0f} | {rl:.0f} | {rl / rb:.2f} | {med('redis-benchmark', 3):.2f} | {med('ringlab-load', 3):.2f} |")
PY
