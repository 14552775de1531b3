//! Substring matching of alt-texts against the metadata of their language.
//!
//! Mirrors the MetaCLIP 2 reference (Chuang et al., arXiv 2507.22062, §3.1 and App. A;
//! `metaclip/curation/substr_matching.py`): `get_spaced_metadata` pads each entry with a
//! space on each side whose character is not of a script written without spaces,
//! `initialize_automaton` builds one Aho-Corasick automaton per language, and `substr_match`
//! runs the automaton over the `spacing()`-normalised text and returns the set of entry ids
//! found (all overlapping matches, as pyahocorasick's `iter`). MetaCLIP 1 (Xu et al., arXiv
//! 2309.16671, §3.2) is the English-only case of the same matching.
//!
//! kiln splits each language's entries in two: entries padded on both sides are found by
//! their words ([`WordIndex`], the same result much faster), the others (those touching a
//! script without spaces or punctuation: CJK, Thai, `:)`, `$5`, …) as substrings of the
//! spaced text ([`UnpaddedIndex`]: an Aho-Corasick automaton of the `aho-corasick` crate
//! where there are many). Texts are matched in batches ([`Matcher::find_batch`]) so that the
//! memory loads of their lookups overlap.

use std::ops::Range;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::error::Result;
use super::lang::{identify, normalise_tag};
use super::metadata::Metadata;
use super::normalise::{has_solid_ends, normalise_append};
use super::script::is_cjk_or_similar;
use super::unpadded::UnpaddedIndex;
use super::words::{PADDING, RunScratch, WordIndex, find_runs, inline};

/// Language code of the catch-all metadata list, used (when present) for texts whose
/// language has none; the reference's `lid_langcode_to_metadata_langcode` maps to it too.
pub const OTHER: &str = "other";

/// Reference `get_spaced_metadata` for one entry: a space before it unless its first
/// character is CJK-like or punctuation, and after it unless its last character is.
pub fn spaced_entry(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len() + 2);
    if entry.chars().next().is_some_and(|c| !is_cjk_or_similar(c)) {
        out.push(' ');
    }
    out.push_str(entry);
    if entry
        .chars()
        .next_back()
        .is_some_and(|c| !is_cjk_or_similar(c))
    {
        out.push(' ');
    }
    out
}

/// Whether a spaced entry can occur in any `spacing()`-normalised text at all. `spacing()`
/// puts a space on both sides of every `, . ; : ? ! `` ` ``, so a pattern in which such a
/// mark touches a character other than a space (inside the pattern) never occurs: "U.S.",
/// "e.g.", "Ph.D" cannot match. Leaving them out of the lookup structures changes no result
/// (the reference keeps them in its automaton, where they never fire) and saves work.
pub fn can_ever_match(spaced: &str) -> bool {
    let b = spaced.as_bytes();
    let last = b.len().saturating_sub(1);
    b.iter().enumerate().all(|(i, c)| {
        !b",.;:?!`".contains(c) || ((i == 0 || b[i - 1] == b' ') && (i == last || b[i + 1] == b' '))
    })
}

/// A language code of at most 8 bytes as one word, zero-padded (so a code with a NUL has
/// none: it would collide with a shorter one).
fn code_key(code: &str) -> Option<u64> {
    let b = code.as_bytes();
    (b.len() <= 8 && !b.contains(&0)).then(|| inline(b))
}

/// Slot of [`Matcher::two_letter`] of a code of no metadata language.
const NO_LANGUAGE: u32 = u32::MAX;

/// The slot of a two-letter lowercase ASCII code in [`Matcher::two_letter`].
#[inline]
fn two_letter(code: &[u8]) -> Option<usize> {
    match *code {
        [a @ b'a'..=b'z', b @ b'a'..=b'z'] => Some((a - b'a') as usize * 26 + (b - b'a') as usize),
        _ => None,
    }
}

/// The automaton and entries of one language.
#[derive(Debug, Clone)]
pub struct LanguageMatcher {
    /// Metadata language code.
    pub lang: String,
    /// Entries; an entry's id is its index here.
    pub entries: Vec<String>,
    /// Entries padded on both sides, found by their words.
    words: WordIndex,
    /// The other entries.
    unpadded: UnpaddedIndex,
}

/// Which language a record was matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Index of the language in [`Matcher::languages`], `None` if it has no metadata.
    pub lang: Option<u32>,
    /// Whether the language came from identification rather than the record's tag.
    pub identified: bool,
}

