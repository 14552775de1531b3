#!/usr/bin/env python3
"""Reference MetaCLIP 2 matching and balancing, for kiln's curation agreement test.

Implements, from the algorithm described in MetaCLIP 1 (Xu et al., arXiv 2309.16671, §3) and
MetaCLIP 2 (Chuang et al., arXiv 2507.22062, §3.1) and the behaviour of the public reference
(facebookresearch/MetaCLIP, metaclip/curation/substr_matching.py and curate.py), with
pyahocorasick as the reference does:

* normalisation: str.strip(), then spacing(): pad with one space at each end, wrap each of
  , . ; : ? ! ` in spaces, turn \\t \\n \\r into spaces;
* metadata: one entry per line, stripped, blank lines skipped, first occurrence kept; each
  entry padded with a space on each side whose character is not CJK/Thai/Lao/Burmese/Khmer/
  Tibetan/punctuation (get_spaced_metadata); one pyahocorasick automaton per language;
* matching: all overlapping matches (Automaton.iter) of the text's own language, as a set;
  texts without a match are dropped; a language without metadata maps to `other` when there
  is such a list and is dropped otherwise;
* counting: per-language uint64 arrays over every metadata entry (count_per_shard);
* thresholds: t_to_p on English at t_en, p_to_t on every other language with matches
  (global_count); probabilities t / max(count, t) (count_to_prob), in float64.

The known bugs of the public code (undefined `automaton_ml`, missing imports, `lang_id` used
before assignment, `self.args.t`, per_lang_prob/per_lang_t mismatch, `sys.argv == "curate"`)
do not arise here: this is a fresh implementation of the same algorithm, not a copy.

Usage (writes the committed fixture that clip/tests/reference_agreement.rs compares exactly):
    python3 -m venv tools/reference/.venv
    tools/reference/.venv/bin/pip install pyahocorasick==2.3.1 numpy==2.4.6
    tools/reference/.venv/bin/python tools/reference/curation_reference.py
"""
import json
import string
import sys
from pathlib import Path

import ahocorasick
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "clip/tests/data/reference"
T_EN_SETTINGS = [5, 20, 1000]

EXTRA_PUNCTUATION = set("，。、；：？！“”‘’（）【】《》〈〉「」『』～—")
NO_SPACE_RANGES = [
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF), (0xF900, 0xFAFF),
    (0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0x2FF0, 0x2FFF),
    (0x0E00, 0x0E7F), (0x0E80, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x0F00, 0x0FFF),
]


def unspaced_boundary(ch):
    """True where an entry must not be padded: CJK-like script or punctuation."""
    cp = ord(ch)
    if any(lo <= cp <= hi for lo, hi in NO_SPACE_RANGES):
        return True
    return ch in string.punctuation or ch in EXTRA_PUNCTUATION


def pad_entry(entry):
    left = "" if unspaced_boundary(entry[0]) else " "
    right = "" if unspaced_boundary(entry[-1]) else " "
    return left + entry + right


def normalise(text):
    out = " " + text.strip() + " "
    for mark in ",.;:?!`":
        out = out.replace(mark, " " + mark + " ")
    for ws in "\t\n\r":
        out = out.replace(ws, " ")
    return out


def read_metadata(folder):
    metadata = {}
    for path in sorted(folder.glob("*.txt")):
        seen, entries = set(), []
        for line in path.read_text(encoding="utf-8").split("\n"):
            entry = line.strip()
            if entry and entry not in seen:
                seen.add(entry)
                entries.append(entry)
        metadata[path.stem] = entries
    return metadata


def build_automaton(entries):
    automaton = ahocorasick.Automaton()
    for index, entry in enumerate(entries):
        automaton.add_word(pad_entry(entry), index)
    automaton.make_automaton()
    return automaton


def tail_share(counts, t):  # t_to_p
    return float(counts[counts < t].sum() / counts.sum())


def threshold_for_share(counts, p):  # p_to_t
    ordered = np.sort(counts)
    share = np.cumsum(ordered) / ordered.sum()
    return int(ordered[np.abs(share - p).argmin()])


def entry_probabilities(counts, t):  # count_to_prob
    capped = np.array(counts)
    capped[capped < t] = t
    return t / capped


def main():
    metadata = read_metadata(DATA / "metadata")
    automata = {lang: build_automaton(entries) for lang, entries in metadata.items()}
    counts = {lang: np.zeros(len(entries), dtype=np.uint64) for lang, entries in metadata.items()}

    texts = []
    with open(DATA / "input.jsonl", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            rec = json.loads(line)
            lang = rec["lang"] if rec["lang"] in automata else ("other" if "other" in automata else None)
            ids = []
            if lang is not None:
                ids = sorted({index for _, index in automata[lang].iter(normalise(rec["text"]))})
            if ids:
                counts[lang][ids] += 1
            texts.append({
                "line": line_no,
                "lang": lang if ids else None,
                "entries": sorted((metadata[lang][i] for i in ids), key=lambda e: e.encode()),
            })

    matched = {lang: c for lang, c in counts.items() if c.sum() > 0}
    count_lines = []
    for lang in sorted(matched, key=lambda s: s.encode()):
        for i in np.nonzero(matched[lang])[0]:
            count_lines.append([lang, metadata[lang][i], int(matched[lang][i])])
    count_lines.sort(key=lambda r: (r[0].encode(), r[1].encode()))

    settings = []
    for t_en in T_EN_SETTINGS:
        p = tail_share(matched["en"], t_en)
        thresholds = {lang: (t_en if lang == "en" else threshold_for_share(c, p)) for lang, c in matched.items()}
        probabilities = []
        for lang, entry, _ in count_lines:
            probs = entry_probabilities(matched[lang], thresholds[lang])
            probabilities.append([lang, entry, float(probs[metadata[lang].index(entry)])])
        settings.append({"t_en": t_en, "p": p, "thresholds": dict(sorted(thresholds.items())),
                         "probabilities": probabilities})

    fixture = {
        "generator": "tools/reference/curation_reference.py",
        "input": "clip/tests/data/reference/input.jsonl",
        "texts": texts,
        "counts": count_lines,
        "settings": settings,
    }
    out = DATA / "expected.json"
    out.write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {sum(1 for t in texts if t['entries'])} of {len(texts)} texts matched, "
          f"{len(count_lines)} entries counted", file=sys.stderr)


if __name__ == "__main__":
    main()
