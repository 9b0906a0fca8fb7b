#!/bin/sh
# Load test (README "Load"): one `trustwatch poll --once` over many sources on one
# loopback host, on a fresh store, measured.
#
#   scripts/load.sh [http|file]
#
#   http (default)  scripts/load_server.py serves the feeds on 127.0.0.1 (port 0, so
#                   it never collides); every source is on that one host, so per-host
#                   pacing (src/fetch.rs MIN_HOST_GAP) applies to all of them.
#   file            the same feeds written to disk and configured as file:// URLs
#                   (no HTTP, no pacing): the cost of parsing and recording alone.
#
# Environment: LOAD_SOURCES (default 2000), LOAD_ENTRIES per feed (50, dated evenly
# over the last two years), LOAD_BACKFILL (poll.backfill, "90d"), LOAD_KEEP=1 keeps
# the work directory, CARGO_TARGET_DIR as cargo has it, LOAD_NO_BUILD=1 skips
# `cargo build --release --locked` (the binary must then exist).
#
# Prints: wall time, peak RSS, findings reported (JSON lines on stdout) and recorded
# (reported + held back by backfill or chat.notify, from `trustwatch status`), sources
# that failed, and requests served (the server's own count).
set -eu

mode=${1:-http}
case $mode in
  http | file) ;;
  *)
    echo "usage: $0 [http|file]" >&2
    exit 2
    ;;
esac
sources=${LOAD_SOURCES:-2000}
entries=${LOAD_ENTRIES:-50}
backfill=${LOAD_BACKFILL:-90d}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/trustwatch

work=$(mktemp -d "${TMPDIR:-/tmp}/trustwatch-load.XXXXXX")
server_pid=

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${LOAD_KEEP:-0}" = 1 ]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { python3 -c 'import time; print("%.3f" % time.time())'; }

if [ "${LOAD_NO_BUILD:-0}" != 1 ]; then
  echo "== cargo build --release --locked (target: $target)" >&2
  cargo build --release --locked >&2
fi
[ -x "$bin" ] || {
  echo "no binary at $bin" >&2
  exit 1
}

# The feeds: served over loopback, or written as files.
if [ "$mode" = http ]; then
  python3 scripts/load_server.py serve --feeds "$sources" --entries "$entries" \
    --port-file "$work/port" &
  server_pid=$!
  i=0
  while [ ! -s "$work/port" ]; do
    kill -0 "$server_pid" 2>/dev/null || {
      echo "the feed server did not start" >&2
      exit 1
    }
    i=$((i + 1))
    [ "$i" -le 300 ] || {
      echo "the feed server did not write its port within 30 s" >&2
      exit 1
    }
    sleep 0.1
  done
  port=$(cat "$work/port")
  base="http://127.0.0.1:$port"
else
  python3 scripts/load_server.py write --feeds "$sources" --entries "$entries" \
    --dir "$work/feeds"
  base="file://$work/feeds"
fi

# The config: 100 feeds per vendor, on the one host. No allow_private_addresses:
# configured sources are fetched as written (only the address guard of other URLs
# refuses loopback).
awk -v n="$sources" -v base="$base" -v backfill="$backfill" 'BEGIN {
  printf "[store]\npath = \"data\"\n\n[poll]\nbackfill = \"%s\"\n", backfill
  for (f = 0; f < n; f++) {
    v = int(f / 100)
    if (f % 100 == 0)
      printf "\n[[vendor]]\nname = \"vendor%02d\"\ncontact = \"security@vendor%02d.example\"\n", v, v
    printf "\n[[vendor.feed]]\nurl = \"%s/v%02d/feed-%04d.xml\"\ninterval = \"15m\"\n", base, v, f
  }
}' >"$work/trustwatch.toml"

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
echo "== poll --once: $sources sources ($mode), $entries entries each, backfill $backfill; cores $(nproc 2>/dev/null || echo '?'), load average $load" >&2

set -- "$bin" --config "$work/trustwatch.toml" --data-dir "$work/data" \
  poll --once --format json
start=$(now)
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
  rc=0
  /usr/bin/time -v -o "$work/time" "$@" >"$work/findings.jsonl" 2>"$work/log" || rc=$?
  peak_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
else
  # No GNU time: sample the kernel's high-water mark while the process lives.
  "$@" >"$work/findings.jsonl" 2>"$work/log" &
  pid=$!
  peak_kib=0
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$hwm" ] && peak_kib=$hwm
    sleep 0.2
  done
  rc=0
  wait "$pid" || rc=$?
fi
end=$(now)
if [ "$rc" -ne 0 ]; then
  echo "trustwatch exited $rc; last lines of its log:" >&2
  tail -n 20 "$work/log" >&2
  exit 1
fi

reported=$(wc -l <"$work/findings.jsonl" | tr -d ' ')
"$bin" --config "$work/trustwatch.toml" --data-dir "$work/data" status --format json \
  >"$work/status.json"
if [ "$mode" = http ]; then
  python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "$base/_stats" >"$work/served.json"
else
  echo '{}' >"$work/served.json"
fi

python3 - "$start" "$end" "$peak_kib" "$reported" "$work/status.json" \
  "$work/served.json" "$work/findings.jsonl" "$sources" "$mode" <<'EOF'
import collections, json, sys
start, end, peak, reported = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
status = json.load(open(sys.argv[5]))
served = json.load(open(sys.argv[6]))
kinds = collections.Counter(json.loads(l)["kind"] for l in open(sys.argv[7]) if l.strip())
sources, mode = int(sys.argv[8]), sys.argv[9]
held = status["not_posted"]["backfill"]["count"] + status["not_posted"]["filtered"]["count"]
failed = sum(1 for s in status["sources"] if s["failures"])
wall = end - start
print("mode:               %s" % mode)
print("sources:            %d (%d failed)" % (sources, failed))
print("wall time:          %.1f s (%.1f sources/s)" % (wall, sources / wall))
print("peak RSS:           %.1f MiB" % (peak / 1024))
print("findings reported:  %d (%s)" % (reported, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
print("findings recorded:  %d (%d held back by backfill, %d filtered)" % (
    reported + held, status["not_posted"]["backfill"]["count"], status["not_posted"]["filtered"]["count"]))
print("store size:         %.1f MiB" % (status["store_bytes"] / 1048576))
if mode == "http":
    print("requests served:    %d (200: %d, 304: %d, 404: %d)" % (
        served["requests"], served["ok"], served["not_modified"], served["not_found"]))
EOF
