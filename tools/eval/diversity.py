#!/usr/bin/env python3
"""Diversity of sampled continuations: stochastic activations against temperature sampling
(Lomeli et al. 2025, §generation), measured with distinct-n and self-BLEU.

    python3 tools/eval/diversity.py --kiln target/release/kiln --run runs/stocha \
        [--scorer runs/run-1] [--samples 50] [--tokens 40] [--prompt "The hacker"]

Each setting generates `--samples` continuations of one prompt with seeds 0..N-1 on the CPU:
  - StochA, greedy: temperature 0 with `--stochastic-activations P`, so all the variety comes
    from StochA's draw inside the FFN (the paper's second use of StochA);
  - StochA + temperature: the same draw with temperature sampling on top;
  - RELU / SILU + temperature: the same weights with a deterministic activation (RELU is the
    default at inference; SILU is `--stochastic-activations 1`), the usual way to diversify.
distinct-n is the fraction of unique word n-grams over all samples (higher: more diverse);
self-BLEU is the mean BLEU-4 of each sample against the others (lower: more diverse).
Quality, so that diversity is compared at matched quality as in the paper: the perplexity of
the 50 samples (prompt + continuation, one per line) under `--scorer`, a separately trained
model (`kiln eval --data`); lower is better. No external packages.
"""
import argparse
import math
import re
import subprocess
import tempfile
from collections import Counter


def generate(kiln, run, prompt, tokens, seed, extra):
    out = subprocess.run(
        [kiln, "generate", "--device", "cpu", "--run", run, "--prompt", prompt,
         "--max-tokens", str(tokens), "--seed", str(seed), *extra],
        capture_output=True, text=True, check=True,
    ).stdout
    return out[len(prompt):].strip()


def scorer_perplexity(kiln, scorer, prompt, samples):
    """Perplexity of `prompt + sample` lines under the scorer run."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(f"{prompt} {s}\n" for s in samples))
    out = subprocess.run([kiln, "eval", "--device", "cpu", "--run", scorer, "--data", f.name],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"perplexity ([\d.]+)", out).group(1))


def ngrams(words, n):
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def distinct(samples, n):
    grams = [g for s in samples for g in ngrams(s.split(), n)]
    return len(set(grams)) / max(1, len(grams))


def bleu4(hyp, refs):
    """Sentence BLEU-4 with add-one smoothing for n > 1 (Lin & Och 2004) and brevity penalty."""
    h = hyp.split()
    if not h:
        return 0.0
    log_p = 0.0
    for n in range(1, 5):
        counts = Counter(ngrams(h, n))
        max_ref = Counter()
        for r in refs:
            for g, c in Counter(ngrams(r.split(), n)).items():
                max_ref[g] = max(max_ref[g], c)
        clipped = sum(min(c, max_ref[g]) for g, c in counts.items())
        total = sum(counts.values())
        if n == 1:
            if clipped == 0:
                return 0.0
            p = clipped / total
        else:
            p = (clipped + 1) / (total + 1)
        log_p += math.log(p) / 4
    closest = min((len(r.split()) for r in refs), key=lambda L: (abs(L - len(h)), L))
    bp = 1.0 if len(h) > closest else math.exp(1 - closest / len(h))
    return bp * math.exp(log_p)


def self_bleu(samples):
    return sum(bleu4(s, samples[:i] + samples[i + 1:]) for i, s in enumerate(samples)) / len(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--scorer", help="run directory of the quality scorer (omit: no quality column)")
    ap.add_argument("--prompt", default="The hacker")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--p", type=float, nargs="+", default=[0.7],
                    help="StochA probabilities for greedy decoding")
    ap.add_argument("--stocha-temperatures", type=float, nargs="*", default=[0.5, 0.7, 1.0],
                    help="temperatures combined with StochA at the first --p")
    ap.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.7, 1.0])
    args = ap.parse_args()
    stoch = lambda p: ["--stochastic-activations", str(p)]
    settings = [(f"StochA p={p}, greedy", ["--temperature", "0", *stoch(p)]) for p in args.p]
    settings += [(f"StochA p={args.p[0]}, temperature {t}", ["--temperature", str(t), *stoch(args.p[0])])
                 for t in args.stocha_temperatures]
    settings += [(f"RELU, temperature {t}", ["--temperature", str(t)]) for t in args.temperatures]
    settings += [(f"SILU, temperature {t}", ["--temperature", str(t), *stoch(1.0)])
                 for t in args.temperatures]
    quality = " scorer perplexity |" if args.scorer else ""
    print(f"| setting | distinct-1 | distinct-2 | distinct-3 | self-BLEU-4 |{quality}")
    print("|---|---|---|---|---|" + ("---|" if args.scorer else ""))
    for name, extra in settings:
        samples = [generate(args.kiln, args.run, args.prompt, args.tokens, seed, extra)
                   for seed in range(args.samples)]
        row = (f"| {name} | {distinct(samples, 1):.3f} | {distinct(samples, 2):.3f} | "
               f"{distinct(samples, 3):.3f} | {self_bleu(samples):.3f} |")
        if args.scorer:
            row += f" {scorer_perplexity(args.kiln, args.scorer, args.prompt, samples):.1f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
