#!/usr/bin/env bash
# How fast the simulator runs: simulated client requests per wall-clock
# second for a 5-node cluster (N=3, R=W=2, zipf keys), release build, one
# process; then a sweep's seeds per second with 1 and 2 jobs.
#
#   benches/sim-throughput.sh [RUNS]     (default 3 runs; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cargo sim --help >/dev/null   # build first, outside the timings
bin=target/madsim/release/ringlab-sim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== one process: simulated requests per wall second ($runs runs)"
for i in $(seq "$runs"); do
  "$bin" run benches/sim-5node.toml --out "$tmp/run" 2>&1 >/dev/null \
    | sed -n 's/.* \([0-9]*\) requests per wall second/\1/p'
done | tee "$tmp/rps" | sed 's/^/  run: /'
echo "median: $(median < "$tmp/rps") simulated requests per wall second"

for jobs in 1 2; do
  echo "== sweep of 4 seeds, $jobs job(s)"
  start=$(date +%s.%N)
  "$bin" sweep benches/sim-5node.toml --seeds 1..=4 --jobs "$jobs" --out "$tmp/sweep-$jobs" >/dev/null
  end=$(date +%s.%N)
  echo "  $(echo "4 / ($end - $start)" | bc -l | cut -c1-5) seeds per second"
done
