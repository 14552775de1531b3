//! Exact lookup of space-padded entries by the words of the text.
//!
//! An entry whose first and last characters are both of spaced scripts is padded on both
//! sides (`get_spaced_metadata`, MetaCLIP 2 reference `substr_matching.py`), so the pattern
//! `" e "` occurs in a `spacing()`-normalised text exactly where a run of consecutive
//! space-separated words of the text, joined by their single spaces, equals `e`: the text
//! starts and ends with a space, and `e` neither starts nor ends with one. So instead of
//! running an Aho-Corasick automaton with hundreds of thousands of patterns over every byte
//! (the cost the MetaCLIP 2 paper's App. A.2 attributes to matching), the matcher looks up
//! each run of words in a hash table, extending a run only while it is a word-prefix of some
//! entry. The result is the same set of entries as the automaton's overlapping search; the
//! reference-agreement and fuzz tests check that.

use std::ops::Range;

use super::memory::{HugeSlice, prefetch};

/// Sentinel id of a key that is only a word-prefix of entries, not an entry.
const NONE: u32 = u32::MAX;
/// `Slot::meta` of an empty slot.
const EMPTY: u32 = 0;
/// Bit of `Slot::meta` set when the key is a word-prefix of some entry.
const PREFIX: u32 = 1 << 15;
/// Keys up to this many bytes are stored in the slot itself.
const INLINE: usize = 8;

/// 16 bytes. A lookup touches one slot; a key of up to 8 bytes (most words) is compared in
/// the slot, so only longer keys also read the arena. Memory, not arithmetic, bounds the
/// matcher (a large language's table does not fit in cache), so this layout matters.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The key itself when it is short (zero-padded), else its offset in the arena.
    data: u64,
    /// Bits 0..15: key length + 1 (0 = empty slot); bit 15: [`PREFIX`]; bits 16..32: high
    /// bits of the key's hash.
    meta: u32,
    id: u32,
}

const EMPTY_SLOT: Slot = Slot {
    data: 0,
    meta: EMPTY,
    id: NONE,
};

/// An open-addressing hash table from byte strings (entries and their word-prefixes) to
/// entry ids; keys longer than 8 bytes live in one arena.
#[derive(Debug, Clone)]
pub struct WordIndex {
    arena: HugeSlice<u8>,
    slots: HugeSlice<Slot>,
    mask: usize,
    /// Most words in an entry: no run longer than this can match.
    max_words: usize,
}

/// The bytes of a key of at most 8 bytes as a little-endian word, zero-padded: the form a
/// short key has in its slot. Built from at most two overlapping loads instead of a call to
/// `memcpy` (lookups run this for every word).
#[inline]
fn inline(key: &[u8]) -> u64 {
    let n = key.len();
    debug_assert!(n <= INLINE);
    let u32_at = |i: usize| u32::from_le_bytes(key[i..i + 4].try_into().expect("4 bytes")) as u64;
    match n {
        8 => u64::from_le_bytes(key.try_into().expect("8 bytes")),
        // Bytes n-4..4 are loaded twice, with the same value: OR keeps them.
        4..=7 => u32_at(0) | u32_at(n - 4) << ((n - 4) * 8),
        1..=3 => {
            key[0] as u64
                | (key[n / 2] as u64) << (n / 2 * 8)
                | (key[n - 1] as u64) << ((n - 1) * 8)
        }
        _ => 0,
    }
}

/// `meta` bits of a key of `len` bytes, prefix flag clear.
#[inline]
fn meta_of(len: usize, h: u64) -> u32 {
    ((h >> 48) as u32) << 16 | (len as u32 + 1)
}

/// `a == b` for slices of equal length, eight bytes at a time: keys are short (tens of
/// bytes), where a call to `memcmp` costs more than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        if u64::from_le_bytes(x.try_into().expect("8 bytes"))
            != u64::from_le_bytes(y.try_into().expect("8 bytes"))
        {
            return false;
        }
    }
    inline(ca.remainder()) == inline(cb.remainder())
}

/// One step of the key hash: folds in the next (zero-padded) 8 bytes of the key.
#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// MurmurHash3's 64-bit finaliser: every output bit depends on every input bit, so the low
/// bits used as the table index are well spread.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of a key: its length, then its bytes as zero-padded little-endian words.
fn hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = mix(h, inline(rest));
    }
    finish(h)
}

