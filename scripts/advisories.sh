#!/bin/sh
# Release step (README "Supply chain"): `cargo deny check advisories` against the RustSec
# advisory database. CI cannot download the database, so this runs before a release
# on a machine that has it.
#
#   scripts/advisories.sh              cargo-deny clones/updates the database itself
#                                      (needs access to github.com/rustsec/advisory-db)
#   scripts/advisories.sh DB           offline, against DB: a local git checkout (or
#                                      bare repository) of rustsec/advisory-db
#
# Offline, DB's HEAD is cloned into a temporary db-path under the directory name
# cargo-deny derives from the default URL (`advisory-db-` + an xxHash64 of it, as
# cargo-deny 0.20 computes it), deny.toml is copied with that db-path, and the check
# runs with --offline (crates are fetched first, from the registry, with `cargo fetch`).
# Exit status: cargo-deny's (0 when every advisory that fires is ignored in deny.toml).
set -eu
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  exec cargo deny --locked check advisories
fi

src=$1
if ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  echo "error: $src is not a git checkout of rustsec/advisory-db" >&2
  exit 2
fi
src=$(cd "$src" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
db="$tmp/db/advisory-db-3157b0e258782691"
git clone --quiet --depth 1 "file://$src" "$db"
echo "advisory-db: $(git -C "$db" log -1 --format='%H (%cI)')"
awk -v path="$tmp/db" '{ print } /^\[advisories\]/ { printf "db-path = \"%s\"\n", path }' \
  deny.toml > "$tmp/deny.toml"
cargo fetch --locked --quiet
cargo deny --locked --offline --config "$tmp/deny.toml" check advisories
