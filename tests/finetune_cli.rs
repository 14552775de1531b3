//! End-to-end tests of `kiln sft`, `kiln rl` and `kiln rl eval` (issue 25) on a tiny policy:
//! a fine-tuned run is a kiln run directory again, a paused run resumes exactly (GRPO with
//! μ = 2 included, whose rollouts live in the checkpoint between their updates), and bad input
//! is a clear error that leaves nothing half-written.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fails_with, kiln, ok};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (step, loss) of every logged step.
fn losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap())
        })
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A tiny base model trained for a few steps, and arithmetic problems with worked answers.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let text = include_str!("../data/jargon/train.txt");
        let mut end = 30_000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        std::fs::write(p("text.txt"), &text[..end]).unwrap();
        std::fs::write(
            p("base.json"),
            r#"{"model": "tiny", "train": {"steps": 4, "batch_size": 4, "seq_len": 32,
                "log_every": 1, "eval_every": 4, "eval_batches": 1, "checkpoint_every": 4}}"#,
        )
        .unwrap();
        ok(&kiln(&[
            "train",
            "--device",
            "cpu",
            "--out",
            s(&p("base")),
            "--config",
            s(&p("base.json")),
            "--data",
            s(&p("text.txt")),
        ]));
        ok(&kiln(&[
            "task",
            "export",
            "--task",
            "arith-easy",
            "--n",
            "40",
            "--out",
            s(&p("easy.jsonl")),
        ]));
        std::fs::write(
            p("sft.json"),
            r#"{"train": {"steps": 6, "batch_size": 4, "seq_len": 48, "log_every": 1,
                "eval_every": 3, "checkpoint_every": 3}}"#,
        )
        .unwrap();
        std::fs::write(
            p("rl.json"),
            r#"{"train": {"steps": 4, "checkpoint_every": 2, "grad_accum_steps": 2},
                "grpo": {"num_generations": 4, "prompts_per_step": 2, "max_completion_length": 8,
                         "num_iterations": 2, "beta": 0.04, "log_completions_every": 1}}"#,
        )
        .unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sft(&self, out: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "sft",
            "--device",
            "cpu",
            "--init",
            s(&self.path("base")).to_owned().leak(),
            "--data",
            s(&self.path("easy.jsonl")).to_owned().leak(),
            "--config",
            s(&self.path("sft.json")).to_owned().leak(),
            "--out",
            s(&self.path(out)).to_owned().leak(),
        ];
        args.extend(extra);
        kiln(&args)
    }

    fn rl(&self, algo: &str, out: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "rl",
            "--device",
            "cpu",
            "--algo",
            algo,
            "--task",
            "arith-easy",
            "--prompts",
            "6",
            "--init",
            s(&self.path("base")).to_owned().leak(),
            "--config",
            s(&self.path("rl.json")).to_owned().leak(),
            "--out",
            s(&self.path(out)).to_owned().leak(),
        ];
        args.extend(extra);
        kiln(&args)
    }
}

#[test]
fn sft_trains_on_completions_resumes_exactly_and_leaves_a_run_directory() {
    let t = Setup::new();
    let stdout = ok(&t.sft("sft", &[]));
    assert!(
        stdout.contains("38 training / 2 held-out examples"),
        "{stdout}"
    );
    assert!(stdout.contains("held-out completion loss"), "{stdout}");
    let straight = losses(&t.path("sft"));
    assert_eq!(straight.len(), 6);

    ok(&t.sft("paused", &["--stop-at", "3"]));
    let paused = t.path("paused");
    ok(&kiln(&[
        "sft",
        "--device",
        "cpu",
        "--out",
        s(&paused),
        "--resume",
    ]));
    assert_eq!(losses(&paused), straight, "a resumed SFT run differs");

    // A fine-tuned run is an ordinary run directory.
    ok(&kiln(&[
        "generate",
        "--device",
        "cpu",
        "--run",
        s(&t.path("sft")),
        "--prompt",
        "Q: 1+2=?\n",
        "--max-tokens",
        "4",
    ]));
    ok(&kiln(&[
        "eval",
        "--device",
        "cpu",
        "--run",
        s(&t.path("sft")),
    ]));

    // Bad input: a clear error, and the existing run untouched.
    fails_with(&t.sft("sft", &[]), "already holds a run");
    let bad = t.path("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 1}\n",
    )
    .unwrap();
    let out = kiln(&[
        "sft",
        "--device",
        "cpu",
        "--init",
        s(&t.path("base")),
        "--data",
        s(&bad),
        "--out",
        s(&t.path("bad-run")),
    ]);
    fails_with(&out, "bad.jsonl:2: malformed JSON");
    fails_with(
        &kiln(&["sft", "--out", s(&paused), "--resume", "--data", s(&bad)]),
        "--resume continues the run",
    );
}

