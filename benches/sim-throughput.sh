#!/usr/bin/env bash
# How fast the simulator runs, both engines side by side: simulated client
# requests per wall second (and per CPU second, which a machine shared with
# other work does not distort as much) for a 5-node cluster (N=3, R=W=2,
# zipf keys), release builds, one process; then a 4-seed sweep's seeds per
# second with 1 and 2 jobs for each engine.
#
#   benches/sim-throughput.sh [RUNS]     (default 3 rounds, each one run of
#                                        either engine, alternating; medians)
#
# The fast engine runs from the plain build (target/release), the madsim
# engine from the simulator build (target/madsim/release).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scenario=benches/sim-5node.toml
# Build first, outside the timings.
cargo build --release -p ringlab-sim >/dev/null 2>&1
cargo sim --help >/dev/null
fast=target/release/ringlab-sim
madsim=target/madsim/release/ringlab-sim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One run: prints "<requests per wall second> <requests per CPU second>".
one() {
  local bin=$1 engine=$2
  /usr/bin/time -f "cpu %U %S" "$bin" run "$scenario" --engine "$engine" --quiet \
    --out "$tmp/run-$engine" 2>"$tmp/time" >/dev/null
  # --quiet prints no rate: run again loud would double the cost, so the
  # rate comes from the requests in the summary and the measured times.
  local req cpu wall
  req=$(sed -n 's/^| all | \([0-9,]*\) .*/\1/p' "$tmp/run-$engine/summary.md" | head -1 | tr -d ,)
  cpu=$(awk '/^cpu/ {print $2 + $3}' "$tmp/time")
  echo "$req $cpu"
}

# The engines alternate, madsim then fast in each round, so that a VM whose
# speed drifts between runs (it has two speeds, 2x apart, switching within
# minutes: docs/PERFORMANCE.md) weighs on both alike; each round's own
# fast / madsim ratio is printed too, and their median is the paired ratio.
declare -A wall_med cpu_med
: >"$tmp/wall-madsim"; : >"$tmp/cpu-madsim"; : >"$tmp/wall-fast"; : >"$tmp/cpu-fast"
: >"$tmp/ratio"
echo "== both engines: one process each, $runs rounds (madsim, then fast)"
for i in $(seq "$runs"); do
  declare -A round_wall
  for engine in madsim fast; do
    bin=$fast; [ "$engine" = madsim ] && bin=$madsim
    start=$(date +%s.%N)
    read -r req cpu < <(one "$bin" "$engine")
    end=$(date +%s.%N)
    w=$(echo "$req / ($end - $start)" | bc -l | cut -d. -f1)
    c=$(echo "$req / $cpu" | bc -l | cut -d. -f1)
    echo "$w" >>"$tmp/wall-$engine"; echo "$c" >>"$tmp/cpu-$engine"
    round_wall[$engine]=$w
    echo "  round $i, $engine: $req requests, $w per wall second, $c per CPU second"
  done
  r=$(echo "${round_wall[fast]} / ${round_wall[madsim]}" | bc -l | cut -c1-6)
  echo "$r" >>"$tmp/ratio"
  echo "  round $i: fast / madsim ${r}x per wall second"
done
for engine in madsim fast; do
  wall_med[$engine]=$(median <"$tmp/wall-$engine")
  cpu_med[$engine]=$(median <"$tmp/cpu-$engine")
  echo "== $engine median: ${wall_med[$engine]} simulated requests per wall second, ${cpu_med[$engine]} per CPU second"
done
echo "== fast / madsim: $(echo "${wall_med[fast]} / ${wall_med[madsim]}" | bc -l | cut -c1-6)x per wall second, $(echo "${cpu_med[fast]} / ${cpu_med[madsim]}" | bc -l | cut -c1-6)x per CPU second (medians); $(median <"$tmp/ratio")x per wall second (median of the rounds' ratios)"

for engine in madsim fast; do
  bin=$fast; [ "$engine" = madsim ] && bin=$madsim
  for jobs in 1 2; do
    start=$(date +%s.%N)
    "$bin" sweep "$scenario" --engine "$engine" --seeds 1..=4 --jobs "$jobs" --out "$tmp/sweep-$engine-$jobs" >/dev/null
    end=$(date +%s.%N)
    echo "== $engine sweep of 4 seeds, $jobs job(s): $(echo "4 / ($end - $start)" | bc -l | cut -c1-5) seeds per second"
  done
done
