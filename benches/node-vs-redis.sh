#!/usr/bin/env bash
# ringlab-node against redis-server, same machine, same load generator.
#
# Alternately, RUNS times each: redis-benchmark -t set,get -n $N -c 50 -d 100
# -r 100000 at -P 1 and -P 16 against redis-server and a single release
# ringlab-node (FLUSHALL before each); then the same against a 3-node
# ringlab cluster (N=3, W=2, R=1, every request through node 1); then memory
# per key after filling both with 100-byte values; and each server's CPU time
# per million operations (utime+stime from /proc/PID/stat).
# Prints medians, and ringlab/redis ratios.
#
#   benches/node-vs-redis.sh                 # N=1000000, RUNS=3
#   N=200000 benches/node-vs-redis.sh        # shorter
#   NODE_ARGS="--threads 1" benches/node-vs-redis.sh   # extra ringlab-node flags
#   PIN=0 benches/node-vs-redis.sh           # let the scheduler place everything
#
# With PIN=1 (the default, on 2 CPUs or more with taskset) redis-server and
# the single ringlab-node run on the last CPU and redis-benchmark on the
# others, so a server never shares a core with its load generator (the
# 3-node cluster is left to the scheduler: three nodes on one CPU would
# measure that CPU, not the cluster).
#
# Servers bind 127.0.0.1 only; the script stops exactly the PIDs it started.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-3}
FILL=${FILL:-1000000}
BASE_PORT=${BASE_PORT:-17400}
REDIS_PORT=$((BASE_PORT + 0))
NODE_PORT=$((BASE_PORT + 1))
C1=$((BASE_PORT + 11)); C2=$((BASE_PORT + 12)); C3=$((BASE_PORT + 13))
OUT=${OUT:-target/node-vs-redis}
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
CLK_TCK=$(getconf CLK_TCK)

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi

cargo build --release -q -p ringlab-node --bin ringlab-node

SRV=(); CLI=()
CPUS=$(nproc)
if [ "${PIN:-1}" = 1 ] && [ "$CPUS" -ge 2 ] && command -v taskset >/dev/null; then
  last=$((CPUS - 1))
  SRV=(taskset -c "$last")
  if [ "$last" -eq 1 ]; then CLI=(taskset -c 0); else CLI=(taskset -c "0-$((last - 1))"); fi
  echo "pinned: servers on CPU $last, redis-benchmark on ${CLI[2]}" >&2
fi
NODE_BIN=target/release/ringlab-node

# shellcheck source=benches/servers.sh
source benches/servers.sh

"${SRV[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
  >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
# shellcheck disable=SC2086 # NODE_ARGS is a list of flags
RUST_LOG=warn "${SRV[@]}" "$NODE_BIN" --id 1 --listen "127.0.0.1:$NODE_PORT" ${NODE_ARGS:-} >"$OUT/node.log" 2>&1 &
NODE_PID=$!; PIDS+=("$NODE_PID")
MEMBERS=(--member "1=127.0.0.1:$C1" --member "2=127.0.0.1:$C2" --member "3=127.0.0.1:$C3")
CLUSTER_PIDS=()
for i in 1 2 3; do
  # shellcheck disable=SC2086
  RUST_LOG=warn "$NODE_BIN" --id "$i" "${MEMBERS[@]}" --n 3 --w 2 --r 1 ${NODE_ARGS:-} >"$OUT/cluster-$i.log" 2>&1 &
  CLUSTER_PIDS+=("$!"); PIDS+=("$!")
done
for p in "$REDIS_PORT" "$NODE_PORT" "$C1" "$C2" "$C3"; do wait_port "$p"; done

# CPU ticks (utime + stime) of the given PIDs, summed.
cpu_ticks() {
  local t=0
  for p in "$@"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}

