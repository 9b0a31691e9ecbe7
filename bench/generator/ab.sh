#!/usr/bin/env bash
# bench/generator/ab.sh A B [-d SECS] [-n ROUNDS] [-c CONNS]
#
# Two builds of `mcpx load` and wrk, round by round, pinned as bench/generator/run.sh --pin
# pins (generator on CPU 0, the server on CPU 1): each round runs wrk (bench/perf/bench-server.sh,
# unique ids), then build A, then build B, each against a fresh `mcpx serve --response-mode json`
# (build B's server), with the same number of connections / users, and prints per run the
# requests, generator CPU per request (user + sys from /usr/bin/time), its user and kernel parts
# and voluntary context switches per request. On this shared machine the load moves from
# minute to minute: compare the builds within rounds, not across them.
# Loopback only; every process is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: ab.sh A B [-d SECS] [-n ROUNDS] [-c CONNS]" >&2; exit 2; }
A="$1" B="$2"; shift 2
DUR=5 ROUNDS=5 CONNS=50
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -n) ROUNDS="$2"; shift 2 ;;
    -c) CONNS="$2"; shift 2 ;;
    *) echo "usage: ab.sh A B [-d SECS] [-n ROUNDS] [-c CONNS]" >&2; exit 2 ;;
  esac
done
for b in "$A" "$B"; do [ -x "$b" ] || { echo "ab.sh: $b is not an executable" >&2; exit 2; }; done
# The servers are build B's (as MCPX_BIN, so bench/lib.sh builds nothing).
MCPX_BIN=$B
# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk jq bc taskset /usr/bin/time
PORT=$((18900 + RANDOM % 200))
printf 'round\tgenerator\trequests\tcpu_us/req\tuser_us/req\tsys_us/req\tvcs/req\n'
for r in $(seq "$ROUNDS"); do
  for v in wrk A B; do
    PORT=$((PORT + 1))
    timeout $((DUR + 60)) taskset -c 1 "$B" serve --port "$PORT" --response-mode json >/dev/null 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    wait_up "$PORT"
    if [ "$v" = wrk ]; then
      out=$(bash bench/perf/bench-server.sh "http://127.0.0.1:$PORT/mcp" -c "$CONNS" -d "$DUR" --warmup 1 \
        --wrk-cpus 0 -t 1 --gen-time "$WORK/time" 2>&1 | tail -1)
      n=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
    else
      bin=$A; [ "$v" = B ] && bin=$B
      /usr/bin/time -f "%U %S %M %w %c" -o "$WORK/time" taskset -c 0 "$bin" load "http://127.0.0.1:$PORT/mcp" \
        --scenario bench/generator/one-tool.toml --users "$CONNS" --duration "${DUR}s" --drain 1s \
        --allow-destructive --no-progress --json "$WORK/r.json" >/dev/null
      n=$(jq '[.methods[] | select(.name == "tools/call") | .requests] | add' "$WORK/r.json")
    fi
    read -r u s _ w _ <"$WORK/time"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$n" "$(per_req "($u + $s)" "$n")" "$(per_req "$u" "$n")" \
      "$(per_req "$s" "$n")" "$(echo "$w / $n" | bc -l | xargs printf '%.3f')"
    kill "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  done
done
