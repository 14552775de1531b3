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
    if line.trim_start().starts_with('{') {
        parse_json(line)
    } else {
        parse_tsv(line)
    }
}

fn parse_json(line: &str) -> Result<Record<'_>, Malformed> {
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
}
