#!/usr/bin/env bash
# run-all.sh [load|sessions|all] [--layouts shared,pinned] [--only REGEX] [-d SECS] [--warmup SECS]
#            [-c N] [-n SESSIONS] [--check-all] [--out NAME]   (load rows go to results/raw/NAME.tsv; default load)
#
# Starts each peer server on 127.0.0.1, runs bench-server.sh (load) and/or sessions-rss.py
# (memory per session) against it, stops it, and appends results under results/raw/.
# Then prints the markdown table (summarize.py).
#
# Servers (a config is NAME:KIND:FLAGS):
#   hyper-baseline            fixed JSON body, no MCP at all (HTTP-stack ceiling)
#   rmcp-*                    ./rmcp-peer (official Rust SDK rmcp 3.11)
#   ts-*                      ../peers/ts/server.mjs (official TS SDK), if ../peers is set up
#   py-*                      ../peers/py/server.py (official Python SDK, MCPServer/FastMCP), if set up
#   mcpx-*                    $MCPX_BIN serve (set MCPX_BIN to the release binary, e.g. target/release/mcpx)
# CPU layouts (this box has 2 cores; server and load generator share them):
#   shared   server and wrk both unpinned (wrk -t2)
#   pinned   server on CPU 1 (taskset), wrk on CPU 0 (-t1)
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
PEERS="$HERE/../peers"
case "${1:-}" in  # the mode is optional: "./run-all.sh --only rmcp" means "all"
  load | sessions | all) WHAT=$1; shift ;;
  "" | -*) WHAT=all ;;
  *) echo "usage: run-all.sh [load|sessions|all] [options] (got '$1')" >&2; exit 2 ;;
esac
OUTNAME=load LAYOUTS=shared,pinned ONLY="." WARM=3 DUR=10 CONNS=50 NSESS=10000 CHECK=()
while [ $# -gt 0 ]; do
  case "$1" in
    --layouts) LAYOUTS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -d) DUR="$2"; shift 2 ;;
    --warmup) WARM="$2"; shift 2 ;;
    -c) CONNS="$2"; shift 2 ;;
    -n) NSESS="$2"; shift 2 ;;
    --check-all) CHECK=(--check-all); shift ;;
    --out) OUTNAME="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
RAW="$HERE/results/raw"; mkdir -p "$RAW"
TSV="$RAW/$OUTNAME.tsv"; SESS="$RAW/sessions.jsonl"; LOG="$RAW/run.log"
TTL=300   # every server exits by itself after this many seconds

[ -x target/release/rmcp-peer ] && [ -x target/release/hyper-baseline ] || cargo build --release
NODE="" PY=""
if [ -f "$PEERS/lib.sh" ] && [ -d "$PEERS/node_modules" ]; then NODE=$(bash -c ". '$PEERS/lib.sh'; echo \$NODE"); fi
if [ -x "$PEERS/.venv/bin/python" ]; then PY="$PEERS/.venv/bin/python"; fi

# name|command template ({PORT}); the rmcp peer takes `text`, the TS/Py peers `message` (bench auto-detects)
CONFIGS=(
  "hyper-baseline|target/release/hyper-baseline {PORT} --ttl $TTL"
  "rmcp-stateful-sse|target/release/rmcp-peer {PORT} --ttl $TTL"
  "rmcp-stateless-sse|target/release/rmcp-peer {PORT} --ttl $TTL --stateless"
  "rmcp-stateless-json|target/release/rmcp-peer {PORT} --ttl $TTL --stateless --json-response"
)
if [ -n "$NODE" ]; then CONFIGS+=(
  "ts-stateful-sse|$NODE $PEERS/ts/server.mjs --quiet --port {PORT} --ttl $TTL"
  "ts-stateful-json|$NODE $PEERS/ts/server.mjs --quiet --port {PORT} --ttl $TTL --json-response"
  "ts-stateless-json|$NODE $PEERS/ts/server.mjs --quiet --port {PORT} --ttl $TTL --stateless --json-response"
); else echo "# peers/ TS server not set up: skipping ts-*" | tee -a "$LOG"; fi
if [ -n "$PY" ]; then CONFIGS+=(
  "py-stateful-sse|$PY $PEERS/py/server.py --port {PORT} --ttl $TTL"
  "py-stateful-json|$PY $PEERS/py/server.py --port {PORT} --ttl $TTL --json-response"
  "py-stateless-json|$PY $PEERS/py/server.py --port {PORT} --ttl $TTL --stateless --json-response"
); else echo "# peers/ Python server not set up: skipping py-*" | tee -a "$LOG"; fi
# mcpx from this checkout (built in release by the script unless MCPX_BIN points elsewhere).
MCPX_BIN=${MCPX_BIN:-$HERE/../../target/release/mcpx}
[ -x "$MCPX_BIN" ] || (cd "$HERE/../.." && cargo build --release -p mcpx-cli)
# The same server with the system allocator instead of mimalloc (session-memory comparison).
MCPX_SYSTEM_BIN=${MCPX_SYSTEM_BIN:-$HERE/../../target/system-alloc/release/mcpx}
if [[ "mcpx-system-alloc" =~ $ONLY ]] && [ ! -x "$MCPX_SYSTEM_BIN" ]; then
  (cd "$HERE/../.." && cargo build --release -p mcpx-cli --no-default-features --target-dir target/system-alloc)
