//! Which characters belong to scripts written without spaces.
//!
//! Mirrors `is_punctuation` and `is_cjk_or_similar` in the MetaCLIP 2 reference
//! (`metaclip/curation/substr_matching.py`; Chuang et al., arXiv 2507.22062, §3): an entry
//! whose first (last) character is CJK, Thai, Lao, Burmese, Khmer, Tibetan or punctuation is
//! not padded with a space on that side, so it matches as a plain substring there.

/// Full-width and CJK punctuation that the reference adds to Python's `string.punctuation`.
const ADDITIONAL_PUNCTUATION: &[char] = &[
    '，', '。', '、', '；', '：', '？', '！', '“', '”', '‘', '’', '（', '）', '【', '】', '《',
    '》', '〈', '〉', '「', '」', '『', '』', '～', '—',
];

/// Python `string.punctuation` (ASCII) or one of the reference's additional marks.
pub fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || ADDITIONAL_PUNCTUATION.contains(&c)
}

/// Reference `is_cjk_or_similar`: CJK ideographs and radicals, the Thai, Lao, Burmese,
/// Khmer and Tibetan blocks, or punctuation.
pub fn is_cjk_or_similar(c: char) -> bool {
    let cp = c as u32;
    let cjk = matches!(cp,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0x2CEB0..=0x2EBEF
        | 0xF900..=0xFAFF
        | 0x2E80..=0x2EFF
        | 0x2F00..=0x2FDF
        | 0x2FF0..=0x2FFF);
    let southeast_asian = matches!(cp,
        0x0E00..=0x0E7F // Thai
        | 0x0E80..=0x0EFF // Lao
        | 0x1000..=0x109F // Burmese
        | 0x1780..=0x17FF // Khmer
        | 0x0F00..=0x0FFF); // Tibetan
    cjk || southeast_asian || is_punctuation(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_without_spaces() {
        for c in ['中', '㐀', '𠀀', 'ก', 'ກ', 'က', 'ក', 'ཀ', '豈', '⺀'] {
            assert!(is_cjk_or_similar(c), "{c}");
        }
        for c in ['a', 'é', 'ж', 'א', 'ا', 'अ', ' ', '1', 'あ', '한'] {
            assert!(!is_cjk_or_similar(c), "{c}");
        }
    }

    #[test]
    fn punctuation_is_ascii_plus_cjk_marks() {
        for c in ['!', '"', '#', '/', '@', '~', '`', '，', '。', '—', '」'] {
            assert!(is_punctuation(c), "{c}");
            assert!(is_cjk_or_similar(c), "{c}");
        }
        for c in ['a', ' ', '¿', '«', '…'] {
            assert!(!is_punctuation(c), "{c}");
        }
    }
}
