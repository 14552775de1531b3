//! Emoji labels and tags in 29 locales (npm `emojibase-data` 17.0.0, data from Unicode CLDR,
//! DATA.md §4 b3): each locale's `<locale>/data.json` lists emoji with a `label` and `tags`.

use std::path::Path;

use serde::Deserialize;

use crate::curation::error::{Error, Result};

#[derive(Deserialize)]
struct Emoji {
    #[serde(default)]
    label: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Labels and tags of one locale's `data.json`, in file order.
pub fn labels(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let emojis: Vec<Emoji> = serde_json::from_str(&text)
        .map_err(|e| Error::format(path, e.line() as u64, e.to_string()))?;
    Ok(emojis
        .into_iter()
        .flat_map(|e| std::iter::once(e.label).chain(e.tags))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_tags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data.json");
        std::fs::write(
            &p,
            r#"[{"label":"nerd face","hexcode":"1F913","tags":["nerd","geek"]},{"label":"A"}]"#,
        )
        .unwrap();
        assert_eq!(labels(&p).unwrap(), ["nerd face", "nerd", "geek", "A"]);
        std::fs::write(&p, "[{").unwrap();
        assert!(labels(&p).is_err());
    }
}
