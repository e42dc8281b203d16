#!/usr/bin/env bash
# ringlab-node against redis-server, same machine, same load generator; and,
# with BASE set, against a baseline build of ringlab-node in the same run.
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
#   NODE_BIN=path/to/ringlab-node benches/node-vs-redis.sh  # prebuilt, no cargo build
#
# Against a baseline ("is anything worse than before this change?"):
#
#   BASE=d569b08 benches/node-vs-redis.sh    # any git rev: builds ringlab-node there
#   BASE_BIN=path/to/old/ringlab-node benches/node-vs-redis.sh  # prebuilt baseline
#   BASE=d569b08 BASE_NODE_ARGS="" NODE_ARGS="--threads 1" benches/node-vs-redis.sh
#
# BASE builds the baseline in a throwaway git worktree, $OUT/base-src/wt,
# with its own target dir, target/node-vs-redis-base-build (the main build's
# target/release is never touched), keeps the binary as
# $OUT/base-src/<full commit hash>/ringlab-node (a later run at the same
# commit reuses it) and removes the worktree. BASE_BIN wins over BASE (BASE
# is then only the label). The baseline gets BASE_NODE_ARGS, which defaults
# to NODE_ARGS; the script stops if a flag there is one the baseline does
# not know. The baseline single node and 3-node cluster are measured in every
# round beside the others, under the same pinning, FLUSHALL and N: per round
# and pipeline, redis, then the two single nodes, then the two clusters, the
# new build first in odd rounds and the baseline first in even ones. The
# output adds new/base ratios of every ops/s, p99 and CPU/op median, with the
# min-max of the per-round ratios (the run-to-run spread), and a verdict
# line naming each ops/s or p99 figure where new is worse than base by more
# than that spread (with RUNS=1 there is no spread: every worse figure is
# named, and a single run cannot tell a change from noise).
#
# With PIN=1 (the default, on 2 CPUs or more with taskset) redis-server and
# the single ringlab-nodes run on the last CPU and redis-benchmark on the
# others, so a server never shares a core with its load generator (the
# 3-node clusters are left to the scheduler: three nodes on one CPU would
# measure that CPU, not the cluster). Every server is started once and stays
# up, idle while another is measured.
#
# Ports: BASE_PORT (default 17400) is the first port of the range used,
# nothing to do with BASE: redis +0, ringlab-node +1, baseline node +2,
# clusters +11..13 and (baseline) +21..23.
# Servers bind 127.0.0.1 only; the script stops exactly the PIDs it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

N=${N:-1000000}
RUNS=${RUNS:-3}
FILL=${FILL:-1000000}
BASE_PORT=${BASE_PORT:-17400}
REDIS_PORT=$((BASE_PORT + 0))
NODE_PORT=$((BASE_PORT + 1))
BNODE_PORT=$((BASE_PORT + 2))
C1=$((BASE_PORT + 11)); C2=$((BASE_PORT + 12)); C3=$((BASE_PORT + 13))
B1=$((BASE_PORT + 21)); B2=$((BASE_PORT + 22)); B3=$((BASE_PORT + 23))
OUT=${OUT:-target/node-vs-redis}
mkdir -p "$OUT"
RESULTS="$OUT/results.csv"
CLK_TCK=$(getconf CLK_TCK)
NODE_ARGS=${NODE_ARGS:-}
BASE_NODE_ARGS=${BASE_NODE_ARGS-$NODE_ARGS}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# An interrupt runs the EXIT trap too (servers stopped, worktree removed).
trap 'exit 130' INT
trap 'exit 143' TERM

# The binary under test.
if [ -n "${NODE_BIN:-}" ]; then
  [ -x "$NODE_BIN" ] || { echo "NODE_BIN=$NODE_BIN is not an executable file" >&2; exit 1; }
  NEW_LABEL="$NODE_BIN (NODE_BIN, prebuilt)"
else
  cargo build --release -q -p ringlab-node --bin ringlab-node
  NODE_BIN=target/release/ringlab-node
  NEW_LABEL="$NODE_BIN (working tree at $(git rev-parse --short HEAD)"
  git diff --quiet HEAD -- || NEW_LABEL="$NEW_LABEL + uncommitted changes"
  NEW_LABEL="$NEW_LABEL)"
