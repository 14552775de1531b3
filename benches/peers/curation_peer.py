#!/usr/bin/env python3
"""Side-by-side curation throughput: kiln (1 and 2 threads) vs the Python reference.

The reference is the MetaCLIP 2 stage-1 loop (`curate.py:count_per_shard` with
`substr_matching.py`): for each JSON line, strip + spacing(), pyahocorasick `iter` over the
language's automaton, the set of entry ids, and `counts[lang][ids] += 1` on numpy uint64
arrays; implemented in tools/reference/curation_reference.py. Both sides read the same JSONL
shard (gzip or plain) and the same metadata folder, and both write COUNTS files, which must be equal.
Automaton building is timed apart from matching. Texts/s = lines / matching seconds (wall);
texts per CPU-second = lines / (user + system CPU seconds of all the process's threads during
matching), the per-core figure, which a busy machine disturbs less than wall time.

This machine's speed drifts over minutes, and kiln's runs (about a second each) sample it at
one moment where the reference's (tens of seconds) averages over its run. So each repeat
brackets the reference: kiln runs on 1 and 2 threads just before it and again just after,
and kiln's figures are the means of the two (its CPU seconds averaged, not its rates). With
`--repeats N` the whole sequence runs N times and a summary gives each per-core ratio, their
median and range.

Usage (after .ci/fetch-curation-data.sh and tools/data/curation_corpus.py, and
`zcat texts-1m.jsonl.gz > texts-1m.jsonl`: the reference's own stage 1 reads plain JSON
shards, so the plain file is the like-for-like input, the gzip one a second measurement):
    tools/reference/.venv/bin/python benches/peers/curation_peer.py \
        --metadata $KILN_DATA/curation/metadata --in $KILN_DATA/curation/bench/texts-1m.jsonl \
        [--repeats 6]
"""
import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools/reference"))
import curation_reference as ref  # noqa: E402


def open_text(path):
    """The shard as text: gzip-compressed (by its magic bytes) or plain, as kiln reads it."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gzipped else open(path, encoding="utf-8")


def python_reference(metadata_dir, shard, out):
    start = time.perf_counter()
    metadata = ref.read_metadata(Path(metadata_dir))
    automata = {lang: ref.build_automaton(entries) for lang, entries in metadata.items()}
    counts = {lang: np.zeros(len(e), dtype=np.uint64) for lang, e in metadata.items()}
    build_s = time.perf_counter() - start

    start, cpu_start = time.perf_counter(), time.process_time()
    lines = matched = 0
    with open_text(shard) as f:
        for line in f:
            lines += 1
            rec = json.loads(line)
            lang = rec["lang"]
            if lang not in automata:
                continue
            ids = list({i for _, i in automata[lang].iter(ref.normalise(rec["text"]))})
            if ids:
                matched += 1
                counts[lang][ids] += 1
    match_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start

    with open(out, "w", encoding="utf-8") as f:
        rows = []
        for lang, c in counts.items():
            for i in np.nonzero(c)[0]:
                rows.append((lang, metadata[lang][i], int(c[i])))
        rows.sort(key=lambda r: (r[0].encode(), r[1].encode()))
        f.writelines(f"{l}\t{e}\t{n}\n" for l, e, n in rows)
    return {"impl": "python-reference (pyahocorasick)", "threads": 1, "texts": lines, "matched": matched,
            "build_s": round(build_s, 3), "match_s": round(match_s, 3), "cpu_s": round(cpu_s, 3),
            "texts_per_s": round(lines / match_s), "texts_per_cpu_s": round(lines / cpu_s)}


def kiln(metadata_dir, shard, out, threads):
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/kiln/target-clip"))
    cmd = ["cargo", "run", "--quiet", "--release", "--manifest-path", str(ROOT / "clip/Cargo.toml"),
           "--example", "curation_throughput", "--", "--metadata", metadata_dir, "--in", shard,
           "--threads", str(threads), "--out", out]
    res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def bracketed(before, after):
    """One kiln row from a run before the reference and one after: mean seconds."""
    row = dict(before)
    for key in ("build_s", "match_s", "cpu_s"):
        row[key] = (before[key] + after[key]) / 2
    row["texts_per_s"] = row["texts"] / row["match_s"]
    row["texts_per_cpu_s"] = row["texts"] / row["cpu_s"]
    return row


def one_repeat(args, tmp):
    """kiln 1 and 2 threads, the reference, kiln again; the rows and whether all COUNTS agree."""
    outs = []

    def run_kiln(threads):
        out = f"{tmp}/kiln{threads}-{len(outs)}.tsv"
        outs.append(out)
        return kiln(args.metadata, args.shard, out, threads)

    before = [run_kiln(1), run_kiln(2)]
    py = python_reference(args.metadata, args.shard, f"{tmp}/py.tsv")
    after = [run_kiln(1), run_kiln(2)]
    reference = Path(f"{tmp}/py.tsv").read_bytes()
    same = all(Path(o).read_bytes() == reference for o in outs)
    rows = [bracketed(b, a) for b, a in zip(before, after)] + [py]
    return rows, same


def print_table(rows):
    py, py_cpu = rows[-1]["texts_per_s"], rows[-1]["texts_per_cpu_s"]
    print("| implementation | threads | texts | build (s) | match wall (s) | match CPU (s) | texts/s (wall) "
          "| × reference (wall) | texts per CPU-second | × reference (per core) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['impl']} | {r['threads']} | {r['texts']:,} | {r['build_s']:.1f} | {r['match_s']:.2f} | "
              f"{r['cpu_s']:.2f} | {r['texts_per_s']:,.0f} | {r['texts_per_s'] / py:.1f}× | "
              f"{r['texts_per_cpu_s']:,.0f} | {r['texts_per_cpu_s'] / py_cpu:.1f}× |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--metadata", required=True)
    ap.add_argument("--in", dest="shard", required=True)
    ap.add_argument("--repeats", type=int, default=1,
                    help="run the whole comparison this many times and summarise")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    ratios = {1: [], 2: []}
    reference_cpu = []
    all_same = True
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            load = os.getloadavg()
            rows, same = one_repeat(args, tmp)
        all_same &= same
        print(f"\nrepeat {rep + 1} of {args.repeats}, {time.strftime('%H:%M:%S', time.gmtime())} UTC; "
              f"COUNTS identical across implementations: {same}; load average before: "
              f"{load[0]:.2f}, after: {os.getloadavg()[0]:.2f}")
        print_table(rows)
        py_cpu = rows[-1]["texts_per_cpu_s"]
        for r in rows[:-1]:
            ratios[r["threads"]].append(r["texts_per_cpu_s"] / py_cpu)
        reference_cpu.append(rows[-1]["cpu_s"])
    if args.repeats > 1:
        print(f"\nsummary of {args.repeats} repeats; reference CPU {min(reference_cpu):.1f}–"
              f"{max(reference_cpu):.1f} s")
        print("| kiln threads | × reference per core, each repeat | median | range |")
        print("|---|---|---|---|")
        for threads, rs in ratios.items():
            each = " / ".join(f"{r:.1f}" for r in rs)
            print(f"| {threads} | {each} | **{statistics.median(rs):.1f}×** | {min(rs):.1f}–{max(rs):.1f}× |")
    if not all_same:
        sys.exit("COUNTS differ between kiln and the reference")


if __name__ == "__main__":
    main()
