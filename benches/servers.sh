# Sourced by the bench scripts that start servers: remembers their PIDs in
# PIDS, stops exactly those on exit, and waits for a port to answer PING.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 200); do
    redis-cli -h 127.0.0.1 -p "$1" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on port $1 did not come up" >&2
  exit 1
}
