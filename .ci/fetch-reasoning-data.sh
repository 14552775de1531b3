#!/usr/bin/env bash
# Fetches the reasoning tasks' real data (issue 25) into
# ${KILN_DATA:-$HOME/.cache/kiln/data}/reasoning with pip download (PyPI only, nothing
# installed). Idempotent: skipped when the file is there with the expected checksum.
#
#   reasoning/24.csv   Game of 24: the 1,362 puzzles of Tree of Thoughts
#                      (tree-of-thoughts-llm 0.1.0, tot/data/24/24.csv; columns Rank,
#                      Puzzles, AMT (s), Solved rate, 1-sigma Mean (s), 1-sigma STD (s))
set -euo pipefail

D="${KILN_DATA:-$HOME/.cache/kiln/data}/reasoning"
PACKAGE=tree-of-thoughts-llm==0.1.0
SHA256=b9f12b3e36d987a3c714c4cef17d89a137d7c59da26532fcfb93b4821d8111b5

if [ "$(sha256sum "$D/24.csv" 2>/dev/null | cut -c1-64)" != "$SHA256" ]; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$PACKAGE"
  mkdir -p "$D"
  python3 - "$tmp"/tree_of_thoughts_llm-*.whl "$D/24.csv.part" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("tot/data/24/24.csv"))
PY
  rm -rf "$tmp"
  got=$(sha256sum "$D/24.csv.part" | cut -c1-64)
  if [ "$got" != "$SHA256" ]; then
    echo "24.csv from $PACKAGE has sha256 $got, expected $SHA256" >&2
    rm -f "$D/24.csv.part"
    exit 1
  fi
  mv "$D/24.csv.part" "$D/24.csv"
fi
echo "reasoning data ready in $D"
