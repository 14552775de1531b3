#!/usr/bin/env python3
"""Reference checkpoints for kiln's Hugging Face import (issue 5), made with transformers.

    tools/reference/.venv/bin/pip install torch transformers safetensors
    tools/reference/.venv/bin/python tools/reference/hf_reference.py

For every case in CASES it builds a tiny random LlamaForCausalLM / Qwen3ForCausalLM, saves it
with `save_pretrained` (safetensors; one case sharded with model.safetensors.index.json, one
in bf16, one in f16, one with a legacy `rope_theta` + `rope_scaling` config.json as real
Llama 3.1 / Qwen3 checkpoints have) under model/tests/fixtures/hf/<case>/, and writes
reference.json there: the logits of PROMPTS (a batch of two, no padding) computed in float32
from the stored weights, and the greedy continuation of each prompt by `generate`. The bf16
case also records the logits of the float32 model before rounding. Read by model/tests/hf.rs.

With the real Qwen3 tokenizer present (.ci/fetch-hf-data.sh), it also writes
  fixtures/hf/qwen3_tokenizer.json  ids of a multilingual sample by Python's tokenizers
  fixtures/hf/qwen3_chat.json       conversations rendered by apply_chat_template, and their ids

Finally, if model/tests/fixtures/hf/kiln_export/ exists (written by the Rust test
`kiln_export_matches_the_committed_fixture` with KILN_BLESS=1), it loads that kiln-exported
checkpoint with transformers, compares its logits with the ones kiln recorded there and
writes the result to kiln_export/transformers_check.json (checked by the Rust test).
"""
import json
import os
from pathlib import Path

import torch
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)

OUT = Path(__file__).resolve().parents[2] / "model" / "tests" / "fixtures" / "hf"
PROMPTS = [[3, 17, 42, 5, 88, 1, 60], [9, 9, 70, 2, 31, 64, 11]]
NEW_TOKENS = 8

COMMON = dict(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
              max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
CASES = {
    # GQA 4/2, untied, default RoPE, f32.
    "llama_gqa": dict(kind="llama", config=dict(COMMON, tie_word_embeddings=False), seed=1),
    # Tied embeddings, llama3 RoPE scaling, legacy config keys, two shards + index.json.
    "llama3_scaled_sharded": dict(
        kind="llama", seed=2, shard="40KB", legacy=True,
        config=dict(COMMON, tie_word_embeddings=True, rope_theta=500000.0,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                      high_freq_factor=4.0, original_max_position_embeddings=16))),
    # Untied, weights stored in bf16.
    "llama_bf16": dict(kind="llama", seed=3, dtype=torch.bfloat16,
                       config=dict(COMMON, tie_word_embeddings=False)),
    # Qwen3: q/k RMSNorm, head_dim 16 != hidden/heads = 8, θ = 1e6, untied, legacy keys.
    "qwen3": dict(kind="qwen3", seed=4, legacy=True,
                  config=dict(COMMON, tie_word_embeddings=False, head_dim=16, rope_theta=1e6,
                              eos_token_id=[2, 5])),
    # Qwen3 with tied embeddings, weights stored in f16.
    "qwen3_tied_f16": dict(kind="qwen3", seed=5, dtype=torch.float16,
                           config=dict(COMMON, tie_word_embeddings=True, head_dim=8,
                                       rope_theta=1e6)),
}


def build(case):
    torch.manual_seed(case["seed"])
    cfg = dict(case["config"])
    theta = cfg.pop("rope_theta", 10000.0)
    scaling = cfg.pop("rope_scaling", None)
    cfg["rope_parameters"] = dict(dict(rope_type="default"), rope_theta=theta, **(scaling or {}))
    if case["kind"] == "llama":
        model = LlamaForCausalLM(LlamaConfig(**cfg))
    else:
        model = Qwen3ForCausalLM(Qwen3Config(**cfg))
    # Larger weights than the default init (std 0.02), so the logits are well separated and a
    # swapped or mis-transposed tensor shows; norm gains away from one so they are tested too.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    return model.eval()


def logits_and_greedy(model):
    with torch.no_grad():
        logits = model(torch.tensor(PROMPTS)).logits.float()
        greedy = model.generate(torch.tensor(PROMPTS), attention_mask=torch.ones(2, len(PROMPTS[0]),
                                dtype=torch.long), max_new_tokens=NEW_TOKENS, do_sample=False,
                                eos_token_id=None, pad_token_id=0)
    # Smallest gap between the best and second-best logit along the greedy path: greedy tokens
    # are only comparable across implementations when it is far above float32 noise.
    with torch.no_grad():
        full = model(greedy).logits.float()[:, len(PROMPTS[0]) - 1:-1]
    top2 = full.topk(2, dim=-1).values
    margin = float((top2[..., 0] - top2[..., 1]).min())
    return logits, greedy[:, len(PROMPTS[0]):].tolist(), margin


