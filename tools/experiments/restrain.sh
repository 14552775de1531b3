#!/usr/bin/env bash
# RESTRAIN against TTRL and gold-label GRPO at small scale (issue 25; the paper's claim,
# arXiv 2510.02172 §4: RESTRAIN close to gold labels, TTRL collapsing).
#
#   1. base policy: a small kiln LM pre-trained briefly on the built-in corpus, then SFT on
#      worked chains (`kiln task export` demonstrations): arith-easy (two operations on
#      one-digit numbers) and a few of the harder RL task, then a second SFT stage on more of
#      the harder task (SFT2_EXAMPLES; 0 skips it) so that the base solves some of it;
#   2. RL on unlabeled prompts of the harder task (arith-3x1: three operations) with --algo
#      grpo (gold labels), ttrl and restrain, same budget, seeds 0 1 2;
#   3. held-out pass@1 and majority@K every EVAL_EVERY steps (`kiln rl eval` between
#      `--stop-at` segments: a paused run resumes exactly), into results.jsonl;
#   4. tools/experiments/restrain_plot.py draws the curves and prints the final table.
#
# Sizes are environment variables, so a quick look and the reported run share the script:
#   OUT=runs/restrain STEPS=60 bash tools/experiments/restrain.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-runs/restrain}
KILN=${KILN:-${CARGO_TARGET_DIR:-target}/release/kiln}
DEVICE=${DEVICE:-cpu}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-60}
SFT_STEPS=${SFT_STEPS:-300}
SFT_EXAMPLES=${SFT_EXAMPLES:-3000}
SFT_HARD_EXAMPLES=${SFT_HARD_EXAMPLES:-1000}
RL_TASK=${RL_TASK:-arith-3x1}
RL_PROMPTS=${RL_PROMPTS:-256}
RL_LR=${RL_LR:-5e-5}
STEPS=${STEPS:-60}
EVAL_EVERY=${EVAL_EVERY:-20}
EVAL_N=${EVAL_N:-64}
EVAL_K=${EVAL_K:-8}
SEEDS=${SEEDS:-"0 1 2"}
ALGOS=${ALGOS:-"grpo ttrl restrain"}
mkdir -p "$OUT"

if [ ! -d "$OUT/base" ]; then
    cat > "$OUT/base.json" <<JSON
{"model": "small", "train": {"steps": $PRETRAIN_STEPS, "batch_size": 16, "seq_len": 128,
 "learning_rate": 1e-3, "warmup_steps": 20, "eval_every": 100, "checkpoint_every": 100}}
JSON
    "$KILN" train --device "$DEVICE" --config "$OUT/base.json" --out "$OUT/base"
fi
if [ ! -d "$OUT/sft" ]; then
    "$KILN" task export --task arith-easy --n "$SFT_EXAMPLES" --seed 100 --out "$OUT/easy.jsonl"
    "$KILN" task export --task "$RL_TASK" --n "$SFT_HARD_EXAMPLES" --seed 100 --out "$OUT/hard.jsonl"
    cat "$OUT/easy.jsonl" "$OUT/hard.jsonl" | shuf --random-source=<(yes) > "$OUT/sft.jsonl"
    cat > "$OUT/sft.json" <<JSON
{"train": {"steps": $SFT_STEPS, "batch_size": 32, "seq_len": 96, "learning_rate": 1e-3,
 "warmup_steps": 20, "eval_every": 100, "checkpoint_every": 100}}
JSON
    "$KILN" sft --device "$DEVICE" --init "$OUT/base" --data "$OUT/sft.jsonl" \
        --config "$OUT/sft.json" --out "$OUT/sft"
fi
POLICY="$OUT/sft"
if [ "${SFT2_EXAMPLES:-4000}" -gt 0 ]; then
    POLICY="$OUT/sft2"
    if [ ! -d "$OUT/sft2" ]; then
        "$KILN" task export --task "$RL_TASK" --n "${SFT2_EXAMPLES:-4000}" --seed 200 --out "$OUT/hard2.jsonl"
        cat > "$OUT/sft2.json" <<JSON
{"train": {"steps": ${SFT2_STEPS:-400}, "batch_size": 32, "seq_len": 96, "learning_rate": 1e-3,
 "warmup_steps": 20, "eval_every": 200, "checkpoint_every": 200}}
JSON
        "$KILN" sft --device "$DEVICE" --init "$OUT/sft" --data "$OUT/hard2.jsonl" \
            --config "$OUT/sft2.json" --out "$OUT/sft2"
    fi
fi
cat > "$OUT/rl.json" <<JSON
{"train": {"steps": $STEPS, "learning_rate": $RL_LR, "warmup_steps": 0, "checkpoint_every": $EVAL_EVERY},
 "grpo": {"num_generations": 8, "prompts_per_step": 8, "max_completion_length": 40,
          "temperature": 1.0, "log_completions_every": 20}}
JSON

evaluate() { # run step algo seed
    "$KILN" rl eval --device "$DEVICE" --run "$1" --task "$RL_TASK" --n "$EVAL_N" \
        --k "$EVAL_K" --json "$OUT/eval.json" > /dev/null
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(step=int(sys.argv[2]), algo=sys.argv[3], seed=int(sys.argv[4])); print(json.dumps(r))' \
        "$OUT/eval.json" "$2" "$3" "$4" >> "$OUT/results.jsonl"
}

if ! grep -q '"algo": "base"' "$OUT/results.jsonl" 2>/dev/null; then
    evaluate "$POLICY" 0 base 0
fi
for algo in $ALGOS; do
    for seed in $SEEDS; do
        run="$OUT/$algo-$seed"
        [ -d "$run" ] && continue
        step=$EVAL_EVERY
        "$KILN" rl --device "$DEVICE" --algo "$algo" --task "$RL_TASK" --prompts "$RL_PROMPTS" \
            --init "$POLICY" --config "$OUT/rl.json" --seed "$seed" --out "$run" --stop-at "$step"
        evaluate "$run" "$step" "$algo" "$seed"
        while [ "$step" -lt "$STEPS" ]; do
            step=$((step + EVAL_EVERY))
            "$KILN" rl --device "$DEVICE" --algo "$algo" --out "$run" --resume --stop-at "$step"
            evaluate "$run" "$step" "$algo" "$seed"
        done
    done
done
python3 tools/experiments/restrain_plot.py "$OUT/results.jsonl" "$OUT/restrain.png"
