//! Language codes: normalising the tags found in data and identifying untagged texts.
//!
//! MetaCLIP 2 (Chuang et al., arXiv 2507.22062, §3.1) matches each alt-text only against the
//! metadata of its own language, found by language identification; the reference maps LID
//! codes to metadata (Wikipedia) codes with `lid_to_wiki` (`substr_matching.py:
//! lid_langcode_to_metadata_langcode`, whose table is empty in the public code). kiln's table
//! is [`normalise_tag`]: ISO 639-1 codes, region and script subtags dropped, and the ISO
//! 639-3 codes of the [`whatlang`] identifier folded onto them.

/// ISO 639-3 code (as [`whatlang::Lang::code`] gives it) to the metadata code.
const ISO3_TO_METADATA: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("cym", "cy"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "no"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
];

/// Retired or macro-language codes that name the same metadata list.
const ALIASES: &[(&str, &str)] = &[
    ("nb", "no"),
    ("iw", "he"),
    ("in", "id"),
    ("ji", "yi"),
    ("fil", "tl"),
    ("zsm", "ms"),
];

/// Normalises a language tag to a metadata language code: lower case, the region, script or
/// variant subtag dropped (`pt-BR`, `zh_Hant`, `sr@latin` → `pt`, `zh`, `sr`), ISO 639-3
/// codes of the identifier and retired codes mapped to their ISO 639-1 form.
pub fn normalise_tag(tag: &str) -> String {
    let base = tag
        .trim()
        .split(['-', '_', '@', '.'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    ISO3_TO_METADATA
        .iter()
        .chain(ALIASES)
        .find(|(from, _)| *from == base)
        .map_or(base, |(_, to)| (*to).to_owned())
}

/// Identifies the language of an untagged text with [`whatlang`] (trigram and script
/// statistics, 70 languages) and returns its metadata code, or `None` when the text gives
/// no clue (no letters).
pub fn identify(text: &str) -> Option<&'static str> {
    let code = whatlang::detect_lang(text)?.code();
    ISO3_TO_METADATA
        .iter()
        .find(|(from, _)| *from == code)
        .map(|(_, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        assert_eq!(normalise_tag("en"), "en");
        assert_eq!(normalise_tag("pt-BR"), "pt");
        assert_eq!(normalise_tag("zh_Hant"), "zh");
        assert_eq!(normalise_tag("sr@latin"), "sr");
        assert_eq!(normalise_tag(" DE "), "de");
        assert_eq!(normalise_tag("deu"), "de");
        assert_eq!(normalise_tag("nb"), "no");
        assert_eq!(normalise_tag("ryu"), "ryu");
    }

    #[test]
    fn every_identifier_language_has_a_code() {
        for lang in whatlang::Lang::all() {
            assert!(
                ISO3_TO_METADATA.iter().any(|(c, _)| *c == lang.code()),
                "{}",
                lang.code()
            );
        }
    }

    #[test]
    fn identifies_clear_cases() {
        assert_eq!(
            identify("The quick brown fox jumps over the lazy dog near the river bank"),
            Some("en")
        );
        assert_eq!(
            identify("Der schnelle braune Fuchs springt über den faulen Hund am Flussufer"),
            Some("de")
        );
        assert_eq!(identify("東京タワーの夜景がとてもきれいでした"), Some("ja"));
        assert_eq!(identify("1234 !!!"), None);
    }
}
