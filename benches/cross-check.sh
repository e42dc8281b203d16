#!/usr/bin/env bash
# The two engines against each other on every lesson: each lesson over 8
# seeds under both engines, then a table of the per-seed means and spreads
# (max - min) of p50, p99, p99.9, availability, hit ratio, stale reads and
# (with a database) database reads, and whether every [expect] line held at
# the lesson's own seed under each engine. Writes docs/CROSS-CHECK.md's
# table to stdout.
#
#   benches/cross-check.sh [SEEDS] [JOBS]   (default 1..=8, 2 jobs)
#   LESSONS="hot-key rehash" benches/cross-check.sh   # only these lessons
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1..=8}
jobs=${2:-2}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p ringlab-sim >/dev/null 2>&1
  cargo sim --help >/dev/null
fi
out=${OUT:-out/cross-check}
mkdir -p "$out"
if [ -n "${LESSONS:-}" ]; then
  files=()
  for l in $LESSONS; do files+=("scenarios/$l.toml"); done
else
  files=(scenarios/*.toml)
fi
for f in "${files[@]}"; do
  name=$(basename "$f" .toml)
  for engine in madsim fast; do
    bin=target/release/ringlab-sim
    [ "$engine" = madsim ] && bin=target/madsim/release/ringlab-sim
    "$bin" sweep "$f" --engine "$engine" --seeds "$seeds" --jobs "$jobs" \
      --out "$out/$name-$engine" >/dev/null || true
    own=$(sed -n 's/^seed = \([0-9]*\)/\1/p' "$f" | head -1)
    "$bin" run "$f" --engine "$engine" --seed "${own:-1}" --quiet --out "$out/$name-$engine-own"
  done
done
python3 benches/cross-check-table.py "$out"