/// One automaton per metadata language.
#[derive(Debug, Clone)]
pub struct Matcher {
    languages: Vec<LanguageMatcher>,
    /// Index of each two-letter lowercase code ([`two_letter`]), [`NO_LANGUAGE`] where it
    /// has no metadata: most records' tags (ISO 639-1), found without hashing.
    two_letter: Box<[u32; 26 * 26]>,
    /// Language code → index, for codes of up to 8 bytes, by their bytes as one word
    /// ([`code_key`]): looked up for every record, hence the fast hash and keys compared
    /// without a call to `memcmp`.
    index: FxHashMap<u64, u32>,
    /// The same for longer codes (Wikipedia's "zh-min-nan", "be-tarask").
    long_codes: FxHashMap<String, u32>,
    other: Option<u32>,
}

/// Texts matched together by [`Matcher::find_batch`]; its buffers are reused from one batch
/// to the next, so matching allocates nothing once they have grown.
#[derive(Debug, Default)]
pub struct TextBatch {
    /// The `spacing()`-normalised texts, one after another.
    buf: String,
    /// Per text: its byte range in `buf` and its language.
    ranges: Vec<Range<usize>>,
    langs: Vec<u32>,
    /// Per text: the matched entry ids; `ids.len()` may exceed the number of texts.
    ids: Vec<Vec<u32>>,
    runs: RunScratch,
}

impl TextBatch {
    /// Removes every text.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ranges.clear();
        self.langs.clear();
    }

    /// Adds `text`, to be matched in language `lang` (an index from [`Matcher::resolve`]);
    /// returns its index in the batch.
    pub fn push(&mut self, lang: u32, text: &str) -> usize {
        let start = self.buf.len();
        normalise_append(text, &mut self.buf);
        self.added(lang, start)
    }

    /// [`Self::push`] for a text already normalised (`normalise_append`), copied as it is.
    pub fn push_spaced(&mut self, lang: u32, spaced: &str) -> usize {
        let start = self.buf.len();
        self.buf.push_str(spaced);
        self.added(lang, start)
    }

    /// Records the text just appended to `buf` from `start` on, of language `lang`, with no
    /// ids yet; returns its index.
    fn added(&mut self, lang: u32, start: usize) -> usize {
        self.ranges.push(start..self.buf.len());
        self.langs.push(lang);
        let i = self.langs.len() - 1;
        match self.ids.get_mut(i) {
            Some(ids) => ids.clear(),
            None => self.ids.push(Vec::new()),
        }
        i
    }

    /// Number of texts.
    pub fn len(&self) -> usize {
        self.langs.len()
    }

    /// Whether the batch holds no text.
    pub fn is_empty(&self) -> bool {
        self.langs.is_empty()
    }

    /// Entry ids matched by text `i`, sorted, without repeats, once [`Matcher::find_batch`]
    /// has run (after [`Matcher::find_batch_any_order`]: the same ids in any order, with
    /// repeats).
    pub fn ids(&self, i: usize) -> &[u32] {
        &self.ids[i]
    }
}

impl LanguageMatcher {
    fn build(lang: &str, entries: &[String]) -> Result<Self> {
        let (mut padded, mut unpadded) = (Vec::new(), Vec::new());
        for (i, e) in entries.iter().enumerate() {
            let spaced = spaced_entry(e);
            if !can_ever_match(&spaced) {
                continue;
            }
            if spaced.len() == e.len() + 2 {
                padded.push((i as u32, e.as_str()));
            } else {
                unpadded.push((i as u32, spaced));
            }
        }
        Ok(LanguageMatcher {
            lang: lang.to_owned(),
            entries: entries.to_vec(),
            words: WordIndex::new(padded.iter().copied()),
            unpadded: UnpaddedIndex::new(lang, unpadded)?,
        })
    }
}

impl Matcher {
    /// Builds the automata of every language (in parallel on the current rayon pool).
    pub fn new(metadata: &Metadata) -> Result<Self> {
        let languages = metadata
            .languages
            .par_iter()
            .map(|l| LanguageMatcher::build(&l.lang, &l.entries))
            .collect::<Result<Vec<_>>>()?;
        let (mut index, mut long_codes) = (FxHashMap::default(), FxHashMap::default());
        let mut two = Box::new([NO_LANGUAGE; 26 * 26]);
        for (i, l) in languages.iter().enumerate() {
            if let Some(slot) = two_letter(l.lang.as_bytes()) {
                two[slot] = i as u32;
            }
            match code_key(&l.lang) {
                Some(key) => index.insert(key, i as u32),
                None => long_codes.insert(l.lang.clone(), i as u32),
            };
        }
        let mut matcher = Matcher {
            languages,
            two_letter: two,
            index,
            long_codes,
            other: None,
        };
        matcher.other = matcher.language_index(OTHER);
        Ok(matcher)
    }

