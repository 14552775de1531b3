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

/// The chat markers as special tokens of the word-level tokenizer (ids inside the fixture's
/// 96-entry vocabulary, in place of `w94` and `w95`), so each marker encodes to one id.
fn chat_checkpoint(dir: &Path) -> PathBuf {
    let out = checkpoint(dir);
    let path = out.join("tokenizer.json");
    let mut tokenizer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": false, "special": true})
    };
    tokenizer["added_tokens"] =
        serde_json::json!([special(94, "<|im_start|>"), special(95, "<|im_end|>")]);
    let vocab = tokenizer["model"]["vocab"].as_object_mut().unwrap();
    vocab.remove("w94");
    vocab.remove("w95");
    vocab.insert("<|im_start|>".into(), 94.into());
    vocab.insert("<|im_end|>".into(), 95.into());
    std::fs::write(&path, tokenizer.to_string()).unwrap();
    out
}

#[test]
fn generate_hf_chat_wraps_the_prompt_in_the_qwen3_template_and_prints_the_reply_only() {
    use kiln_model::generate_batch::{BatchConfig, generate_batch};
    use kiln_model::hf::{self, chat};
    use kiln_model::sampling::SamplingConfig;

    let scratch = tempfile::tempdir().unwrap();
    let dir = chat_checkpoint(scratch.path());
    let device = burn::tensor::Device::flex();
    let loaded = hf::load(&dir, &device).unwrap();
    let tokenizer = hf::load_tokenizer(&dir.join("tokenizer.json"), &loaded.model).unwrap();
    let question = "w3 w17 w42";
    for (extra, system) in [(&[][..], None), (&["--system", "w7 w8"][..], Some("w7 w8"))] {
        // What the library generates for the rendered conversation, stopping at the
        // checkpoint's EOS ids (2, 5) or <|im_end|>.
        let mut messages: Vec<chat::Message> = system
            .map(|s| chat::Message::new("system", s))
            .into_iter()
            .collect();
        messages.push(chat::Message::new("user", question));
        let ids = tokenizer
            .encode(&chat::render_qwen3(&messages, true, true))
            .unwrap();
        let starts = ids.iter().filter(|&&i| i == 94).count();
        assert_eq!(
            starts,
            messages.len() + 1,
            "one <|im_start|> per turn: {ids:?}"
        );
        assert_eq!(ids.iter().filter(|&&i| i == 95).count(), messages.len());
        let config = BatchConfig {
            max_new_tokens: 8,
            sampling: SamplingConfig {
                temperature: 0.0,
                ..Default::default()
            },
            seed: 0,
            stop_tokens: vec![2, 5, 95],
            max_len: 4096,
            pad_token: 2,
        };
        let reply = generate_batch(&loaded.model, &[ids], &config, &device, |_, _| true).unwrap();
        let want = tokenizer.decode(&reply[0].tokens).unwrap();
        assert!(!want.is_empty());

        let mut args = vec!["--prompt", question, "--chat"];
        args.extend(extra);
        let got = generate(&dir, &args);
        assert_eq!(got, format!("{want}\n"), "system {system:?}");
        assert!(
            !got.contains(question),
            "the prompt is not echoed with --chat"
        );
    }
    // Not a Qwen3 model: --chat is refused with the reason.
    let llama = scratch.path().join("llama");
    std::fs::create_dir_all(&llama).unwrap();
    let fixtures = fixture().join("../llama_gqa");
    for name in ["config.json", "generation_config.json", "model.safetensors"] {
        std::fs::copy(fixtures.join(name), llama.join(name)).unwrap();
    }
    std::fs::copy(dir.join("tokenizer.json"), llama.join("tokenizer.json")).unwrap();
    let out = Command::new(KILN)
        .args([
            "generate",
            "--hf",
            llama.to_str().unwrap(),
            "--prompt",
            "w3",
            "--chat",
        ])
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chat template") && err.contains("llama"),
        "{err}"
    );
}
