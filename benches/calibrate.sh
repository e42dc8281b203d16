#!/usr/bin/env bash
# The simulator against a real ringlab-node on this machine: RUNS times
# `ringlab-sim calibrate` (release build), then each run's verdict lines and
# the median of the saturation ratio (simulated / real). Run it on a quiet
# machine: anything else running shows up as a slower node.
#
#   benches/calibrate.sh                 # RUNS=3, 3 s per run
#   RUNS=5 ARGS="--duration 5s" benches/calibrate.sh
#
# The node listens on 127.0.0.1 only and is stopped by calibrate itself.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
OUT=${OUT:-target/calibrate}
cargo build --release -q --workspace --bins
ratios=()
for run in $(seq "$RUNS"); do
  # shellcheck disable=SC2086 # ARGS is a list of flags
  target/release/ringlab-sim calibrate --out "$OUT/run-$run" ${ARGS:-} >"$OUT-run-$run.txt" 2>&1 || true
  echo "== run $run"
  grep -E "^(Placement|saturation|p50 at|  the real)|op_cost =" "$OUT-run-$run.txt" || cat "$OUT-run-$run.txt"
  r=$(sed -n 's/^saturation throughput: .*: \([0-9.]*\)x,.*/\1/p' "$OUT-run-$run.txt")
  [ -n "$r" ] && ratios+=("$r")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR) printf "median saturation ratio (simulated / real) over %d runs: %.2fx\n", NR, a[int((NR+1)/2)]}'