fi

# The baseline binary, if any.
BASE_WT="$OUT/base-src/wt"
BASE_TARGET="$ROOT/target/node-vs-redis-base-build"
remove_base_wt() {
  [ -e "$BASE_WT" ] || return 0
  git worktree remove --force "$BASE_WT" 2>/dev/null || { rm -rf "$BASE_WT"; git worktree prune; }
}
if [ -n "${BASE_BIN:-}" ]; then
  [ -x "$BASE_BIN" ] || { echo "BASE_BIN=$BASE_BIN is not an executable file" >&2; exit 1; }
  BASE_LABEL="$BASE_BIN (BASE_BIN, prebuilt${BASE:+; BASE=$BASE})"
elif [ -n "${BASE:-}" ]; then
  hash=$(git rev-parse --verify --quiet "$BASE^{commit}") || { echo "BASE=$BASE is not a commit here" >&2; exit 1; }
  BASE_BIN="$OUT/base-src/$hash/ringlab-node"
  BASE_LABEL="$BASE_BIN (commit $(git rev-parse --short "$hash"), BASE=$BASE)"
  if [ -x "$BASE_BIN" ]; then
    echo "baseline: reusing $BASE_BIN" >&2
  else
    echo "baseline: building ringlab-node at $hash in $BASE_WT" >&2
    trap remove_base_wt EXIT
    mkdir -p "$OUT/base-src"
    remove_base_wt # one left by a run that was killed
    git worktree add --quiet --detach "$BASE_WT" "$hash"
    (cd "$BASE_WT" && cargo build --release -q -p ringlab-node --bin ringlab-node --target-dir "$BASE_TARGET")
    mkdir -p "$OUT/base-src/$hash"
    cp "$BASE_TARGET/release/ringlab-node" "$BASE_BIN.tmp"
    mv "$BASE_BIN.tmp" "$BASE_BIN"
    remove_base_wt
    trap - EXIT
  fi
fi
BASE_BIN=${BASE_BIN:-}

SRV=(); CLI=()
CPUS=$(nproc)
if [ "${PIN:-1}" = 1 ] && [ "$CPUS" -ge 2 ] && command -v taskset >/dev/null; then
  last=$((CPUS - 1))
  SRV=(taskset -c "$last")
  if [ "$last" -eq 1 ]; then CLI=(taskset -c 0); else CLI=(taskset -c "0-$((last - 1))"); fi
  echo "pinned: servers on CPU $last, redis-benchmark on ${CLI[2]}" >&2
fi

BASE_CLUSTER=""
if [ -n "$BASE_BIN" ]; then
  # The baseline must take the flags it is given, or it is not the same test.
  base_help=$("$BASE_BIN" --help)
  for f in $BASE_NODE_ARGS; do
    case $f in
      --*) grep -q -- "${f%%=*}\b" <<<"$base_help" || {
             echo "the baseline does not take $f (from BASE_NODE_ARGS, which defaults to NODE_ARGS);" \
                  "set BASE_NODE_ARGS to its equivalent, or to \"\" for none" >&2
             exit 1; } ;;
    esac
  done
  # The cluster is configured by flags; skip the baseline cluster if it has
  # none of them.
  BASE_CLUSTER=1
  for f in --id --listen --member --n --w --r; do
    if ! grep -q -- "$f\b" <<<"$base_help"; then
      echo "baseline cluster skipped: the baseline's ringlab-node has no $f flag" >&2
      BASE_CLUSTER=""
    fi
  done
  NEW_LABEL="$NEW_LABEL${NODE_ARGS:+, args: $NODE_ARGS}"
  BASE_LABEL="$BASE_LABEL${BASE_NODE_ARGS:+, args: $BASE_NODE_ARGS}"
  echo "new:  $NEW_LABEL" >&2
  echo "base: $BASE_LABEL" >&2
fi

# shellcheck source=benches/servers.sh
source benches/servers.sh
# servers.sh sets its own EXIT trap; keep the worktree clean-up in it too.
trap 'cleanup; remove_base_wt' EXIT

"${SRV[@]}" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
  >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")

