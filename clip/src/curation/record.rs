//! Input records: one alt-text per line, as a JSON object `{"id", "lang", "text"}` or as
//! TSV `id<TAB>lang<TAB>text`.
//!
//! A line whose first non-blank byte is `{` is read as JSON, any other as TSV, so JSONL and
//! TSV shards may even be concatenated. The `id` names the image: MetaCLIP 2 (arXiv
//! 2507.22062, §3.1; reference `curate.py:curate`) keeps at most one alt-text per image, so
//! the alt-texts of one image sit on consecutive lines with the same id. A missing, null or
//! empty `lang` asks for language identification. Fields other than these three are ignored.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One parsed line; borrows from the line where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Image id: a JSON string, or the literal text of a JSON number.
    pub id: Cow<'a, str>,
    /// Language tag, if the line has one.
    pub lang: Option<Cow<'a, str>>,
    /// The alt-text.
    pub text: Cow<'a, str>,
}

/// Why a line is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not valid JSON, or a JSON line without a string `text` or with an id that is neither a
    /// string nor a number.
    Json,
    /// A TSV line with fewer than three fields.
    Tsv,
}

#[derive(Deserialize)]
struct JsonRecord<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow, default)]
    lang: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// Parses one line (without its line terminator).
pub fn parse_line(line: &str) -> Result<Record<'_>, Malformed> {
    if line.starts_with('{') || line.trim_start().starts_with('{') {
        parse_json(line)
    } else {
        parse_tsv(line)
    }
}

fn parse_json(line: &str) -> Result<Record<'_>, Malformed> {
    match exact_layout(line).or_else(|| Fast::new(line).record()) {
        Some(rec) => Ok(rec),
        None => parse_json_serde(line),
    }
}

/// A line laid out exactly as `{"id": "ID", "lang": "LANG", "text": "TEXT"}` (Python's
/// `json.dumps` separators, which most JSONL shards are written with) with string values
/// free of escapes: its fixed parts compared whole, each value found by one scan. `None`
/// for anything else, which [`Fast`] then reads (numeric ids, `null` languages, other
/// spacing or order), or serde_json. Half the instructions of [`Fast`] on such lines.
fn exact_layout(line: &str) -> Option<Record<'_>> {
    // The value of the string that starts at `line[at..]` and is closed by a `"` followed
    // by `after`: its range, and where `after` ends.
    let value = |at: usize, after: &[u8]| -> Option<(std::ops::Range<usize>, usize)> {
        let b = line.as_bytes();
        let len = plain_string_end(&b[at..])?;
        let close = at + len;
        (b[close] == b'"' && b[close + 1..].starts_with(after))
            .then(|| (at..close, close + 1 + after.len()))
    };
    const ID: &[u8] = b"{\"id\": \"";
    if !line.as_bytes().starts_with(ID) {
        return None;
    }
    let (id, at) = value(ID.len(), b", \"lang\": \"")?;
    let (lang, at) = value(at, b", \"text\": \"")?;
    let (text, end) = value(at, b"}")?;
    (end == line.len()).then(|| Record {
        id: Cow::Borrowed(&line[id]),
        lang: Some(Cow::Borrowed(&line[lang])),
        text: Cow::Borrowed(&line[text]),
    })
}

/// Any JSON line, by serde_json.
fn parse_json_serde(line: &str) -> Result<Record<'_>, Malformed> {
    let rec: JsonRecord<'_> = serde_json::from_str(line).map_err(|_| Malformed::Json)?;
    let raw = rec.id.get();
    let id = if raw.starts_with('"') {
        serde_json::from_str::<Cow<'_, str>>(raw).map_err(|_| Malformed::Json)?
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Cow::Borrowed(raw)
    } else {
        return Err(Malformed::Json);
    };
    Ok(Record {
        id,
        lang: rec.lang,
        text: rec.text,
    })
}

