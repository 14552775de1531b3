#!/usr/bin/env python3
"""Builds kiln's embedded default corpus from the Jargon File 4.4.7 (public domain).

Source: Debian package `jargon-text` 4.4.7-4.1, file /usr/share/doc/jargon-text/jargon.txt.gz.
    apt-get download jargon-text && dpkg -x jargon-text_*.deb pkg
    python3 tools/data/jargon.py pkg/usr/share/doc/jargon-text/jargon.txt.gz data/jargon

Keeps the prose (introduction, lexicon entries, appendices); drops the table of contents,
the headword index and box-drawn tables; removes the 3-space indent; splits off every 20th
lexicon entry as held-out text so both parts cover the whole alphabet.
"""
import gzip
import re
import sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
lines = gzip.open(src, "rt", encoding="utf-8").read().splitlines()

start = next(i for i, l in enumerate(lines) if l.strip() == "Welcome to the Jargon File" and i > 100)
index_start = next(i for i, l in enumerate(lines) if l.strip() == "Glossary" and i > start)
first_entry = next(i for i, l in enumerate(lines) if l.startswith("   :") and i > index_start)
kept = lines[start:index_start] + lines[first_entry:]

text = []
for line in kept:
    if re.search(r"[│┌┐└┘├┤┬┴┼═─]", line):
        continue
    text.append(line[3:] if line.startswith("   ") else line.strip())
body = re.sub(r"\n{3,}", "\n\n", "\n".join(text)).strip() + "\n"

# Entries start with ":headword:"; split them so held-out text is whole entries.
chunks = re.split(r"(?m)^(?=:[^\n]+:)", body)
train = [c for i, c in enumerate(chunks) if i == 0 or i % 20 != 0]
valid = [c for i, c in enumerate(chunks) if i > 0 and i % 20 == 0]
out.mkdir(parents=True, exist_ok=True)
(out / "train.txt").write_text("".join(train), encoding="utf-8")
(out / "valid.txt").write_text("".join(valid), encoding="utf-8")
print(f"{len(chunks)} chunks: train {sum(map(len, train))} chars, valid {sum(map(len, valid))} chars")