# start_single BIN PORT LOG ARGS: a single pinned node; its PID in STARTED.
start_single() {
  # shellcheck disable=SC2086 # $4 is a list of flags
  RUST_LOG=warn "${SRV[@]}" "$1" --id 1 --listen "127.0.0.1:$2" $4 >"$3" 2>&1 &
  STARTED=$!; PIDS+=("$STARTED")
}
# start_cluster BIN LOGPREFIX ARGS PORT1 PORT2 PORT3: its PIDs in STARTED_ALL.
start_cluster() {
  local bin=$1 log=$2 args=$3; shift 3
  local members=(--member "1=127.0.0.1:$1" --member "2=127.0.0.1:$2" --member "3=127.0.0.1:$3")
  STARTED_ALL=()
  for i in 1 2 3; do
    # shellcheck disable=SC2086
    RUST_LOG=warn "$bin" --id "$i" "${members[@]}" --n 3 --w 2 --r 1 $args >"$log-$i.log" 2>&1 &
    STARTED_ALL+=("$!"); PIDS+=("$!")
  done
}

start_single "$NODE_BIN" "$NODE_PORT" "$OUT/node.log" "$NODE_ARGS"
NODE_PID=$STARTED
start_cluster "$NODE_BIN" "$OUT/cluster" "$NODE_ARGS" "$C1" "$C2" "$C3"
CLUSTER_PIDS=("${STARTED_ALL[@]}")
PORTS=("$REDIS_PORT" "$NODE_PORT" "$C1" "$C2" "$C3")
if [ -n "$BASE_BIN" ]; then
  start_single "$BASE_BIN" "$BNODE_PORT" "$OUT/base-node.log" "$BASE_NODE_ARGS"
  BNODE_PID=$STARTED
  PORTS+=("$BNODE_PORT")
  if [ -n "$BASE_CLUSTER" ]; then
    start_cluster "$BASE_BIN" "$OUT/base-cluster" "$BASE_NODE_ARGS" "$B1" "$B2" "$B3"
    BCLUSTER_PIDS=("${STARTED_ALL[@]}")
    PORTS+=("$B1" "$B2" "$B3")
  fi
fi
for p in "${PORTS[@]}"; do wait_port "$p"; done

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

# bench_one WHICH KIND PIPELINE RUN: WHICH is new or base, KIND single or cluster.
bench_one() {
  case $1/$2 in
    new/single) bench ringlab "$NODE_PORT" "$3" "$4" "$NODE_PID" ;;
    new/cluster) bench ringlab-3node "$C1" "$3" "$4" "${CLUSTER_PIDS[@]}" ;;
    base/single) bench ringlab-base "$BNODE_PORT" "$3" "$4" "$BNODE_PID" ;;
    base/cluster) [ -z "$BASE_CLUSTER" ] || bench ringlab-base-3node "$B1" "$3" "$4" "${BCLUSTER_PIDS[@]}" ;;
  esac
}

echo "target,pipeline,run,test,rps,p50_ms,p99_ms,cpu_s_per_mop" >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
  if [ -z "$BASE_BIN" ]; then order=(new)
  elif [ $((run % 2)) = 1 ]; then order=(new base)
  else order=(base new)
  fi
  for pipe in 1 16; do
    bench redis "$REDIS_PORT" "$pipe" "$run" "$REDIS_PID"
    for w in "${order[@]}"; do bench_one "$w" single "$pipe" "$run"; done
    for w in "${order[@]}"; do bench_one "$w" cluster "$pipe" "$run"; done
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
  [ -z "$BASE_BIN" ] || mem_row ringlab-base "$BNODE_PORT" "$BNODE_PID"
} >"$OUT/memory.csv"

python3 - "$RESULTS" "$OUT/memory.csv" "$N" "$RUNS" "${BASE_BIN:+$NEW_LABEL}" "${BASE_LABEL:-}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mem = list(csv.DictReader(open(sys.argv[2])))
n, runs, new_label, base_label = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
FIELDS = ("rps", "p50_ms", "p99_ms", "cpu_s_per_mop")
med, per_run = {}, {}
for key in sorted({(r["target"], r["pipeline"], r["test"]) for r in rows}):
    sel = [r for r in rows if (r["target"], r["pipeline"], r["test"]) == key]
    med[key] = {f: statistics.median(float(r[f]) for r in sel) for f in FIELDS}
    per_run[key] = {r["run"]: {f: float(r[f]) for f in FIELDS} for r in sel}
