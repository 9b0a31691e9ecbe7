# bench/lib.sh: what every benchmark script needs before it measures (sourced after the
# script has read its options, never run on its own).
#
# - the repository root as the working directory;
# - need TOOL...: stops with a message naming the first missing tool;
# - $MCPX: MCPX_BIN, or the release build (built when missing);
# - $WORK: a temporary directory, and PIDS: processes to stop; both cleaned up at exit;
# - wait_up PORT: waits (at most 10 s) until something answers /healthz on 127.0.0.1:PORT;
# - per_req SECONDS COUNT: microseconds per request, two decimals (needs bc);
# - ticks PID: the process's user + system CPU so far, in clock ticks ($TCK per second).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
need() { for t in "$@"; do command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }; done; }
need curl
MCPX=${MCPX_BIN:-target/release/mcpx}
[ -x "$MCPX" ] || cargo build --release -p mcpx-cli
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_up() {
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return; sleep 0.1; done
  echo "nothing answers on port $1" >&2; exit 1
}
per_req() { echo "$1 * 1000000 / $2" | bc -l | xargs printf '%.2f'; }
TCK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