/// A parser for the shape nearly every line of a shard has, `{"id": ID, "lang": LANG,
/// "text": TEXT}` in this order, with string values free of escapes; it gives up (`None`) on
/// anything else, which then goes to serde_json. Parsing a line is a tenth of the time of
/// matching it, and serde_json takes several times longer on this shape than this does.
/// Where it gives an answer it is serde_json's: the same grammar (RFC 8259), restricted.
struct Fast<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Fast<'a> {
    fn new(line: &'a str) -> Self {
        Fast { line, at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Whitespace, then `token`. Inlined so that each call compares with a constant of
    /// known length, without a call to `memcmp`.
    #[inline(always)]
    fn eat(&mut self, token: &str) -> Option<()> {
        self.ws();
        self.line[self.at..]
            .starts_with(token)
            .then(|| self.at += token.len())
    }

    /// Whitespace, then a string without escapes or control characters; its contents.
    fn string(&mut self) -> Option<&'a str> {
        self.eat("\"")?;
        let start = self.at;
        let rest = &self.line.as_bytes()[start..];
        let len = plain_string_end(rest)?;
        // An escape, or a control character (which JSON forbids): serde_json decides.
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len;
        self.eat("\"")?;
        Some(&self.line[start..start + len])
    }

    /// Whitespace, then an integer without leading zeros, as written.
    fn integer(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.line.as_bytes()[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let leading_zero = digits > 1 && self.peek() == Some(b'0');
        if digits == 0 || leading_zero {
            return None;
        }
        self.at += digits;
        Some(&self.line[start..self.at])
    }

    fn record(mut self) -> Option<Record<'a>> {
        self.eat("{")?;
        self.eat("\"id\"")?;
        self.eat(":")?;
        self.ws();
        let id = if self.peek() == Some(b'"') {
            self.string()?
        } else {
            self.integer()?
        };
        self.eat(",")?;
        self.eat("\"lang\"")?;
        self.eat(":")?;
        self.ws();
        let lang = if self.peek() == Some(b'n') {
            self.eat("null")?;
            None
        } else {
            Some(Cow::Borrowed(self.string()?))
        };
        self.eat(",")?;
        self.eat("\"text\"")?;
        self.eat(":")?;
        let text = self.string()?;
        self.eat("}")?;
        self.ws();
        (self.at == self.line.len()).then_some(Record {
            id: Cow::Borrowed(id),
            lang,
            text: Cow::Borrowed(text),
        })
    }
}

/// The index of the first `"`, `\\` or control character of `s`: the end of a JSON string
/// free of escapes, or where it stops being one. Sixteen bytes at a time, all three tests at
/// once (a `memchr2` call for the quotes and a second pass for control characters cost more
/// on strings as short as an id or a language tag).
fn plain_string_end(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut end = None;
        super::simd16::each_16(s, string_stops_16, |base, stops| {
            end = (stops != 0).then(|| base + stops.trailing_zeros() as usize);
            end.is_none()
        });
        end
    }
    #[cfg(not(target_arch = "x86_64"))]
    s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Bit `j` set where `chunk[j]` ends a plain run of a JSON string: a quote, a backslash or a
/// control character.
#[cfg(target_arch = "x86_64")]
#[inline]
fn string_stops_16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1f: min(v, 0x1f) == v.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

