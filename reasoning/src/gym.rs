//! Tasks exported from reasoning-gym (PyPI `reasoning-gym` 0.1.25, the generator
//! OptimalThinkingBench draws its UnderthinkingBench from: `../shared/papers/reasoning.md`
//! §5.2–5.4) by `tools/reference/reasoning_gym_sample.py`, one dataset per JSONL file, one
//! item per line: `{"question": …, "answer": …, "metadata": {"source_dataset": …,
//! "source_index": …, …}}` (other fields, such as the fixture's `scores`, are ignored).
//!
//! The verifier is reasoning-gym's own `score_answer`, re-implemented exactly for the
//! datasets kiln supports (and tested against Python's scores on the committed sample,
//! `tests/fixtures/gym/`):
//!
//! - `basic_arithmetic`, `leg_counting`: `ProceduralDataset.score_answer`, exact string
//!   match 1.0, else `len(oracle) / len(answer)` when the oracle is a substring, else 0.
//! - `chain_sum`: `utils.compute_decimal_reward(strip_commas=True)`: commas removed, then
//!   `Decimal(answer) == Decimal(oracle)` gives 1.0, else the same substring credit.
//!
//! Where it cannot agree: Python's `Decimal` accepts exponents up to about ±10^18 with
//! limits that depend on the coefficient's length; kiln treats any exponent beyond ±10^18 as
//! unparseable (no sample or real answer comes near). Non-ASCII decimal digits (`٣٠`) are
//! read with Python 3.11's Unicode 14.0 table, so a Python with a newer Unicode database
//! could accept digits of scripts added since.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::answer;
use crate::error::TaskError;
use crate::task::{Problem, Task, seeded_sample};

/// OptimalThinkingBench's instruction after each question (`generate.py`, §5.3).
pub const BOXED_INSTRUCTION: &str = " Answer the final answer in \\boxed{}";

/// How a reasoning-gym dataset scores an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scorer {
    /// `ProceduralDataset.score_answer` (the default).
    Exact,
    /// `utils.compute_decimal_reward(answer, oracle, strip_commas=True)`.
    DecimalStripCommas,
}

impl Scorer {
    /// The scorer of a dataset kiln supports.
    pub fn of(dataset: &str) -> Option<Self> {
        match dataset {
            "basic_arithmetic" | "leg_counting" => Some(Self::Exact),
            "chain_sum" => Some(Self::DecimalStripCommas),
            _ => None,
        }
    }

    /// `score_answer(answer, {"answer": oracle})`, as reasoning-gym 0.1.25 computes it.
    pub fn score(self, answer: Option<&str>, oracle: &str) -> f64 {
        let Some(answer) = answer.filter(|a| !a.is_empty()) else {
            return 0.0;
        };
        match self {
            Self::Exact => {
                if answer == oracle {
                    1.0
                } else {
                    substring_credit(answer, oracle)
                }
            }
            Self::DecimalStripCommas => {
                let answer = answer.replace(',', "");
                let oracle = oracle.replace(',', "");
                // A NaN compares unequal (and a signalling NaN raises, which the Python
                // catches): both fall through to the substring credit, as `None` does here.
                if let (Some(a), Some(o)) = (PyDecimal::parse(&answer), PyDecimal::parse(&oracle))
                    && a == o
                {
                    return 1.0;
                }
                substring_credit(&answer, &oracle)
            }
        }
    }
}

/// `len(oracle) / len(answer)` when `oracle in answer` (lengths in code points, as Python's
/// `len` of a `str`), else 0.
fn substring_credit(answer: &str, oracle: &str) -> f64 {
    let n = answer.chars().count();
    if n > 0 && answer.contains(oracle) {
        oracle.chars().count() as f64 / n as f64
    } else {
        0.0
    }
}

