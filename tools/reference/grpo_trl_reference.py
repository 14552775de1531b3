#!/usr/bin/env python3
"""Reference GRPO losses, per-token gradients and advantages from TRL's own code
(trl==1.16.0, torch 2.15, CPU, float64).

    ~/.cache/kiln/venv/bin/pip install trl==1.16.0
    ~/.cache/kiln/venv/bin/python tools/reference/grpo_trl_reference.py

writes trainer/tests/fixtures/grpo_trl_reference.json, read by trainer/tests/grpo_trl.rs.

The loss is `GRPOTrainer._compute_loss` itself, called unbound on a stand-in `self` that
holds the config values and returns fixed log-probs from `_get_per_token_logps_and_entropies`,
so the aggregation, clipping, KL and the gradient-accumulation division are TRL's lines, not
a copy. For every `loss_type` (grpo, bnpo, dr_grpo, dapo) it records the loss and d loss /
d logp, on-policy (μ = 1: no old log-probs, TRL uses logp.detach()) and off-policy (μ > 1:
old log-probs differ, so the clip is active), with ε_high ≠ ε and β > 0.

Advantages: TRL computes them inline in `_generate_and_score_completions`; the lines below
are that code's `sum_then_normalize` branch with TRL's `nanstd`, for each `scale_rewards`,
on rewards that include an unscorable completion (every reward None → NaN).
"""
import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import torch
import trl
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import nanstd

assert trl.__version__ == "1.16.0", trl.__version__
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)

N, T = 4, 6
MAX_COMPLETION_LENGTH = 8
EPS_LOW, EPS_HIGH, BETA = 0.2, 0.28, 0.04
GRAD_ACCUM = 2  # = steps_per_generation, TRL's default relation
OTHER_TOKENS = 13

logp = -torch.rand(N, T) * 2.0 - 0.05
old = logp + (torch.rand(N, T) - 0.5) * 1.2  # ratios from ~0.55 to ~1.8: both clips active
ref = logp + (torch.rand(N, T) - 0.5) * 0.6
mask = torch.ones(N, T)
mask[0, 4:] = 0
mask[2, 2:] = 0
mask[3, 5:] = 0
advantages = torch.tensor([1.3, -0.7, 0.4, -1.1])


class Accelerator:
    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def trl_loss(loss_type, off_policy):
    lp = logp.clone().requires_grad_(True)
    stub = SimpleNamespace(
        top_entropy_quantile=1.0,
        aux_loss_enabled=False,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=BETA,
        loss_type=loss_type,
        epsilon_low=EPS_LOW,
        epsilon_high=EPS_HIGH,
        use_vllm=False,
        model=SimpleNamespace(training=True),
        current_gradient_accumulation_steps=GRAD_ACCUM,
        max_completion_length=MAX_COMPLETION_LENGTH,
        accelerator=Accelerator(),
        _entropy_bonus_enabled=False,
        _metrics={"train": defaultdict(list)},
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=GRAD_ACCUM),
        _get_per_token_logps_and_entropies=lambda *a, **k: (lp, torch.zeros(N, T), None),
    )
    inputs = {
        "prompt_ids": torch.zeros(N, 1, dtype=torch.long),
        "prompt_mask": torch.ones(N, 1, dtype=torch.long),
        "completion_ids": torch.zeros(N, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": advantages,
        "ref_per_token_logps": ref,
        # DAPO's normaliser: active tokens of the whole generation batch (this micro-batch and
        # another one with OTHER_TOKENS).
        "num_items_in_batch": mask.sum() + OTHER_TOKENS,
    }
    if off_policy:
        inputs["old_per_token_logps"] = old
    loss = GRPOTrainer._compute_loss(stub, None, inputs)
    loss.backward()
    m = stub._metrics["train"]
    return {
        "loss_type": loss_type,
        "off_policy": off_policy,
        "loss": loss.item(),
        "grad": lp.grad.tolist(),
        "kl": m["kl"][-1],
        "clip_low": m["clip_ratio/low_mean"][-1],
        "clip_high": m["clip_ratio/high_mean"][-1],
        "clip_region": m["clip_ratio/region_mean"][-1],
    }


def trl_advantages(rewards, group_size, scale_rewards):
    """`_generate_and_score_completions`, sum_then_normalize, one reward function of weight 1."""
    rewards = torch.tensor([float("nan") if r is None else r for r in rewards])
    unscorable = torch.isnan(rewards)
    mean = torch.nanmean(rewards.view(-1, group_size), dim=1).repeat_interleave(group_size)
    if scale_rewards in ["group", "none"]:
        std = nanstd(rewards.view(-1, group_size), dim=1).repeat_interleave(group_size)
    else:
        std = nanstd(rewards).expand_as(rewards)
    adv = rewards - mean
    if scale_rewards != "none":
        adv = adv / (std + 1e-4)
    adv[unscorable] = 0.0  # TRL forces the unscorable rows' advantage to 0 afterwards
    zero_std = torch.isclose(std, torch.zeros_like(std))
    return adv.tolist(), zero_std.view(-1, group_size)[:, 0].tolist()


REWARDS = [1.0, 0.0, None, 1.0, 0.5, 0.5, 0.5, 0.5, 2.0, -1.0, 0.0, 0.25]
out = {
    "trl_version": trl.__version__,
    "epsilon": EPS_LOW,
    "epsilon_high": EPS_HIGH,
    "beta": BETA,
    "max_completion_length": MAX_COMPLETION_LENGTH,
    "grad_accum_steps": GRAD_ACCUM,
    "dapo_tokens": (mask.sum() + OTHER_TOKENS).item(),
    "logp": logp.tolist(),
    "old_logp": old.tolist(),
    "ref_logp": ref.tolist(),
    "mask": mask.tolist(),
    "advantages": advantages.tolist(),
    "losses": [trl_loss(lt, op) for lt in ["grpo", "bnpo", "dr_grpo", "dapo"] for op in [False, True]],
    "rewards": REWARDS,
    "group_size": 4,
    "scaled": [],
}
for scale in ["group", "batch", "none"]:
    adv, zero = trl_advantages(REWARDS, 4, scale)
    out["scaled"].append({"scale_rewards": scale, "advantages": adv, "zero_std_groups": zero})

path = Path(__file__).resolve().parents[2] / "trainer/tests/fixtures/grpo_trl_reference.json"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps(out, indent=1) + "\n")
print("wrote", path)
