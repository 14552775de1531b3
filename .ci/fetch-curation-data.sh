#!/usr/bin/env bash
# Fetches the offline sources of kiln's curation metadata (issue 6; ../shared/DATA.md §4 b2,
# b3, b6) into ${KILN_DATA:-$HOME/.cache/kiln/data}/curation, then builds the metadata folder
# from them with `kiln-clip`'s `build_metadata` example. Idempotent: every step is skipped
# when its output exists. Uses only apt-get (Debian packages, unpacked with dpkg -x, nothing
# installed system-wide) and npm (npm pack); no other network.
#
#   curation/deb/usr/share/wordnet/data.{noun,verb,adj,adv}     WordNet 3.0 (wordnet-base)
#   curation/deb/usr/share/dict/<list>                          Debian word lists (w*)
#   curation/deb/usr/share/{iso-codes/json,locale/*/LC_MESSAGES}  iso-codes names + .mo
#   curation/npm/emojibase-data/package/<locale>/data.json      emoji labels, 29 locales
#   curation/metadata/<lang>.txt                                 the built metadata
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
D="${KILN_DATA:-$HOME/.cache/kiln/data}/curation"
mkdir -p "$D/debs" "$D/deb" "$D/npm"

DEBS=(wordnet-base wamerican wngerman wfrench wspanish witalian wportuguese wdutch wpolish
      wswedish wdanish wukrainian wbulgarian wcatalan iso-codes)
EMOJIBASE=emojibase-data@17.0.0

missing=()
for p in "${DEBS[@]}"; do
  [ -f "$D/deb/.done-$p" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  ( cd "$D/debs"
    if ! apt-get download "${missing[@]}" >/dev/null 2>&1; then
      apt-get update -qq
      apt-get download "${missing[@]}"
    fi )
  for p in "${missing[@]}"; do
    deb=$(ls "$D/debs/${p}_"*.deb | head -n 1)
    dpkg -x "$deb" "$D/deb"
    touch "$D/deb/.done-$p"
  done
fi

if [ ! -f "$D/npm/.done-emojibase" ]; then
  tmp=$(mktemp -d)
  ( cd "$tmp" && npm pack --silent "$EMOJIBASE" >/dev/null )
  mkdir -p "$D/npm/emojibase-data"
  tar xzf "$tmp"/emojibase-data-*.tgz -C "$D/npm/emojibase-data" --wildcards 'package/*/data.json' 'package/LICENSE'
  rm -rf "$tmp"
  touch "$D/npm/.done-emojibase"
fi

# Rebuild the metadata whenever the builder's code changes (the stamp holds its hash).
stamp=$(cat "$ROOT"/clip/src/curation/build/*.rs "$ROOT"/clip/src/curation/metadata.rs \
        "$ROOT"/clip/src/curation/lang.rs | sha256sum | cut -c1-16)
if [ "$(cat "$D/metadata/.done" 2>/dev/null)" != "$stamp" ] || [ "${KILN_REBUILD_METADATA:-0}" = 1 ]; then
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kiln/target-clip}" \
    cargo run --quiet --manifest-path "$ROOT/clip/Cargo.toml" --example build_metadata -- \
    --sources "$D" --out "$D/metadata"
  echo "$stamp" > "$D/metadata/.done"
fi
echo "curation data ready in $D"
