#!/bin/sh
# Run fuzz targets on a stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the
# -Z flags cargo-fuzz passes. Usage: fuzz/run.sh SECONDS TARGET...
# New inputs go to fuzz/corpus/TARGET (ignored by git), seeds are read from fuzz/seeds/TARGET,
# crashes land in fuzz/artifacts/TARGET.
set -eu
cd "$(dirname "$0")/.."
secs=$1
shift
for t in "$@"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -max_len=65536 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1
done