/// A finite or infinite decimal as Python's `decimal.Decimal(str)` reads it, reduced so
/// that equal values are equal structs (`7`, `7.00`, `0.7e1`). NaNs are `None` from
/// [`PyDecimal::parse`]: they never compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyDecimal {
    Finite {
        negative: bool,
        /// The coefficient's digits, no leading or trailing zeros; empty for zero.
        digits: String,
        /// The value is digits × 10^exponent (0 for zero).
        exponent: i128,
    },
    Infinite {
        negative: bool,
    },
}

/// Python's `str.isspace` (Rust's `char::is_whitespace` plus U+001C..U+001F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The zeros of the 66 runs of Unicode decimal digits (category Nd) in Unicode 14.0, the
/// database of Python 3.11 (`unicodedata.decimal(c) == 0`; each run is zero to nine).
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The decimal value of a Unicode digit (`Py_UNICODE_TODECIMAL`).
fn unicode_digit(c: char) -> Option<u8> {
    let c = c as u32;
    DIGIT_ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&c))
        .map(|&z| (c - z) as u8)
}

/// Exponents beyond this are not read (see the module docs).
const MAX_EXPONENT: i128 = 1_000_000_000_000_000_000;

impl PyDecimal {
    /// `Decimal(text)`: CPython's `numeric_as_ascii` (strip Python white space at both
    /// ends, drop every `_`, map Unicode digits to ASCII, anything else non-ASCII is a
    /// syntax error), then libmpdec's grammar: `[sign] (digits [. [digits]] | . digits)
    /// [e [sign] digits]`, or `[sign] inf|infinity`, or `[sign] [s]nan[digits]`
    /// (case-insensitive). `None` for a syntax error or a NaN.
    pub fn parse(text: &str) -> Option<Self> {
        let mut ascii = String::with_capacity(text.len());
        for c in text.trim_matches(py_space).chars() {
            match c {
                '_' => {}
                '\u{1}'..='\u{7f}' => ascii.push(c),
                c if py_space(c) => ascii.push(' '),
                c => ascii.push(char::from(b'0' + unicode_digit(c)?)),
            }
        }
        let (negative, body) = match ascii.as_bytes().first() {
            Some(b'-') => (true, &ascii[1..]),
            Some(b'+') => (false, &ascii[1..]),
            _ => (false, &ascii[..]),
        };
        let lower = body.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            return Some(Self::Infinite { negative });
        }
        if lower.starts_with("nan") || lower.starts_with("snan") {
            return None;
        }
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], Some(&body[at + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let mut exponent: i128 = match exp {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                let v: i128 = digits.parse().ok().filter(|v| *v <= MAX_EXPONENT)?;
                if e.starts_with('-') { -v } else { v }
            }
        };
        exponent -= frac.len() as i128;
        let all = format!("{int}{frac}");
        let trimmed = all.trim_start_matches('0');
        let digits = trimmed.trim_end_matches('0');
        if digits.is_empty() {
            return Some(Self::Finite {
                negative: false,
                digits: String::new(),
                exponent: 0,
            });
        }
        exponent += (trimmed.len() - digits.len()) as i128;
        Some(Self::Finite {
            negative,
            digits: digits.to_owned(),
            exponent,
        })
    }

    /// A plain string that `Decimal` reads back as this value: `1692`, `-7.5`, `0.001`,
    /// `Infinity`; `123E+40` for very large or small exponents.
    pub fn canonical(&self) -> String {
        match self {
            Self::Infinite { negative } => {
                format!("{}Infinity", if *negative { "-" } else { "" })
            }
            Self::Finite {
                negative,
                digits,
                exponent,
            } => {
                if digits.is_empty() {
                    return "0".into();
                }
                let sign = if *negative { "-" } else { "" };
                let e = *exponent;
                let n = digits.len() as i128;
                if (0..=30).contains(&e) {
                    format!("{sign}{digits}{}", "0".repeat(e as usize))
                } else if e < 0 && -e < n {
                    let point = (n + e) as usize;
                    format!("{sign}{}.{}", &digits[..point], &digits[point..])
                } else if e < 0 && -e - n <= 30 {
                    format!("{sign}0.{}{digits}", "0".repeat((-e - n) as usize))
                } else {
                    format!("{sign}{digits}E{e:+}")
                }
            }
        }
    }
}

