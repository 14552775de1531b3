//! Entries with a side that `get_spaced_metadata` leaves without a space, found as plain
//! substrings of the `spacing()`-normalised text.
//!
//! MetaCLIP 2 reference (`metaclip/curation/substr_matching.py`; Chuang et al., arXiv
//! 2507.22062, §3.1): an entry whose first (last) character is CJK, Thai, …, or punctuation
//! gets no space before (after) it, so "東京" matches inside "在東京塔", "anti-" inside
//! "anti-war" and "'s Gravenhage" after any word. The reference runs one Aho-Corasick
//! automaton over all the entries of a language; kiln runs one over these only (the others
//! are found by their words, [`super::words`]), and not at all on a text that lacks the
//! bytes every match needs ([`Required`]).
//!
//! A language with a few such entries (Latin, Cyrillic: brackets, apostrophes, hyphens)
//! needs no automaton: an occurrence of a pattern holds its required pair at a known place
//! (its end, or its start), so checking the patterns of each required pair where the pair
//! occurs finds every occurrence, and costs nothing on the rest of the text. A language with
//! thousands of them (Chinese, Japanese, Thai) uses a contiguous NFA.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::error::{Error, Result};

/// Above this many patterns a language's patterns go into an automaton: a required pair is
/// then shared by many patterns (all Chinese entries ending in 京 end in its last two
/// bytes), and checking each where the pair occurs costs more than the automaton.
const MAX_ANCHORED: usize = 100;

/// The entries of one language that have a side without a space.
#[derive(Debug, Clone, Default)]
pub struct UnpaddedIndex {
    required: Required,
    search: Search,
}

#[derive(Debug, Clone, Default)]
enum Search {
    #[default]
    Empty,
    Anchored(Anchored),
    /// The automaton, with `ids[pattern]` the entry id of each of its patterns. A DFA of
    /// thousands of patterns takes tens of MiB and misses the cache at every byte; the
    /// contiguous NFA matched Thai texts 3× and Japanese 2× faster.
    Automaton(AhoCorasick, Vec<u32>),
}

/// Byte strings at least one of which a text must contain for any pattern to occur in it:
/// for each pattern, the two bytes at its side without a space (or its only byte). The
/// automaton's patterns mostly start with a space, so it cannot skip ahead itself and costs
/// about as much on a text with no match as on one with; this check rules most texts out
/// (the `-` of "ill-equipped" does not count: no entry ends in "l-").
#[derive(Debug, Clone, Default)]
struct Required {
    /// `edge[b]` is 1 if byte `b` is at the side without a space of some pattern (256
    /// entries once a pattern is added); only where the text has one of these (punctuation,
    /// mostly, outside CJK) are pairs looked at.
    edge: Vec<u8>,
    /// The edge bytes, when there are at most three (most languages have one or two: `'`,
    /// `-`): then found with `memchr`, many bytes at a time, instead of through `edge`.
    few: Vec<u8>,
    /// The edge bytes, when there are four to eight (English has five: `) ' + - <`), the
    /// first repeated to fill eight: then found by comparing sixteen text bytes with each.
    some: Option<[u8; 8]>,
    /// Bit `b`: byte `b` alone is a pattern.
    single: [u64; 4],
    /// Bit `a * 256 + b`: the pair `a b` ends a pattern (right side without a space).
    ends: Vec<u64>,
    /// Bit `a * 256 + b`: the pair `a b` starts a pattern (left side without a space; only
    /// for patterns whose right side has one).
    starts: Vec<u64>,
}

/// Where a pattern's required bytes are: its only byte, or the pair at its end or start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Anchor {
    Single(u8),
    End(u8, u8),
    Start(u8, u8),
}

impl Anchor {
    fn of(pattern: &[u8]) -> Option<Anchor> {
        Some(match pattern {
            [] => return None,
            [b] => Anchor::Single(*b),
            [.., a, b] if *b != b' ' => Anchor::End(*a, *b),
            [a, b, ..] => Anchor::Start(*a, *b),
        })
    }
}

#[inline]
fn bit(set: &[u64], i: usize) -> bool {
    set[i / 64] >> (i % 64) & 1 == 1
}