# bench NAME PORT PIPELINE RUN PID...: one redis-benchmark run; appends rows.
bench() {
  local name=$1 port=$2 pipe=$3 run=$4; shift 4
  redis-cli -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null
  local before after csv
  before=$(cpu_ticks "$@")
  csv=$("${CLI[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -n "$N" -c 50 -d 100 -r 100000 -P "$pipe" --csv)
  after=$(cpu_ticks "$@")
  # rows: "SET","rps","avg","min","p50","p95","p99","max"
  echo "$csv" | tr -d '"' | awk -F, -v n="$name" -v p="$pipe" -v r="$run" \
    -v cpu="$(( after - before ))" -v tck="$CLK_TCK" -v ops="$((2 * N))" '
    $1 == "SET" || $1 == "GET" {
      printf "%s,%s,%s,%s,%s,%s,%s,%.4f\n", n, p, r, $1, $2, $5, $7, (cpu / tck) / (ops / 1e6)
    }' >>"$RESULTS"
}

echo "target,pipeline,run,test,rps,p50_ms,p99_ms,cpu_s_per_mop" >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
  for pipe in 1 16; do
    bench redis "$REDIS_PORT" "$pipe" "$run" "$REDIS_PID"
    bench ringlab "$NODE_PORT" "$pipe" "$run" "$NODE_PID"
    bench ringlab-3node "$C1" "$pipe" "$run" "${CLUSTER_PIDS[@]}"
  done
done

# Memory per key: fill with FILL SETs of 100-byte values over FILL random
# keys (about 63% distinct), then divide the growth by the key count.
mem_row() {
  local name=$1 port=$2 pid=$3
  redis-cli -h 127.0.0.1 -p "$port" FLUSHALL >/dev/null
  local used0 rss0 used1 rss1 keys
  used0=$(redis-cli -h 127.0.0.1 -p "$port" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  rss0=$(awk '/VmRSS/{print $2 * 1024}' "/proc/$pid/status")
  redis-benchmark -h 127.0.0.1 -p "$port" -t set -n "$FILL" -r "$FILL" -d 100 -c 50 -P 16 -q >/dev/null
  used1=$(redis-cli -h 127.0.0.1 -p "$port" INFO memory | tr -d '\r' | awk -F: '$1=="used_memory"{print $2}')
  rss1=$(awk '/VmRSS/{print $2 * 1024}' "/proc/$pid/status")
  keys=$(redis-cli -h 127.0.0.1 -p "$port" DBSIZE)
  echo "$name,$keys,$(( (used1 - used0) / keys )),$(( (rss1 - rss0) / keys ))"
}
{
  echo "target,keys,used_memory_bytes_per_key,rss_growth_bytes_per_key"
  mem_row redis "$REDIS_PORT" "$REDIS_PID"
  mem_row ringlab "$NODE_PORT" "$NODE_PID"
} >"$OUT/memory.csv"

python3 - "$RESULTS" "$OUT/memory.csv" "$N" "$RUNS" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mem = list(csv.DictReader(open(sys.argv[2])))
n, runs = sys.argv[3], sys.argv[4]
med = {}
for key in sorted({(r["target"], r["pipeline"], r["test"]) for r in rows}):
    sel = [r for r in rows if (r["target"], r["pipeline"], r["test"]) == key]
    med[key] = {f: statistics.median(float(r[f]) for r in sel)
                for f in ("rps", "p50_ms", "p99_ms", "cpu_s_per_mop")}
print(f"\nredis-benchmark -t set,get -n {n} -c 50 -d 100 -r 100000; medians of {runs} runs\n")
print("| server | test | P | ops/s | p50 ms | p99 ms | CPU s / 1M ops (set+get) |")
print("|---|---|---|---|---|---|---|")
for (t, p, test), m in sorted(med.items(), key=lambda kv: (kv[0][1].zfill(3), kv[0][2], kv[0][0])):
    print(f"| {t} | {test} | {p} | {m['rps']:.0f} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} | {m['cpu_s_per_mop']:.3f} |")
print("\n| ratio ringlab/redis | test | P | ops/s | p99 | CPU/op |")
print("|---|---|---|---|---|---|")
for t in ("ringlab", "ringlab-3node"):
    for p in ("1", "16"):
        for test in ("SET", "GET"):
            a, b = med.get((t, p, test)), med.get(("redis", p, test))
            if a and b:
                print(f"| {t} | {test} | {p} | {a['rps']/b['rps']:.2f}x | {a['p99_ms']/b['p99_ms']:.2f}x | {a['cpu_s_per_mop']/max(b['cpu_s_per_mop'],1e-9):.2f}x |")
print("\n| server | keys | INFO used_memory / key | RSS growth / key |")
print("|---|---|---|---|")
for r in mem:
    print(f"| {r['target']} | {r['keys']} | {r['used_memory_bytes_per_key']} B | {r['rss_growth_bytes_per_key']} B |")
PY
