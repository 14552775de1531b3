#!/usr/bin/env python3
"""GRPO step time and rollout speed on the CPU: kiln (`kiln rl` and `kiln rl eval`, release
build) against TRL's `GRPOTrainer` and transformers' `generate`, on the same checkpoint in one
run (issue 25).

    cargo build --release --workspace --bins
    ~/.cache/kiln/venv/bin/python benches/peers/trl_grpo.py [--steps 6] [--completion 32]

The policy is a random LlamaForCausalLM of kiln's `small` shape (4 layers, dim 256, 4 heads,
SwiGLU 688, vocab 4096, tied embeddings, f32) saved with a word-level tokenizer.json (token
`wN` is id N); kiln reads it with `--init-hf`. Both sides train on the same 8 prompts of 8 to
15 tokens, G = 8 completions each (64 rollouts per step), completions of up to `--completion`
tokens at temperature 1 (EOS is w4095, rarely sampled: nearly every completion runs to the
limit on both sides), β = 0, μ = 1, loss_type dapo, AdamW at lr 1e-6, one micro-batch.
The reward is 0 on both sides (kiln: the arithmetic verifier finds no answer; TRL: a
constant function), so every step does the same work: sample, score, one update.
Step time = median over the steps after the first two (warm-up); kiln's from
`metrics.jsonl` (elapsed_sec, with the generation / update split), TRL's from a callback.
Rollouts: completions/s of 64 × 8 = 512 sampled completions (`kiln rl eval --n 64 --k 8`)
against `model.generate` on the same 512 rows in batches of 64.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parents[2]
KILN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/kiln"
VOCAB = 4096
EOS = VOCAB - 1
CONFIG = dict(vocab_size=VOCAB, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
              num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
              rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=None,
              eos_token_id=EOS, pad_token_id=0)
PROMPTS, GROUP = 8, 8


def checkpoint(dir):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG))
    model.save_pretrained(dir, safe_serialization=True)
    vocab = {f"w{i}": i for i in range(VOCAB)}
    tokenizer = {"version": "1.0", "truncation": None, "padding": None,
                 "added_tokens": [{"id": EOS, "content": f"w{EOS}", "single_word": False,
                                   "lstrip": False, "rstrip": False, "normalized": False,
                                   "special": True}],
                 "normalizer": None, "pre_tokenizer": {"type": "Whitespace"},
                 "post_processor": None, "decoder": {"type": "WordPiece", "prefix": "##",
                                                     "cleanup": False},
                 "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}}
    (Path(dir) / "tokenizer.json").write_text(json.dumps(tokenizer))
    return model


def prompts():
    g = torch.Generator().manual_seed(1)
    return [" ".join(f"w{i}" for i in torch.randint(3, EOS, (8 + p,), generator=g).tolist())
            for p in range(PROMPTS)]


def kiln_grpo(dir, work, texts, steps, completion, kiln_bin):
    tasks = Path(work) / "prompts.jsonl"
    tasks.write_text("".join(json.dumps({"prompt": t, "gold": "1"}) + "\n" for t in texts))
    config = Path(work) / "rl.json"
    config.write_text(json.dumps({
        "train": {"steps": steps, "learning_rate": 1e-6, "warmup_steps": 0, "grad_clip": 1.0,
                  "checkpoint_every": 10_000},
        "grpo": {"num_generations": GROUP, "prompts_per_step": PROMPTS,
                 "max_completion_length": completion, "temperature": 1.0, "beta": 0.0,
                 "loss_type": "dapo"}}))
    out = Path(work) / "kiln-rl"
    subprocess.run([str(kiln_bin), "rl", "--device", os.environ.get("KILN_DEVICE", "cpu"),
                    "--init-hf", str(dir), "--tasks", str(tasks), "--config", str(config),
                    "--out", str(out)], check=True, capture_output=True)
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    times = [b["elapsed_sec"] - a["elapsed_sec"] for a, b in zip(rows, rows[1:])][1:]
    gen = statistics.median(r["time/generation"] for r in rows[2:])
    upd = statistics.median(r["time/update"] for r in rows[2:])
    length = statistics.mean(r["completions/mean_length"] for r in rows)
    return statistics.median(times), gen, upd, length, out


def rollout_rows():
    g = torch.Generator().manual_seed(2)
    return [torch.randint(3, EOS, (8 + (i % 8),), generator=g).tolist() for i in range(64)]


def kiln_rollouts(run, completion, kiln_bin, work):
    # 64 problems × K = 8: the eval command samples exactly as the RL rollouts do.
    tasks = Path(work) / "eval.jsonl"
    tasks.write_text("".join(json.dumps({"prompt": " ".join(f"w{i}" for i in r), "gold": "1"})
                             + "\n" for r in rollout_rows()))
    report = Path(work) / "eval.json"
    out = subprocess.run([str(kiln_bin), "rl", "eval", "--device",
                          os.environ.get("KILN_DEVICE", "cpu"), "--run", str(run), "--tasks",
                          str(tasks), "--k", "8", "--max-tokens", str(completion), "--json",
                          str(report)], check=True, capture_output=True, text=True)
    rate = float(out.stderr.split("(")[-1].split(" completions/s")[0])
    return rate


def trl_grpo(dir, texts, steps, completion):
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(Path(dir) / "tokenizer.json"),
                                        eos_token=f"w{EOS}", pad_token="w0")
    tokenizer.padding_side = "left"
    stamps = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            stamps.append(time.perf_counter())

    config = GRPOConfig(output_dir=str(Path(dir) / "trl"), max_steps=steps, learning_rate=1e-6,
                        lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0,
                        per_device_train_batch_size=PROMPTS * GROUP, gradient_accumulation_steps=1,
                        num_generations=GROUP, max_completion_length=completion,
                        temperature=1.0, beta=0.0, loss_type="dapo", num_iterations=1,
                        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True,
                        bf16=False, dataloader_num_workers=0, seed=0)
    dataset = Dataset.from_list([{"prompt": t} for t in texts] * (steps + 1))
    trainer = GRPOTrainer(model=str(dir), reward_funcs=lambda completions, **kw:
                          [0.0] * len(completions), args=config, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[Clock()])
    start = time.perf_counter()
    trainer.train()
    times = [b - a for a, b in zip([start] + stamps, stamps)][2:]
    return statistics.median(times)


def hf_rollouts(model, texts, completion):
    rows = rollout_rows()
    start = time.perf_counter()
    with torch.no_grad():
        for b in range(0, 64, 32):  # 32 prompts × 8 samples: left-padded batches of 256 rows, as kiln rl eval
            batch = [r for r in rows[b:b + 32] for _ in range(8)]
            width = max(map(len, batch))
            ids = torch.tensor([[0] * (width - len(r)) + r for r in batch])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in batch])
            model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0,
                           max_new_tokens=completion, pad_token_id=0)
    return 512 / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--completion", type=int, default=32)
    parser.add_argument("--kiln", type=Path, default=KILN)
    args = parser.parse_args()
    torch.set_num_threads(2)
    import trl
    print(f"torch {torch.__version__}, trl {trl.__version__}, {torch.get_num_threads()} threads")
    texts = prompts()
    with tempfile.TemporaryDirectory() as work:
        dir = Path(work) / "hf"
        model = checkpoint(dir).eval()
        k_step, k_gen, k_upd, k_len, run = kiln_grpo(dir, work, texts, args.steps,
                                                     args.completion, args.kiln)
        t_step = trl_grpo(dir, texts, args.steps, args.completion)
        k_roll = kiln_rollouts(run, args.completion, args.kiln, work)
        h_roll = hf_rollouts(model, texts, args.completion)
    print(f"| measure | kiln | peer | ratio |")
    print("|---|---|---|---|")
    print(f"| GRPO step, 64 rollouts × {args.completion} tokens (s; lower is better) | "
          f"{k_step:.2f} (generation {k_gen:.2f}, update {k_upd:.2f}; mean length "
          f"{k_len:.1f}) | TRL {t_step:.2f} | {t_step / k_step:.2f}× TRL's steps/s |")
    print(f"| rollouts, 64 prompts × 8 (completions/s) | {k_roll:.1f} | transformers "
          f"{h_roll:.1f} | {k_roll / h_roll:.2f}× |")


if __name__ == "__main__":
    main()