fn set_bit(set: &mut [u64], i: usize) {
    set[i / 64] |= 1 << (i % 64);
}

fn pair(a: u8, b: u8) -> usize {
    a as usize * 256 + b as usize
}

impl Required {
    fn add(&mut self, anchor: Anchor) {
        if self.ends.is_empty() {
            self.edge = vec![0; 256];
            self.ends = vec![0; 65_536 / 64];
            self.starts = vec![0; 65_536 / 64];
        }
        match anchor {
            Anchor::Single(b) => {
                self.edge[b as usize] = 1;
                set_bit(&mut self.single, b as usize);
            }
            Anchor::End(a, b) => {
                self.edge[b as usize] = 1;
                set_bit(&mut self.ends, pair(a, b));
            }
            Anchor::Start(a, b) => {
                self.edge[a as usize] = 1;
                set_bit(&mut self.starts, pair(a, b));
            }
        }
    }

    /// Calls `found` with every `(i, anchor)` such that `anchor` is a pattern's anchor and
    /// occurs in `text` with its edge byte at `i`; stops early when `found` returns false.
    #[inline]
    fn scan(&self, text: &[u8], mut found: impl FnMut(usize, Anchor) -> bool) {
        let edge = &self.edge[..];
        if edge.is_empty() {
            return;
        }
        match self.few[..] {
            [a] => return self.scan_at(text, memchr::memchr_iter(a, text), &mut found),
            [a, b] => return self.scan_at(text, memchr::memchr2_iter(a, b, text), &mut found),
            [a, b, c] => {
                return self.scan_at(text, memchr::memchr3_iter(a, b, c, text), &mut found);
            }
            _ => {}
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(some) = &self.some {
            return self.scan_some(text, some, &mut found);
        }
        // Most bytes are no edge byte: test eight at a time, without a branch per byte.
        let mut chunks = text.chunks_exact(8);
        let mut start = 0;
        for c in &mut chunks {
            if c.iter().fold(0, |any, &b| any | edge[b as usize]) != 0
                && !(start..start + 8).all(|i| self.at(text, i, &mut found))
            {
                return;
            }
            start += 8;
        }
        for i in start..text.len() {
            if !self.at(text, i, &mut found) {
                return;
            }
        }
    }

    /// [`Self::scan`] at the bytes `positions` (those of the text that are edge bytes).
    #[inline]
    fn scan_at(
        &self,
        text: &[u8],
        positions: impl Iterator<Item = usize>,
        found: &mut impl FnMut(usize, Anchor) -> bool,
    ) {
        for i in positions {
            if !self.at(text, i, found) {
                return;
            }
        }
    }

    /// [`Self::scan`] for four to eight edge bytes (`some`): sixteen bytes at a time.
    #[cfg(target_arch = "x86_64")]
    fn scan_some(
        &self,
        text: &[u8],
        some: &[u8; 8],
        found: &mut impl FnMut(usize, Anchor) -> bool,
    ) {
        super::simd16::each_16(
            text,
            |c| edge_mask_16(c, some),
            |base, mut mask| {
                while mask != 0 {
                    if !self.at(text, base + mask.trailing_zeros() as usize, found) {
                        return false;
                    }
                    mask &= mask - 1;
                }
                true
            },
        );
    }

    /// Lists the edge bytes in `few` if there are at most three; called once all patterns
    /// are added.
    fn finish(&mut self) {
        let bytes: Vec<u8> = (0..=255u8)
            .filter(|&b| self.edge.get(b as usize) == Some(&1))
            .collect();
        self.some = (4..=8).contains(&bytes.len()).then(|| {
            let mut some = [bytes[0]; 8];
            some[..bytes.len()].copy_from_slice(&bytes);
            some
        });
        self.few = if bytes.len() <= 3 { bytes } else { Vec::new() };
    }

    /// [`Self::scan`] at byte `i`; false when `found` says to stop.
    #[inline]
    fn at(&self, text: &[u8], i: usize, found: &mut impl FnMut(usize, Anchor) -> bool) -> bool {
        let c = text[i];
        if self.edge[c as usize] == 0 {
            return true;
        }
        if bit(&self.single, c as usize) && !found(i, Anchor::Single(c)) {
            return false;
        }
        if i > 0 && bit(&self.ends, pair(text[i - 1], c)) && !found(i, Anchor::End(text[i - 1], c))
        {
            return false;
        }
        if let Some(&d) = text.get(i + 1)
            && bit(&self.starts, pair(c, d))
            && !found(i, Anchor::Start(c, d))
        {
            return false;
        }
        true
    }
}

/// Bit `j` set where `chunk[j]` is one of the bytes `some`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn edge_mask_16(chunk: &[u8; 16], some: &[u8; 8]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let m = _mm_or_si128(
            _mm_or_si128(
                _mm_or_si128(is(some[0]), is(some[1])),
                _mm_or_si128(is(some[2]), is(some[3])),
            ),
            _mm_or_si128(
                _mm_or_si128(is(some[4]), is(some[5])),
                _mm_or_si128(is(some[6]), is(some[7])),
            ),
        );
        _mm_movemask_epi8(m) as u32
    }
}

