#!/usr/bin/env bash
# bench/record/run.sh [-d SECS] [-n ROUNDS] [-r RATE] [-u USERS]
#
# The latency `mcpx record` adds (issue 6: at most 100 us at p99 over direct at 5,000 req/s on
# the 2 shared cores). Each round runs the same open-model load, `mcpx load --call-rate RATE`
# (bench/generator/one-tool.toml: tools/call echo on USERS sessions, latency from the intended
# send time) twice against one `mcpx serve --response-mode json`: directly, then through
# `mcpx record` (trace written to a temp file). Prints the tools/call p50/p99/p99.9 of both and
# the added p99 per round, then the median added p99. Generator, proxy and server share the
# machine, as they would in CI: run it on a quiet machine only. Loopback only; every process is
# bounded in time.
#
# MCPX_BIN=target/debug/mcpx bench/record/run.sh -d 2 -n 1 -r 200   # a smoke run of the script
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=20 ROUNDS=3 RATE=5000 USERS=50
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -n) ROUNDS="$2"; shift 2 ;;
    -r) RATE="$2"; shift 2 ;;
    -u) USERS="$2"; shift 2 ;;
    *) echo "usage: run.sh [-d SECS] [-n ROUNDS] [-r RATE] [-u USERS]" >&2; exit 2 ;;
  esac
done
for t in curl jq; do command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }; done
MCPX=${MCPX_BIN:-target/release/mcpx}
[ -x "$MCPX" ] || cargo build --release -p mcpx-cli
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
BOUND=$((DUR * 4 + 60))
PORT=18800
"$MCPX" serve --port "$PORT" --response-mode json >/dev/null 2>&1 & SPID=$!; PIDS+=("$SPID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
# The proxy runs for the whole benchmark (bounded by --duration); its trace goes to $WORK.
PPORT=18801
timeout "$((BOUND * ROUNDS * 2))" "$MCPX" record --listen "127.0.0.1:$PPORT" \
  --upstream "http://127.0.0.1:$PORT/mcp" --out "$WORK/trace.jsonl" \
  --duration "$((BOUND * ROUNDS * 2))s" >"$WORK/record.out" 2>&1 & RPID=$!; PIDS+=("$RPID")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PPORT/healthz" && break; sleep 0.1; done

load() { # URL OUT.json
  timeout "$BOUND" "$MCPX" load "$1" --scenario bench/generator/one-tool.toml --call-rate "$RATE" \
    --users "$USERS" --duration "${DUR}s" --drain 1s --allow-destructive --no-progress \
    --json "$2" >/dev/null
}
pct() { jq -r --arg k "$2" '.methods[] | select(.name == "tools/call") | .latency_us[$k]' "$1"; }
# The median of the per-second p99s after the first second and before the last (partial) one:
# the steady state without the start, where the generator opens its connections and the calls
# that came due during the handshakes go out at once (all requests, not only tools/call).
steady() { jq -r '[.intervals.series[1:-1][] | .p99_us] | sort | .[length / 2 | floor]' "$1"; }
printf 'round\tdirect p50/p99/p99.9 us\tproxied p50/p99/p99.9 us\tadded p99 us\treq/s proxied\tsteady p99 direct/proxied us\n'
added=() sadded=()
for r in $(seq "$ROUNDS"); do
  load "http://127.0.0.1:$PORT/mcp" "$WORK/direct.json"
  load "http://127.0.0.1:$PPORT/mcp" "$WORK/proxied.json"
  d99=$(pct "$WORK/direct.json" p99); p99=$(pct "$WORK/proxied.json" p99)
  add=$((p99 - d99)); added+=("$add")
  rps=$(jq -r '.methods[] | select(.name == "tools/call") | .rps' "$WORK/proxied.json")
  sd=$(steady "$WORK/direct.json"); sp=$(steady "$WORK/proxied.json"); sadded+=($((sp - sd)))
  printf '%s\t%s/%s/%s\t%s/%s/%s\t%s\t%.0f\t%s/%s\n' "$r" \
    "$(pct "$WORK/direct.json" p50)" "$d99" "$(pct "$WORK/direct.json" p999)" \
    "$(pct "$WORK/proxied.json" p50)" "$p99" "$(pct "$WORK/proxied.json" p999)" "$add" "$rps" \
    "$sd" "$sp"
done
median=$(printf '%s\n' "${added[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median added p99: ${median} us at ${RATE} req/s (target: <= 100 us)"
smedian=$(printf '%s\n' "${sadded[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median added steady-state p99 (per-second p99s, first second left out): ${smedian} us"
# Stop the proxy (SIGTERM: it drains and prints its summary, dropped trace events included).
kill -TERM "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
grep -h 'exchanges,' "$WORK/record.out" || true
echo "trace: $(wc -l <"$WORK/trace.jsonl") lines written by mcpx record"
