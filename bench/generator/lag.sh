#!/usr/bin/env bash
# bench/generator/lag.sh [-d SECS] [-u USERS] [-t THINK_MS] [BIN...]
#
# How late the generator sends requests that follow a think time: bench/generator/one-tool.toml
# with a constant THINK_MS (default 2) between steps, USERS (default 50) users for SECS (default
# 5) against `mcpx serve --response-mode json`, once per binary (default: MCPX_BIN or
# target/release/mcpx; pass two to A/B them in one run). Prints the report's generator lag
# (sent - intended, µs: a call after a think is intended at the answer's arrival + the think),
# the tools/call latency percentiles and req/s. Loopback only; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=5 USERS=50 THINK=2
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -u) USERS="$2"; shift 2 ;;
    -t) THINK="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- "${MCPX_BIN:-target/release/mcpx}"
MCPX_BIN=$1
# shellcheck source=bench/lib.sh
. bench/lib.sh
need jq
sed "s/between_steps = { dist = \"constant\", value_ms = 0 }/between_steps = { dist = \"constant\", value_ms = $THINK }/" \
  bench/generator/one-tool.toml >"$WORK/think.toml"
grep -q "value_ms = $THINK }" "$WORK/think.toml" || { echo "one-tool.toml changed" >&2; exit 2; }
printf 'binary\tcalls/s\tlag_p50\tlag_p90\tlag_p99\tlag_max\tcall_p50\tcall_p99\n'
for b in "$@"; do
  port=$((19700 + RANDOM % 200))
  timeout $((DUR + 60)) "$b" serve --port "$port" --response-mode json >/dev/null 2>&1 & SPID=$!
  PIDS+=("$SPID"); wait_up "$port"
  timeout $((DUR + 60)) "$b" load "http://127.0.0.1:$port/mcp" --scenario "$WORK/think.toml" --users "$USERS" \
    --duration "${DUR}s" --drain 1s --allow-destructive --no-progress --json "$WORK/r.json" >/dev/null
  kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true
  jq -r --arg b "$b" '(.methods[] | select(.name == "tools/call")) as $c
    | [$b, (($c.requests * 1000000 / .elapsed_us) | floor), .generator.lag_us.p50, .generator.lag_us.p90,
       .generator.lag_us.p99, .generator.lag_us.max, $c.latency_us.p50, $c.latency_us.p99] | @tsv' "$WORK/r.json"
done
