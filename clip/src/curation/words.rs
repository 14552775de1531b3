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

/// Sentinel id of a key that is only a word-prefix of entries, not an entry.
const NONE: u32 = u32::MAX;
/// `Slot::meta` of an empty slot.
const EMPTY: u32 = 0;
/// Bit of `Slot::meta` set when the key is a word-prefix of some entry.
const PREFIX: u32 = 1 << 15;
/// Keys up to this many bytes are stored in the slot itself.
const INLINE: usize = 8;
/// Words of a text whose first lookup is prefetched before matching starts.
const PREFETCHED: usize = 64;

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
    arena: Vec<u8>,
    slots: Vec<Slot>,
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

/// `meta` bits of a key, prefix flag clear.
fn meta_of(key: &[u8], h: u64) -> u32 {
    ((h >> 48) as u32) << 16 | (key.len() as u32 + 1)
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

fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ inline(rest)).wrapping_mul(K);
    }
    // MurmurHash3's 64-bit finaliser: every output bit depends on every input bit, so the
    // low bits used as the table index are well spread.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
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
        let mut index = WordIndex {
            arena: Vec::new(),
            slots: vec![EMPTY_SLOT; cap],
            mask: cap - 1,
            max_words: 0,
        };
        for (id, e) in entries {
            let b = e.as_bytes();
            let mut words = 1;
            for (i, &c) in b.iter().enumerate() {
                if c == b' ' {
                    words += 1;
                    index.insert(&b[..i], NONE);
                }
            }
            index.max_words = index.max_words.max(words);
            index.insert(b, id);
        }
        index
    }

    fn insert(&mut self, key: &[u8], id: u32) {
        assert!(key.len() < PREFIX as usize - 1, "entry longer than 32 KiB");
        let h = hash(key);
        let mut i = h as usize & self.mask;
        while self.slots[i].meta != EMPTY {
            if self.matches(i, key, h) {
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
            let offset = self.arena.len() as u64;
            self.arena.extend_from_slice(key);
            offset
        };
        let prefix = if id == NONE { PREFIX } else { 0 };
        self.slots[i] = Slot {
            data,
            meta: meta_of(key, h) | prefix,
            id,
        };
    }

    /// Whether occupied slot `i` holds `key` (whose hash is `h`).
    #[inline]
    fn matches(&self, i: usize, key: &[u8], h: u64) -> bool {
        let s = &self.slots[i];
        if s.meta & !PREFIX != meta_of(key, h) {
            return false;
        }
        if key.len() <= INLINE {
            s.data == inline(key)
        } else {
            let start = s.data as usize;
            same_bytes(&self.arena[start..start + key.len()], key)
        }
    }

    /// (entry id or none, whether the key is a word-prefix of an entry).
    #[inline]
    fn get(&self, key: &[u8]) -> Option<(u32, bool)> {
        self.get_hashed(key, hash(key))
    }

    /// [`Self::get`] with the key's hash already computed.
    #[inline]
    fn get_hashed(&self, key: &[u8], h: u64) -> Option<(u32, bool)> {
        let mut i = h as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.meta == EMPTY {
                return None;
            }
            if self.matches(i, key, h) {
                return Some((s.id, s.meta & PREFIX != 0));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Asks the CPU to start loading the slot where a key with hash `h` would be.
    #[inline]
    fn prefetch(&self, h: u64) {
        let slot = &self.slots[h as usize & self.mask];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; the address is of a live slot.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>((slot as *const Slot).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Pushes onto `ids` the id of every entry equal to a run of words of `spaced` (a
    /// `spacing()`-normalised text); `spaces` is scratch space.
    pub fn find(&self, spaced: &str, spaces: &mut Vec<usize>, ids: &mut Vec<u32>) {
        if self.max_words == 0 {
            return;
        }
        let b = spaced.as_bytes();
        spaces.clear();
        spaces.extend(
            b.iter()
                .enumerate()
                .filter(|(_, c)| **c == b' ')
                .map(|(i, _)| i),
        );
        // Most lookups wait on a cache miss (a large language's table does not fit in
        // cache), so first hash every word and prefetch its slot: the misses then overlap
        // instead of coming one after another.
        let words = spaces.len().saturating_sub(1);
        let mut first = [0u64; PREFETCHED];
        for (k, h) in first.iter_mut().enumerate().take(words) {
            *h = hash(&b[spaces[k] + 1..spaces[k + 1]]);
            self.prefetch(*h);
        }
        for k in 0..words {
            let start = spaces[k] + 1;
            if start == spaces[k + 1] {
                continue;
            }
            let last = spaces.len().min(k + 1 + self.max_words);
            for (n, &end) in spaces[k + 1..last].iter().enumerate() {
                let key = &b[start..end];
                let found = if n == 0 && k < PREFETCHED {
                    self.get_hashed(key, first[k])
                } else {
                    self.get(key)
                };
                match found {
                    Some((id, prefix)) => {
                        if id != NONE {
                            ids.push(id);
                        }
                        if !prefix {
                            break;
                        }
                    }
                    None => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(entries: &[&str], text: &str) -> Vec<u32> {
        let idx = WordIndex::new(entries.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        let mut ids = Vec::new();
        idx.find(text, &mut Vec::new(), &mut ids);
        ids.sort();
        ids
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
}
