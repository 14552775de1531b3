//! The Qwen3 chat template (the Jinja `chat_template` of Qwen3's `tokenizer_config.json`),
//! written out by hand for conversations without tool definitions: ChatML turns
//! (`<|im_start|>role\n…<|im_end|>\n`), reasoning in `<think>` blocks kept only after the last
//! user query, and an empty think block when thinking is switched off.

use serde::{Deserialize, Serialize};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// The text Qwen3's `apply_chat_template(messages, add_generation_prompt, enable_thinking)`
/// renders (without `tools`).
pub fn render_qwen3(
    messages: &[Message],
    add_generation_prompt: bool,
    enable_thinking: bool,
) -> String {
    let mut out = String::new();
    if let Some(first) = messages.first().filter(|m| m.role == "system") {
        out += &format!("<|im_start|>system\n{}<|im_end|>\n", first.content);
    }
    // The last user turn that is not a tool response: reasoning is only shown after it.
    let is_tool_response =
        |c: &str| c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
    let last_query = messages
        .iter()
        .rposition(|m| m.role == "user" && !is_tool_response(&m.content))
        .unwrap_or(messages.len().saturating_sub(1));
    for (i, m) in messages.iter().enumerate() {
        let last = i + 1 == messages.len();
        match m.role.as_str() {
            "user" => out += &format!("<|im_start|>user\n{}<|im_end|>\n", m.content),
            "system" if i > 0 => out += &format!("<|im_start|>system\n{}<|im_end|>\n", m.content),
            "assistant" => {
                let (reasoning, content) = split_reasoning(&m.content);
                if i > last_query && (last || !reasoning.is_empty()) {
                    out += &format!(
                        "<|im_start|>assistant\n<think>\n{}\n</think>\n\n{}",
                        reasoning.trim_matches('\n'),
                        content.trim_start_matches('\n')
                    );
                } else {
                    out += &format!("<|im_start|>assistant\n{content}");
                }
                out += "<|im_end|>\n";
            }
            "tool" => {
                if i == 0 || messages[i - 1].role != "tool" {
                    out += "<|im_start|>user";
                }
                out += &format!("\n<tool_response>\n{}\n</tool_response>", m.content);
                if last || messages[i + 1].role != "tool" {
                    out += "<|im_end|>\n";
                }
            }
            _ => {}
        }
    }
    if add_generation_prompt {
        out += "<|im_start|>assistant\n";
        if !enable_thinking {
            out += "<think>\n\n</think>\n\n";
        }
    }
    out
}

/// `(reasoning, answer)` of an assistant turn written as `<think>…</think>answer`.
fn split_reasoning(content: &str) -> (&str, &str) {
    let Some(end) = content.find("</think>") else {
        return ("", content);
    };
    let answer = content
        .rsplit("</think>")
        .next()
        .unwrap_or("")
        .trim_start_matches('\n');
    let before = content[..end].trim_end_matches('\n');
    let reasoning = before
        .rsplit("<think>")
        .next()
        .unwrap_or("")
        .trim_start_matches('\n');
    (reasoning, answer)
}