/// Patterns sorted by anchor, checked where their anchor occurs.
#[derive(Debug, Clone, Default)]
struct Anchored {
    /// (anchor, entry id, pattern), sorted by anchor.
    patterns: Vec<(Anchor, u32, Box<[u8]>)>,
}

impl Anchored {
    /// Pushes the id of every pattern with anchor `anchor` whose occurrence would put that
    /// anchor's edge byte at `i` of `text`, and that does occur there.
    fn check(&self, text: &[u8], i: usize, anchor: Anchor, ids: &mut Vec<u32>) {
        let first = self.patterns.partition_point(|p| p.0 < anchor);
        for (_, id, p) in self.patterns[first..].iter().take_while(|p| p.0 == anchor) {
            let start = match anchor {
                Anchor::Single(_) | Anchor::Start(..) => Some(i),
                // The edge byte is the pattern's last.
                Anchor::End(..) => (i + 1).checked_sub(p.len()),
            };
            if start.is_some_and(|s| text[s..].starts_with(p)) {
                ids.push(*id);
            }
        }
    }
}

impl UnpaddedIndex {
    /// Indexes `(entry id, spaced entry)` pairs of language `lang`; every spaced entry has a
    /// side without a space.
    pub fn new(lang: &str, patterns: Vec<(u32, String)>) -> Result<Self> {
        let mut required = Required::default();
        let mut anchored = Vec::new();
        for (id, p) in &patterns {
            if let Some(anchor) = Anchor::of(p.as_bytes()) {
                required.add(anchor);
                anchored.push((anchor, *id, p.as_bytes().into()));
            }
        }
        required.finish();
        let search = if patterns.is_empty() {
            Search::Empty
        } else if patterns.len() <= MAX_ANCHORED {
            anchored.sort();
            Search::Anchored(Anchored { patterns: anchored })
        } else {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(patterns.iter().map(|(_, p)| p))
                .map_err(|e| Error::Automaton {
                    lang: lang.to_owned(),
                    message: e.to_string(),
                })?;
            Search::Automaton(ac, patterns.iter().map(|(id, _)| *id).collect())
        };
        Ok(UnpaddedIndex { required, search })
    }

