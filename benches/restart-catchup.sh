#!/usr/bin/env bash
# A restarted real node catching up: three ringlab-nodes (N=3, R=1, W=2)
# under a redis-benchmark load; KEYS keys written through node-1, node-3
# killed with SIGKILL, KEYS/2 more written while it is dead, node-3
# restarted (empty), then reads of every acknowledged key through node-3
# in MGETs of 500 (R=1: node-3 answers from its own store when it is a replica, and every
# key has a replica on each of the three) until all of them come back.
# Prints the seconds from the restart to the pass that found every key,
# and how many every 10th pass found.
#
#   benches/restart-catchup.sh                 # anti-entropy 200ms + handoff
#   REPAIR=off benches/restart-catchup.sh      # neither: read repair only
#   KEYS=20000 AE=200ms NODE_BIN=path benches/restart-catchup.sh
#
# Each check pass is itself a read of every key, and one local read in 10
# also asks the other replicas (read repair), so passes refill too: the
# REPAIR=off run shows how much.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/servers.sh
KEYS=${KEYS:-20000}
AE=${AE:-200ms}
REPAIR=${REPAIR:-on}
BASE_PORT=${BASE_PORT:-17301}
if [ -z "${NODE_BIN:-}" ]; then
  cargo build --release -q -p ringlab-node --bin ringlab-node
  NODE_BIN=target/release/ringlab-node
fi
ports=("$BASE_PORT" "$((BASE_PORT + 1))" "$((BASE_PORT + 2))")
members=()
for i in 1 2 3; do members+=(--member "$i=127.0.0.1:${ports[$((i - 1))]}"); done
repair=()
if [ "$REPAIR" = on ]; then
  repair=(--anti-entropy-interval "$AE" --hinted-handoff true --heartbeat-interval 50ms)
fi
log=$(mktemp -d)
start() {
  RUST_LOG=warn "$NODE_BIN" --id "$1" --listen "127.0.0.1:${ports[$(($1 - 1))]}" \
    "${members[@]}" --n 3 --r 1 --w 2 "${repair[@]}" >>"$log/node-$1.log" 2>&1 &
  PIDS+=($!)
  NODE_PID[$1]=$!
}
declare -A NODE_PID
for i in 1 2 3; do start "$i"; done
for p in "${ports[@]}"; do wait_port "$p"; done

# Writes through node-1; redis-cli --pipe reports replies and errors, and
# every reply must be an OK (acknowledged by W=2 replicas).
write_keys() { # first last
  seq "$1" "$2" | awk '{printf "SET ck:%d v%d\r\n", $1, $1}' |
    redis-cli -p "${ports[0]}" --pipe | tee "$log/pipe.txt" | tail -1
  grep -q "errors: 0," "$log/pipe.txt" || { echo "a write failed" >&2; exit 1; }
}
# Background load on every node, on other keys (redis-benchmark's key:...).
for p in "${ports[@]}"; do
  redis-benchmark -p "$p" -t set,get -r 100000 -n 100000000 -c 8 -q >/dev/null 2>&1 &
  PIDS+=($!)
done
write_keys 1 "$KEYS"
kill -9 "${NODE_PID[3]}"
write_keys $((KEYS + 1)) $((KEYS + KEYS / 2))
total=$((KEYS + KEYS / 2))
start 3
wait_port "${ports[2]}"
t0=$(date +%s.%N)
pass=0
while :; do
  pass=$((pass + 1))
  found=$(seq 1 "$total" |
    awk '{printf "%s ck:%d", (NR % 500 == 1 ? (NR > 1 ? "\nMGET" : "MGET") : ""), $1} END {print ""}' |
    redis-cli -p "${ports[2]}" | grep -c '^v' || true)
  t=$(date +%s.%N)
  if [ $((pass % 10)) -eq 1 ] || [ "$found" -eq "$total" ]; then
    printf 'pass %d: %d of %d keys at %.2f s after the restart\n' "$pass" "$found" "$total" \
      "$(echo "$t - $t0" | bc)"
  fi
  [ "$found" -eq "$total" ] && break
  if [ "$pass" -ge 1000 ]; then
    echo "not every key after 1000 passes" >&2
    exit 1
  fi
done
echo "node-3 log: $log/node-3.log"
