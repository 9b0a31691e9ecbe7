#!/usr/bin/env bash
# bench/generator/run.sh [-d SECS] [-n ROUNDS] [-c CONNS] [--pin]
#
# The load generator's own cost, side by side in one run: wrk (bench/perf/bench-server.sh, a
# script that gives every request a unique id) and `mcpx load` (bench/generator/one-tool.toml:
# one session per virtual user, back-to-back tools/call echo, no waits) against the same target,
# `mcpx serve --response-mode json`, with the same number of connections / users, sharing the
# machine's 2 cores with the server. Prints req/s, generator CPU per request (user+sys from
# /usr/bin/time over the requests, and its user and kernel parts) and the generator's max RSS,
# per round, then the medians and mcpx load's median ratio to wrk. --pin gives each side one core: the generator (wrk with one thread, `mcpx load`,
# whose runtime then has one worker) on CPU 0, the server on CPU 1; unpinned, the three share
# both cores as the scheduler likes. Pinned is steadier; both are worth reporting.
# Loopback only; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=10 ROUNDS=3 CONNS=50 PIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -n) ROUNDS="$2"; shift 2 ;;
    -c) CONNS="$2"; shift 2 ;;
    --pin) PIN=1; shift ;;
    *) echo "usage: run.sh [-d SECS] [-n ROUNDS] [-c CONNS] [--pin]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk jq bc /usr/bin/time taskset
PORT=18700
SERVER_CPU=() GEN_CPU=() WRK_PIN=()
if [ "$PIN" = 1 ]; then SERVER_CPU=(taskset -c 1); GEN_CPU=(taskset -c 0); WRK_PIN=(--wrk-cpus 0 -t 1); fi
start() { PORT=$((PORT + 1)); timeout $((DUR * 3 + 60)) "${SERVER_CPU[@]}" "$MCPX" serve --port "$PORT" --response-mode json >/dev/null 2>&1 & SPID=$!
  PIDS+=("$SPID"); wait_up "$PORT"; }
stop() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=""; }
printf 'round\tgenerator\treq/s\tcpu_us/req\tuser_us/req\tsys_us/req\tmax_rss_MiB\n'
# Every row also goes to $WORK/rows for the medians at the end.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$WORK/rows"; }
for r in $(seq "$ROUNDS"); do
  start
  out=$(bash bench/perf/bench-server.sh "http://127.0.0.1:$PORT/mcp" -c "$CONNS" -d "$DUR" --warmup 1 "${WRK_PIN[@]}" --gen-time "$WORK/wrk.time" 2>&1 | tail -1)
  rps=$(grep -o 'rps=[0-9.]*' <<<"$out" | cut -d= -f2); n=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
  read -r u s m _ <"$WORK/wrk.time"
  row "$r" wrk "$rps" "$(per_req "($u + $s)" "$n")" "$(per_req "$u" "$n")" "$(per_req "$s" "$n")" "$(echo "$m / 1024" | bc -l | xargs printf '%.1f')"
  stop; start
  /usr/bin/time -f "%U %S %M" -o "$WORK/mcpx.time" "${GEN_CPU[@]}" "$MCPX" load "http://127.0.0.1:$PORT/mcp" \
    --scenario bench/generator/one-tool.toml --users "$CONNS" --duration "${DUR}s" --drain 1s \
    --allow-destructive --no-progress --json "$WORK/gen.json" >/dev/null
  n=$(jq '[.methods[] | select(.name == "tools/call") | .requests] | add' "$WORK/gen.json")
  el=$(jq '.elapsed_us' "$WORK/gen.json")
  read -r u s m <"$WORK/mcpx.time"
  row "$r" mcpx-load "$(echo "$n * 1000000 / $el" | bc -l | xargs printf '%.1f')" \
    "$(per_req "($u + $s)" "$n")" "$(per_req "$u" "$n")" "$(per_req "$s" "$n")" "$(echo "$m / 1024" | bc -l | xargs printf '%.1f')"
  stop
done
# The medians, and mcpx load's ratios to wrk taken round by round (the machine's load moves
# both generators of a round alike), then their median.
awk -F'\t' '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  $2 == "wrk" { w++; wr[w] = $3; wc[w] = $4 }
  $2 == "mcpx-load" { m++; mr[m] = $3; mc[m] = $4; rr[m] = $3 / wr[m]; rc[m] = $4 / wc[m] }
  END {
    if (!m) exit
    printf "median\twrk\t%.1f\t%.2f\n", median(wr, w), median(wc, w)
    printf "median\tmcpx-load\t%.1f\t%.2f\n", median(mr, m), median(mc, m)
    printf "median ratio (mcpx-load / wrk, per round)\treq/s %.2fx\tcpu_us/req %.2fx\n", median(rr, m), median(rc, m)
  }' "$WORK/rows"
