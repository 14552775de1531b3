//! Country and language names from iso-codes (Debian `iso-codes` 4.15, DATA.md §4 b2): the
//! English names from `iso-codes/json/iso_3166-1.json` and `iso_639-2.json`, their
//! translations from `locale/<locale>/LC_MESSAGES/iso_3166-1.mo` and `iso_639-2.mo`.

use std::path::Path;

use serde_json::Value;

use super::mo;
use crate::curation::error::{Error, Result};

/// The iso-codes domains used: countries and languages.
pub const DOMAINS: &[&str] = &["3166-1", "639-2"];

/// English `name`, `common_name` and `official_name` of every item of one domain's JSON.
pub fn english_names(path: &Path, domain: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(path, e.line() as u64, e.to_string()))?;
    let items = json
        .get(domain)
        .and_then(Value::as_array)
        .ok_or_else(|| Error::format(path, 1, format!("no `{domain}` list")))?;
    Ok(items
        .iter()
        .flat_map(|item| {
            ["name", "common_name", "official_name"]
                .iter()
                .filter_map(|k| item.get(k).and_then(Value::as_str).map(str::to_owned))
        })
        .collect())
}

/// The translated names of one `.mo` catalog.
pub fn translated_names(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let pairs = mo::parse(&bytes).ok_or_else(|| Error::format(path, 1, "not a .mo catalog"))?;
    Ok(pairs.into_iter().map(|(_, tr)| tr).collect())
}
