#!/bin/sh
# Comparisons of issue 6 "Performance" (README "Performance"): the release binary
# against the tools an operator would otherwise use, with alternating runs (ours,
# theirs, ours, theirs...), medians, the ratio ours/theirs and peak RSS.
#
#   scripts/bench.sh [big] [small] [poll-file] [poll-http]     (default: all four)
#
#   big        `trustwatch verify` of a 256 MiB package (four incompressible 64 MiB
#              files, deflated, manifest.json signed with `openssl cms -sign -binary`
#              under a CA made here and trusted with `trust add` in a fresh
#              --data-dir) vs `openssl dgst -sha256` over the four files, already
#              extracted. The verdict must be `trusted` (exit 0), else the script fails.
#   small      the same for a ~100 kB package vs `openssl cms -verify` of its manifest
#              signature (-CAfile the root, so openssl checks the chain too). Each
#              run is BENCH_SMALL_REPEAT invocations in a row (default 20), timed
#              together, so process start-up noise averages out.
#   poll-file  one `trustwatch poll --once` on a fresh store over BENCH_SOURCES feeds
#              (2000) of BENCH_ENTRIES items (50, dated over two years: what
#              scripts/load.sh generates) as file:// sources, vs Python feedparser
#              parsing the same documents.
#   poll-http  the same feeds served by scripts/load_server.py on BENCH_HOSTS loopback
#              addresses (200: 127.0.0.2, 127.0.0.3, ...), feed i on host i mod
#              BENCH_HOSTS, vs feedparser fetching each with urllib, one after
#              another. Many hosts because trustwatch paces requests per host
#              (src/fetch.rs MIN_HOST_GAP, 250 ms): 2,000 feeds on one host cannot take
#              less than 500 s (scripts/load.sh measures that case). Configured
#              sources are fetched as written (no address guard, CONTRACT §4), so
#              127.0.0.N URLs need no allow_private_addresses.
#
# Environment: BENCH_RUNS runs of each side (default 5), BENCH_HOSTS, BENCH_SOURCES,
# BENCH_ENTRIES, BENCH_SMALL_REPEAT, BENCH_VENV (a venv with feedparser; default
# $CARGO_TARGET_DIR/bench-venv, made with `pip install feedparser` when missing; if pip
# cannot reach PyPI the poll comparisons are skipped with a message), BENCH_NO_BUILD=1
# skips `cargo build --release --locked` (the binary must exist), BENCH_KEEP=1 keeps
# the work directory, CARGO_TARGET_DIR as cargo has it.
#
# Needs: python3 (with venv), openssl 3; /usr/bin/time -v for peak RSS when present
# (else wait4's ru_maxrss, the same kernel figure).
set -eu

runs=${BENCH_RUNS:-5}
hosts=${BENCH_HOSTS:-200}
sources=${BENCH_SOURCES:-2000}
entries=${BENCH_ENTRIES:-50}
small_repeat=${BENCH_SMALL_REPEAT:-20}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/trustwatch
venv=${BENCH_VENV:-$target/bench-venv}
helper="python3 $root/scripts/bench_helper.py"

if [ "$#" -eq 0 ]; then
  set -- big small poll-file poll-http
fi
for c in "$@"; do
  case $c in
    big | small | poll-file | poll-http) ;;
    *)
      echo "usage: $0 [big] [small] [poll-file] [poll-http]" >&2
      exit 2
      ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/trustwatch-bench.XXXXXX")
server_pid=

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "work directory kept: $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
  echo "bench: $*" >&2
  exit 1
}

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "== cargo build --release --locked (target: $target)" >&2
  cargo build --release --locked >&2
fi
[ -x "$bin" ] || die "no binary at $bin"
command -v openssl >/dev/null || die "openssl is needed"

results=$work/results.jsonl
: >"$results"
echo "== $("$bin" --version); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(nproc 2>/dev/null || echo '?') cores, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown); $runs runs each" >&2

# alternate NAME FRESH_DIR OURS_CMD -- THEIRS_CMD: ours, theirs, ours, theirs...
# The commands come as one string each (word-split on purpose: paths here have no
# spaces, mktemp makes them).
alternate() {
  name=$1 fresh=$2 ours=$3 theirs=$4 repeat=${5:-1}
  i=0
  while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    if [ -n "$fresh" ]; then
      # shellcheck disable=SC2086
      $helper run --out "$results" --name "$name" --side ours --repeat "$repeat" \
        --fresh "$fresh" -- $ours
    else
      # shellcheck disable=SC2086
      $helper run --out "$results" --name "$name" --side ours --repeat "$repeat" -- $ours
    fi
    # shellcheck disable=SC2086
    $helper run --out "$results" --name "$name" --side theirs --repeat "$repeat" -- $theirs
  done
}

