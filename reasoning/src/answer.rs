//! The final answer of a completion, and the one written form of a number.
//!
//! Extraction follows the two conventions of the reasoning papers: a LaTeX `\boxed{…}`
//! (DeepSeek-R1 / OptimalThinkingBench, `../shared/papers/reasoning.md` §5.3: the prompt asks
//! for the answer "in \boxed{}") and an `Answer: …` line (the chain-of-thought format of
//! kiln's own tasks). Normalisation makes answers that mean the same number compare equal,
//! so majority votes (TTRL, RESTRAIN) count `7`, `+7`, `7.0` and `07` as one answer.

/// The raw final answer of `completion`, trimmed: the content of the last balanced
/// `\boxed{…}` (braces may nest), else the rest of the line after the last `Answer:`
/// (case-insensitive) that starts a line or follows white space. `None` when there is
/// neither, or the answer is empty.
///
/// A `\boxed{` whose braces never close is ignored (the completion was probably truncated
/// inside it), so an earlier balanced box or an `Answer:` line still counts.
pub fn extract_final(completion: &str) -> Option<&str> {
    last_box(completion)
        .or_else(|| last_answer_line(completion))
        .map(str::trim)
        .filter(|a| !a.is_empty())
}

/// The content of the last balanced `\boxed{…}`.
fn last_box(text: &str) -> Option<&str> {
    const OPEN: &str = "\\boxed{";
    let mut found = None;
    let mut from = 0;
    while let Some(at) = text[from..].find(OPEN) {
        let start = from + at + OPEN.len();
        let mut depth = 1usize;
        let mut end = None;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            found = Some(&text[start..end]);
        }
        // Boxes nested inside a box are part of its content, not later answers: carry on
        // after this box's end when it has one, else just after its opening.
        from = end.map_or(start, |e| e + 1);
    }
    found
}