/// [`inline`] of the `n ≤ 8` bytes at `buf[start..]` by one unaligned load and a mask,
/// without the branches on `n` (a lookup's most mispredicted branches, word lengths being
/// random), where `buf` holds 8 bytes from `start`; [`find_runs`]'s caller pads its buffer
/// so that it does.
#[inline]
fn inline_at(buf: &[u8], start: usize, n: usize) -> u64 {
    match buf.get(start..start + 8) {
        Some(b) => {
            let w = u64::from_le_bytes(b.try_into().expect("8 bytes"));
            w & u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0)
        }
        None => inline(&buf[start..start + n]),
    }
}

impl WordIndex {
    /// Indexes `(id, entry)` pairs; every entry must be non-empty and must not start or end
    /// with a space.
    pub fn new<'a>(entries: impl IntoIterator<Item = (u32, &'a str)> + Clone) -> Self {
        let mut keys = 0usize;
        for (_, e) in entries.clone() {
            keys += 1 + e.bytes().filter(|&b| b == b' ').count();
        }
        let cap = (keys * 2).next_power_of_two().max(8);
        let mut arena = Vec::new();
        let mut index = WordIndex {
            arena: HugeSlice::from_slice(&[]),
            slots: HugeSlice::filled(cap, EMPTY_SLOT),
            mask: cap - 1,
            max_words: 0,
        };
        for (id, e) in entries {
            let b = e.as_bytes();
            let mut words = 1;
            for (i, &c) in b.iter().enumerate() {
                if c == b' ' {
                    words += 1;
                    index.insert(&mut arena, &b[..i], NONE);
                }
            }
            index.max_words = index.max_words.max(words);
            index.insert(&mut arena, b, id);
        }
        index.arena = HugeSlice::from_slice(&arena);
        index
    }

    /// Inserts a key while the table is built, the arena (`self.arena` once built) being
    /// `arena`.
    fn insert(&mut self, arena: &mut Vec<u8>, key: &[u8], id: u32) {
        assert!(key.len() < PREFIX as usize - 1, "entry longer than 32 KiB");
        let h = hash(key);
        let mut i = h as usize & self.mask;
        while self.slots[i].meta != EMPTY {
            if Self::holds(&self.slots[i], arena, key, h) {
                let slot = &mut self.slots[i];
                if id == NONE {
                    slot.meta |= PREFIX;
                } else {
                    slot.id = id;
                }
                return;
            }
            i = (i + 1) & self.mask;
        }
        let data = if key.len() <= INLINE {
            inline(key)
        } else {
            let offset = arena.len() as u64;
            arena.extend_from_slice(key);
            offset
        };
        let prefix = if id == NONE { PREFIX } else { 0 };
        self.slots[i] = Slot {
            data,
            meta: meta_of(key.len(), h) | prefix,
            id,
        };
    }

    /// Whether occupied slot `s` holds `key` (whose hash is `h`), its long keys being in
    /// `arena`.
    #[inline]
    fn holds(s: &Slot, arena: &[u8], key: &[u8], h: u64) -> bool {
        if s.meta & !PREFIX != meta_of(key.len(), h) {
            return false;
        }
        if key.len() <= INLINE {
            s.data == inline(key)
        } else {
            let start = s.data as usize;
            same_bytes(&arena[start..start + key.len()], key)
        }
    }

    /// The first occupied slot on the probe sequence of hash `h` that `hit` accepts, or
    /// `None` once an empty slot ends the sequence.
    #[inline]
    fn probe(&self, h: u64, hit: impl Fn(&Slot) -> bool) -> Option<&Slot> {
        let mut i = h as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.meta == EMPTY {
                return None;
            }
            if hit(s) {
                return Some(s);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// (entry id or none, whether the key is a word-prefix of an entry), for a key whose
    /// hash is `h`.
    #[inline]
    fn get_hashed(&self, key: &[u8], h: u64) -> Option<(u32, bool)> {
        self.probe(h, |s| Self::holds(s, &self.arena, key, h))
            .map(|s| (s.id, s.meta & PREFIX != 0))
    }

    /// [`Self::get_hashed`] for a key of `len ≤ INLINE` bytes given as its slot form `word`.
    #[inline]
    fn get_inline(&self, len: usize, word: u64, h: u64) -> Option<(u32, bool)> {
        let meta = meta_of(len, h);
        self.probe(h, |s| s.meta & !PREFIX == meta && s.data == word)
            .map(|s| (s.id, s.meta & PREFIX != 0))
    }

    /// Asks the CPU to start loading the slot where a key with hash `h` would be.
    #[inline]
    fn prefetch_slot(&self, h: u64) {
        prefetch(&self.slots[h as usize & self.mask]);
    }

    /// Asks the CPU to start loading the arena bytes a lookup of `key` (longer than
    /// [`INLINE`]) will compare against: those of the first slot on its probe sequence whose
    /// length and hash bits equal the key's. Reads the slots, so it pays once they are loaded.
    #[inline]
    fn prefetch_arena(&self, key: &[u8], h: u64) {
        let meta = meta_of(key.len(), h);
        if let Some(s) = self.probe(h, |s| s.meta & !PREFIX == meta) {
            prefetch(&self.arena[s.data as usize]);
        }
    }
}

/// Pushes `offset + i` for every space `text[i]`, in order. Eight bytes at a time: the
/// texts are short and full of spaces, where `memchr`'s iterator pays its set-up once per
/// space.
fn push_spaces(text: &[u8], offset: usize, out: &mut Vec<usize>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut chunks = text.chunks_exact(8);
    let mut at = offset;
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes")) ^ (ONES * b' ' as u64);
        // High bit of each byte set where that byte of `x` is zero, i.e. of `c` is a space
        // (exact: no carries cross bytes).
        let nonzero = ((x & (ONES * 0x7f)) + ONES * 0x7f) | x;
        let mut spaces = !nonzero & (ONES * 0x80);
        while spaces != 0 {
            out.push(at + spaces.trailing_zeros() as usize / 8);
            spaces &= spaces - 1;
        }
        at += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b' ' {
            out.push(at + i);
        }
    }
}