    /// The languages, sorted by code.
    pub fn languages(&self) -> &[LanguageMatcher] {
        &self.languages
    }

    /// Index of a metadata language code, if it has metadata.
    pub fn language_index(&self, lang: &str) -> Option<u32> {
        if let Some(slot) = two_letter(lang.as_bytes()) {
            let i = self.two_letter[slot];
            return (i != NO_LANGUAGE).then_some(i);
        }
        match code_key(lang) {
            Some(key) => self.index.get(&key),
            None => self.long_codes.get(lang),
        }
        .copied()
    }

    /// The language a record is matched in: its tag normalised ([`normalise_tag`]), or, if it
    /// has none, the identified language of its text; a language without metadata falls back
    /// to the `other` list when there is one.
    pub fn resolve(&self, tag: Option<&str>, text: &str) -> Resolved {
        let tag = tag
            .map(|t| if has_solid_ends(t) { t } else { t.trim() })
            .filter(|t| !t.is_empty());
        // Fast path: a tag that already is a metadata code needs no normalising.
        if let Some(lang) = tag.and_then(|t| self.language_index(t)) {
            return Resolved {
                lang: Some(lang),
                identified: false,
            };
        }
        let (code, identified) = match tag {
            Some(tag) => (Some(normalise_tag(tag)), false),
            None => (identify(text).map(str::to_owned), true),
        };
        let lang = code.and_then(|c| self.language_index(&c)).or(self.other);
        Resolved { lang, identified }
    }

    /// Matches every text of the batch against the metadata of its language: afterwards
    /// [`TextBatch::ids`] gives each text's entry ids, as the reference's `substr_match`
    /// (its set of matches) would. Matching texts together rather than one at a time lets
    /// the word lookups of all of them overlap ([`find_runs`]).
    pub fn find_batch(&self, batch: &mut TextBatch) {
        self.find_batch_in(batch, true);
    }

    /// [`Self::find_batch`], leaving each text's ids in any order and with repeats (an entry
    /// found at two places of a text is there twice): for callers that drop repeats
    /// themselves ([`crate::curation::counts`]'s counting does, without sorting).
    pub fn find_batch_any_order(&self, batch: &mut TextBatch) {
        self.find_batch_in(batch, false);
    }

    fn find_batch_in(&self, batch: &mut TextBatch, sorted: bool) {
        let TextBatch {
            buf,
            ranges,
            langs,
            ids,
            runs,
        } = batch;
        // Padding, so that every key can be read as whole 8-byte words (`find_runs`).
        let len = buf.len();
        buf.extend(std::iter::repeat_n('\0', PADDING));
        self.find_in(buf, ranges, langs, &mut ids[..langs.len()], runs, sorted);
        buf.truncate(len);
    }

    /// [`Self::find_batch_any_order`] for texts already normalised that lie at `ranges` of
    /// `buf` (anywhere, in any order), text `t` in language `langs[t]`: matched where they
    /// are, without copying them into `batch`, whose [`TextBatch::ids`] then give their
    /// entry ids. Fastest when `buf` goes on [`PADDING`] bytes past the last text.
    pub fn find_spaced_any_order(
        &self,
        buf: &str,
        ranges: &[Range<usize>],
        langs: &[u32],
        batch: &mut TextBatch,
    ) {
        batch.clear();
        if batch.ids.len() < langs.len() {
            batch.ids.resize_with(langs.len(), Vec::new);
        }
        let ids = &mut batch.ids[..langs.len()];
        ids.iter_mut().for_each(Vec::clear);
        self.find_in(buf, ranges, langs, ids, &mut batch.runs, false);
    }

    /// Pushes onto `ids[t]` the entry ids of text `buf[ranges[t]]` in language `langs[t]`.
    fn find_in(
        &self,
        buf: &str,
        ranges: &[Range<usize>],
        langs: &[u32],
        ids: &mut [Vec<u32>],
        runs: &mut RunScratch,
        sorted: bool,
    ) {
        let language = |t: usize| &self.languages[langs[t] as usize];
        // Texts of one language (most chunks, their records being ordered by language): the
        // table is the same for every run, which the compiler then keeps in registers.
        match langs.first() {
            Some(&first) if langs.iter().all(|&l| l == first) => {
                let words = &self.languages[first as usize].words;
                find_runs(buf.as_bytes(), ranges, |_| words, runs, ids)
            }
            _ => find_runs(buf.as_bytes(), ranges, |t| &language(t).words, runs, ids),
        }
        for (t, ids) in ids.iter_mut().enumerate() {
            language(t).unpadded.find(&buf[ranges[t].clone()], ids);
            if sorted {
                ids.sort_unstable();
                ids.dedup();
            }
        }
    }