#[test]
fn rl_restrain_and_grpo_resume_exactly_and_evaluate() {
    let t = Setup::new();
    let stdout = ok(&t.rl("restrain", "restrain", &[]));
    assert!(stdout.contains("6 training prompts"), "{stdout}");
    let weights: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path("restrain/prompt_weights.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(weights["weights"].as_object().unwrap().len(), 6);
    let metrics = std::fs::read_to_string(t.path("restrain/metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for key in [
        "reward",
        "reward_std",
        "frac_reward_zero_std",
        "completions/mean_length",
        "completions/clipped_ratio",
        "entropy",
        "kl",
        "clip_ratio/region_mean",
        "time/generation",
        "time/reference",
        "time/update",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert!(t.path("restrain/completions.jsonl").exists());
    // A resumed run keeps its own estimator; another one is refused.
    ok(&kiln(&[
        "rl",
        "--device",
        "cpu",
        "--out",
        s(&t.path("restrain")),
        "--resume",
        "--steps",
        "5",
    ]));
    assert_eq!(losses(&t.path("restrain")).len(), 5);
    fails_with(
        &kiln(&[
            "rl",
            "--out",
            s(&t.path("restrain")),
            "--resume",
            "--algo",
            "ttrl",
        ]),
        "the run uses --algo",
    );

    // GRPO with μ = 2: pausing after step 1 leaves the first generation's second update in
    // the checkpoint; the resumed run must match step for step.
    ok(&t.rl("grpo", "grpo", &[]));
    let straight = losses(&t.path("grpo"));
    assert_eq!(straight.len(), 4);
    ok(&t.rl("grpo", "paused", &["--stop-at", "1"]));
    ok(&kiln(&[
        "rl",
        "--device",
        "cpu",
        "--out",
        s(&t.path("paused")),
        "--resume",
    ]));
    assert_eq!(
        losses(&t.path("paused")),
        straight,
        "a resumed GRPO run differs"
    );

    let json = t.path("eval.json");
    let stdout = ok(&kiln(&[
        "rl",
        "eval",
        "--device",
        "cpu",
        "--run",
        s(&t.path("grpo")),
        "--n",
        "4",
        "--k",
        "2",
        "--json",
        s(&json),
    ]));
    assert!(stdout.contains("majority@2"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["problems"], 4);
    assert_eq!(report["samples"], 2);
    assert!((0.0..=1.0).contains(&report["pass_at_1"].as_f64().unwrap()));

    // Bad input.
    let long = t.path("long.jsonl");
    let prompt = "Q: ".to_owned() + &"1+".repeat(60) + "1=?\n";
    std::fs::write(
        &long,
        format!("{{\"prompt\": {prompt:?}, \"gold\": \"61\"}}\n"),
    )
    .unwrap();
    let out = kiln(&[
        "rl",
        "--device",
        "cpu",
        "--init",
        s(&t.path("base")),
        "--tasks",
        s(&long),
        "--out",
        s(&t.path("long-run")),
    ]);
    fails_with(&out, "prompt 1 has");
    fails_with(
        &kiln(&[
            "rl",
            "--out",
            s(&t.path("grpo")),
            "--resume",
            "--task",
            "game24",
        ]),
        "--resume continues the run",
    );
    fails_with(
        &kiln(&[
            "rl",
            "--init",
            s(&t.path("base")),
            "--task",
            "arith-nope",
            "--out",
            s(&t.path("nope")),
        ]),
        "arith-nope",
    );
    assert!(
        !t.path("nope").exists(),
        "a refused run left a directory behind"
    );
}

/// Every command that computes runs on every `--device` (flex, ndarray, wgpu: Mesa's lavapipe
/// where there is no GPU) and says which one it used.
#[test]
fn every_computing_command_runs_on_every_device() {
    let t = Setup::new();
    let base = s(&t.path("base")).to_owned();
    for device in ["cpu", "ndarray", "wgpu"] {
        let want = match device {
            "cpu" => "device: flex",
            "ndarray" => "device: ndarray",
            _ => "device: wgpu",
        };
        let out = |name: &str| t.path(&format!("{name}-{device}"));
        let steps = ["--steps", "1"];
        let runs: Vec<Vec<String>> = vec![
            vec![
                "train",
                "--out",
                s(&out("train")),
                "--config",
                s(&t.path("base.json")),
                "--data",
                s(&t.path("text.txt")),
            ],
            vec![
                "generate",
                "--run",
                &base,
                "--prompt",
                "Q: 1+2=?\n",
                "--max-tokens",
                "3",
            ],
            vec!["eval", "--run", &base],
            vec![
                "sft",
                "--init",
                &base,
                "--data",
                s(&t.path("easy.jsonl")),
                "--config",
                s(&t.path("sft.json")),
                "--out",
                s(&out("sft")),
            ],
            vec![
                "rl",
                "--init",
                &base,
                "--prompts",
                "4",
                "--config",
                s(&t.path("rl.json")),
                "--out",
                s(&out("rl")),
            ],
            vec![
                "rl",
                "eval",
                "--run",
                &base,
                "--n",
                "2",
                "--k",
                "2",
                "--max-tokens",
                "4",
            ],
            vec![
                "toy",
                "blocks",
                "--blocks",
                "3",
                "--batch-size",
                "2",
                "--test-examples",
                "2",
            ],
        ]
        .into_iter()
        .map(|v| v.into_iter().map(str::to_owned).collect())
        .collect();
        for mut args in runs {
            if args[0] != "generate" && args[0] != "eval" && !(args[0] == "rl" && args[1] == "eval")
            {
                args.extend(steps.iter().map(|a| a.to_string()));
            }
            args.extend(["--device".to_owned(), device.to_owned()]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = kiln(&refs);
            let all = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "kiln {args:?} failed:\n{all}");
            assert!(
                all.contains(want),
                "kiln {args:?} did not say {want:?}:\n{all}"
            );
        }
    }
}
