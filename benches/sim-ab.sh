#!/usr/bin/env bash
# Two builds of the fast engine side by side: CPU seconds for one scenario,
# runs alternating A, B, A, B, ... so that a machine whose speed drifts
# weighs on both alike; prints each median and B / A. For changes smaller
# than a run's spread (40% on a shared VM), which only medians of many
# alternating runs can show.
#
#   benches/sim-ab.sh BIN_A BIN_B [RUNS] [SCENARIO]
#
# BIN_A and BIN_B are ringlab-sim binaries (copy one aside before
# rebuilding); RUNS defaults to 9, SCENARIO to benches/sim-5node.toml. Each
# run's reports must be byte-identical to A's first, or the two builds do
# not simulate the same thing and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?BIN_A}
b=${2:?BIN_B}
runs=${3:-9}
scenario=${4:-benches/sim-5node.toml}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

one() {
  local bin=$1 out=$2
  /usr/bin/time -f "%U %S" "$bin" run "$scenario" --engine fast --quiet --out "$out" \
    2>"$tmp/time" >/dev/null
  awk 'END {print $1 + $2}' "$tmp/time"
}

one "$a" "$tmp/ref" >/dev/null
for i in $(seq "$runs"); do
  for side in a b; do
    bin=$a; [ "$side" = b ] && bin=$b
    rm -rf "$tmp/run"
    cpu=$(one "$bin" "$tmp/run")
    if ! diff -rq "$tmp/ref" "$tmp/run" >/dev/null; then
      echo "run $i of $side: reports differ from A's" >&2
      exit 1
    fi
    echo "$cpu" >>"$tmp/$side"
    echo "  run $i $side: $cpu s"
  done
done
ma=$(median <"$tmp/a")
mb=$(median <"$tmp/b")
echo "median CPU seconds: A $ma, B $mb; B / A = $(echo "$mb / $ma" | bc -l | cut -c1-5)"