print(f"\nredis-benchmark -t set,get -n {n} -c 50 -d 100 -r 100000; medians of {runs} runs\n")
print("| server | test | P | ops/s | p50 ms | p99 ms | CPU s / 1M ops (set+get) |")
print("|---|---|---|---|---|---|---|")
for (t, p, test), m in sorted(med.items(), key=lambda kv: (kv[0][1].zfill(3), kv[0][2], kv[0][0])):
    print(f"| {t} | {test} | {p} | {m['rps']:.0f} | {m['p50_ms']:.3f} | {m['p99_ms']:.3f} | {m['cpu_s_per_mop']:.3f} |")
print("\n| ratio ringlab/redis | test | P | ops/s | p99 | CPU/op |")
print("|---|---|---|---|---|---|")
for t in ("ringlab", "ringlab-3node", "ringlab-base", "ringlab-base-3node"):
    for p in ("1", "16"):
        for test in ("SET", "GET"):
            a, b = med.get((t, p, test)), med.get(("redis", p, test))
            if a and b:
                print(f"| {t} | {test} | {p} | {a['rps']/b['rps']:.2f}x | {a['p99_ms']/b['p99_ms']:.2f}x | {a['cpu_s_per_mop']/max(b['cpu_s_per_mop'],1e-9):.2f}x |")

if base_label:
    # new/base: the ratio of the medians, and the min-max of the per-run
    # ratios (new and base of the same run were measured minutes apart).
    def ratio(a, b):
        return a / b if b > 0 else float("nan")
    print(f"\nnew: {new_label}\nbase: {base_label}\n")
    print("| new/base | test | P | base ops/s | new ops/s | ops/s new/base (runs) | base p99 ms | new p99 ms | p99 new/base (runs) | CPU/op new/base |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    worse, compared = [], 0
    for t, bt in (("ringlab", "ringlab-base"), ("ringlab-3node", "ringlab-base-3node")):
        for p in ("1", "16"):
            for test in ("SET", "GET"):
                a, b = med.get((t, p, test)), med.get((bt, p, test))
                if not (a and b):
                    continue
                cells = {}
                for f, bad in (("rps", lambda r: 1 - r), ("p99_ms", lambda r: r - 1)):
                    rs = [ratio(per_run[(t, p, test)][k][f], per_run[(bt, p, test)][k][f])
                          for k in per_run[(t, p, test)] if k in per_run[(bt, p, test)]]
                    r = ratio(a[f], b[f])
                    lo, hi = min(rs), max(rs)
                    cells[f] = f"{r:.2f}x ({lo:.2f}-{hi:.2f})"
                    compared += 1
                    # worse by more than the spread of the per-run ratios
                    if bad(r) > hi - lo:
                        name = "ops/s" if f == "rps" else "p99"
                        worse.append(f"{t} {test} P={p} {name} {r:.2f}x (runs {lo:.2f}-{hi:.2f})")
                print(f"| {t} | {test} | {p} | {b['rps']:.0f} | {a['rps']:.0f} | {cells['rps']} | "
                      f"{b['p99_ms']:.3f} | {a['p99_ms']:.3f} | {cells['p99_ms']} | "
                      f"{ratio(a['cpu_s_per_mop'], b['cpu_s_per_mop']):.2f}x |")
    caveat = "" if int(runs) > 1 else " (RUNS=1: no spread, so any worse figure is named; one run cannot tell a change from noise)"
    if worse:
        print(f"\nverdict: new worse than base by more than the run-to-run spread in {len(worse)} of {compared} "
              f"ops/s and p99 figures{caveat}: " + "; ".join(worse))
    else:
        print(f"\nverdict: none of {compared} ops/s and p99 figures is worse in new than in base by more than "
              f"the run-to-run spread{caveat}")

print("\n| server | keys | INFO used_memory / key | RSS growth / key |")
print("|---|---|---|---|")
for r in mem:
    print(f"| {r['target']} | {r['keys']} | {r['used_memory_bytes_per_key']} B | {r['rss_growth_bytes_per_key']} B |")
PY
