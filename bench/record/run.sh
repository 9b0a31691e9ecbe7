#!/usr/bin/env bash
# bench/record/run.sh [-d SECS] [-n ROUNDS] [-r RATE] [-u USERS]
#
# The latency `mcpx record` adds (issue 6: at most 100 us at p99 over direct at 5,000 req/s on
# the 2 shared cores), beside a peer: HAProxy in HTTP mode (one thread, keep-alive both ways,
# recording nothing), the reference for what any HTTP/1.1 reverse proxy adds on this machine.
# Each round runs the same open-model load, `mcpx load --call-rate RATE`
# (bench/generator/one-tool.toml: tools/call echo on USERS sessions, latency from the intended
# send time, the schedule on a timerfd) against one `mcpx serve --response-mode json`: directly,
# through HAProxy (when installed: `apt-get install haproxy`; skipped otherwise) and through
# `mcpx record` (trace written to a temp file). Prints the tools/call p50/p99/p99.9 of each, the
# p99 each proxy adds and each proxy's CPU per request (user+sys from /proc over its load), and
# their medians over the rounds, also as ratios (mcpx record over HAProxy, same rounds).
# RECORD_ARGS adds flags to `mcpx record` (e.g. RECORD_ARGS="--threads 2"). Generator, proxies and server share the
# machine: run it on a quiet machine only. Loopback only; every process is bounded in time.
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
# shellcheck source=bench/lib.sh
. bench/lib.sh
need jq
BOUND=$((DUR * 4 + 60))
LIFE=$((BOUND * ROUNDS * 3))
PORT=18800
timeout "$LIFE" "$MCPX" serve --port "$PORT" --response-mode json >/dev/null 2>&1 & PIDS+=("$!")
wait_up "$PORT"
# The proxy runs for the whole benchmark; its trace goes to $WORK.
PPORT=18801
# shellcheck disable=SC2086 # RECORD_ARGS is a list of flags
timeout "$LIFE" "$MCPX" record --listen "127.0.0.1:$PPORT" \
  --upstream "http://127.0.0.1:$PORT/mcp" --out "$WORK/trace.jsonl" \
  --duration "${LIFE}s" ${RECORD_ARGS:-} >"$WORK/record.out" 2>&1 & RPID=$!; PIDS+=("$RPID")
wait_up "$PPORT"
# The processes themselves (children of `timeout`), for their CPU time.
child() { pgrep -P "$1" | head -1; }
RCPU=$(child "$RPID")
HPORT=""
if command -v haproxy >/dev/null; then
  HPORT=18802
  cat >"$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend mcp
  bind 127.0.0.1:$HPORT
  default_backend server
backend server
  http-reuse always
  server s1 127.0.0.1:$PORT
CFG
  timeout "$LIFE" haproxy -f "$WORK/haproxy.cfg" >"$WORK/haproxy.out" 2>&1 & HPID=$!; PIDS+=("$HPID")
  wait_up "$HPORT"
  HCPU=$(child "$HPID")
else
  echo "# haproxy not installed (apt-get install haproxy): no peer column" >&2
fi

load() { # URL OUT.json
  rm -f "$2"
  timeout "$BOUND" "$MCPX" load "$1" --scenario bench/generator/one-tool.toml --call-rate "$RATE" \
    --users "$USERS" --duration "${DUR}s" --drain 1s --allow-destructive --no-progress \
    --json "$2" >/dev/null
}
# load_cpu PID URL OUT.json: the load, and PID's CPU µs per tools/call over it (in CPU_US).
load_cpu() { local t0; t0=$(ticks "$1"); load "$2" "$3"
  CPU_US=$(awk -v t="$(( $(ticks "$1") - t0 ))" -v k="$TCK" -v n="$(pct "$3" count)" \
    'BEGIN { printf "%.1f", t * 1e6 / k / n }'); }
pct() { jq -r --arg k "$2" '.methods[] | select(.name == "tools/call") | .latency_us[$k]' "$1"; }
trio() { echo "$(pct "$1" p50)/$(pct "$1" p99)/$(pct "$1" p999)"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf 'round\tdirect p50/p99/p99.9 us\thaproxy p50/p99/p99.9 us\tmcpx record p50/p99/p99.9 us\tadded p99 haproxy / mcpx record us\tproxy CPU us/req haproxy / mcpx record\n'
radd=() hadd=() rcpu=() hcpu=()
for r in $(seq "$ROUNDS"); do
  load "http://127.0.0.1:$PORT/mcp" "$WORK/direct.json"
  htrio=- hlast=- hc=-
  if [ -n "$HPORT" ]; then
    load_cpu "$HCPU" "http://127.0.0.1:$HPORT/mcp" "$WORK/haproxy.json"; hc=$CPU_US; hcpu+=("$hc")
  fi
  load_cpu "$RCPU" "http://127.0.0.1:$PPORT/mcp" "$WORK/record.json"; rcpu+=("$CPU_US")
  d99=$(pct "$WORK/direct.json" p99)
  radd+=($(( $(pct "$WORK/record.json" p99) - d99 )))
  if [ -n "$HPORT" ]; then
    hadd+=($(( $(pct "$WORK/haproxy.json" p99) - d99 ))); htrio=$(trio "$WORK/haproxy.json"); hlast=${hadd[-1]}
  fi
  printf '%s\t%s\t%s\t%s\t%s / %s\t%s / %s\n' "$r" "$(trio "$WORK/direct.json")" "$htrio" \
    "$(trio "$WORK/record.json")" "$hlast" "${radd[-1]}" "$hc" "$CPU_US"
done
rmed=$(printf '%s\n' "${radd[@]}" | median)
rcmed=$(printf '%s\n' "${rcpu[@]}" | median)
echo "median added p99, mcpx record: ${rmed} us at ${RATE} req/s (issue 6: <= 100 us); CPU ${rcmed} us/req"
if [ -n "$HPORT" ]; then
  hmed=$(printf '%s\n' "${hadd[@]}" | median)
  hcmed=$(printf '%s\n' "${hcpu[@]}" | median)
  echo "median added p99, haproxy (http mode, 1 thread, no recording): ${hmed} us; CPU ${hcmed} us/req"
  awk -v r="$rmed" -v h="$hmed" -v rc="$rcmed" -v hc="$hcmed" 'BEGIN {
    if (h > 0) printf "mcpx record adds %.2fx what haproxy adds at p99, at %.2fx its CPU per request (same rounds)\n", r / h, rc / hc }'
fi
# Stop the proxy (SIGTERM: it drains and prints its summary, dropped trace events included).
kill -TERM "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
grep -h 'exchanges,' "$WORK/record.out" || true
echo "trace: $(wc -l <"$WORK/trace.jsonl") lines written by mcpx record"
