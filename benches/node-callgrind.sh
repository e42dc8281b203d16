#!/usr/bin/env bash
# Instructions the node executes for a fixed pipelined workload, counted by
# callgrind: unlike time, the count barely moves with a busy machine, so it
# shows a change that saves a few percent of work where ops/s cannot.
#
#   benches/node-callgrind.sh [BIN...]    (default: target/release/ringlab-node)
#
# Each binary serves 50k SETs then 100k GETs (redis-benchmark -c 50 -d 100
# -r 100000 -P 16) under valgrind; prints its total instructions. Needs
# valgrind. The server binds 127.0.0.1 only and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-17499}
if [ $# -eq 0 ]; then
  cargo build --release -q -p ringlab-node --bin ringlab-node
  set -- target/release/ringlab-node
fi
# shellcheck source=benches/servers.sh
source benches/servers.sh
tmp=$(mktemp -d)
for bin in "$@"; do
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    "$bin" --id 1 --listen "127.0.0.1:$PORT" >/dev/null 2>"$tmp/cg.log" &
  pid=$!; PIDS+=("$pid")
  # Under valgrind the node starts slowly: wait longer than wait_port does.
  for _ in $(seq 1 600); do
    redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-benchmark -p "$PORT" -t set -n 50000 -r 100000 -d 100 -c 50 -P 16 -q >/dev/null
  redis-benchmark -p "$PORT" -t get -n 100000 -r 100000 -d 100 -c 50 -P 16 -q >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$bin: $(sed -n 's/.*Collected : //p' "$tmp/cg.log") instructions"
done
rm -rf "$tmp"