    /// Entry ids matched by `text` in language `lang` (an index from [`Self::resolve`]),
    /// sorted, written into `ids`; `batch` is scratch space. To match many texts, put them in
    /// one batch and call [`Self::find_batch`]: that is several times faster.
    pub fn find(&self, lang: u32, text: &str, batch: &mut TextBatch, ids: &mut Vec<u32>) {
        batch.clear();
        batch.push(lang, text);
        self.find_batch(batch);
        ids.clear();
        ids.extend_from_slice(batch.ids(0));
    }

    /// Convenience: the entries of `lang` (a metadata code) found in `text`, sorted by id.
    pub fn matched_entries(&self, lang: &str, text: &str) -> Vec<&str> {
        let Some(li) = self.language_index(lang) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        self.find(li, text, &mut TextBatch::default(), &mut ids);
        let entries = &self.languages[li as usize].entries;
        ids.iter().map(|&i| entries[i as usize].as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::curation::metadata::LanguageMetadata;

    fn matcher(langs: &[(&str, &[&str])]) -> Matcher {
        let languages = langs
            .iter()
            .map(|(lang, entries)| {
                LanguageMetadata::from_entries(lang, entries.iter(), Path::new("t")).unwrap()
            })
            .collect();
        Matcher::new(&Metadata::from_languages(languages)).unwrap()
    }

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort();
        v
    }

    #[test]
    fn padding_follows_the_script() {
        assert_eq!(spaced_entry("cat"), " cat ");
        assert_eq!(spaced_entry("東京"), "東京");
        assert_eq!(spaced_entry("東京tower"), "東京tower ");
        assert_eq!(spaced_entry("tokyo東京"), " tokyo東京");
        assert_eq!(spaced_entry("แมว"), "แมว");
        assert_eq!(spaced_entry("$5"), "$5 ");
        // Kana is not in the reference's CJK ranges, so kana entries are padded.
        assert_eq!(spaced_entry("ねこ"), " ねこ ");
    }

    #[test]
    fn entries_that_spacing_makes_impossible() {
        assert!(!can_ever_match(" U.S. "));
        assert!(!can_ever_match(" e.g "));
        assert!(can_ever_match(" x ,"));
        assert!(can_ever_match(" a . b "));
        assert!(!can_ever_match(":)"));
        assert!(can_ever_match("?"));
        let m = matcher(&[("en", &["x ,", "U.S.", "a . b"])]);
        assert_eq!(m.matched_entries("en", "x, a.b U.S."), ["x ,", "a . b"]);
    }

    #[test]
    fn whole_words_only_for_spaced_scripts() {
        let m = matcher(&[("en", &["cat", "hot dog", "dog", "a"])]);
        assert_eq!(m.matched_entries("en", "concatenate"), Vec::<&str>::new());
        assert_eq!(
            sorted(m.matched_entries("en", "a hot dog")),
            ["a", "dog", "hot dog"]
        );
        assert_eq!(m.matched_entries("en", "Cat"), Vec::<&str>::new());
    }

    #[test]
    fn punctuation_next_to_entries() {
        let m = matcher(&[("en", &["cat", "dog", "u.s."])]);
        assert_eq!(sorted(m.matched_entries("en", "cat, dog.")), ["cat", "dog"]);
        assert_eq!(m.matched_entries("en", "(cat)"), Vec::<&str>::new());
        assert_eq!(m.matched_entries("en", "cat!"), ["cat"]);
        assert_eq!(m.matched_entries("en", "\"dog\""), Vec::<&str>::new());
        // `spacing()` splits "u.s." apart, so an entry with a wrapped mark never matches.
        assert_eq!(m.matched_entries("en", "u.s."), Vec::<&str>::new());
    }

    #[test]
    fn cjk_and_thai_inside_longer_text() {
        let m = matcher(&[("zh", &["东京", "东京塔", "塔"]), ("th", &["แมว", "สีดำ"])]);
        assert_eq!(
            sorted(m.matched_entries("zh", "我在东京塔下拍照")),
            ["东京", "东京塔", "塔"]
        );
        assert_eq!(
            sorted(m.matched_entries("th", "แมวสีดำนอนอยู่")),
            ["สีดำ", "แมว"]
        );
    }

    #[test]
    fn substrings_of_other_entries_overlap() {
        let m = matcher(&[("en", &["new york", "york", "new york city", "new"])]);
        assert_eq!(
            sorted(m.matched_entries("en", "new york city at night")),
            ["new", "new york", "new york city", "york"]
        );
    }

    #[test]
    fn mixed_script_text_uses_its_language_only() {
        let m = matcher(&[("en", &["tokyo", "tower"]), ("ja", &["東京", "tokyo"])]);
        assert_eq!(
            m.matched_entries("ja", "tokyo 東京タワー tower"),
            ["東京", "tokyo"]
        );
        assert_eq!(
            sorted(m.matched_entries("en", "tokyo 東京タワー tower")),
            ["tokyo", "tower"]
        );
    }

    #[test]
    fn resolve_tags_identification_and_other() {
        let m = matcher(&[("en", &["cat"]), ("de", &["Katze"])]);
        let en = m.language_index("en");
        assert_eq!(
            m.resolve(Some("en-GB"), ""),
            Resolved {
                lang: en,
                identified: false
            }
        );
        assert_eq!(m.resolve(Some("fr"), "chat").lang, None);
        // Tags are trimmed (Unicode whitespace too); a blank tag asks for identification.
        assert_eq!(m.resolve(Some(" en\t"), "").lang, en);
        assert_eq!(
            m.resolve(Some("\u{3000}de"), "").lang,
            m.language_index("de")
        );
        assert!(m.resolve(Some(" \u{a0}"), "the cat").identified);
        let r = m.resolve(None, "the cat sat on the mat in the house of my friend");
        assert_eq!(
            r,
            Resolved {
                lang: en,
                identified: true
            }
        );
        let with_other = matcher(&[("en", &["cat"]), ("other", &["chat"])]);
        assert_eq!(
            with_other.resolve(Some("fr"), "").lang,
            with_other.language_index("other")
        );
    }

    #[test]
    fn any_order_finds_the_same_ids_with_repeats() {
        let m = matcher(&[
            ("en", &["cat", "black cat", "dog"]),
            ("zh", &["猫", "黑猫"]),
        ]);
        let texts = [
            ("en", "a cat, a black cat and a cat"),
            ("zh", "黑猫和猫和猫"),
            ("en", "no match"),
        ];
        let mut batch = TextBatch::default();
        for (lang, text) in texts {
            batch.push(m.language_index(lang).unwrap(), text);
        }
        m.find_batch_any_order(&mut batch);
        let any: Vec<Vec<u32>> = (0..3).map(|i| batch.ids(i).to_vec()).collect();
        m.find_batch(&mut batch);
        for (i, ids) in any.into_iter().enumerate() {
            let mut distinct = ids.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct, batch.ids(i), "text {i}");
            assert!(
                i == 2 || ids.len() > distinct.len(),
                "text {i} has repeats: {ids:?}"
            );
        }
    }

