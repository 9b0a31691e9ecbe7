#!/usr/bin/env bash
# bench/generator/run.sh [-d SECS] [-n ROUNDS] [-c CONNS]
#
# The load generator's own cost, side by side in one run: wrk (bench/perf/bench-server.sh, a
# script that gives every request a unique id) and `mcpx load` (bench/generator/one-tool.toml:
# one session per virtual user, back-to-back tools/call echo, no waits) against the same target,
# `mcpx serve --response-mode json`, with the same number of connections / users, sharing the
# machine's 2 cores with the server. Prints req/s, generator CPU per request (user+sys from
# /usr/bin/time over the requests) and the generator's max RSS, per round and as the median.
# Loopback only; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=10 ROUNDS=3 CONNS=50
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -n) ROUNDS="$2"; shift 2 ;;
    -c) CONNS="$2"; shift 2 ;;
    *) echo "usage: run.sh [-d SECS] [-n ROUNDS] [-c CONNS]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk jq /usr/bin/time
PORT=18700
start() { PORT=$((PORT + 1)); timeout $((DUR * 3 + 60)) "$MCPX" serve --port "$PORT" --response-mode json >/dev/null 2>&1 & SPID=$!
  PIDS+=("$SPID"); wait_up "$PORT"; }
stop() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=""; }
printf 'round\tgenerator\treq/s\tcpu_us/req\tmax_rss_MiB\n'
for r in $(seq "$ROUNDS"); do
  start
  out=$(bash bench/perf/bench-server.sh "http://127.0.0.1:$PORT/mcp" -c "$CONNS" -d "$DUR" --warmup 1 --gen-time "$WORK/wrk.time" 2>&1 | tail -1)
  rps=$(grep -o 'rps=[0-9.]*' <<<"$out" | cut -d= -f2); n=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
  read -r u s m <"$WORK/wrk.time"
  printf '%s\twrk\t%s\t%s\t%s\n' "$r" "$rps" "$(echo "($u + $s) * 1000000 / $n" | bc -l | xargs printf '%.2f')" "$(echo "$m / 1024" | bc -l | xargs printf '%.1f')"
  stop; start
  /usr/bin/time -f "%U %S %M" -o "$WORK/mcpx.time" "$MCPX" load "http://127.0.0.1:$PORT/mcp" \
    --scenario bench/generator/one-tool.toml --users "$CONNS" --duration "${DUR}s" --drain 1s \
    --allow-destructive --no-progress --json "$WORK/gen.json" >/dev/null
  n=$(jq '[.methods[] | select(.name == "tools/call") | .requests] | add' "$WORK/gen.json")
  el=$(jq '.elapsed_us' "$WORK/gen.json")
  read -r u s m <"$WORK/mcpx.time"
  printf '%s\tmcpx-load\t%s\t%s\t%s\n' "$r" "$(echo "$n * 1000000 / $el" | bc -l | xargs printf '%.1f')" \
    "$(echo "($u + $s) * 1000000 / $n" | bc -l | xargs printf '%.2f')" "$(echo "$m / 1024" | bc -l | xargs printf '%.1f')"
  stop
done
