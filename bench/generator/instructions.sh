#!/usr/bin/env bash
# bench/generator/instructions.sh [BIN...]
#
# The generator's user-space instructions per request, under callgrind: steady to well under 1 %
# from run to run where wall-clock CPU on this shared machine moves by 15 %, so it is the metric
# to develop against (A/B two builds by passing both). For each binary (default: MCPX_BIN or
# target/release/mcpx), `mcpx load` with bench/generator/one-tool.toml (10 users, back-to-back
# tools/call echo) runs under `valgrind --tool=callgrind` for 3 s and for 7 s against `mcpx serve
# --response-mode json` (not instrumented); the difference of the two totals over the
# difference of the two request counts cancels start-up and report writing. The kernel's share
# (loopback TCP, ~45 % of the generator's CPU by perf) is not counted: compare it with
# bench/generator/run.sh. Loopback only; every process is bounded in time. Hold
# /tmp/mcpx-bench.lock around it on a shared machine (valgrind keeps a core busy).
set -euo pipefail
cd "$(dirname "$0")/../.."
for t in valgrind curl jq bc; do command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }; done
[ $# -gt 0 ] || set -- "${MCPX_BIN:-target/release/mcpx}"
for b in "$@"; do [ -x "$b" ] || { echo "instructions.sh: $b is not an executable" >&2; exit 2; }; done
# The two run lengths (seconds): long enough that the steady state dominates their difference.
SHORT=3 LONG=7
WORK=$(mktemp -d)
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'binary\trequests_%ss\trequests_%ss\tinstructions/request\n' "$SHORT" "$LONG"
for b in "$@"; do
  declare -A ir=() n=()
  for d in "$SHORT" "$LONG"; do
    port=$((19300 + RANDOM % 300))
    timeout 180 "$b" serve --port "$port" --response-mode json >/dev/null 2>&1 &
    SPID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
    timeout 150 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$d" "$b" load \
      "http://127.0.0.1:$port/mcp" --scenario bench/generator/one-tool.toml --users 10 \
      --duration "${d}s" --drain 1s --allow-destructive --no-progress --json "$WORK/r.json" \
      >/dev/null 2>"$WORK/valgrind.err"
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=""
    n[$d]=$(jq '[.methods[] | .requests] | add' "$WORK/r.json")
    ir[$d]=$(awk '/^(summary|totals):/ {print $2; exit}' "$WORK/cg.$d")
  done
  printf '%s\t%s\t%s\t%.0f\n' "$b" "${n[$SHORT]}" "${n[$LONG]}" \
    "$(echo "(${ir[$LONG]} - ${ir[$SHORT]}) / (${n[$LONG]} - ${n[$SHORT]})" | bc -l)"
done