    #[test]
    fn language_codes_of_any_length() {
        let m = matcher(&[
            ("en", &["cat"]),
            ("zh-min-nan", &["niau"]),
            ("ckb-Arab", &["x"]),
        ]);
        assert_eq!(m.language_index("zh-min-nan"), Some(2));
        assert_eq!(m.language_index("ckb-Arab"), Some(0));
        assert_eq!(m.language_index("en"), Some(1));
        // Two lowercase letters take the direct table; other case and lengths the maps.
        assert_eq!(m.language_index("fr"), None);
        assert_eq!(m.language_index("EN"), None);
        let upper = matcher(&[("EN", &["cat"]), ("en", &["dog"])]);
        assert_eq!(upper.language_index("EN"), Some(0));
        assert_eq!(upper.language_index("en"), Some(1));
        assert_eq!(m.language_index("e"), None);
        assert_eq!(m.language_index("en\0"), None);
        assert_eq!(m.language_index("zh-min-na"), None);
        assert_eq!(m.matched_entries("zh-min-nan", "a niau"), ["niau"]);
    }

    #[test]
    fn large_unpadded_language_uses_nfa() {
        let words: Vec<String> = (0..6000).map(|i| format!("東{i}")).collect();
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let m = matcher(&[("en", &refs)]);
        assert_eq!(
            sorted(m.matched_entries("en", "東1 東42, 東5999.")),
            ["東1", "東42", "東5999"]
        );
    }
}
