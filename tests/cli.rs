//! End-to-end tests of the `kiln` binary on small real text: exact resumption, crash safety,
//! and clear one-line errors for bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fails_with, ok};

/// 60 KB of the built-in corpus, enough for the tiny model.
fn sample_text() -> String {
    let text = include_str!("../data/jargon/train.txt");
    let mut end = 60_000;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(s.path("text.txt"), sample_text()).unwrap();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A run config for the tiny preset with `train` overrides.
    fn config(&self, name: &str, train: &str) -> PathBuf {
        let path = self.path(name);
        let base = r#""steps": 12, "batch_size": 4, "seq_len": 32, "warmup_steps": 2, "log_every": 1,
                      "eval_every": 6, "eval_batches": 2, "checkpoint_every": 3, "seed": 7"#;
        let train = if train.is_empty() {
            base.to_owned()
        } else {
            format!("{base}, {train}")
        };
        std::fs::write(
            &path,
            format!(r#"{{"model": "tiny", "train": {{{train}}}}}"#),
        )
        .unwrap();
        path
    }
}

fn kiln(args: &[&str], env: &[(&str, &str)]) -> Output {
    common::kiln_env(args, env)
}

fn train(s: &Scratch, out: &Path, config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let text = s.path("text.txt");
    let mut args = vec!["train", "--device", "cpu", "--out", out.to_str().unwrap()];
    args.extend([
        "--config",
        config.to_str().unwrap(),
        "--data",
        text.to_str().unwrap(),
    ]);
    args.extend(extra);
    kiln(&args, env)
}

fn train_on(s: &Scratch, device: &str, out: &Path, config: &Path, env: &[(&str, &str)]) -> Output {
    let text = s.path("text.txt");
    let args = [
        "train",
        "--device",
        device,
        "--out",
        out.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ];
    kiln(
        &[&args[..], &["--data", text.to_str().unwrap()]].concat(),
        env,
    )
}

fn losses(run: &Path) -> Vec<(usize, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_u64().unwrap() as usize,
                v["loss"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Trains 12 steps straight and in two pieces (paused after step 5) with the `extra` flags;
/// the losses must agree. Returns the straight run's folder.
fn assert_resumption_is_exact(s: &Scratch, extra: &[&str]) -> PathBuf {
    let config = s.config("run.json", "");
    let straight = s.path("straight");
    ok(&train(s, &straight, &config, extra, &[]));
    let paused = s.path("paused");
    let out = ok(&train(
        s,
        &paused,
        &config,
        &[extra, &["--stop-at", "5"]].concat(),
        &[],
    ));
    assert!(out.contains("paused at step 5"), "{out}");
    let out = ok(&kiln(
        &[
            "train",
            "--device",
            "cpu",
            "--out",
            paused.to_str().unwrap(),
            "--resume",
        ],
        &[],
    ));
    assert!(out.contains("resuming at step 5"), "{out}");

    let (a, b) = (losses(&straight), losses(&paused));
    assert_eq!(a.len(), 12);
    assert_eq!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        b.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    for ((step, la), (_, lb)) in a.iter().zip(&b) {
        assert!(
            (la - lb).abs() < 1e-5,
            "step {step}: straight {la} vs resumed {lb}"
        );
    }
    straight
}

#[test]
fn resumed_run_matches_the_uninterrupted_one() {
    let s = Scratch::new();
    let straight = assert_resumption_is_exact(&s, &[]);
    assert!(straight.join("loss.png").is_file());
}

#[test]
fn resumption_is_exact_with_stochastic_activations_and_a_relu_switch() {
    let s = Scratch::new();
    // StochA for steps 1-9, RELU for 10-12: the pause at 5 falls inside the stochastic part.
    let flags = [
        "--activation",
        "stocha",
        "--stocha-p",
        "0.5",
        "--relu-finetune",
        "0.25",
    ];
    let straight = assert_resumption_is_exact(&s, &flags);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(straight.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model"]["hidden_act"], "stocha");
    assert_eq!(config["model"]["stocha_p"], 0.5);
    assert_eq!(config["train"]["relu_finetune"], 0.25);
}

#[test]
fn a_run_killed_while_checkpointing_resumes_from_the_previous_checkpoint() {
    let s = Scratch::new();
    let config = s.config("run.json", "");
    let run = s.path("run");
    // Abort the process half-way through writing step 6's checkpoint.
    let out = train(
        &s,
        &run,
        &config,
        &[],
        &[("KILN_FAULT_ABORT_IN_CHECKPOINT", "6")],
    );
    assert!(!out.status.success());
    let run_arg = run.to_str().unwrap();
    let out = ok(&kiln(&["eval", "--device", "cpu", "--run", run_arg], &[]));
    assert!(
        out.contains("step 3"),
        "the previous checkpoint (step 3) loads: {out}"
    );
    let out = ok(&kiln(
        &["train", "--device", "cpu", "--out", run_arg, "--resume"],
        &[],
    ));
    assert!(out.contains("resuming at step 3"), "{out}");
    assert_eq!(losses(&run).last().unwrap().0, 12);
    // The resumed run equals an uninterrupted one.
    let straight = s.path("straight");
    ok(&train(&s, &straight, &config, &[], &[]));
    let (a, b) = (losses(&straight), losses(&run));
    assert!(
        (a[11].1 - b[11].1).abs() < 1e-5,
        "{:?} vs {:?}",
        a[11],
        b[11]
    );
}

#[test]
fn generate_streams_a_seeded_continuation() {
    let s = Scratch::new();
    let run = s.path("run");
    ok(&train(&s, &run, &s.config("run.json", ""), &[], &[]));
    let args = [
        "generate",
        "--device",
        "cpu",
        "--run",
        run.to_str().unwrap(),
        "--prompt",
        "The hack",
        "--max-tokens",
        "20",
    ];
    let a = ok(&kiln(&args, &[]));
    let b = ok(&kiln(&args, &[]));
    assert!(
        a.starts_with("The hack") && a.len() > "The hack".len() + 5,
        "{a}"
    );
    assert_eq!(a, b, "same seed, same text");
    let greedy = [&args[..], &["--temperature", "0"]].concat();
    ok(&kiln(&greedy, &[]));
}

/// stdout and stderr of a successful run.
fn ok_with_stderr(out: &Output) -> (String, String) {
    let stdout = ok(out);
    (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_relu_model_generates_sparsely_and_reports_its_sparsity() {
    let s = Scratch::new();
    let run = s.path("run");
    ok(&train(
        &s,
        &run,
        &s.config("run.json", ""),
        &["--activation", "relu"],
        &[],
    ));
    let run_arg = run.to_str().unwrap();
    let generate = |extra: &[&str]| {
        let args = [
            "generate",
            "--run",
            run_arg,
            "--prompt",
            "The hack",
            "--max-tokens",
            "12",
            "--temperature",
            "0",
        ];
        ok_with_stderr(&kiln(&[&args[..], extra].concat(), &[]))
    };
    // Greedy decoding: the sparse engine must pick the same tokens as the dense model.
    let (dense, _) = generate(&["--device", "cpu"]);
    let (sparse, report) = generate(&["--sparse"]);
    assert_eq!(dense, sparse);
    assert!(report.contains("tokens/s"), "{report}");
    assert!(report.contains("FFN sparsity per layer"), "{report}");

    // Stochastic activations draw from the seeded device generator: same seed, same text.
    let stochastic = ["--device", "cpu", "--stochastic-activations", "0.5"];
    let (a, _) = generate(&[&stochastic[..], &["--seed", "1"]].concat());
    let (b, _) = generate(&[&stochastic[..], &["--seed", "1"]].concat());
    assert_eq!(a, b);
    fails_with(
        &kiln(
            &[
                "generate",
                "--run",
                run_arg,
                "--prompt",
                "x",
                "--stochastic-activations",
                "2",
            ],
            &[],
        ),
        "stochastic-activations",
    );

    let out = ok(&kiln(
        &["sparsity", "--run", run_arg, "--batches", "2"],
        &[],
    ));
    assert!(out.contains("layer 1:"), "{out}");
    assert!(out.contains("mean sparsity"), "{out}");
}

#[test]
fn a_silu_model_refuses_the_sparse_engine() {
    let s = Scratch::new();
    let run = s.path("run");
    ok(&train(&s, &run, &s.config("run.json", ""), &[], &[]));
    let args = [
        "generate",
        "--run",
        run.to_str().unwrap(),
        "--prompt",
        "x",
        "--sparse",
    ];
    fails_with(&kiln(&args, &[]), "RELU");
}

/// `--sparse` and `--stochastic-activations` used to be accepted and ignored with `--hf`.
#[test]
fn an_hf_checkpoint_refuses_the_flags_it_cannot_honour() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/model/tests/fixtures/hf/qwen3");
    for (flag, needle) in [
        (&["--sparse"][..], "--sparse needs a RELU model"),
        (
            &["--stochastic-activations", "0.5"][..],
            "--stochastic-activations needs",
        ),
    ] {
        let mut args = vec!["generate", "--hf", dir, "--prompt", "x", "--device", "cpu"];
        args.extend(flag);
        let out = kiln(&args, &[]);
        fails_with(&out, needle);
        fails_with(&out, "config.json: the checkpoint uses silu");
    }
}

#[test]
fn bad_data_is_a_clear_error() {
    let s = Scratch::new();
    let config = s.config("run.json", "");
    let run = s.path("run");
    let text = |args: &[&str]| {
        let mut all = vec![
            "train",
            "--device",
            "cpu",
            "--out",
            run.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ];
        all.extend(args);
        kiln(&all, &[])
    };
    fails_with(&text(&["--data", "/no/such/file.txt"]), "/no/such/file.txt");
    let empty = s.path("empty.txt");
    std::fs::write(&empty, "").unwrap();
    fails_with(&text(&["--data", empty.to_str().unwrap()]), "no text");
    let folder = s.path("images");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("a.png"), [0u8, 1, 2]).unwrap();
    fails_with(
        &text(&["--data", folder.to_str().unwrap()]),
        "no .txt files",
    );
    let binary = s.path("binary.txt");
    std::fs::write(&binary, [b'a', 0xff, 0xfe, b'b']).unwrap();
    fails_with(&text(&["--data", binary.to_str().unwrap()]), "not UTF-8");
    assert!(
        !run.join("config.json").exists(),
        "nothing written for a failed start"
    );
}

#[test]
fn malformed_config_is_a_clear_error() {
    let s = Scratch::new();
    let bad = s.path("bad.json");
    std::fs::write(&bad, "{\"model\": \"tiny\", ").unwrap();
    fails_with(&train(&s, &s.path("a"), &bad, &[], &[]), "bad.json");
    std::fs::write(&bad, r#"{"model": "huge"}"#).unwrap();
    fails_with(
        &train(&s, &s.path("b"), &bad, &[], &[]),
        "unknown model preset",
    );
    std::fs::write(&bad, r#"{"model": "tiny", "train": {"steps": 0}}"#).unwrap();
    fails_with(
        &train(&s, &s.path("c"), &bad, &[], &[]),
        "steps must be positive",
    );
}

#[test]
fn damaged_checkpoints_and_wrong_tokenizers_are_clear_errors() {
    let s = Scratch::new();
    let run = s.path("run");
    ok(&train(&s, &run, &s.config("run.json", ""), &[], &[]));
    let run_arg = run.to_str().unwrap();
    let eval = || kiln(&["eval", "--device", "cpu", "--run", run_arg], &[]);
    let step_dir = run.join("checkpoints/step-00000012");
    let model = step_dir.join("model.bpk");
    let original = std::fs::read(&model).unwrap();

    // Truncated weights.
    std::fs::write(&model, &original[..original.len() / 2]).unwrap();
    fails_with(&eval(), "truncated");
    // Same size, other bytes.
    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    std::fs::write(&model, &flipped).unwrap();
    fails_with(&eval(), "corrupted");
    std::fs::write(&model, &original).unwrap();
    ok(&eval());

    // A checkpoint of another architecture.
    let other = s.path("other");
    ok(&train(
        &s,
        &other,
        &s.config("other.json", r#""steps": 3"#).to_owned(),
        &[],
        &[],
    ));
    let foreign = s.path("foreign");
    std::fs::create_dir(&foreign).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    config["model"]["hidden_size"] = 64.into();
    std::fs::write(foreign.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(run.join("tokenizer.json"), foreign.join("tokenizer.json")).unwrap();
    copy_dir(&run.join("checkpoints"), &foreign.join("checkpoints"));
    fails_with(
        &kiln(
            &[
                "eval",
                "--device",
                "cpu",
                "--run",
                foreign.to_str().unwrap(),
            ],
            &[],
        ),
        "another architecture",
    );
    // Not a kiln checkpoint at all.
    std::fs::write(step_dir.join("state.json"), "garbage").unwrap();
    fails_with(&eval(), "state.json");

    // A tokenizer that is not the one the checkpoint was trained with.
    let retrained = s.path("other-tokenizer.json");
    ok(&kiln(
        &[
            "tokenizer",
            "train",
            "--data",
            s.path("text.txt").to_str().unwrap(),
            "--vocab",
            "300",
            "--out",
            retrained.to_str().unwrap(),
        ],
        &[],
    ));
    std::fs::copy(&retrained, other.join("tokenizer.json")).unwrap();
    fails_with(
        &kiln(
            &["eval", "--device", "cpu", "--run", other.to_str().unwrap()],
            &[],
        ),
        "tokenizer",
    );
}

#[test]
fn divergence_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let s = Scratch::new();
    let run = s.path("run");
    let config = s.config(
        "run.json",
        r#""learning_rate": 1e9, "warmup_steps": 1, "grad_clip": 0.0, "checkpoint_every": 1"#,
    );
    let out = train(&s, &run, &config, &[], &[]);
    fails_with(&out, "diverged");
    let out = ok(&kiln(
        &["eval", "--device", "cpu", "--run", run.to_str().unwrap()],
        &[],
    ));
    assert!(out.contains("held-out loss"), "{out}");
}

#[test]
fn an_existing_run_is_never_overwritten() {
    let s = Scratch::new();
    let run = s.path("run");
    let config = s.config("run.json", r#""steps": 3"#);
    ok(&train(&s, &run, &config, &[], &[]));
    let before = std::fs::read(run.join("config.json")).unwrap();
    fails_with(&train(&s, &run, &config, &[], &[]), "already holds a run");
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), before);
    fails_with(
        &kiln(
            &[
                "train",
                "--resume",
                "--out",
                s.path("nothing").to_str().unwrap(),
            ],
            &[],
        ),
        "no run to resume",
    );
}

#[test]
fn wgpu_without_an_adapter_is_a_clear_error() {
    let s = Scratch::new();
    // Hide every Vulkan driver and every EGL (OpenGL) vendor from the loaders.
    let hidden = [
        ("VK_ICD_FILENAMES", "/nonexistent.json"),
        ("VK_DRIVER_FILES", "/nonexistent.json"),
        ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json"),
        ("__EGL_VENDOR_LIBRARY_DIRS", "/nonexistent"),
    ];
    let run = s.path("run");
    let config = s.config("run.json", r#""steps": 1"#);
    fails_with(
        &train_on(&s, "wgpu", &run, &config, &hidden),
        "--device wgpu",
    );
    assert!(!run.exists(), "nothing written");
    // `auto` falls back to the CPU.
    let out = ok(&train_on(&s, "auto", &run, &config, &hidden));
    assert!(
        out.contains("device: flex (CPU) (auto: no wgpu adapter)"),
        "{out}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn toy_blocks_ends_with_the_error_rate_and_writes_its_result() {
    let s = Scratch::new();
    let out_dir = s.path("toy");
    for attention in ["standard", "mta"] {
        let out = kiln(
            &[
                "toy",
                "blocks",
                "--attention",
                attention,
                "--steps",
                "2",
                "--blocks",
                "3",
                "--batch-size",
                "2",
                "--test-examples",
                "5",
                "--device",
                "cpu",
                "--out",
                out_dir.to_str().unwrap(),
            ],
            &[],
        );
        let stdout = ok(&out);
        let last = stdout.lines().last().unwrap();
        let rate: f64 = last.strip_prefix("error_rate=").unwrap().parse().unwrap();
        assert!((0.0..=100.0).contains(&rate), "{last}");
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("result.json")).unwrap())
                .unwrap();
        assert_eq!(result["attention"], attention);
        assert_eq!(result["seq_len"], 25);
        assert_eq!(result["answer_loss"].as_array().unwrap().len(), 2);
    }
}