/// One exported item.
#[derive(Debug, Clone, PartialEq)]
pub struct GymItem {
    pub question: String,
    /// The oracle answer (`entry["answer"]`).
    pub answer: String,
    /// `metadata.source_index`, where the export has it.
    pub index: Option<u64>,
    /// The item's whole metadata object.
    pub metadata: Value,
}

#[derive(Deserialize)]
struct RawItem {
    question: String,
    answer: String,
    metadata: Value,
}

/// A reasoning-gym dataset exported to JSONL.
#[derive(Debug, Clone)]
pub struct GymTask {
    name: String,
    dataset: String,
    scorer: Scorer,
    items: Vec<GymItem>,
}

/// The datasets [`Scorer::of`] knows, for error messages.
pub const SUPPORTED: &str = "basic_arithmetic, chain_sum, leg_counting";

impl GymTask {
    /// Reads an export of one dataset (blank lines skipped, CRLF accepted).
    ///
    /// # Errors
    /// Errors naming the file and (1-based) line: a line that is not UTF-8, not JSON, lacks
    /// `question`, `answer` or `metadata.source_dataset`, names a dataset kiln has no
    /// verifier for, or another dataset than the file's first line; the file itself when
    /// it cannot be read or holds no item.
    pub fn from_jsonl(path: &Path) -> Result<Self, TaskError> {
        let bytes = std::fs::read(path).map_err(TaskError::io(path))?;
        let bad = |line: usize, reason: String| TaskError::Malformed {
            path: path.to_owned(),
            line,
            reason,
        };
        let mut items = Vec::new();
        let mut first: Option<(String, Scorer)> = None;
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line =
                std::str::from_utf8(raw).map_err(|e| bad(line_no, format!("not UTF-8 ({e})")))?;
            if line.trim().is_empty() {
                continue;
            }
            let item: RawItem = serde_json::from_str(line)
                .map_err(|e| bad(line_no, format!("not a reasoning-gym item: {e}")))?;
            let dataset = item
                .metadata
                .get("source_dataset")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(line_no, "metadata has no `source_dataset` string".into()))?;
            match &first {
                None => {
                    let scorer = Scorer::of(dataset).ok_or_else(|| {
                        bad(
                            line_no,
                            format!("no kiln verifier for reasoning-gym dataset `{dataset}` (supported: {SUPPORTED})"),
                        )
                    })?;
                    first = Some((dataset.to_owned(), scorer));
                }
                Some((d, _)) if d != dataset => {
                    return Err(bad(
                        line_no,
                        format!(
                            "dataset `{dataset}` differs from `{d}` of the first item; export one dataset per file"
                        ),
                    ));
                }
                Some(_) => {}
            }
            items.push(GymItem {
                index: item.metadata.get("source_index").and_then(Value::as_u64),
                question: item.question,
                answer: item.answer,
                metadata: item.metadata,
            });
        }
        let (dataset, scorer) = first.ok_or_else(|| TaskError::BadFile {
            path: path.to_owned(),
            reason: "no reasoning-gym item in the file".into(),
        })?;
        Ok(Self {
            name: format!("gym:{}", path.display()),
            dataset,
            scorer,
            items,
        })
    }

    /// The reasoning-gym dataset the items come from.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    pub fn scorer(&self) -> Scorer {
        self.scorer
    }

    pub fn items(&self) -> &[GymItem] {
        &self.items
    }

    /// reasoning-gym's `score_answer(answer, item)` for this dataset.
    pub fn score_answer(&self, answer: Option<&str>, oracle: &str) -> f64 {
        self.scorer.score(answer, oracle)
    }

    fn id(&self, item: &GymItem, position: usize) -> String {
        match item.index {
            Some(i) => format!("{}-{i}", self.dataset),
            None => format!("{}-line{position}", self.dataset),
        }
    }
}