/// The rest of the line after the last `Answer:` at a line start or after white space.
fn last_answer_line(text: &str) -> Option<&str> {
    const KEY: &str = "answer:";
    // ASCII lowercase keeps byte offsets, so positions in `lower` are positions in `text`.
    let lower = text.to_ascii_lowercase();
    let mut best = None;
    for (at, _) in lower.match_indices(KEY) {
        let boundary = text[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        if boundary {
            best = Some(at + KEY.len());
        }
    }
    let start = best?;
    let rest = &text[start..];
    Some(rest.split('\n').next().unwrap_or(rest))
}

/// The final answer of `completion` in normal form ([`normalize_answer`] of
/// [`extract_final`]).
pub fn extract_answer(completion: &str) -> Option<String> {
    extract_final(completion).map(normalize_answer)
}

/// An answer in normal form: a number as [`normalize_number`] writes it; anything else
/// trimmed, with runs of white space collapsed to one space and one trailing full stop
/// dropped ("Paris." and "Paris" are one answer).
pub fn normalize_answer(answer: &str) -> String {
    if let Some(n) = normalize_number(answer) {
        return n;
    }
    let collapsed = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .strip_suffix('.')
        .map(str::to_owned)
        .unwrap_or(collapsed)
}

/// The one written form of a rational number, or `None` when `text` is not one.
///
/// Accepted: an optional sign (`+`, `-` or `−`), digits with optional thousands commas
/// (`1,000`; groups of three only, so `3,4` — a list — is not a number), an optional
/// decimal part (`7.0`, `.5`, `7.`), a trailing full stop after an integer (`29.` ends a
/// sentence), `a/b` and `\frac{a}{b}` / `\dfrac{a}{b}` with integer `a`, `b`, and a `$`
/// around it all. The form: the reduced fraction `p/q` with `q > 1`, or the integer `p`,
/// with `-` only for negatives: `7.0` → `7`, `0.50` → `1/2`, `6/8` → `3/4`, `-0` → `0`.
/// Exact (i128 arithmetic); numbers too large for it are left alone (`None`).
pub fn normalize_number(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t
        .strip_prefix('$')
        .and_then(|s| s.strip_suffix('$'))
        .unwrap_or(t)
        .trim();
    let (num, den) = parse_rational(t)?;
    Some(format_rational(num, den))
}

/// `p/q` reduced with `q > 0`, from any accepted form.
fn parse_rational(t: &str) -> Option<(i128, i128)> {
    if let Some(inner) = t
        .strip_prefix("\\frac")
        .or_else(|| t.strip_prefix("\\dfrac"))
        .or_else(|| t.strip_prefix("\\tfrac"))
    {
        let (a, rest) = braced(inner.trim_start())?;
        let (b, rest) = braced(rest.trim_start())?;
        if !rest.trim().is_empty() {
            return None;
        }
        return divide(parse_decimal(a.trim())?, parse_decimal(b.trim())?);
    }
    if let Some((a, b)) = t.split_once('/') {
        return divide(parse_decimal(a.trim())?, parse_decimal(b.trim())?);
    }
    parse_decimal(t)
}

/// `{content}rest` → (content, rest), braces nested.
fn braced(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('{')?;
    let mut depth = 1usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// A signed decimal (`-1,234.50`) as a reduced fraction.
fn parse_decimal(t: &str) -> Option<(i128, i128)> {
    let (negative, body) = if let Some(b) = t.strip_prefix('-').or_else(|| t.strip_prefix('−')) {
        (true, b)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    };
    // A sentence-ending full stop after an integer: "Answer: 29."
    let body = match body.strip_suffix('.') {
        Some(b) if !b.contains('.') && !b.is_empty() => b,
        _ => body,
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int = strip_thousands(int)?;
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut num: i128 = 0;
    for d in int.bytes().chain(frac.bytes()) {
        num = num.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    let den = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let num = if negative { -num } else { num };
    divide((num, 1), (den, 1))
}

/// `1,234,567` → `1234567`; digits without commas pass; a misplaced comma is `None`.
fn strip_thousands(int: &str) -> Option<String> {
    if !int.contains(',') {
        return Some(int.to_owned());
    }
    let groups: Vec<&str> = int.split(',').collect();
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    (first_ok && rest_ok).then(|| groups.concat())
}

/// (a/b) / (c/d), reduced, denominator positive; `None` for a zero divisor or overflow.
fn divide((a, b): (i128, i128), (c, d): (i128, i128)) -> Option<(i128, i128)> {
    let num = a.checked_mul(d)?;
    let den = b.checked_mul(c)?;
    if den == 0 {
        return None;
    }
    let g = gcd(num.unsigned_abs(), den.unsigned_abs()) as i128;
    let (num, den) = (num / g, den / g);
    Some(if den < 0 { (-num, -den) } else { (num, den) })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

fn format_rational(num: i128, den: i128) -> String {
    if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_box_wins_and_braces_nest() {
        let c = "first \\boxed{3} then \\boxed{\\frac{1}{2}} done";
        assert_eq!(extract_final(c), Some("\\frac{1}{2}"));
        assert_eq!(extract_answer(c).as_deref(), Some("1/2"));
        // A box inside a box is content of the outer one.
        assert_eq!(
            extract_final("\\boxed{a \\boxed{b} c}"),
            Some("a \\boxed{b} c")
        );
    }

    #[test]
    fn unbalanced_box_falls_back() {
        assert_eq!(extract_final("\\boxed{12} and \\boxed{3"), Some("12"));
        assert_eq!(extract_final("x\nAnswer: 5\n\\boxed{3"), Some("5"));
        assert_eq!(extract_final("\\boxed{3"), None);
    }

    #[test]
    fn answer_lines_case_insensitive_and_last() {
        let c = "answer: 3\nsome work\n  ANSWER:  -4 \nmore";
        assert_eq!(extract_final(c), Some("-4"));
        // Inline after a sentence, as kiln's demonstrations write it.
        assert_eq!(extract_final("7*3=21. 12+21=33. Answer: 33"), Some("33"));
        // Not a word ending in "answer:".
        assert_eq!(extract_final("myanswer: 3"), None);
        // A box beats any Answer: line.
        assert_eq!(extract_final("\\boxed{1}\nAnswer: 2"), Some("1"));
    }

    #[test]
    fn no_answer_or_empty_answer() {
        assert_eq!(extract_final(""), None);
        assert_eq!(extract_final("I think it is 7"), None);
        assert_eq!(extract_final("Answer:   \n"), None);
        assert_eq!(extract_final("\\boxed{ }"), None);
        assert_eq!(extract_answer("no"), None);
    }

    #[test]
    fn unicode_is_kept_and_offsets_are_safe() {
        assert_eq!(extract_final("é\\boxed{π≈3}"), Some("π≈3"));
        assert_eq!(extract_final("日本\nAnswer: 東京"), Some("東京"));
        // `İ` lowercases to two characters in Unicode; ASCII lowercasing keeps offsets.
        assert_eq!(extract_final("İİ Answer: ok"), Some("ok"));
        assert_eq!(extract_answer("Answer: −7").as_deref(), Some("-7"));
    }

    #[test]
    fn numbers_have_one_form() {
        for s in ["7", "+7", "7.0", "07", " 7 ", "7.", "$7$", "7.000"] {
            assert_eq!(normalize_number(s).as_deref(), Some("7"), "{s:?}");
        }
        assert_eq!(normalize_number("1,000").as_deref(), Some("1000"));
        assert_eq!(
            normalize_number("-1,234,567.50").as_deref(),
            Some("-2469135/2")
        );
        assert_eq!(normalize_number("-0").as_deref(), Some("0"));
        assert_eq!(normalize_number(".5").as_deref(), Some("1/2"));
    }

    #[test]
    fn fractions_stay_exact() {
        assert_eq!(normalize_number("3/4").as_deref(), Some("3/4"));
        assert_eq!(normalize_number("6/8").as_deref(), Some("3/4"));
        assert_eq!(normalize_number("-6 / -8").as_deref(), Some("3/4"));
        assert_eq!(normalize_number("3/-4").as_deref(), Some("-3/4"));
        assert_eq!(normalize_number("4/2").as_deref(), Some("2"));
        assert_eq!(normalize_number("0.75").as_deref(), Some("3/4"));
        assert_eq!(normalize_number("\\frac{3}{4}").as_deref(), Some("3/4"));
        assert_eq!(normalize_number("\\dfrac{10}{4}").as_deref(), Some("5/2"));
        assert_eq!(normalize_number("1/0"), None);
    }

    #[test]
    fn non_numbers_are_not_numbers() {
        for s in [
            "", "-", ".", "3,4", "1,0000", "1e3", "seven", "7 apples", "1.2.3", "0x7",
        ] {
            assert_eq!(normalize_number(s), None, "{s:?}");
        }
        // Too large for i128: left alone rather than rounded.
        assert_eq!(normalize_number(&"9".repeat(60)), None);
        assert_eq!(normalize_answer("  Paris. "), "Paris");
        assert_eq!(normalize_answer("New   York"), "New York");
    }
}
