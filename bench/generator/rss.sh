#!/usr/bin/env bash
# bench/generator/rss.sh [-d SECS] [-r CALLS_PER_S] [-u USERS] [-i SAMPLE_SECS]
#
# The generator's memory over a long run (the issue's "RSS flat and under 30 MiB over a
# 10-minute run at a fixed rate in the one-tool scenario"): `mcpx load` with
# bench/generator/one-tool.toml at a fixed call rate (the call-level open model: -r calls/s
# spread over -u sessions) against `mcpx serve --mock null` on loopback, for -d seconds
# (default 600). Samples the generator's RSS (VmRSS in /proc/PID/status) every -i seconds
# (default 10) and prints each sample, then the verdict:
#   under: the largest sample is below 30 MiB;
#   flat:  after the first sample (start-up: pools, histograms, the tokio runtime warm up), the
#          mean of the last third of the samples exceeds the mean of the first third by less
#          than 10 % (or 1 MiB, for small absolute values). A leak of one small object per
#          request at this rate grows tens of MiB over 10 minutes and fails this.
# Exit 0 when both hold, 1 when either fails, 2 on usage or setup errors. Every process is
# bounded in time and killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=600 RATE=2000 USERS=50 EVERY=10
# The null mock's rank-1 tool (a `local` read-only tool of the profile's target).
TOOL=search_notes
# The issue's bound, and the growth that still counts as flat (see above).
LIMIT_KIB=$((30 * 1024)) FLAT_PCT=10 FLAT_MIN_KIB=1024
while [ $# -gt 0 ]; do
  case "$1" in
    -d) DUR="$2"; shift 2 ;;
    -r) RATE="$2"; shift 2 ;;
    -u) USERS="$2"; shift 2 ;;
    -i) EVERY="$2"; shift 2 ;;
    *) echo "usage: rss.sh [-d SECS] [-r CALLS_PER_S] [-u USERS] [-i SAMPLE_SECS]" >&2; exit 2 ;;
  esac
done
for v in "$DUR" "$RATE" "$USERS" "$EVERY"; do
  [[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] || { echo "rss.sh: arguments must be positive integers" >&2; exit 2; }
done
[ "$DUR" -ge $((EVERY * 3)) ] || { echo "rss.sh: -d must cover at least 3 samples (-i $EVERY)" >&2; exit 2; }
for t in curl pgrep awk; do command -v "$t" >/dev/null || { echo "rss.sh: $t not found" >&2; exit 2; }; done
MCPX=${MCPX_BIN:-target/release/mcpx}
[ -x "$MCPX" ] || cargo build --release -p mcpx-cli
WORK=$(mktemp -d)
SPID="" LPID=""
cleanup() {
  for p in $LPID $SPID; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The target: the null mock answers every call at once, so only the generator is measured.
PORT=$((18800 + RANDOM % 1000))
timeout $((DUR + 120)) "$MCPX" serve --mock null --port "$PORT" >/dev/null 2>&1 &
SPID=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" || { echo "rss.sh: mcpx serve did not start" >&2; exit 2; }

# one-tool.toml calls `echo` (a tool of `mcpx serve`'s fixtures); the null mock serves the
# profile's tools instead, so the same scenario calls its rank-1 tool, with arguments generated
# from its schema at the scenario's fixed size.
sed -e "s/^name = \"echo\"/name = \"$TOOL\"/" -e '/^arguments = { text = "hello" }/d' \
  bench/generator/one-tool.toml >"$WORK/one-tool.toml"
grep -q "^name = \"$TOOL\"" "$WORK/one-tool.toml" || { echo "rss.sh: one-tool.toml has no echo override" >&2; exit 2; }
timeout $((DUR + 60)) "$MCPX" load "http://127.0.0.1:$PORT/mcp" \
  --scenario "$WORK/one-tool.toml" --call-rate "$RATE" --users "$USERS" \
  --duration "${DUR}s" --drain 1s --allow-destructive --no-progress \
  --json "$WORK/rss.json" >"$WORK/load.out" 2>&1 &
LPID=$!
# The RSS sampled is the generator's, not its `timeout` wrapper's.
GPID=""
for _ in $(seq 50); do
  GPID=$(pgrep -P "$LPID" -n || true)
  [ -n "$GPID" ] && break
  sleep 0.1
done
[ -n "$GPID" ] || { echo "rss.sh: mcpx load did not start" >&2; exit 2; }

echo "mcpx load: $RATE calls/s over $USERS sessions for ${DUR}s against mcpx serve --mock null (pid $GPID)"
printf 't_s\trss_MiB\n'
samples=()
t=0
while kill -0 "$GPID" 2>/dev/null && [ "$t" -lt "$DUR" ]; do
  sleep "$EVERY"
  t=$((t + EVERY))
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$GPID/status" 2>/dev/null || true)
  [ -n "$rss" ] || break
  samples+=("$rss")
  printf '%s\t%s\n' "$t" "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')"
done
status=0
wait "$LPID" || status=$?
LPID=""
if [ "$status" -ne 0 ]; then
  echo "rss.sh: mcpx load exited with $status:" >&2
  tail -20 "$WORK/load.out" >&2
  exit 2
fi
calls=$(grep -o '[0-9]* requests in' "$WORK/load.out" | head -1 | cut -d' ' -f1 || true)
echo "mcpx load: ${calls:-?} requests"

n=${#samples[@]}
[ "$n" -ge 3 ] || { echo "rss.sh: only $n samples" >&2; exit 2; }
# Verdict over the samples after the first (start-up).
printf '%s\n' "${samples[@]:1}" | awk -v limit="$LIMIT_KIB" -v pct="$FLAT_PCT" -v minkib="$FLAT_MIN_KIB" '
  { v[NR] = $1; if ($1 > max) max = $1 }
  END {
    third = int(NR / 3); if (third < 1) third = 1
    for (i = 1; i <= third; i++) first += v[i]
    for (i = NR - third + 1; i <= NR; i++) last += v[i]
    first /= third; last /= third
    growth = last - first
    allowed = first * pct / 100; if (allowed < minkib) allowed = minkib
    flat = growth < allowed; under = max < limit
    printf "RSS: max %.1f MiB (limit %.0f MiB): %s\n", max / 1024, limit / 1024, under ? "under" : "OVER"
    printf "RSS: first third %.1f MiB, last third %.1f MiB, growth %.2f MiB (allowed %.2f): %s\n",
      first / 1024, last / 1024, growth / 1024, allowed / 1024, flat ? "flat" : "GROWING"
    printf "verdict: %s\n", (flat && under) ? "PASS (flat and under the limit)" : "FAIL"
    exit (flat && under) ? 0 : 1
  }'