impl Task for GymTask {
    fn name(&self) -> &str {
        &self.name
    }

    /// Prompt: the question and OptimalThinkingBench's `\boxed{}` instruction
    /// ([`BOXED_INSTRUCTION`]). No demonstration: reasoning-gym gives none.
    fn problems(&self, n: usize, seed: u64) -> Result<Vec<Problem>, TaskError> {
        let indexed: Vec<(usize, &GymItem)> = self.items.iter().enumerate().collect();
        Ok(seeded_sample(&self.name, &indexed, n, seed)?
            .into_iter()
            .map(|(pos, item)| Problem {
                id: self.id(item, pos),
                prompt: format!("{}{BOXED_INSTRUCTION}", item.question),
                gold: Some(item.answer.clone()),
                demonstration: None,
            })
            .collect())
    }

    /// The trimmed final answer. For `chain_sum`, whose scorer compares decimals, an answer
    /// that reads as one is written canonically (`+01,000.00` → `1000`), so votes merge what
    /// the scorer treats as equal; the exact-match datasets keep the string, since their
    /// scorer tells `7` from `7.0`.
    fn extract_answer(&self, completion: &str) -> Option<String> {
        let raw = answer::extract_final(completion)?;
        Some(match self.scorer {
            Scorer::Exact => raw.to_owned(),
            Scorer::DecimalStripCommas => PyDecimal::parse(&raw.replace(',', ""))
                .map_or_else(|| raw.to_owned(), |d| d.canonical()),
        })
    }

