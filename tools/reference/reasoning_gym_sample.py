"""Exports reasoning-gym items to JSONL for kiln's `gym:FILE` tasks, and (with --scores)
reasoning-gym's own `score_answer` of several candidate answers per item, the reference for
kiln's verifier (reasoning/src/gym.rs, tested in reasoning/tests/gym_agreement.rs).

reasoning-gym is the generator OptimalThinkingBench draws its UnderthinkingBench from
(../shared/papers/reasoning.md §5.2-5.4). One file per dataset, one item per line:
{"question", "answer", "metadata"} plus, with --scores, "scores": [[candidate, score], ...].

Setup (once):
    python3 -m venv ~/.cache/kiln/venv-reasoning
    ~/.cache/kiln/venv-reasoning/bin/pip install reasoning-gym==0.1.25

The committed fixture (30 items per dataset, seed 42):
    ~/.cache/kiln/venv-reasoning/bin/python tools/reference/reasoning_gym_sample.py \
        --n 30 --seed 42 --scores --out-dir reasoning/tests/fixtures/gym

A larger export for training, without scores:
    ... reasoning_gym_sample.py --datasets chain_sum --n 5000 --seed 1 --out-dir data/gym
"""

import argparse
import importlib.metadata
import json
import os

import reasoning_gym

PINNED = "0.1.25"
DATASETS = ["basic_arithmetic", "chain_sum", "leg_counting"]

# Arabic-Indic and full-width digits: Python's Decimal reads both.
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def candidates(gold: str) -> list:
    """The gold answer, wrong ones and reformatted ones, each scored by reasoning-gym."""
    out = [gold, " " + gold + " ", gold + "\n", "+" + gold, gold + ".0", gold + ".", "0" + gold,
           "Answer: " + gold, "\\boxed{" + gold + "}", gold + " legs", "", "nan", "inf", "-" + gold,
           gold.translate(ARABIC_INDIC), gold.translate(FULL_WIDTH), "\u00a0" + gold + "\u2003",
           gold[:1] + "_" + gold[1:], gold + "e0", gold + "00", "x"]
    try:
        n = int(gold)
        out += [str(n + 1), str(n - 1), f"{n:,}", f"{n:,}.00", f"{n}.5", str(n * 10) + "e-1",
                f"{n / 10}e1" if n else "0e5", str(-n)]
    except ValueError:
        pass
    # Keep the first occurrence of each candidate, in order.
    return list(dict.fromkeys(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=DATASETS, help="reasoning-gym dataset names")
    ap.add_argument("--n", type=int, default=30, help="items per dataset")
    ap.add_argument("--seed", type=int, default=42, help="reasoning-gym's dataset seed")
    ap.add_argument("--scores", action="store_true", help="add score_answer of candidate answers")
    ap.add_argument("--out-dir", required=True, help="one <dataset>.jsonl per dataset here")
    args = ap.parse_args()

    version = importlib.metadata.version("reasoning-gym")
    if version != PINNED:
        raise SystemExit(f"reasoning-gym {version} is installed; the fixtures are pinned to {PINNED}")

    os.makedirs(args.out_dir, exist_ok=True)
    for name in args.datasets:
        ds = reasoning_gym.create_dataset(name, seed=args.seed, size=args.n)
        path = os.path.join(args.out_dir, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for item in ds:
                line = {"question": item["question"], "answer": item["answer"],
                        "metadata": item["metadata"]}
                if args.scores:
                    line["scores"] = [[c, ds.score_answer(c, item)] for c in candidates(item["answer"])]
                    line["scores"].append([None, ds.score_answer(None, item)])
                f.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"{path}: {args.n} items of {name} (reasoning-gym {version}, seed {args.seed})")


if __name__ == "__main__":
    main()
