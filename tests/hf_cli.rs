//! End-to-end tests of `kiln generate --hf` and `kiln convert` on the tiny Qwen3 checkpoint of
//! `tools/reference/hf_reference.py` (model/tests/fixtures/hf/qwen3), with a word-level
//! tokenizer whose token `wN` is id N, so transformers' greedy ids can be read in the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("model/tests/fixtures/hf/qwen3")
}

/// The fixture checkpoint plus a tokenizer.json mapping `w0` … `w95` to ids 0 … 95.
fn checkpoint(dir: &Path) -> PathBuf {
    let out = dir.join("qwen3");
    std::fs::create_dir_all(&out).unwrap();
    for name in ["config.json", "generation_config.json", "model.safetensors"] {
        std::fs::copy(fixture().join(name), out.join(name)).unwrap();
    }
    let vocab: serde_json::Map<String, serde_json::Value> =
        (0..96).map(|i| (format!("w{i}"), i.into())).collect();
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}
    });
    std::fs::write(out.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    out
}

fn words(ids: &[u32]) -> String {
    ids.iter()
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn kiln(args: &[&str]) -> Output {
    let out = Command::new(KILN)
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

const PROMPT_A: [u32; 7] = [3, 17, 42, 5, 88, 1, 60];
const PROMPT_B: [u32; 7] = [9, 9, 70, 2, 31, 64, 11];
/// transformers' greedy continuations (fixtures/hf/qwen3/reference.json).
const GREEDY_A: [u32; 8] = [62, 4, 53, 46, 78, 53, 53, 53];
const GREEDY_B: [u32; 8] = [1, 0, 29, 0, 29, 22, 76, 0];

fn generate(dir: &Path, extra: &[&str]) -> String {
    let dir = dir.to_str().unwrap();
    let mut args = vec![
        "generate",
        "--hf",
        dir,
        "--temperature",
        "0",
        "--max-tokens",
        "8",
    ];
    args.extend(["--device", "cpu"]);
    args.extend(extra);
    stdout(&kiln(&args))
}

#[test]
fn generate_hf_matches_transformers_greedy_streamed_and_batched() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = checkpoint(scratch.path());
    let (a, b) = (words(&PROMPT_A), words(&PROMPT_B));
    let single = generate(&dir, &["--prompt", &a]);
    assert_eq!(single, format!("{a}{}\n", words(&GREEDY_A)));
    let batch = generate(&dir, &["--prompt", &a, "--prompt", &b]);
    assert_eq!(
        batch,
        format!(
            "=== 1\n{a}{}\n=== 2\n{b}{}\n",
            words(&GREEDY_A),
            words(&GREEDY_B)
        )
    );
    // A stop string ends generation before it and is not printed.
    let stopped = generate(&dir, &["--prompt", &a, "--stop", "w78"]);
    assert_eq!(stopped, format!("{a}{} \n", words(&GREEDY_A[..4])));
}

#[test]
fn convert_to_a_run_and_back_keeps_the_model() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = checkpoint(scratch.path());
    let run = scratch.path().join("run");
    let back = scratch.path().join("back");
    let p = |p: &Path| p.to_str().unwrap().to_owned();
    kiln(&["convert", "--from-hf", &p(&dir), "--to-run", &p(&run)]);
    let a = words(&PROMPT_A);
    let from_run = kiln(&[
        "generate",
        "--run",
        &p(&run),
        "--prompt",
        &a,
        "--temperature",
        "0",
        "--max-tokens",
        "8",
        "--device",
        "cpu",
    ]);
    assert_eq!(stdout(&from_run), format!("{a}{}\n", words(&GREEDY_A)));
    kiln(&["convert", "--from-run", &p(&run), "--to-hf", &p(&back)]);
    assert_eq!(
        generate(&back, &["--prompt", &a]),
        format!("{a}{}\n", words(&GREEDY_A))
    );
    // Neither direction overwrites an existing run or checkpoint.
    let again = Command::new(KILN)
        .args(["convert", "--from-hf", &p(&dir), "--to-run", &p(&run)])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
}