fi
CONFIGS+=(
  "mcpx-system-alloc-json|$MCPX_SYSTEM_BIN serve --port {PORT} --response-mode json"
  "mcpx-stateful-auto|$MCPX_BIN serve --port {PORT}"
  "mcpx-stateful-json|$MCPX_BIN serve --port {PORT} --response-mode json"
  "mcpx-stateful-sse|$MCPX_BIN serve --port {PORT} --response-mode sse"
)

PORT=18300
SPID=""
stop_server() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  SPID=""
}
trap stop_server EXIT

start_server() { # cmd-template cpus -> sets SPID, URL
  local tmpl="$1" cpus="$2"
  PORT=$((PORT + 1))
  local cmd=${tmpl//\{PORT\}/$PORT}
  local pin=(); [ -n "$cpus" ] && pin=(taskset -c "$cpus")
  # shellcheck disable=SC2086
  "${pin[@]}" $cmd >"$RAW/server-$PORT.log" 2>&1 &
  SPID=$!
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
    kill -0 "$SPID" 2>/dev/null || { cat "$RAW/server-$PORT.log" >&2; return 1; }
    sleep 0.1
  done
  (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || { echo "server did not start: $cmd" >&2; return 1; }
  URL="http://127.0.0.1:$PORT/mcp"
  sleep 0.5
}

echo "# $(date -u +%FT%TZ) run-all $WHAT layouts=$LAYOUTS d=$DUR c=$CONNS n=$NSESS $(nproc) cpus" | tee -a "$LOG"
for cfg in "${CONFIGS[@]}"; do
  name=${cfg%%|*}; tmpl=${cfg#*|}
  [[ "$name" =~ $ONLY ]] || continue
  if [[ "$WHAT" =~ ^(load|all)$ ]]; then
    for layout in ${LAYOUTS//,/ }; do
      case "$layout" in
        shared) scpu="" wcpu=() ;;
        pinned) scpu=1 wcpu=(--wrk-cpus 0) ;;
        *) echo "unknown layout $layout" >&2; exit 2 ;;
      esac
      sess_variants=(1); [[ "$name" =~ stateful ]] && sess_variants=(1 "$CONNS")
      extra=(); [[ "$name" =~ ^hyper ]] && extra=(--non-mcp)
      for k in "${sess_variants[@]}"; do
        start_server "$tmpl" "$scpu" || { echo "$name: start failed" | tee -a "$LOG"; continue; }
        ./bench-server.sh "$URL" -c "$CONNS" -d "$DUR" --sessions "$k" --warmup "$WARM" "${wcpu[@]}" --pid "$SPID" "${CHECK[@]}" "${extra[@]}" \
          --label "$name/$layout" --tsv "$TSV" 2>&1 | tee -a "$LOG" || echo "$name/$layout: bench FAILED" | tee -a "$LOG"
        stop_server
        sleep 1
      done
    done
  fi
  if [[ "$WHAT" =~ ^(sessions|all)$ ]] && [[ "$name" =~ stateful-sse ]]; then
    start_server "$tmpl" "" || { echo "$name: start failed" | tee -a "$LOG"; continue; }
    timeout 300 python3 ./sessions-rss.py "$URL" --pid "$SPID" -n "$NSESS" -j 4 --checkpoints 1000,5000 \
      --delete --label "$name" --json --max-seconds 240 2>&1 | tee "$RAW/sessions-$name.out" | grep -v '^{' | tee -a "$LOG" || true
    grep '^{' "$RAW/sessions-$name.out" >>"$SESS" || true
    stop_server
    sleep 1
  fi
done
python3 ./summarize.py "$TSV" "$SESS"
