#!/bin/sh
# Latency (issue 6, target 4): how long a new advisory takes to reach the chat while
# `trustwatch run` is up: from the moment the vendor publishes it to the moment the chat
# sink receives the message, against the target "the source's interval plus 2 s".
#
#   scripts/latency.sh
#
# scripts/latency_server.py serves one RSS feed and a webhook receiver on 127.0.0.1;
# `trustwatch run` polls the feed every LATENCY_INTERVAL (default 5s) and delivers to
# the receiver through a `[[chat.webhook]]` sink (the same outbox and drain task as the
# Discord sink; only the last HTTP request differs). The script publishes
# LATENCY_PROBES (default 8) advisories at random moments of the poll cycle and prints
# each one's latency, the median and the maximum.
#
# Environment: LATENCY_INTERVAL (seconds, default 5), LATENCY_PROBES (8),
# CARGO_TARGET_DIR as cargo has it, LATENCY_NO_BUILD=1 skips the release build.
set -eu

interval=${LATENCY_INTERVAL:-5}
probes=${LATENCY_PROBES:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/trustwatch
work=$(mktemp -d "${TMPDIR:-/tmp}/trustwatch-latency.XXXXXX")
server_pid=
run_pid=

cleanup() {
  for p in $run_pid $server_pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "${LATENCY_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --locked >&2
fi
[ -x "$bin" ] || {
  echo "no binary at $bin" >&2
  exit 1
}

python3 scripts/latency_server.py --port-file "$work/port" &
server_pid=$!
i=0
while [ ! -s "$work/port" ]; do
  i=$((i + 1))
  [ "$i" -le 100 ] || {
    echo "the latency server did not start" >&2
    exit 1
  }
  sleep 0.1
done
base="http://127.0.0.1:$(cat "$work/port")"

cat >"$work/trustwatch.toml" <<EOF
[store]
path = "data"

[[vendor]]
name = "latency"
contact = "security@vendor.example"

[[vendor.feed]]
url = "$base/feed.xml"
interval = "${interval}s"

[[chat.webhook]]
name = "probe"
url_env = "TRUSTWATCH_WEBHOOK_PROBE"
EOF

TRUSTWATCH_WEBHOOK_PROBE="$base/hook" "$bin" --config "$work/trustwatch.toml" \
  --data-dir "$work/data" run >"$work/stdout" 2>"$work/log" &
run_pid=$!

python3 - "$base" "$interval" "$probes" "$run_pid" <<'EOF'
import json, os, random, statistics, sys, time, urllib.request

base, interval, probes, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def stats():
    return json.load(urllib.request.urlopen(base + "/_stats", timeout=5))

def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

# Wait for the first poll (start-up jitter is up to min(interval, 10 s)).
deadline = time.time() + 30
while stats()["polls"] == 0:
    if not alive() or time.time() > deadline:
        sys.exit("trustwatch run never polled the feed; see its log")
    time.sleep(0.05)

latencies = []
for n in range(probes):
    time.sleep(random.uniform(0, interval))  # a random phase of the poll cycle
    title = urllib.request.urlopen(urllib.request.Request(base + "/publish", method="POST"), timeout=5).read().decode()
    limit = time.time() + interval + 30
    while True:
        entry = next(p for p in stats()["published"] if p["title"] == title)
        if entry["arrived"] is not None:
            break
        if not alive() or time.time() > limit:
            sys.exit("probe %d never reached the webhook" % (n + 1))
        time.sleep(0.02)
    latency = entry["arrived"] - entry["published"]
    latencies.append(latency)
    print("probe %d: %.2f s" % (n + 1, latency))

target = interval + 2
print("interval:  %.0f s; target: interval + 2 s = %.0f s" % (interval, target))
print("median:    %.2f s" % statistics.median(latencies))
print("max:       %.2f s (%s)" % (max(latencies), "met" if max(latencies) <= target else "NOT met"))
EOF
