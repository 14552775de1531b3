//! `kiln generate --hf DIR`: generation with a Hugging Face checkpoint directory (config.json,
//! safetensors, tokenizer.json): one or several prompts (a left-padded batch), the Qwen3
//! chat template, the checkpoint's EOS ids and stop strings; one prompt streams to stdout.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};
use kiln_model::generate_batch::{BatchConfig, cut_at_stop, generate_batch};
use kiln_model::hf::chat::{Message, render_qwen3};
use kiln_model::hf::{self, Architecture};
use kiln_model::sampling::SamplingConfig;

use super::device::DeviceChoice;

/// What `kiln generate --hf` was asked.
pub struct HfRequest<'a> {
    pub dir: &'a Path,
    pub prompts: &'a [String],
    pub chat: bool,
    pub system: Option<&'a str>,
    pub think: bool,
    pub stops: &'a [String],
    pub max_tokens: usize,
    pub sampling: SamplingConfig,
    pub seed: u64,
    pub device: DeviceChoice,
    /// On a CPU device, decode with row-major CPU copies of the linear layers.
    pub cpu_projections: bool,
}

pub fn run(request: HfRequest) -> Result<()> {
    let selected = request.device.open()?;
    eprintln!("device: {}", selected.description);
    let mut loaded = hf::load(request.dir, &selected.device)?;
    if selected.is_cpu && request.cpu_projections {
        loaded.model = loaded.model.with_cpu_projections();
    }
    let tokenizer = hf::load_tokenizer(&request.dir.join("tokenizer.json"), &loaded.model)?;
    let texts: Vec<String> = if request.chat {
        if loaded.config.architecture != Architecture::Qwen3 {
            bail!(
                "{}: --chat applies the Qwen3 chat template; this is a {} model",
                request.dir.display(),
                loaded.config.architecture.model_type()
            );
        }
        request
            .prompts
            .iter()
            .map(|p| {
                let mut messages: Vec<Message> = request
                    .system
                    .map(|s| Message::new("system", s))
                    .into_iter()
                    .collect();
                messages.push(Message::new("user", p));
                render_qwen3(&messages, true, request.think)
            })
            .collect()
    } else {
        request.prompts.to_vec()
    };
    let prompts = texts
        .iter()
        .map(|t| tokenizer.encode(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut stop_tokens = loaded.config.eos_token_ids.clone();
    if request.chat {
        stop_tokens.extend(tokenizer.token_to_id("<|im_end|>"));
    }
    let config = BatchConfig {
        max_new_tokens: request.max_tokens,
        sampling: request.sampling,
        seed: request.seed,
        pad_token: stop_tokens.first().copied().unwrap_or(0),
        stop_tokens,
        max_len: loaded.config.model.max_position_embeddings,
    };
    let streaming = prompts.len() == 1;
    // Without --chat the output continues the prompt, which is shown first (as with --run).
    let shown: Vec<&str> = request
        .prompts
        .iter()
        .map(|p| if request.chat { "" } else { p.as_str() })
        .collect();
    if streaming {
        print!("{}", shown[0]);
    }
    let mut streamer = Streamer::new(request.stops);
    let mut ids = vec![Vec::new(); prompts.len()];
    let start = Instant::now();
    let out = generate_batch(
        &loaded.model,
        &prompts,
        &config,
        &selected.device,
        |row, id| {
            ids[row].push(id);
            let text = tokenizer.decode(&ids[row]).unwrap_or_default();
            let (cut, stopped) = cut_at_stop(&text, request.stops);
            if streaming {
                streamer.show(cut, stopped);
            }
            !stopped
        },
    )?;
    let secs = start.elapsed().as_secs_f64();
    let mut stdout = std::io::stdout().lock();
    for (i, row) in out.iter().enumerate() {
        let text = tokenizer.decode(&row.tokens)?;
        let (text, _) = cut_at_stop(&text, request.stops);
        if streaming {
            streamer.show(text, true);
        } else {
            writeln!(stdout, "=== {}\n{}{text}", i + 1, shown[i])?;
        }
    }
    if streaming {
        writeln!(stdout)?;
    }
    let total: usize = out.iter().map(|row| row.tokens.len()).sum();
    eprintln!(
        "{total} tokens in {secs:.2}s ({:.1} tokens/s)",
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Prints a growing text as it is generated, holding back the last characters while they
/// could still begin a stop string, and never printing a split UTF-8 character.
struct Streamer {
    printed: String,
    hold: usize,
}

impl Streamer {
    fn new(stops: &[String]) -> Self {
        let hold = stops.iter().map(|s| s.len()).max().unwrap_or(0);
        Self {
            printed: String::new(),
            hold,
        }
    }

    /// Shows `text` (the whole generation so far); `last` prints everything left.
    fn show(&mut self, text: &str, last: bool) {
        if text.ends_with('\u{FFFD}') && !last {
            return;
        }
        let mut end = if last {
            text.len()
        } else {
            text.len().saturating_sub(self.hold)
        };
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if end > self.printed.len() && text.starts_with(self.printed.as_str()) {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "{}", &text[self.printed.len()..end]);
            let _ = stdout.flush();
            self.printed = text[..end].to_string();
        }
    }
}
