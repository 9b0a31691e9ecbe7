#!/usr/bin/env bash
# bench/overload/run.sh [-d SECS] [-c CAP] [-r RATE] [-u USERS]
#
# Load shedding at about twice capacity (issue 7). `mcpx serve --mock claude --scenario
# bench/overload/steady.toml` (the Claude-like target with every tool taking a constant 50 ms)
# with `--max-in-flight CAP` admits at most CAP / 0.05 s = 20 x CAP calls per second (Little's
# law): 400/s at the default CAP = 20. First a calibration run at RATE/4 (half the capacity)
# shows the unshed p99; then `mcpx load` in the open model (`--call-rate RATE --users USERS`,
# the same scenario, latency from the intended send time) offers RATE = 2x capacity.
# Prints offered vs admitted calls/s, the refusals (HTTP 503 with Retry-After, and 429 per
# session), the admitted tools/call p50/p99, and the server's own counters from /metrics.
# Generator and server share the machine: run it on a quiet machine only. Loopback only; every
# process is bounded in time.
#
# MCPX_BIN=target/debug/mcpx bench/overload/run.sh -d 2 -r 100   # a smoke run of the script
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=20 CAP=20 RATE=800 USERS=100
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -c) CAP="$2"; shift 2 ;;
    -r) RATE="$2"; shift 2 ;;
    -u) USERS="$2"; shift 2 ;;
    *) echo "usage: run.sh [-d SECS] [-c CAP] [-r RATE] [-u USERS]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
. bench/lib.sh
need jq
BOUND=$((DUR * 4 + 60))
PORT=18820
timeout "$((BOUND * 3))" "$MCPX" serve --port "$PORT" --mock claude --scenario bench/overload/steady.toml \
  --max-in-flight "$CAP" >/dev/null 2>&1 & SPID=$!; PIDS+=("$SPID")
wait_up "$PORT"

load() { # RATE OUT.json
  timeout "$BOUND" "$MCPX" load "http://127.0.0.1:$PORT/mcp" --call-rate "$1" --users "$USERS" \
    --scenario bench/overload/steady.toml --duration "${DUR}s" --drain 2s --no-progress --json "$2" \
    >/dev/null 2>&1 || true # refusals count as errors; the numbers are what matter here
}
call() { jq -r --arg k "$2" '.methods[] | select(.name == "tools/call") | .[$k]' "$1"; }
pct() { jq -r --arg k "$2" '.methods[] | select(.name == "tools/call") | .latency_us[$k]' "$1"; }
# HTTP refusals with status $2: of tools/call, and of every method (initialize, discover, ...).
refused_call() { jq -r --arg s "$2" '.methods[] | select(.name == "tools/call") | .errors_by_class.http[$s] // 0' "$1"; }
refused_all() { jq -r --arg s "$2" '[.methods[] | .errors_by_class.http[$s] // 0] | add' "$1"; }
report() { # LABEL RATE FILE
  # `answered` counts successful answers only (refusals are `failed`); latency is theirs.
  printf '%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s/%s\n' "$1" "$2" \
    "$(jq -r --argjson d "$DUR" '.methods[] | select(.name == "tools/call") | .requests / $d' "$3")" \
    "$(jq -r --argjson d "$DUR" '.methods[] | select(.name == "tools/call") | .answered / $d' "$3")" \
    "$(refused_call "$3" 503)" "$(refused_all "$3" 503)" "$(refused_all "$3" 429)" \
    "$(pct "$3" p50)" "$(pct "$3" p99)"
}
printf 'run\t--call-rate\tcalls sent/s\tcalls admitted/s\tcalls 503\tall 503\tall 429\tadmitted calls p50/p99 us\n'
load "$((RATE / 4))" "$WORK/calibrate.json"
report calibration "$((RATE / 4))" "$WORK/calibrate.json"
load "$RATE" "$WORK/overload.json"
report overload "$RATE" "$WORK/overload.json"
echo "server /metrics:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^mcpx_(rejections_total|requests_total\{method="(tools/call|refused)")' || true
