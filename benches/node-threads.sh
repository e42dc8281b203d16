#!/usr/bin/env bash
# ringlab-node with one runtime thread (--threads 1, the default) against
# two (--threads 2), side by side with redis-server, alternating: RUNS
# rounds of redis-benchmark -t set,get -n $N -c 50 -d 100 -r 100000 at -P 1
# and -P 16 against each server in turn (FLUSHALL first). Prints each run's
# ops/s and the server's CPU ticks (utime+stime from /proc/PID/stat) spent
# on it.
#
#   N=300000 RUNS=2 benches/node-threads.sh
#
# Servers bind 127.0.0.1 only; the script stops exactly the PIDs it started.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300000}
RUNS=${RUNS:-2}
BASE_PORT=${BASE_PORT:-17600}
cargo build --release -q -p ringlab-node --bin ringlab-node
NODE_BIN=target/release/ringlab-node

# shellcheck source=benches/servers.sh
source benches/servers.sh

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME PORT PID PIPELINE: one redis-benchmark run, one output line.
run() {
  local name=$1 port=$2 pid=$3 pipe=$4
  redis-cli -p "$port" FLUSHALL >/dev/null
  local t0 out t1
  t0=$(ticks "$pid")
  out=$(redis-benchmark -p "$port" -t set,get -n "$N" -c 50 -d 100 -r 100000 -P "$pipe" --csv 2>/dev/null |
    grep -v '^"test"' | cut -d, -f1,2 | tr -d '"' | tr '\n' ' ')
  t1=$(ticks "$pid")
  echo "$name P$pipe $out cpu_ticks=$((t1 - t0))"
}

redis-server --bind 127.0.0.1 --port "$BASE_PORT" --save '' --appendonly no >/dev/null 2>&1 &
RP=$!; PIDS+=("$RP")
RUST_LOG=warn "$NODE_BIN" --id 1 --listen "127.0.0.1:$((BASE_PORT + 1))" --threads 1 >/dev/null 2>&1 &
T1=$!; PIDS+=("$T1")
RUST_LOG=warn "$NODE_BIN" --id 1 --listen "127.0.0.1:$((BASE_PORT + 2))" --threads 2 >/dev/null 2>&1 &
T2=$!; PIDS+=("$T2")
for p in "$BASE_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2)); do wait_port "$p"; done

for _ in $(seq 1 "$RUNS"); do
  for pipe in 1 16; do
    run redis "$BASE_PORT" "$RP" "$pipe"
    run node-threads-1 $((BASE_PORT + 1)) "$T1" "$pipe"
    run node-threads-2 $((BASE_PORT + 2)) "$T2" "$pipe"
  done
done