# --- A signing PKI, as vendors make it with the openssl CLI ------------------------
pki=$work/pki
mkdir -p "$pki"
cat >"$pki/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
make_pki() {
  (
    cd "$pki"
    for k in root intermediate leaf; do
      openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k.key" 2>/dev/null
    done
    openssl req -x509 -new -key root.key -sha256 -days 3650 \
      -subj "/O=Bench Vendor/CN=Bench Root CA" -extensions ca -config ext.cnf -out root.pem
    openssl req -new -key intermediate.key -subj "/O=Bench Vendor/CN=Bench Signing CA" -out i.csr
    openssl x509 -req -in i.csr -CA root.pem -CAkey root.key -CAcreateserial -CAserial serial.srl \
      -days 3650 -sha256 -extfile ext.cnf -extensions intermediate -out intermediate.pem 2>/dev/null
    openssl req -new -key leaf.key -subj "/O=Bench Vendor/CN=Bench Release Signing" -out l.csr
    openssl x509 -req -in l.csr -CA intermediate.pem -CAkey intermediate.key -CAserial serial.srl \
      -days 365 -sha256 -extfile ext.cnf -extensions leaf -out leaf.pem 2>/dev/null
    rm -f i.csr l.csr
  )
}

# package NAME FILES SIZE: $work/NAME/ (the files, extracted) and $work/NAME.zip
package() {
  d=$work/$1
  $helper payload --dir "$d" --files "$2" --size "$3"
  openssl cms -sign -binary -in "$d/manifest.json" -signer "$pki/leaf.pem" \
    -inkey "$pki/leaf.key" -certfile "$pki/intermediate.pem" -outform DER \
    -out "$d/manifest.json.p7s"
  $helper zip --dir "$d" --out "$work/$1.zip"
}

# A store that trusts the bench root (approved), and its config.
store_ready=
make_store() {
  [ -z "$store_ready" ] || return 0
  make_pki
  printf '[store]\npath = "data"\n\n[[vendor]]\nname = "bench"\ncontact = "security@bench.example"\n' \
    >"$work/verify.toml"
  "$bin" --config "$work/verify.toml" --data-dir "$work/verify-data" \
    trust add "$pki/root.pem" --vendor bench --by bench >/dev/null
  store_ready=1
}

# check_trusted ZIP: fail loudly unless the verdict is `trusted` (exit 0).
check_trusted() {
  rc=0
  "$bin" --config "$work/verify.toml" --data-dir "$work/verify-data" \
    verify "$1" --format json >"$work/verdict.json" || rc=$?
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' \
    "$work/verdict.json" 2>/dev/null || echo unreadable)
  if [ "$rc" -ne 0 ] || [ "$verdict" != trusted ]; then
    cat "$work/verdict.json" >&2
    die "$1: verdict $verdict (exit $rc), expected trusted (exit 0)"
  fi
  echo "  verdict of $(basename "$1"): $verdict" >&2
}

verify_cmd() {
  echo "$bin --config $work/verify.toml --data-dir $work/verify-data verify $1"
}

