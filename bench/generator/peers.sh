#!/usr/bin/env bash
# bench/generator/peers.sh [-d SECS] [-c USERS]
#
# `mcpx load` against the official Rust SDK: rmcp 3.11 (bench/perf/rmcp-peer, one `echo` tool,
# built here in release when missing) in its three modes: stateful (every answer is an SSE
# stream: rmcp's only stateful mode), stateless with SSE answers, stateless with JSON answers.
# Per mode, each against a fresh rmcp-peer:
#   one-tool   `mcpx load URL --scenario bench/generator/one-tool.toml --users USERS` (one
#              session per user, back-to-back `tools/call echo`, no waits: a closed model);
#   claude     `mcpx load URL --rate 20 --time-scale 0.05 --allow-destructive`: the built-in
#              Claude profile, its tools found by discovery (rmcp's `echo`, arguments generated
#              from its inputSchema; it has no annotations, so by the spec's defaults it may be
#              destructive and is called only with --allow-destructive);
#   wrk        bench/perf/bench-server.sh (unique JSON-RPC ids, USERS connections), the reference.
# Checks every `mcpx load` run: exit 0, no error of any kind (connect, TLS, timeout, protocol,
# HTTP status, JSON-RPC code, `isError`) but those the Claude profile earns from a tools-only
# server (see check below), and at least one answered tools/call. Prints per run req/s,
# tools/call p50/p99 (ms), the generator's CPU per request (user+sys from /usr/bin/time) and the
# server's (from /proc). Exit 1 when a check fails, 2 on usage or setup errors.
# Loopback only; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=10 USERS=50
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -c) USERS="$2"; shift 2 ;;
    *) echo "usage: peers.sh [-d SECS] [-c USERS]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh
need jq wrk bc /usr/bin/time
RMCP=bench/perf/target/release/rmcp-peer
[ -x "$RMCP" ] || (cd bench/perf && cargo build --release --bin rmcp-peer)
PORT=$((19100 + RANDOM % 300))
FAILED=0
# start MODE_FLAGS...: a fresh rmcp-peer (its own pid in SPID, for its CPU time).
start() {
  PORT=$((PORT + 1))
  # shellcheck disable=SC2068
  "$RMCP" "$PORT" --ttl $((DUR * 3 + 60)) $@ >/dev/null 2>&1 & SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/mcp" && break; sleep 0.1; done
  T0=$(ticks "$SPID")
}
stop() { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
server_us() { per_req "($(ticks "$SPID") - $T0) / $TCK" "$1"; }
# check MODE RUN JSON CODE: the checks above; prints the row. Errors the Claude profile earns
# from a server that serves tools only are allowed (PROFILE.md 1.1-1.2): claude.ai lists prompts
# and resources whether advertised or not (`-32601`, or 404 in the stateless era), and Claude Code
# opens a GET stream that a stateless server refuses with 405 (it then stops). Any other error of
# any method fails the check.
check() {
  local mode=$1 run=$2 json=$3 code=$4 why=""
  [ "$code" = 0 ] || why="exit $code"
  local answered unexpected allowed
  answered=$(jq '[.methods[] | select(.name == "tools/call") | .answered] | add // 0' "$json")
  unexpected=$(jq -r '[.methods[] | select(.errors > 0)
    | select(((.name == "GET") and ((.errors_by_class.http | keys) == ["405"]) and (.errors == .errors_by_class.http["405"]))
      or ((.name == "prompts/list" or .name == "resources/list")
          and ((.errors_by_class.http | keys) - ["404"] | length) == 0
          and ((.errors_by_class.jsonrpc | keys) - ["-32601"] | length) == 0
          and (.errors == ((.errors_by_class.http | add // 0) + (.errors_by_class.jsonrpc | add // 0)))) | not)
    | "\(.name): \(.errors_by_class | del(.timeout_by_deadline) | tojson)"] | join("; ")' "$json")
  [ -z "$unexpected" ] || why="$why; unexpected errors: $unexpected"
  allowed=$(jq -r '[.methods[] | select(.errors > 0) | "\(.name) \(.errors)"] | join(", ")' "$json")
  [ "$answered" -gt 0 ] || why="$why; no tools/call answered"
  local rps p50 p99 total
  total=$(jq '.summary.requests' "$json")
  rps=$(jq '[.methods[] | select(.name == "tools/call") | .answered] | add // 0 | . * 1000000' "$json")
  rps=$(echo "$rps / $(jq '.elapsed_us' "$json")" | bc -l | xargs printf '%.0f')
  p50=$(jq '.methods[] | select(.name == "tools/call") | .latency_us.p50 / 1000' "$json")
  p99=$(jq '.methods[] | select(.name == "tools/call") | .latency_us.p99 / 1000' "$json")
  read -r u s _ <"$WORK/time"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$run" "$total" "$answered" "$rps" "$p50/$p99" \
    "$(per_req "($u + $s)" "$total")" "$(server_us "$total")" "${why:-ok${allowed:+ (allowed: $allowed)}}"
  if [ -n "$why" ]; then FAILED=1; fi
}
# load_run MODE RUN FLAGS...: `mcpx load` against the running peer for DUR seconds, then check.
load_run() {
  local mode=$1 run=$2 code; shift 2
  set +e
  /usr/bin/time -f "%U %S %M" -o "$WORK/time" timeout $((DUR + 60)) "$MCPX" load "http://127.0.0.1:$PORT/mcp" \
    --duration "${DUR}s" --no-progress --json "$WORK/$run.json" "$@" >"$WORK/$run.out" 2>&1
  code=$?
  set -e
  [ -s "$WORK/$run.json" ] || { cat "$WORK/$run.out" >&2; echo "peers.sh: no report from $mode/$run" >&2; exit 1; }
  check "$mode" "$run" "$WORK/$run.json" "$code"
}
printf 'mode\trun\trequests\tcalls answered\tcalls/s\tcall p50/p99 ms\tgenerator us/req\tserver us/req\tcheck\n'
for mode in "stateful-sse|" "stateless-sse|--stateless" "stateless-json|--stateless --json-response"; do
  name=${mode%%|*} flags=${mode#*|}
  # shellcheck disable=SC2086
  start $flags
  load_run "$name" one-tool --scenario bench/generator/one-tool.toml --users "$USERS" --drain 1s \
    --allow-destructive
  stop
  # shellcheck disable=SC2086
  start $flags
  load_run "$name" claude --rate 20 --time-scale 0.05 --drain 2s --allow-destructive
  stop
  # shellcheck disable=SC2086
  start $flags
  out=$(bash bench/perf/bench-server.sh "http://127.0.0.1:$PORT/mcp" -c "$USERS" -d "$DUR" --warmup 1 \
    --gen-time "$WORK/wrk.time" 2>&1 | tail -1)
  n=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
  rps=$(grep -o 'rps=[0-9.]*' <<<"$out" | cut -d= -f2)
  p50=$(grep -o 'p50_ms=[0-9.]*' <<<"$out" | cut -d= -f2)
  p99=$(grep -o 'p99_ms=[0-9.]*' <<<"$out" | cut -d= -f2)
  read -r u s _ <"$WORK/wrk.time"
  # The server's CPU over wrk's run includes its warm-up and set-up requests: a slight overcount.
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" wrk "$n" "$n" "${rps%.*}" "$p50/$p99" \
    "$(per_req "($u + $s)" "$n")" "$(server_us "$n")" "$(grep -o 'verify=[a-z]*' <<<"$out")"
  stop
done
exit "$FAILED"