/// A run of words being looked up: the words between spaces `first` and `last` (indices
/// into [`RunScratch::spaces`]) of text `text`, and the hash of their bytes.
#[derive(Debug, Clone, Copy)]
struct Run {
    text: u32,
    first: u32,
    last: u32,
    h: u64,
    /// The key in slot form, if it is at most [`INLINE`] bytes long.
    word: u64,
}

/// Scratch space for [`find_runs`], reused from call to call.
#[derive(Debug, Default)]
pub struct RunScratch {
    /// Positions of the spaces of every text in the buffer.
    spaces: Vec<usize>,
    /// Per text, the end of its spaces in `spaces`.
    ends: Vec<u32>,
    runs: Vec<Run>,
    next: Vec<Run>,
}

/// For each text `t` (the `spacing()`-normalised bytes `buf[texts[t]]`), pushes onto
/// `ids[t]` the id of every entry of its table `index(t)` equal to a run of its
/// space-separated words (with repeats, unsorted).
///
/// A lookup in a large table waits on memory: the table of a language with 250,000 entries
/// is tens of MiB, so most slots a text's words land on are not in cache. So the texts are
/// looked up together, one run length at a time, in three sweeps over all their runs: hash
/// each run and prefetch its slot; for runs longer than a slot holds, prefetch the arena
/// bytes the slot points at; then look up. The loads of one sweep overlap (hundreds in
/// flight instead of one), and a run is extended by one word, into the next round, only
/// while it is a word-prefix of some entry.
pub fn find_runs<'a>(
    buf: &[u8],
    texts: &[Range<usize>],
    index: impl Fn(usize) -> &'a WordIndex,
    scratch: &mut RunScratch,
    ids: &mut [Vec<u32>],
) {
    let RunScratch {
        spaces,
        ends,
        runs,
        next,
    } = scratch;
    spaces.clear();
    ends.clear();
    runs.clear();
    for (t, text) in texts.iter().enumerate() {
        let begin = spaces.len();
        if index(t).max_words > 0 {
            push_spaces(&buf[text.clone()], text.start, spaces);
        }
        ends.push(spaces.len() as u32);
        for k in begin..spaces.len().saturating_sub(1) {
            // An empty word (two spaces in a row) starts no entry.
            if spaces[k] + 1 < spaces[k + 1] {
                runs.push(Run {
                    text: t as u32,
                    first: k as u32,
                    last: k as u32 + 1,
                    h: 0,
                    word: 0,
                });
            }
        }
    }
    let key = |r: &Run| &buf[spaces[r.first as usize] + 1..spaces[r.last as usize]];
    while !runs.is_empty() {
        for r in runs.iter_mut() {
            let (start, end) = (spaces[r.first as usize] + 1, spaces[r.last as usize]);
            let len = end - start;
            if len <= INLINE {
                r.word = inline_at(buf, start, len);
                r.h = finish(mix(len as u64, r.word));
            } else {
                r.h = hash(&buf[start..end]);
            }
            index(r.text as usize).prefetch_slot(r.h);
        }
        for r in runs.iter() {
            let k = key(r);
            if k.len() > INLINE {
                index(r.text as usize).prefetch_arena(k, r.h);
            }
        }
        next.clear();
        for r in runs.iter() {
            let index = index(r.text as usize);
            let k = key(r);
            let found = if k.len() <= INLINE {
                index.get_inline(k.len(), r.word, r.h)
            } else {
                index.get_hashed(k, r.h)
            };
            let Some((id, prefix)) = found else {
                continue;
            };
            if id != NONE {
                ids[r.text as usize].push(id);
            }
            let words = (r.last - r.first) as usize;
            if prefix && words < index.max_words && r.last + 1 < ends[r.text as usize] {
                next.push(Run {
                    last: r.last + 1,
                    ..*r
                });
            }
        }
        std::mem::swap(runs, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(entries: &[&str], text: &str) -> Vec<u32> {
        let text_bytes = text.as_bytes();
        let idx = WordIndex::new(entries.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        let mut ids = vec![Vec::new()];
        let range = 0..text.len();
        find_runs(
            text_bytes,
            std::slice::from_ref(&range),
            |_| &idx,
            &mut RunScratch::default(),
            &mut ids,
        );
        ids[0].sort();
        ids.pop().unwrap()
    }

    #[test]
    fn runs_of_words() {
        let e = ["new", "new york", "new york city", "york", "a  b", "ü"];
        assert_eq!(find(&e, " new york city "), [0, 1, 2, 3]);
        assert_eq!(find(&e, " new  york "), [0, 3]);
        assert_eq!(find(&e, " x a  b y "), [4]);
        assert_eq!(find(&e, " a b "), Vec::<u32>::new());
        assert_eq!(find(&e, " newyork ü "), [5]);
        assert_eq!(find(&e, "new york"), Vec::<u32>::new());
        assert_eq!(find(&[], " new "), Vec::<u32>::new());
    }

    #[test]
    fn short_keys_load_as_zero_padded_words() {
        let bytes = b"abcdefgh";
        for n in 0..=8 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(inline(&bytes[..n]), u64::from_le_bytes(w), "length {n}");
        }
        let long = b"new york city, ny";
        for n in 0..long.len() {
            assert!(same_bytes(&long[..n], &long[..n]));
            for i in 0..n {
                let mut other = long[..n].to_vec();
                other[i] ^= 1;
                assert!(!same_bytes(&long[..n], &other), "length {n}, byte {i}");
            }
        }
    }

    #[test]
    fn a_prefix_that_is_also_an_entry() {
        let e = ["hot dog stand", "hot"];
        assert_eq!(find(&e, " hot dog stand "), [0, 1]);
        assert_eq!(find(&e, " hot dog "), [1]);
    }

    #[test]
    fn texts_of_several_tables_in_one_call() {
        let en = WordIndex::new([(0, "new"), (1, "new york"), (2, "york city")]);
        let de = WordIndex::new([(0, "neu"), (1, "new york")]);
        let buf = b" new york city  neu new york  x ";
        let texts = [0..15, 15..29, 29..32];
        let index = |t: usize| if t == 1 { &de } else { &en };
        let mut ids = vec![Vec::new(); 3];
        let mut scratch = RunScratch::default();
        for _ in 0..2 {
            ids.iter_mut().for_each(Vec::clear);
            find_runs(buf, &texts, index, &mut scratch, &mut ids);
            ids.iter_mut().for_each(|v| v.sort());
            assert_eq!(ids, [vec![0, 1, 2], vec![0, 1], vec![]]);
        }
    }

    #[test]
    fn spaces_found_eight_bytes_at_a_time() {
        let texts: [&[u8]; 5] = [
            b" a b  c ",
            b"no spaces here?",
            b"                   ",
            " é\u{a0}x \x20\x7f\u{2020} ".as_bytes(),
            b"",
        ];
        for text in texts {
            let want: Vec<usize> = (0..text.len())
                .filter(|&i| text[i] == b' ')
                .map(|i| i + 3)
                .collect();
            let mut got = Vec::new();
            push_spaces(text, 3, &mut got);
            assert_eq!(got, want, "{text:?}");
        }
    }

    /// The branch-free forms of a short key equal the plain ones, so lookups by text find
    /// what was inserted from the metadata.
    #[test]
    fn short_keys_read_from_a_padded_buffer() {
        let buf = b"  ab cdefgh xyz\0\0\0\0\0\0\0\0";
        for start in 0..12 {
            for n in 1..=8usize.min(buf.len() - 8 - start) {
                let key = &buf[start..start + n];
                let w = inline_at(buf, start, n);
                assert_eq!(w, inline(key));
                assert_eq!(finish(mix(n as u64, w)), hash(key), "{key:?}");
            }
        }
        // Near the end of an unpadded buffer the plain form is used.
        assert_eq!(inline_at(b"abc", 1, 2), inline(b"bc"));
    }
}