    /// Pushes onto `ids` the entry id of every pattern that occurs in `spaced` (a
    /// `spacing()`-normalised text), as often as it occurs.
    pub fn find(&self, spaced: &str, ids: &mut Vec<u32>) {
        let text = spaced.as_bytes();
        match &self.search {
            Search::Empty => {}
            Search::Anchored(a) => self.required.scan(text, |i, anchor| {
                a.check(text, i, anchor, ids);
                true
            }),
            Search::Automaton(ac, pattern_ids) => {
                let mut any = false;
                self.required.scan(text, |_, _| {
                    any = true;
                    false
                });
                if any {
                    ids.extend(
                        ac.find_overlapping_iter(spaced)
                            .map(|m| pattern_ids[m.pattern().as_usize()]),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(patterns: &[&str]) -> UnpaddedIndex {
        let patterns = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u32, p.to_string()))
            .collect();
        UnpaddedIndex::new("xx", patterns).unwrap()
    }

    fn find(index: &UnpaddedIndex, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        index.find(text, &mut ids);
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn anchors_at_the_side_without_a_space() {
        assert_eq!(Anchor::of(b" anti-"), Some(Anchor::End(b'i', b'-')));
        assert_eq!(Anchor::of(b"'tis "), Some(Anchor::Start(b'\'', b't')));
        assert_eq!(Anchor::of(b"!"), Some(Anchor::Single(b'!')));
        assert_eq!(Anchor::of("東京".as_bytes()), Some(Anchor::End(0xba, 0xac)));
        assert_eq!(Anchor::of(b""), None);
    }

    /// Languages with one to three edge bytes find them with `memchr`; the result is the one
    /// the byte table gives.
    #[test]
    fn few_edge_bytes_found_as_by_the_table() {
        let sets: [&[&str]; 4] = [
            &[" anti-", " pro-", " x-"],
            &[" anti-", "'tis ", "'s gravenhage "],
            &[" anti-", "'tis ", "!"],
            &[" anti-", "'tis ", "$5 ", " 5%", "!"],
        ];
        let texts = [
            " anti-war 'tis pro-x - 'tis $5 5% ! ",
            " x- anti- ",
            "'s gravenhage 's gravenhage",
            " no edge bytes at all ",
            "-'$%!",
        ];
        for (k, patterns) in sets.iter().enumerate() {
            let idx = index(patterns);
            assert_eq!(idx.required.few.is_empty(), k == 3, "{patterns:?}");
            let mut by_table = idx.clone();
            by_table.required.few.clear();
            for text in texts {
                assert_eq!(
                    find(&idx, text),
                    find(&by_table, text),
                    "{patterns:?} {text:?}"
                );
            }
        }
        assert_eq!(
            find(&index(&[" anti-", " pro-"]), " pro-anti- anti- "),
            [0, 1]
        );
    }

    #[test]
    fn required_bytes_rule_out_texts() {
        let idx = index(&[" anti-", "'tis ", "!", "東京"]);
        let any = |text: &str| {
            let mut any = false;
            idx.required.scan(text.as_bytes(), |_, _| {
                any = true;
                false
            });
            any
        };
        assert!(any(" anti-war "));
        assert!(!any(" ill-equipped o'clock "));
        assert!(any(" 'tis "));
        assert!(any(" wow ! "));
        assert!(any(" 在東京 "));
        assert!(!any(" 在東 "));
    }

    /// Both searches find the same as a plain substring test, for every pattern, at the
    /// start, the end and the middle of texts, overlapping and repeated.
    #[test]
    fn anchored_and_automaton_find_every_occurrence() {
        let patterns = [
            " anti-", "'tis ", "!", "東京", "京", " c++", "+", "++ ", " (a)", "a)", "'s ", " x'",
        ];
        let texts = [
            " anti-anti- war ",
            "'tis ",
            " it 'tis ! ",
            "東京東京",
            " c++ ++ (a) ",
            " x's ",
            " nothing here ",
            "!",
            "",
        ];
        // Longer texts too, at every offset from a 16-byte chunk's start.
        let long: Vec<String> = (0..20)
            .map(|pad| format!("{}{}", "a".repeat(pad), texts.concat()))
            .collect();
        let texts: Vec<&str> = texts
            .into_iter()
            .chain(long.iter().map(String::as_str))
            .collect();
        let anchored = index(&patterns);
        assert!(matches!(anchored.search, Search::Anchored(_)));
        // Six edge bytes: found by vector compares, and by the byte table as before.
        assert!(anchored.required.some.is_some());
        let mut by_table = anchored.clone();
        by_table.required.some = None;
        // The same patterns among enough others to need the automaton.
        let mut many: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        many.extend((0..MAX_ANCHORED).map(|i| format!(" zz{i}-")));
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let automaton = index(&many_refs);
        assert!(matches!(automaton.search, Search::Automaton(..)));
        for text in texts {
            let want: Vec<u32> = (0..patterns.len() as u32)
                .filter(|&i| text.contains(patterns[i as usize]))
                .collect();
            assert_eq!(find(&anchored, text), want, "{text:?}");
            assert_eq!(find(&by_table, text), want, "{text:?}");
            assert_eq!(find(&automaton, text), want, "{text:?}");
        }
    }
}