fn parse_tsv(line: &str) -> Result<Record<'_>, Malformed> {
    let mut parts = line.splitn(3, '\t');
    let (Some(id), Some(lang), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Malformed::Tsv);
    };
    Ok(Record {
        id: Cow::Borrowed(id),
        lang: (!lang.is_empty()).then_some(Cow::Borrowed(lang)),
        text: Cow::Borrowed(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_string_or_number_id() {
        let r = parse_line(r#"{"id":"a1","lang":"en","text":"a cat","url":"x"}"#).unwrap();
        assert_eq!(
            (&*r.id, r.lang.as_deref(), &*r.text),
            ("a1", Some("en"), "a cat")
        );
        assert!(matches!(r.text, Cow::Borrowed(_)));
        let r = parse_line(r#" {"id": 17, "text": "caf\u00e9", "lang": null}"#).unwrap();
        assert_eq!((&*r.id, r.lang, &*r.text), ("17", None, "café"));
    }

    #[test]
    fn tsv_keeps_tabs_in_text() {
        let r = parse_line("7\tde\tKatze\tim Garten").unwrap();
        assert_eq!(
            (&*r.id, r.lang.as_deref(), &*r.text),
            ("7", Some("de"), "Katze\tim Garten")
        );
        let r = parse_line("7\t\tuntagged").unwrap();
        assert_eq!(r.lang, None);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse_line(r#"{"id":"a","lang":"en""#), Err(Malformed::Json));
        assert_eq!(
            parse_line(r#"{"id":"a","lang":"en"}"#),
            Err(Malformed::Json)
        );
        assert_eq!(parse_line(r#"{"id":[1],"text":"x"}"#), Err(Malformed::Json));
        assert_eq!(parse_line(r#"{"id":"a","text":3}"#), Err(Malformed::Json));
        assert_eq!(parse_line("only\ttwo"), Err(Malformed::Tsv));
    }

    /// The vector scan finds the first quote, backslash or control character wherever it is,
    /// as a plain search does; bytes ≥ 0x80 and DEL are no stops.
    #[test]
    fn plain_string_end_equals_a_plain_search() {
        let plain = |s: &[u8]| s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        for len in 0..48 {
            for at in 0..=len {
                for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut s: Vec<u8> =
                        (0..len).map(|i| [b'a', 0x7f, 0xe6, 0x20][i % 4]).collect();
                    if at < len {
                        s[at] = stop;
                    }
                    assert_eq!(plain_string_end(&s), plain(&s), "{s:?}");
                }
            }
        }
    }

    /// The fast parser answers exactly as serde_json on lines of its shape and near misses.
    #[test]
    fn fast_path_agrees_with_serde() {
        let lines = [
            r#"{"id": "img1", "lang": "en", "text": "a cat"}"#,
            r#"{"id":17,"lang":null,"text":"x"}"#,
            r#" {"id" : -3 , "lang" : "" , "text" : "" }  "#,
            r#"{"id": 0, "lang": "de", "text": "Katze"}"#,
            r#"{"id": 012, "lang": "de", "text": "Katze"}"#,
            r#"{"id": 1.5, "lang": "de", "text": "Katze"}"#,
            r#"{"id": -, "lang": "de", "text": "Katze"}"#,
            r#"{"id": "a", "lang": "en", "text": "say \"hi\""}"#,
            r#"{"id": "a", "lang": "en", "text": "caf\u00e9"}"#,
            "{\"id\": \"a\", \"lang\": \"en\", \"text\": \"tab\there\"}",
            r#"{"id": "a", "lang": "en", "text": "x"} trailing"#,
            r#"{"id": "a", "lang": "en", "text": "x",}"#,
            r#"{"id": "a", "lang": "en", "text": "x", "url": "u"}"#,
            r#"{"id": "a", "lang": nul, "text": "x"}"#,
            r#"{"id": "a", "lang": "en", "text": "x""#,
            r#"{"id": "a", "lang": "en", "text": "日本語"}"#,
            r#"{"lang": "en", "id": "a", "text": "x"}"#,
            r#"{"id": "a", "lang": "en", "text": "x"}  "#,
            r#"{"id": "a", "lang": "en", "text": "\"}"#,
            r#"{"id": "a", "lang": "en", "text": "x"}}"#,
            r#"{"id": "", "lang": "", "text": ""}"#,
            r#"{"id": "a", "lang": "en", "text": "x", "lang": "fr"}"#,
            r#"{"id": "a",  "lang": "en", "text": "x"}"#,
            r#"{"id": "a", "lang": "en", "text": "a long text, longer than sixteen bytes"}"#,
        ];
        for line in lines {
            let serde = parse_json_serde(line);
            if let Some(fast) = Fast::new(line).record() {
                assert_eq!(Ok(fast), serde, "{line}");
            }
            if let Some(exact) = exact_layout(line) {
                assert_eq!(Ok(exact), serde, "{line}");
            }
            assert_eq!(parse_line(line), serde, "{line}");
        }
        assert!(exact_layout(lines[0]).is_some());
        assert!(exact_layout(lines[1]).is_none());
        assert!(Fast::new(lines[0]).record().is_some());
        assert!(Fast::new(lines[2]).record().is_some());
        assert!(Fast::new(lines[4]).record().is_none());
    }
}
