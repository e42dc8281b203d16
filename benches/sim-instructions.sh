#!/usr/bin/env bash
# Instructions per simulated request, both engines side by side, counted by
# callgrind: the whole run, and the part inside the node machine that both
# engines run (decision 10). Unlike wall time, the counts barely move with
# the VM's speed, so they show what an engine costs and what the machine
# leaves to any engine that runs it:
#   ceiling = madsim's whole run / the fast engine's machine share
# is the most the fast engine could be ahead if its own part cost nothing.
#
#   benches/sim-instructions.sh [DURATION]   (default "2s" of model time)
#
# Runs benches/sim-5node.toml cut to DURATION. The builds are non-LTO with
# line tables (target/callgrind, target/callgrind-madsim), so that each of
# the machine's entry points stays a function of its own: fat LTO inlines
# some of them into the engine, and callgrind could no longer count them.
# CG_TARGET=DIR builds in DIR and DIR-madsim instead. Needs valgrind
# (apt-get install valgrind). Four runs under callgrind: about 2 minutes
# once built, at "2s".
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-2s}
command -v valgrind >/dev/null || {
  echo "sim-instructions: needs valgrind (apt-get install valgrind)" >&2
  exit 2
}
target=${CG_TARGET:-target/callgrind}
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_DEBUG=1
cargo build --release -q -p ringlab-sim --bin ringlab-sim --target-dir "$target"
cargo build --release -q -p ringlab-sim --bin ringlab-sim --target-dir "$target-madsim" \
  --config "build.rustflags=['--cfg','madsim']"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scenario=$tmp/sim-5node.toml
sed "s/^duration = .*/duration = \"$duration\"/" benches/sim-5node.toml >"$scenario"
grep -q "^duration = \"$duration\"" "$scenario" || {
  echo "sim-instructions: could not set the duration in $scenario" >&2
  exit 2
}

# The machine's entry points: what a driver calls (see core/src/machine).
machine=()
for f in handle_command handle_peer_request handle_peer_response poll_effect \
  poll_timeout handle_timeout expire_step command_cost; do
  machine+=("--toggle-collect=ringlab_core::machine::Machine::$f")
done

# One run under callgrind: prints the instructions it collected.
count() {
  local bin=$1 engine=$2 out=$3
  shift 3
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" \
    "$bin" run "$scenario" --engine "$engine" --quiet --out "$out" \
    >/dev/null 2>"$tmp/cg.log"
  sed -n 's/.*Collected : //p' "$tmp/cg.log" | tr -d ' '
}

declare -A whole mach
for engine in madsim fast; do
  bin=$target/release/ringlab-sim
  [ "$engine" = madsim ] && bin=$target-madsim/release/ringlab-sim
  whole[$engine]=$(count "$bin" "$engine" "$tmp/$engine-whole")
  mach[$engine]=$(count "$bin" "$engine" "$tmp/$engine-machine" "${machine[@]}")
  # Counting only changes what valgrind collects, never the run.
  diff -r "$tmp/$engine-whole" "$tmp/$engine-machine" >/dev/null || {
    echo "sim-instructions: the $engine runs with and without toggles differ" >&2
    exit 1
  }
done
# The requests a run's summary counts.
requests() { sed -n 's/^| all | \([0-9,]*\) .*/\1/p' "$1/summary.md" | head -1 | tr -d ,; }
req=$(requests "$tmp/fast-whole")
madsim_req=$(requests "$tmp/madsim-whole")
[ "$req" = "$madsim_req" ] || {
  echo "sim-instructions: the engines ran $madsim_req and $req requests" >&2
  exit 1
}

per() { echo "$1 / $req" | bc; }
ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
echo "== benches/sim-5node.toml at $duration: $req requests; instructions (per request)"
printf '%-8s %24s %24s %24s\n' engine "whole run" "node machine" "the rest"
for engine in madsim fast; do
  rest=$((whole[$engine] - mach[$engine]))
  printf '%-8s %24s %24s %24s\n' "$engine" \
    "${whole[$engine]} ($(per "${whole[$engine]}"))" \
    "${mach[$engine]} ($(per "${mach[$engine]}"))" \
    "$rest ($(per "$rest"))"
done
echo "== madsim / fast: $(ratio "${whole[madsim]}" "${whole[fast]}")x the whole run," \
  "$(ratio "$((whole[madsim] - mach[madsim]))" "$((whole[fast] - mach[fast]))")x the rest"
echo "== ceiling with the node machine: $(ratio "${whole[madsim]}" "${mach[fast]}")x" \
  "(madsim's whole run over the fast engine's machine share)"