for c in "$@"; do
  case $c in
    big)
      echo "== big package: 4 x 64 MiB incompressible, deflated" >&2
      make_store
      package big 4 67108864
      echo "  $(du -m "$work/big.zip" | cut -f1) MiB zip" >&2
      check_trusted "$work/big.zip"
      alternate big-package "" "$(verify_cmd "$work/big.zip")" \
        "openssl dgst -sha256 $work/big/bin/part-0.bin $work/big/bin/part-1.bin $work/big/bin/part-2.bin $work/big/bin/part-3.bin"
      rm -rf "$work/big" "$work/big.zip"
      ;;
    small)
      echo "== small package: one 100 kB file; $small_repeat invocations per run" >&2
      make_store
      package small 1 100000
      check_trusted "$work/small.zip"
      s=$work/small
      openssl cms -verify -binary -inform DER -in "$s/manifest.json.p7s" \
        -content "$s/manifest.json" -CAfile "$pki/root.pem" -purpose any \
        -out /dev/null 2>"$work/cms.err" || {
        cat "$work/cms.err" >&2
        die "openssl cms -verify refused the small package's signature"
      }
      # -purpose any: OpenSSL 3.0 has no code-signing purpose; the chain, its
      # signatures and validity are still checked against -CAfile.
      alternate small-package "" "$(verify_cmd "$work/small.zip")" \
        "openssl cms -verify -binary -inform DER -in $s/manifest.json.p7s -content $s/manifest.json -CAfile $pki/root.pem -purpose any -out /dev/null" \
        "$small_repeat"
      ;;
    poll-file | poll-http)
      if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import feedparser' 2>/dev/null; then
        echo "  making $venv with feedparser (pip install feedparser)" >&2
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q feedparser; } >&2; then
          echo "  pip could not install feedparser (PyPI unreachable?): $c skipped" >&2
          continue
        fi
      fi
      mode=${c#poll-}
      pw=$work/$c
      mkdir -p "$pw"
      if [ "$mode" = file ]; then
        python3 scripts/load_server.py write --feeds "$sources" --entries "$entries" \
          --dir "$pw/feeds"
        awk -v n="$sources" -v base="file://$pw/feeds" 'BEGIN {
          for (f = 0; f < n; f++) printf "%s/v%02d/feed-%04d.xml\n", base, int(f / 100), f
        }' >"$pw/urls"
        where="file://"
      else
        python3 scripts/load_server.py serve --feeds "$sources" --entries "$entries" \
          --port-file "$pw/port" --hosts "$hosts" --hosts-file "$pw/hosts" &
        server_pid=$!
        i=0
        while [ ! -s "$pw/port" ]; do
          kill -0 "$server_pid" 2>/dev/null || die "the feed server did not start"
          i=$((i + 1))
          [ "$i" -le 600 ] || die "the feed server did not start within 60 s"
          sleep 0.1
        done
        awk -v n="$sources" 'NR == FNR { h[c++] = $0; next } END {
          for (f = 0; f < n; f++) printf "http://%s/v%02d/feed-%04d.xml\n", h[f % c], int(f / 100), f
        }' "$pw/hosts" /dev/null >"$pw/urls"
        where="$(wc -l <"$pw/hosts" | tr -d ' ') loopback hosts"
      fi
      # The config: 100 feeds per vendor, as scripts/load.sh writes it.
      awk 'BEGIN { printf "[store]\npath = \"data\"\n\n[poll]\nbackfill = \"90d\"\n" }
        { f = NR - 1; v = int(f / 100)
          if (f % 100 == 0)
            printf "\n[[vendor]]\nname = \"vendor%02d\"\ncontact = \"security@vendor%02d.example\"\n", v, v
          printf "\n[[vendor.feed]]\nurl = \"%s\"\ninterval = \"15m\"\n", $0 }' \
        "$pw/urls" >"$pw/trustwatch.toml"
      echo "== $c: $sources feeds x $entries entries from $where" >&2
      # One checked run first: every source read, findings reported, none failed;
      # feedparser sees every entry.
      "$bin" --config "$pw/trustwatch.toml" --data-dir "$pw/check" poll --once --format json \
        >"$pw/findings.jsonl" 2>"$pw/log" || {
        tail -n 20 "$pw/log" >&2
        die "poll --once failed"
      }
      "$bin" --config "$pw/trustwatch.toml" --data-dir "$pw/check" status --format json \
        >"$pw/status.json"
      python3 - "$pw/status.json" "$pw/findings.jsonl" "$sources" <<'EOF' >&2 || die "the checked poll run is wrong"
import json, sys
status = json.load(open(sys.argv[1]))
reported = sum(1 for l in open(sys.argv[2]) if l.strip())
failed = [s for s in status["sources"] if s["failures"]]
n = int(sys.argv[3])
print("  checked run: %d sources, %d failed, %d findings reported" % (len(status["sources"]), len(failed), reported))
sys.exit(1 if failed or reported == 0 or len(status["sources"]) != n else 0)
EOF
      rm -rf "$pw/check"
      got=$("$venv/bin/python" scripts/bench_helper.py feedparser --urls "$pw/urls")
      echo "  feedparser: $got (documents, entries)" >&2
      [ "$got" = "$sources $((sources * entries))" ] || die "feedparser read $got, expected $sources $((sources * entries))"
      alternate "$c" "$pw/data" \
        "$bin --config $pw/trustwatch.toml --data-dir $pw/data poll --once --format json" \
        "$venv/bin/python $root/scripts/bench_helper.py feedparser --urls $pw/urls"
      if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
      fi
      rm -rf "$pw"
      ;;
  esac
done

echo >&2
echo "machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), $(nproc 2>/dev/null || echo '?') cores, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) at the end"
$helper report "$results"