def legacy_config(path, case):
    """Rewrites config.json in the pre-v5 form of real checkpoints (rope_theta, rope_scaling)."""
    cfg = json.loads(path.read_text())
    params = cfg.pop("rope_parameters")
    cfg["rope_theta"] = params.pop("rope_theta")
    rope_type = params.pop("rope_type")
    cfg["rope_scaling"] = dict(params, rope_type=rope_type) if rope_type != "default" else None
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def make_case(name, case):
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors*"):
        old.unlink()
    model = build(case)
    reference = {}
    dtype = case.get("dtype", torch.float32)
    if dtype != torch.float32:
        # What kiln computes: the stored (rounded) weights, upcast to float32.
        reference["logits_f32_before_rounding"] = logits_and_greedy(model)[0].tolist()
        model = model.to(dtype).float()
    kwargs = dict(max_shard_size=case["shard"]) if "shard" in case else {}
    weights = {k: v.to(dtype) for k, v in model.state_dict().items()}
    model.to(dtype).save_pretrained(out, safe_serialization=True, **kwargs)
    if case.get("legacy"):
        legacy_config(out / "config.json", case)
    # Check the files as written load back with the same numbers (legacy keys included).
    again = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    logits, greedy, margin = logits_and_greedy(again)
    for key, value in again.state_dict().items():
        assert torch.equal(value.to(dtype), weights[key]), (name, key)
    assert margin > 1e-3, f"{name}: greedy margin {margin} too small; change the seed"
    reference.update(prompts=PROMPTS, logits=logits.tolist(), greedy=greedy,
                     greedy_min_margin=margin, dtype=str(dtype).removeprefix("torch."),
                     sharded="shard" in case)
    (out / "reference.json").write_text(json.dumps(reference) + "\n")
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{name}: {size / 1024:.0f} KB, greedy margin {margin:.3f}")


SAMPLE = [
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "Größenordnung, naïve café, señor — ½ € 3.14159",
    "日本語のテキストを分割します。東京は大きい。",
    "中文分词测试：今天天气很好。",
    "Привет, как дела? Всё хорошо.",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "😀👍🏽 emoji and\ttabs\n\nnew lines   spaces",
    "def f(x):\n    return x ** 2  # code",
    "<|im_start|>user\nspecial tokens<|im_end|>",
]
CONVERSATIONS = [
    dict(messages=[dict(role="user", content="What is 2+2?")], add_generation_prompt=True),
    dict(messages=[dict(role="system", content="You are terse."),
                   dict(role="user", content="Name a prime.")], add_generation_prompt=True,
         enable_thinking=False),
    dict(messages=[dict(role="user", content="Hi"),
                   dict(role="assistant", content="<think>\ngreet back\n</think>\n\nHello!"),
                   dict(role="user", content="Bye")], add_generation_prompt=True),
    dict(messages=[dict(role="user", content="Hi"),
                   dict(role="assistant", content="Hello!")], add_generation_prompt=False),
]


def tokenizer_fixtures():
    data = Path(os.environ.get("KILN_DATA", Path.home() / ".cache/kiln/data"))
    models = data / "hf/qwen3/package/models"
    if not (models / "tokenizer.json").exists():
        print(f"no Qwen3 tokenizer in {models}: run .ci/fetch-hf-data.sh; tokenizer fixtures kept")
        return
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(models / "tokenizer.json"))
    ids = [tok.encode(text, add_special_tokens=False).ids for text in SAMPLE]
    decoded = [tok.decode(i, skip_special_tokens=False) for i in ids]
    (OUT / "qwen3_tokenizer.json").write_text(json.dumps(
        dict(texts=SAMPLE, ids=ids, decoded=decoded, vocab_size=tok.get_vocab_size(True)),
        ensure_ascii=False, indent=1) + "\n")
    hf = AutoTokenizer.from_pretrained(str(models))
    rendered = []
    for conv in CONVERSATIONS:
        kwargs = {k: v for k, v in conv.items() if k != "messages"}
        text = hf.apply_chat_template(conv["messages"], tokenize=False, **kwargs)
        rendered.append(dict(conv, rendered=text,
                             ids=tok.encode(text, add_special_tokens=False).ids))
    (OUT / "qwen3_chat.json").write_text(json.dumps(rendered, ensure_ascii=False, indent=1) + "\n")
    print("tokenizer and chat fixtures written")


def check_kiln_export():
    out = OUT / "kiln_export"
    if not (out / "kiln_logits.json").exists():
        print("no kiln export to check yet (run the Rust test with KILN_BLESS=1)")
        return
    kiln = json.loads((out / "kiln_logits.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor(kiln["prompts"])).logits
    diff = float((logits - torch.tensor(kiln["logits"]).reshape(logits.shape)).abs().max())
    # The sum ties this check to the kiln_logits.json (and so the export) it was made from.
    result = dict(transformers_class=type(model).__name__, max_abs_diff=diff,
                  kiln_logits_sum=float(torch.tensor(kiln["logits"], dtype=torch.float64).sum()))
    (out / "transformers_check.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"kiln export: {type(model).__name__}, max |Δlogits| = {diff:.2e}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name, case in CASES.items():
        make_case(name, case)
    tokenizer_fixtures()
    check_kiln_export()
