#!/usr/bin/env python3
"""Builds N real-looking multilingual alt-texts from the offline corpora, for the curation
throughput comparison (issue 6; benches/peers/curation_peer.py).

Sources (all offline, see ../shared/DATA.md): gettext catalogs already on the machine
(/usr/share/locale/*/LC_MESSAGES/*.mo: real UI sentences in ~100 languages, keyed by the
English msgid), WordNet 3.0 glosses (real English phrases) and the emoji labels and country
names fetched by .ci/fetch-curation-data.sh. Each text is a real sentence of one language,
cut to alt-text length, often followed by an emoji label or a country name of the same
language ("... in Deutschland", "... 书呆子脸"). Languages follow a web-like mix: English
about 44% (MetaCLIP 2, arXiv 2507.22062, §4), the rest Zipf-distributed over the others.

Usage: curation_corpus.py --data $KILN_DATA/curation --out FILE.jsonl.gz [--n 1000000] [--seed 0]
"""
import argparse
import gettext
import glob
import gzip
import json
import os
import random
import re


def lang_code(locale):
    base = re.split(r"[-_@.]", locale)[0].lower()
    return {"nb": "no", "iw": "he", "in": "id"}.get(base, base)


def mo_sentences(pattern):
    """(lang -> set of translated strings, set of English msgids) from .mo catalogs."""
    per_lang, english = {}, set()
    for path in glob.glob(pattern):
        locale = path.split("/")[-3]
        try:
            with open(path, "rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except Exception:
            continue
        lang = lang_code(locale)
        for msgid, msgstr in catalog.items():
            if isinstance(msgid, tuple):
                msgid = msgid[0]
            if not msgid or not isinstance(msgstr, str):
                continue
            english.add(msgid)
            per_lang.setdefault(lang, set()).add(msgstr)
    return per_lang, english


def usable(s):
    s = " ".join(s.split())
    return s if 12 <= len(s) <= 400 and "%" not in s and "\\" not in s else None


def cut(rng, s, limit=140):
    if len(s) <= limit:
        return s
    end = s.rfind(" ", 0, rng.randint(40, limit))
    return s[: end if end > 20 else limit]


def wordnet_glosses(folder):
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(folder, f"data.{pos}"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                gloss = line.split("|", 1)[1].strip()
                out.extend(p.strip(' "') for p in gloss.split(";"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="$KILN_DATA/curation")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    per_lang, english = mo_sentences("/usr/share/locale/*/LC_MESSAGES/*.mo")
    per_lang.setdefault("en", set()).update(english)
    per_lang["en"].update(wordnet_glosses(f"{args.data}/deb/usr/share/wordnet"))
    metadata_langs = {os.path.basename(p)[:-4] for p in glob.glob(f"{args.data}/metadata/*.txt")}
    sentences = {}
    for lang, items in per_lang.items():
        if lang not in metadata_langs:
            continue
        kept = sorted({u for u in map(usable, items) if u})
        if len(kept) >= 200:
            sentences[lang] = kept

    # Short phrases to append: emoji labels and country names of each language.
    phrases = {}
    for path in glob.glob(f"{args.data}/npm/emojibase-data/package/*/data.json"):
        lang = lang_code(path.split("/")[-2])
        with open(path, encoding="utf-8") as f:
            phrases.setdefault(lang, []).extend(e["label"] for e in json.load(f) if e.get("label"))
    for path in glob.glob(f"{args.data}/deb/usr/share/locale/*/LC_MESSAGES/iso_3166-1.mo"):
        lang = lang_code(path.split("/")[-3])
        with open(path, "rb") as f:
            phrases.setdefault(lang, []).extend(v for v in gettext.GNUTranslations(f)._catalog.values() if v)
    for lang in phrases:
        phrases[lang] = sorted(set(phrases[lang]))

    others = sorted((l for l in sentences if l != "en"), key=lambda l: -len(sentences[l]))
    weights = [0.56 / (i + 1) ** 1.1 for i in range(len(others))]
    scale = 0.56 / sum(weights)
    langs = ["en"] + others
    weights = [0.44] + [w * scale for w in weights]

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=3) as out:
        for i in range(args.n):
            lang = rng.choices(langs, weights)[0]
            text = cut(rng, rng.choice(sentences[lang]))
            if lang in phrases and rng.random() < 0.5:
                text = f"{text} {rng.choice(phrases[lang])}"
            out.write(json.dumps({"id": f"img{i:07d}", "lang": lang, "text": text}, ensure_ascii=False))
            out.write("\n")
    print(f"wrote {args.n} texts in {len(langs)} languages to {args.out}")


if __name__ == "__main__":
    main()