    /// Full marks from reasoning-gym's scorer (partial substring credit is not correct).
    fn is_correct(&self, gold: &str, answer: &str) -> bool {
        self.score_answer(Some(answer), gold) == 1.0
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn d(s: &str) -> Option<PyDecimal> {
        PyDecimal::parse(s)
    }

    #[test]
    fn decimals_as_python_reads_them() {
        // Each pair compares equal in Python's decimal module.
        for (a, b) in [
            ("7", "7.0"),
            ("+7", "7"),
            (" 7 ", "7"),
            ("7.", "7"),
            ("007", "7"),
            ("1_000", "1000"),
            ("1__0", "10"),
            ("_1", "1"),
            ("1e1", "10"),
            ("1E+1", "10"),
            ("0.5", ".5"),
            ("-0", "0"),
            ("0e5", "0"),
            ("٧", "7"),
            ("\u{a0}7\u{2003}", "7"),
            ("\u{1c}7", "7"),
            ("inf", "Infinity"),
            ("-INF", "-infinity"),
        ] {
            assert_eq!(d(a), d(b), "{a:?} vs {b:?}");
            assert!(d(a).is_some(), "{a:?}");
        }
        // Python raises InvalidOperation for these (or they are NaN).
        for s in [
            "",
            "_",
            "7 .0",
            "1e",
            "e1",
            ".e1",
            "0x7",
            "1\0",
            "sinf",
            "infinit",
            "nan",
            "NaN12",
            "-snan",
            "1,000",
            "7 apples",
            "1e-9999999999999999999",
        ] {
            assert_eq!(d(s), None, "{s:?}");
        }
        assert_ne!(d("7"), d("-7"));
        assert_ne!(d("inf"), d("-inf"));
    }

    #[test]
    fn canonical_form_reads_back_equal() {
        for s in [
            "1692", "-7.50", "0.001", "1e40", "12.5e-40", "-0", "inf", "1,000",
        ] {
            let v = d(&s.replace(',', "")).unwrap();
            assert_eq!(d(&v.canonical()), Some(v.clone()), "{s}");
        }
        assert_eq!(d("+01000.00").unwrap().canonical(), "1000");
        assert_eq!(d("-7.50").unwrap().canonical(), "-7.5");
        assert_eq!(d("0.001").unwrap().canonical(), "0.001");
        assert_eq!(d("1e40").unwrap().canonical(), "1E+40");
    }

    #[test]
    fn scores_by_hand() {
        let e = Scorer::Exact;
        assert_eq!(e.score(Some("30"), "30"), 1.0);
        assert_eq!(e.score(Some("30.0"), "30"), 0.5);
        assert_eq!(e.score(Some(" 30 "), "30"), 0.5);
        assert_eq!(e.score(Some("31"), "30"), 0.0);
        assert_eq!(e.score(Some(""), "30"), 0.0);
        assert_eq!(e.score(None, "30"), 0.0);
        // Code points, not bytes: "30 €" has 4.
        assert_eq!(e.score(Some("30 €"), "30"), 0.5);
        let c = Scorer::DecimalStripCommas;
        assert_eq!(c.score(Some("+01,692.00"), "1692"), 1.0);
        assert_eq!(c.score(Some("1692 apples"), "1692"), 4.0 / 11.0);
        assert_eq!(c.score(Some("nan"), "1692"), 0.0);
        assert_eq!(c.score(Some(","), "7"), 0.0);
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    const ITEM: &str = r#"{"question": "Calculate 2 + 3.", "answer": "5", "metadata": {"source_dataset": "basic_arithmetic", "source_index": 4}}"#;

    #[test]
    fn loader_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let err = |bytes: &[u8]| {
            GymTask::from_jsonl(&write(dir.path(), "g.jsonl", bytes))
                .unwrap_err()
                .to_string()
        };
        let e = err(format!("{ITEM}\n{{\"question\": \"q\"").as_bytes());
        assert!(e.contains("g.jsonl:2:"), "{e}");
        let e = err(format!("{ITEM}\n\n{{\"question\": \"q\", \"metadata\": {{}}}}\n").as_bytes());
        assert!(e.contains("g.jsonl:3:") && e.contains("answer"), "{e}");
        let mut bytes = format!("{ITEM}\n").into_bytes();
        bytes.extend_from_slice(b"{\"question\": \"\xff\"}\n");
        let e = err(&bytes);
        assert!(e.contains("g.jsonl:2:") && e.contains("UTF-8"), "{e}");
        let e = err(br#"{"question": "q", "answer": "1", "metadata": {}}"#);
        assert!(
            e.contains("g.jsonl:1:") && e.contains("source_dataset"),
            "{e}"
        );
        let e = err(br#"{"question": "q", "answer": "1", "metadata": {"source_dataset": "maze"}}"#);
        assert!(e.contains("maze") && e.contains("chain_sum"), "{e}");
        let other = ITEM.replace("basic_arithmetic", "chain_sum");
        let e = err(format!("{ITEM}\n{other}\n").as_bytes());
        assert!(
            e.contains("g.jsonl:2:") && e.contains("one dataset per file"),
            "{e}"
        );
        let e = err(b"\n\n");
        assert!(
            e.contains("g.jsonl") && e.contains("no reasoning-gym item"),
            "{e}"
        );
        let missing = GymTask::from_jsonl(&dir.path().join("none.jsonl")).unwrap_err();
        assert!(missing.to_string().contains("none.jsonl"));
    }

    #[test]
    fn problems_prompts_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "g.jsonl", format!("{ITEM}\r\n").as_bytes());
        let t = GymTask::from_jsonl(&p).unwrap();
        assert_eq!(t.dataset(), "basic_arithmetic");
        let probs = t.problems(1, 0).unwrap();
        assert_eq!(probs[0].id, "basic_arithmetic-4");
        assert_eq!(
            probs[0].prompt,
            "Calculate 2 + 3. Answer the final answer in \\boxed{}"
        );
        assert_eq!(probs[0].gold.as_deref(), Some("5"));
        assert!(t.problems(2, 0).is_err());
        // Exact-match dataset: "5.0" is not "5".
        assert_eq!(t.extract_answer("\\boxed{5.0}").as_deref(), Some("5.0"));
        assert!(!t.is_correct("5", "5.0"));
        assert!(t.is_correct("5", &t.extract_answer("so \\boxed{ 5 }").unwrap()));
    }
}
