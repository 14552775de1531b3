//! Exact lookup of space-padded entries by the words of the text.
//!
//! An entry whose first and last characters are both of spaced scripts is padded on both
//! sides (`get_spaced_metadata`, MetaCLIP 2 reference `substr_matching.py`), so the pattern
//! `" e "` occurs in a `spacing()`-normalised text exactly where a run of consecutive
//! space-separated words of the text, joined by their single spaces, equals `e`: the text
//! starts and ends with a space, and `e` neither starts nor ends with one. So instead of
//! running an Aho-Corasick automaton with hundreds of thousands of patterns over every byte
//! (the cost the MetaCLIP 2 paper's App. A.2 attributes to matching), the matcher looks up
//! each word of the text in a hash table of the entries' words, and extends a run by the
//! next word only while the run is a word-prefix of some entry, looking the longer run up by
//! its pair (run so far, next word) in a second table: a trie over words. The result is the
//! same set of entries as the automaton's overlapping search; the reference-agreement and
//! fuzz tests check that.

use std::ops::Range;

use super::memory::{HugeSlice, prefetch, prefetch_ptr};

/// Sentinel id of a key that is no entry (only a word of one, or a word-prefix of some).
const NONE: u32 = u32::MAX;
/// `Slot::meta` of an empty slot.
const EMPTY: u32 = 0;
/// Bit of `Slot::meta` set when the key is a word-prefix of some entry.
const PREFIX: u32 = 1 << 15;
/// Overflow tags of a bucket ([`tag`]): the bit of tag `g` is [`OVERFLOW`] `<< g / WAYS` in
/// the `meta` of slot `g % WAYS`, set when the bucket was full when a key of that tag was
/// inserted, so that key went on to a later bucket: only then does a lookup of a key of that
/// tag read past the bucket. (On the throughput example, one bit for the whole bucket sent
/// 9.9 % of the lookups of words of no entry on to the next bucket; four, split by tag,
/// 6.0 %; sixteen, a quarter as many as four: 12k against 50k per million texts, paired
/// CPU-time ratios 0.942 on one thread and 0.978 on two.)
const TAGS: usize = 16;
/// The lowest overflow bit of a slot's `meta`; the slot has `TAGS / WAYS` of them.
const OVERFLOW: u32 = 1 << 17;
/// All the overflow bits of a slot's `meta`.
const OVERFLOWS: u32 = ((1 << (TAGS / WAYS)) - 1) * OVERFLOW;
/// The lowest bit of `meta` that holds hash bits: the first above the overflow bits.
const HASH_SHIFT: u32 = OVERFLOW.trailing_zeros() + (TAGS / WAYS) as u32;
/// Bit of a word's `Slot::meta` set when the word is the second or a later word of some
/// entry: only a run extended over such a word can be a key of the pair table, so a run is
/// not looked up there at all when its next word lacks it (a quarter of the English pair
/// lookups: "the" starts entries, but "the Hague" continues none with "school").
const CONT: u32 = 1 << 16;
/// The bits of `Slot::meta` that describe the key: its length and hash bits.
const KEY: u32 = !(PREFIX | OVERFLOWS | CONT);
/// Slots per bucket: one 64-byte cache line.
const WAYS: usize = 4;
/// Slots allocated per key: at most half the slots are used. (Measured on the throughput
/// example: 35–50 % full, the same speed; 70 %, slower, as more buckets overflow.)
const SLOTS_PER_KEY: usize = 2;
/// Keys up to this many bytes are stored in the slot itself.
const INLINE: usize = 8;
/// Bytes that must follow the last text in [`find_runs`]'s buffer for its fast path: a key's
/// first and last bytes are read as whole 8-byte words wherever it ends.
pub(super) const PADDING: usize = INLINE;

/// 16 bytes. A key of up to 8 bytes (most words) is compared in the slot, so only longer
/// keys also read the arena.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Slot {
    /// The key itself when it is short (zero-padded), else its offset in the arena.
    data: u64,
    /// Bits 0..15: key length + 1 (0 = empty slot); bit 15: [`PREFIX`]; bit 16: [`CONT`];
    /// bits 17..21: [`OVERFLOWS`] (of the bucket, not of this key); bits 21..32: low bits of
    /// the key's hash.
    meta: u32,
    id: u32,
}

const EMPTY_SLOT: Slot = Slot {
    data: 0,
    meta: EMPTY,
    id: NONE,
};

/// The slots a key's hash leads to, in one cache line: a lookup compares all of them at
/// once, without branches, so whether a word is found costs no mispredicted branch.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Bucket([Slot; WAYS]);

impl Bucket {
    /// Bit `4 j` set where slot `j` holds a key with meta bits `meta` and, unless `long`,
    /// in-slot bytes `word` ([`way`] gives the first such slot). Keys are unique, so for a
    /// short key at most one bit is set.
    #[inline]
    fn hits(&self, meta: u32, word: u64, long: bool) -> u32 {
        #[cfg(target_arch = "x86_64")]
        {
            self.hits_sse2(meta, word, long)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.hits_plain(meta, word, long)
        }
    }

    /// [`Self::hits`], one slot at a time.
    #[cfg(any(test, not(target_arch = "x86_64")))]
    fn hits_plain(&self, meta: u32, word: u64, long: bool) -> u32 {
        let mut m = 0;
        for (j, s) in self.0.iter().enumerate() {
            m |= ((((s.meta & KEY) == meta) & (long | (s.data == word))) as u32) << (4 * j);
        }
        m
    }

    /// [`Self::hits`], the four slots compared at once: each slot's 16 bytes, masked to the
    /// bytes that identify a key (`data` unless `long`, the [`KEY`] bits of `meta`), must
    /// equal those wanted in all four 32-bit lanes; the lanes' results are packed to one bit
    /// per byte, four per slot. A quarter of the instructions of the plain loop, which the
    /// lookups of every word of every text run.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn hits_sse2(&self, meta: u32, word: u64, long: bool) -> u32 {
        use std::arch::x86_64::*;
        let data_mask = 0u64.wrapping_sub(!long as u64);
        // SAFETY: SSE2 is part of every x86_64 CPU; the four unaligned 16-byte loads read
        // the four slots of this bucket (`Slot` is `repr(C)`: data, meta, id).
        unsafe {
            let mask = _mm_set_epi64x(KEY as i64, data_mask as i64);
            let want = _mm_set_epi64x(meta as i64, (word & data_mask) as i64);
            let p = self.0.as_ptr().cast::<__m128i>();
            let eq =
                |j: usize| _mm_cmpeq_epi32(_mm_and_si128(_mm_loadu_si128(p.add(j)), mask), want);
            let lanes =
                _mm_packs_epi16(_mm_packs_epi32(eq(0), eq(1)), _mm_packs_epi32(eq(2), eq(3)));
            let bits = _mm_movemask_epi8(lanes) as u32;
            bits & bits >> 1 & bits >> 2 & bits >> 3 & 0x1111
        }
    }

    /// Whether a key of `meta` bits `meta` may be in a later bucket.
    #[inline]
    fn overflowed(&self, meta: u32) -> bool {
        let (slot, bit) = overflow_bit(meta);
        self.0[slot].meta & bit != 0
    }

    /// Notes that a key of `meta` bits `meta` went on to a later bucket.
    fn set_overflowed(&mut self, meta: u32) {
        let (slot, bit) = overflow_bit(meta);
        self.0[slot].meta |= bit;
    }

    #[cfg(test)]
    fn any_overflowed(&self) -> bool {
        self.0.iter().any(|s| s.meta & OVERFLOWS != 0)
    }
}

/// The overflow tag of a key with `meta` bits `meta`: four of its hash bits.
#[inline]
fn tag(meta: u32) -> usize {
    (meta >> HASH_SHIFT) as usize % TAGS
}

/// Where a bucket keeps the overflow bit of the tag of a key with `meta` bits `meta`: the
/// slot whose `meta` holds it, and the bit.
#[inline]
fn overflow_bit(meta: u32) -> (usize, u32) {
    let g = tag(meta);
    (g % WAYS, OVERFLOW << (g / WAYS))
}

/// The slot of the first hit of a [`Bucket::hits`] mask (slot 0 if none).
#[inline]
fn way(hits: u32) -> usize {
    (hits.trailing_zeros() / 4) as usize % WAYS
}

/// An open-addressing hash table from keys of bytes to slots, in buckets of one cache line;
/// keys longer than 8 bytes live in an arena kept beside it. A slot stays where it was put,
/// so its index names its key for good (a word id, a state of [`WordIndex`]).
#[derive(Debug, Clone)]
struct Table {
    buckets: HugeSlice<Bucket>,
}

impl Table {
    /// A table for up to `keys` keys.
    fn with_keys(keys: usize) -> Self {
        let buckets = (keys * SLOTS_PER_KEY).div_ceil(WAYS).max(1);
        // A slot index must leave the `PAIR_STATE` bit free.
        assert!(
            buckets * WAYS <= PAIR_STATE as usize,
            "table of over 2^31 slots"
        );
        Table {
            buckets: HugeSlice::filled(buckets, Bucket([EMPTY_SLOT; WAYS])),
        }
    }

    /// The index of `key`'s slot, inserting the key (no id, no flags) if it is new, its
    /// bytes going to `arena` if they do not fit in the slot. Slots fill in order and are
    /// never emptied, so a key is in the first bucket of its sequence that had room when it
    /// was inserted.
    fn insert(&mut self, arena: &mut Vec<u8>, key: &[u8]) -> u32 {
        assert!(key.len() < PREFIX as usize - 1, "entry longer than 32 KiB");
        let (word, h) = hash(key);
        let mut b = self.home(h);
        loop {
            for j in 0..WAYS {
                let s = self.buckets[b].0[j];
                let at = (b * WAYS + j) as u32;
                if s.meta == EMPTY {
                    let data = if key.len() <= INLINE {
                        word
                    } else {
                        let offset = arena.len() as u64;
                        arena.extend_from_slice(key);
                        offset
                    };
                    self.buckets[b].0[j] = Slot {
                        data,
                        meta: meta_of(key.len(), h),
                        id: NONE,
                    };
                    return at;
                }
                if Self::holds(&s, arena, key, word, h) {
                    return at;
                }
            }
            self.buckets[b].set_overflowed(meta_of(key.len(), h));
            b = (b + 1) % self.buckets.len();
        }
    }

    fn slot_mut(&mut self, at: u32) -> &mut Slot {
        &mut self.buckets[at as usize / WAYS].0[at as usize % WAYS]
    }

    /// The index of slot `s`, which must be one of this table's.
    #[inline]
    fn index_of(&self, s: &Slot) -> u32 {
        ((s as *const Slot as usize - self.buckets.as_ptr() as usize) / size_of::<Slot>()) as u32
    }

    /// Whether occupied slot `s` holds `key` (whose in-slot form is `word` and hash `h`),
    /// its long keys being in `arena`.
    #[inline]
    fn holds(s: &Slot, arena: &[u8], key: &[u8], word: u64, h: u64) -> bool {
        if s.meta & KEY != meta_of(key.len(), h) {
            return false;
        }
        if key.len() <= INLINE {
            s.data == word
        } else {
            let start = s.data as usize;
            same_long_key(&arena[start..start + key.len()], key)
        }
    }

    /// The slot holding `key` (in-slot form `word`, hash `h`), by the plain probe: every
    /// slot of every bucket on its sequence, until one without overflow. [`find_runs`]
    /// answers most lookups from the first bucket without it.
    fn get(&self, arena: &[u8], key: &[u8], word: u64, h: u64) -> Option<&Slot> {
        let mut b = self.home(h);
        loop {
            let bucket = &self.buckets[b];
            for s in &bucket.0 {
                if s.meta == EMPTY {
                    return None;
                }
                if Self::holds(s, arena, key, word, h) {
                    return Some(s);
                }
            }
            if !bucket.overflowed(meta_of(key.len(), h)) {
                return None;
            }
            b = (b + 1) % self.buckets.len();
        }
    }

    /// The index of the first bucket of hash `h`: its high bits scaled to the number of
    /// buckets (Lemire's multiply-shift), so that the table can have any size, not only a
    /// power of two.
    #[inline]
    fn home(&self, h: u64) -> usize {
        ((h as u128 * self.buckets.len() as u128) >> 64) as usize
    }
}

/// The padded entries of a language as a trie over their words whose edges are found by
/// hashing: a table of every word of every entry, in which a word's slot index is its id,
/// and a table of pairs (state, word id), a state being the slot of the run of words before.
/// A run of one word is looked up by its bytes; a longer one by its pair: 8 bytes compared
/// in the slot whatever the run's length (no hashing of its bytes again, no arena), and only
/// if its last word is a word of some entry at all.
#[derive(Debug, Clone)]
pub struct WordIndex {
    /// Every word of every entry. A slot's id is the entry that is this word alone, its
    /// [`PREFIX`] bit whether an entry starts with this word and goes on.
    words: Table,
    /// The [`pair_key`] of every run of two or more words that starts an entry; id and
    /// [`PREFIX`] bit as in `words`.
    pairs: Table,
    /// The words longer than a slot holds.
    arena: HugeSlice<u8>,
    /// Most words in an entry: no run longer than this can match.
    max_words: usize,
}

/// Word id of the empty word (between two spaces in a row), which has no slot.
const EMPTY_WORD: u32 = u32::MAX - 1;
/// Word id of a word that is in no entry, or only as its first word: no run extended over it
/// can match.
const NO_WORD: u32 = u32::MAX;
/// Bit of a state set when it is a slot of the pair table (a run of two or more words)
/// rather than of the word table (one word).
const PAIR_STATE: u32 = 1 << 31;

/// The key of the run of words of state `state` followed by the word of id `word`.
#[inline]
fn pair_key(state: u32, word: u32) -> u64 {
    (state as u64) << 32 | word as u64
}

/// [`hash`] of a pair key, an 8-byte key.
#[inline(always)]
fn pair_hash(key: u64) -> u64 {
    hash_ends(8, key, key)
}

/// Whether two keys of the same length, longer than a slot holds, are equal: eight bytes
/// at a time, the last eight read where they end (overlapping the eight before when the
/// length is no multiple of eight), inline. Most long words are 9–16 bytes: the first and
/// last eight compared without a branch, where the call to `memcmp` that slice equality
/// makes cost 2 % of the matching time.
#[inline]
fn same_long_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    assert!(n == b.len() && n > INLINE);
    let at = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let ends = (at(a, 0) ^ at(b, 0)) | (at(a, n - 8) ^ at(b, n - 8));
    if n <= 16 {
        return ends == 0;
    }
    ends == 0 && (8..n - 8).step_by(8).all(|i| at(a, i) == at(b, i))
}

/// The bytes of `key` (at most 8) as a little-endian word, zero-padded.
#[inline]
pub(super) fn inline(key: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..key.len()].copy_from_slice(key);
    u64::from_le_bytes(w)
}

/// The 8 bytes at `buf[i..]` as a little-endian word, zero-padded past the end of `buf`
/// ([`find_runs`]'s callers pad their buffers, so that is the rare case).
#[inline]
fn word_at(buf: &[u8], i: usize) -> u64 {
    match buf.get(i..i + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => inline(buf.get(i..).unwrap_or_default()),
    }
}

/// The mask of the low `n ≤ 8` bytes of a word.
#[inline]
fn low_bytes(n: usize) -> u64 {
    u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0)
}

/// `meta` bits of a key of `len` bytes, flags clear.
#[inline]
fn meta_of(len: usize, h: u64) -> u32 {
    // The low bits of the hash: the high ones choose the bucket.
    ((h as u32) << HASH_SHIFT) | (len as u32 + 1)
}

/// One step of the key hash: folds in the next 8 bytes.
#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// MurmurHash3's 64-bit finaliser: every output bit depends on every input bit, so the low
/// bits used as the bucket index are well spread.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of a key of `len` bytes from its first and its last 8 bytes (both the whole key,
/// zero-padded, when it is shorter). Keys that differ only in the middle collide, which costs
/// a comparison, never a wrong answer; in exchange every key hashes in the same few
/// instructions, with no loop whose length depends on the word.
#[inline]
fn hash_ends(len: usize, head: u64, last: u64) -> u64 {
    finish(mix(mix(len as u64, head), last))
}

/// The in-slot form and [`hash_ends`] of the key `buf[start..start + len]`, reading whole
/// words and masking, without branches on `len`.
#[inline(always)]
fn key_hash(buf: &[u8], start: usize, len: usize) -> (u64, u64) {
    let short = len.min(INLINE);
    let head = word_at(buf, start) & low_bytes(short);
    let last = word_at(buf, start + len - short) & low_bytes(short);
    (head, hash_ends(len, head, last))
}

/// [`key_hash`] reading `buf` without bounds checks.
///
/// # Safety
/// `buf` holds at least `start + max(len, 8)` bytes.
#[inline(always)]
unsafe fn key_hash_padded(buf: &[u8], start: usize, len: usize) -> (u64, u64) {
    let short = len.min(INLINE);
    debug_assert!(start + len.max(INLINE) <= buf.len());
    // SAFETY: both 8-byte reads end at or before `start + max(len, 8)`, inside `buf`.
    let (head, last) = unsafe {
        let p = buf.as_ptr().add(start);
        (
            p.cast::<u64>().read_unaligned(),
            p.add(len - short).cast::<u64>().read_unaligned(),
        )
    };
    let (head, last) = (
        u64::from_le(head) & low_bytes(short),
        u64::from_le(last) & low_bytes(short),
    );
    (head, hash_ends(len, head, last))
}

/// [`key_hash`] of a key on its own.
fn hash(key: &[u8]) -> (u64, u64) {
    let mut padded = key.to_vec();
    padded.resize(key.len() + PADDING, 0);
    key_hash(&padded, 0, key.len())
}

/// Pushes `x` if `keep`, without a branch on `keep`: `x` is written past the end and the
/// length moves over it or not. For results that are as often kept as not. `v` must have
/// room for one more element ([`Vec::reserve`] beforehand, once for a whole sweep, as a
/// check per push costs more than the push).
///
/// # Safety
/// `v.len() < v.capacity()`.
#[inline]
unsafe fn push_if<T: Copy>(v: &mut Vec<T>, x: T, keep: bool) {
    debug_assert!(v.len() < v.capacity());
    // SAFETY: the caller leaves room for one more element, which is written (a `Copy`
    // value, nothing to drop) before the length may cover it.
    unsafe {
        let n = v.len();
        v.as_mut_ptr().add(n).write(x);
        v.set_len(n + keep as usize);
    }
}

/// [`push_if`] for a whole sweep: the vector's end kept in locals (registers) and its length
/// written back once, on drop. Through `&mut Vec`, each push reloads and stores the length,
/// as the compiler cannot tell that the element written leaves it alone (through the
/// appender, `find_runs` runs 4 % fewer instructions).
struct Appender<'v, T: Copy> {
    vec: &'v mut Vec<T>,
    ptr: *mut T,
    len: usize,
    /// The most elements the vector may end with: one more may be written past it.
    room: usize,
}

impl<'v, T: Copy> Appender<'v, T> {
    /// Appends to `vec`, with room made for `writes` pushes.
    fn new(vec: &'v mut Vec<T>, writes: usize) -> Self {
        vec.reserve(writes);
        Appender {
            ptr: vec.as_mut_ptr(),
            len: vec.len(),
            room: vec.capacity(),
            vec,
        }
    }

    /// Elements so far.
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    /// Pushes `x` if `keep`, without a branch on `keep`, as [`push_if`].
    ///
    /// # Safety
    /// At most the `writes` pushes this appender was made with.
    #[inline]
    unsafe fn push_if(&mut self, x: T, keep: bool) {
        debug_assert!(self.len < self.room);
        // SAFETY: the caller pushes no more than room was made for, so `len < capacity`;
        // `x` is written (a `Copy` value, nothing to drop) before the length may cover it.
        unsafe { self.ptr.add(self.len).write(x) };
        self.len += keep as usize;
    }
}

impl<T: Copy> Drop for Appender<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` elements are initialised: those there before, and each
        // pushed one, written before the length covered it.
        unsafe { self.vec.set_len(self.len) };
    }
}

/// Makes room in `ids[t]` for one id per word of text `t` (whose spaces end at `ends[t]`):
/// a sweep pushes at most that many, one per run of the text.
fn reserve_ids(ids: &mut [Vec<u32>], ends: &[u32]) {
    let mut begin = 0;
    for (ids, &end) in ids.iter_mut().zip(ends) {
        ids.reserve((end - begin) as usize);
        begin = end;
    }
}

impl WordIndex {
    /// Indexes `(id, entry)` pairs; every entry must be non-empty and must not start or end
    /// with a space.
    pub fn new<'a>(entries: impl IntoIterator<Item = (u32, &'a str)> + Clone) -> Self {
        let (mut words, mut pairs) = (rustc_hash::FxHashSet::default(), 0usize);
        for (_, e) in entries.clone() {
            words.extend(e.split(' '));
            pairs += e.bytes().filter(|&b| b == b' ').count();
        }
        let mut index = WordIndex {
            words: Table::with_keys(words.len()),
            pairs: Table::with_keys(pairs),
            arena: HugeSlice::from_slice(&[]),
            max_words: 0,
        };
        drop(words);
        let mut arena = Vec::new();
        for (id, e) in entries {
            let n = 1 + e.bytes().filter(|&b| b == b' ').count();
            index.max_words = index.max_words.max(n);
            let mut state = 0;
            for (k, w) in e.split(' ').enumerate() {
                let word = match w {
                    "" => EMPTY_WORD,
                    w => index.words.insert(&mut arena, w.as_bytes()),
                };
                let slot = if k == 0 {
                    assert!(word != EMPTY_WORD, "entry {e:?} starts with a space");
                    state = word;
                    index.words.slot_mut(word)
                } else {
                    if word != EMPTY_WORD {
                        index.words.slot_mut(word).meta |= CONT;
                    }
                    let key = pair_key(state, word).to_le_bytes();
                    let at = index.pairs.insert(&mut arena, &key);
                    state = at | PAIR_STATE;
                    index.pairs.slot_mut(at)
                };
                if k + 1 == n {
                    slot.id = id;
                } else {
                    slot.meta |= PREFIX;
                }
            }
        }
        index.arena = HugeSlice::from_slice(&arena);
        index
    }
}

/// Pushes `i` for every space `buf[i]` with `i` in `text`, in order. Sixteen bytes at a
/// time, and without a branch on how many spaces each sixteen hold (up to four; more are
/// rare): a loop per space mispredicted on most chunks, an eighth of all the matching's
/// mispredictions.
fn push_spaces(buf: &[u8], text: Range<usize>, out: &mut Vec<usize>) {
    // Room for a position per byte, and for the four written past the last one.
    out.reserve(text.len() + 4);
    let mut at = text.start;
    while at < text.end {
        // The last chunk: bytes past the text masked off, read from the buffer where it goes
        // on far enough (callers pad it), else from a copy.
        let mask = match buf.get(at..at + 16) {
            Some(chunk) => space_mask(chunk.try_into().expect("16 bytes")),
            None => {
                let mut tail = [0u8; 16];
                tail[..buf.len() - at].copy_from_slice(&buf[at..]);
                space_mask(&tail)
            }
        };
        let inside = (text.end - at).min(16);
        // SAFETY: room reserved above: the spaces pushed so far and these are at most the
        // bytes of the text read so far, plus four.
        unsafe { push_positions(out, mask & (u32::MAX >> (32 - inside)), at) };
        at += 16;
    }
}

/// Bit `j` set where `chunk[j]` is a space.
#[inline]
fn space_mask(chunk: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the 16 bytes of `chunk`.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8))) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk
            .iter()
            .enumerate()
            .fold(0, |m, (j, &b)| m | ((b == b' ') as u32) << j)
    }
}

/// Pushes `base + j` for every bit `j` of `mask`, in order: the first four written whether
/// or not there are that many, the length then moved over those that are.
///
/// # Safety
/// `out` has room for `max(mask.count_ones(), 4)` more elements.
#[inline]
unsafe fn push_positions(out: &mut Vec<usize>, mut mask: u32, base: usize) {
    let n = out.len();
    let count = mask.count_ones() as usize;
    // SAFETY: the caller leaves room for every write below.
    unsafe {
        let p = out.as_mut_ptr().add(n);
        for k in 0..4 {
            p.add(k).write(base + mask.trailing_zeros() as usize);
            mask &= mask.wrapping_sub(1);
        }
        let mut k = 4;
        while mask != 0 {
            p.add(k).write(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
            k += 1;
        }
        out.set_len(n + count);
    }
}

/// A word of a text being looked up (round one of [`find_runs`]): the `len` bytes before
/// space `last` (an index into [`RunScratch::spaces`]), hashed: their in-slot form, meta bits
/// and first bucket. 24 bytes.
#[derive(Debug, Clone, Copy)]
struct WordKey {
    word: u64,
    meta: u32,
    bucket: u32,
    last: u32,
    len: u16,
}

/// A run of two or more words being looked up (rounds two and on of [`find_runs`]): the
/// run of state `from` (its words but the last) extended by the word that ends at space
/// `last` of text `text`. Once hashed, also its pair key, meta bits and first bucket.
/// 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Run {
    text: u32,
    last: u32,
    from: u32,
    bucket: u32,
    meta: u32,
    key: u64,
}

/// The length of a word from byte `start` to `end`, saturated: a word of 64 KiB or more
/// matches no key (keys are shorter than 32 KiB), and [`meta_of`] of the saturated length
/// has a bit no key's meta has.
#[inline]
fn run_len(start: usize, end: usize) -> u16 {
    end.wrapping_sub(start).min(u16::MAX as usize) as u16
}

/// Scratch space for [`find_runs`], reused from call to call.
#[derive(Debug, Default)]
pub struct RunScratch {
    /// Positions of the spaces of every text in the buffer.
    spaces: Vec<usize>,
    /// Per text, the end of its spaces in `spaces`.
    ends: Vec<u32>,
    /// The non-empty words of every text, in order.
    keys: Vec<WordKey>,
    /// Per text, the end of its words in `keys`.
    key_ends: Vec<u32>,
    /// `word_ids[k]`: the id of the word from space `k` to space `k + 1`, [`NO_WORD`] if it
    /// continues no entry ([`CONT`]) or none follows, so no run through it can match.
    word_ids: Vec<u32>,
    runs: Vec<Run>,
    next: Vec<Run>,
    /// Indices into `keys` of the words longer than a slot holds.
    long: Vec<u32>,
}

/// For each text `t` (the `spacing()`-normalised bytes `buf[texts[t]]`), pushes onto
/// `ids[t]` the id of every entry of its table `index(t)` equal to a run of its
/// space-separated words (with repeats, unsorted). Fastest when `buf` has [`PADDING`] bytes
/// after the last text.
///
/// A lookup in a large table waits on memory: the tables of a language with 250,000 entries
/// are megabytes, so most buckets a text's words land on are not in cache. So the texts are
/// looked up together, one run length at a time, each round in sweeps: hash each word (each
/// run) and prefetch its bucket; for words longer than a slot holds, prefetch the arena
/// bytes the bucket points at; then look up. The loads of a sweep overlap (dozens in flight
/// instead of one), and a run is extended by one word, into the next round, only while it
/// is a word-prefix of some entry and the next word is a word of some entry. Whether a word
/// is found is a coin toss a branch predictor cannot learn, so the lookup decides it with
/// masks and selects, not branches.
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
        keys,
        key_ends,
        word_ids,
        runs,
        next,
        long,
    } = scratch;
    assert!(ids.len() >= texts.len(), "a list of ids for every text");
    spaces.clear();
    ends.clear();
    keys.clear();
    key_ends.clear();
    long.clear();
    // Round one, first sweep: each text's words, between its spaces, hashed as they are
    // found, and each word's bucket prefetched as soon as it is known.
    for (t, text) in texts.iter().enumerate() {
        let begin = spaces.len();
        let words = &index(t).words;
        if index(t).max_words > 0 {
            push_spaces(buf, text.clone(), spaces);
        }
        ends.push(spaces.len() as u32);
        if let Some(between) = spaces.get(begin..).filter(|s| s.len() > 1) {
            let mut keys = Appender::new(keys, between.len());
            let mut long = Appender::new(long, between.len());
            // Whole 8-byte reads of the text's words stay inside `buf` (so need no bounds
            // check) when `PADDING` bytes follow the text, as they do for every caller but
            // tests.
            let padded = text.end + PADDING <= buf.len();
            for (k, w) in between.windows(2).enumerate() {
                let (start, end) = (w[0] + 1, w[1]);
                let len = run_len(start, end);
                let (word, h) = if padded {
                    // SAFETY: `start <= end <= text.end` and `len <= end - start`, so both
                    // reads end at most `PADDING` bytes past the text, inside `buf`.
                    unsafe { key_hash_padded(buf, start, len as usize) }
                } else {
                    key_hash(buf, start, len as usize)
                };
                let bucket = words.home(h);
                prefetch(&words.buckets[bucket]);
                let key = WordKey {
                    word,
                    meta: meta_of(len as usize, h),
                    bucket: bucket as u32,
                    last: (begin + k) as u32 + 1,
                    len,
                };
                // An empty word (two spaces in a row) starts no entry.
                let keep = start < end;
                // SAFETY: one push per word of the text, in both.
                unsafe {
                    long.push_if(keys.len() as u32, keep & (len as usize > INLINE));
                    keys.push_if(key, keep);
                }
            }
        }
        key_ends.push(keys.len() as u32);
    }
    word_ids.clear();
    word_ids.resize(spaces.len(), EMPTY_WORD);
    // No word follows a text's last space: a run that reaches it extends no further.
    let mut begin = 0;
    for &end in ends.iter() {
        if end > begin {
            word_ids[end as usize - 1] = NO_WORD;
        }
        begin = end;
    }

    // Second sweep: the arena bytes of each long word's first candidate slot (the first whose
    // length and hash bits match).
    let mut t = 0;
    for &i in long.iter() {
        let key = &keys[i as usize];
        while key_ends[t] <= i {
            t += 1;
        }
        let index = index(t);
        let bucket = &index.words.buckets[key.bucket as usize];
        let m = bucket.hits(key.meta, 0, true);
        let at = bucket.0[way(m)].data as usize & 0usize.wrapping_sub((m != 0) as usize);
        prefetch_ptr(index.arena.as_ptr().wrapping_add(at));
    }

    // Third sweep: the lookups. A run of one word is settled here: its entry, if any; the
    // word's id for the runs that may go on over it; and its extension by the next word, if
    // it is a word-prefix of some entry (which leaves it shorter than the longest entry).
    next.clear();
    let mut extended = Appender::new(next, keys.len());
    let mut from = 0;
    for (t, (&to, ids)) in key_ends.iter().zip(ids.iter_mut()).enumerate() {
        let index = index(t);
        let words = &index.words;
        let text_keys = &keys[from as usize..to as usize];
        from = to;
        let mut ids = Appender::new(ids, text_keys.len());
        for key in text_keys {
            let long = key.len as usize > INLINE;
            let bucket = &words.buckets[key.bucket as usize];
            let m = bucket.hits(key.meta, key.word, long);
            let mut slot = &bucket.0[way(m)];
            let mut found = m != 0;
            // Rare: the key may be in a later bucket, or its first candidate is another long
            // word with the same length and hash bits; the plain probe decides.
            let unsure = if long & found {
                let at = slot.data as usize;
                !same_long_key(
                    &index.arena[at..at + key.len as usize],
                    word_bytes(buf, spaces, key),
                )
            } else {
                !found & bucket.overflowed(key.meta)
            };
            if unsure {
                let bytes = word_bytes(buf, spaces, key);
                // The hash again, from the buffer as in the first sweep (`hash` would copy
                // the key to pad it).
                let start = spaces[key.last as usize - 1] + 1;
                let (_, h) = key_hash(buf, start, bytes.len());
                match words.get(&index.arena, bytes, key.word, h) {
                    Some(s) => (slot, found) = (s, true),
                    None => found = false,
                }
            }
            let state = words.index_of(slot);
            word_ids[key.last as usize - 1] = if found & (slot.meta & CONT != 0) {
                state
            } else {
                NO_WORD
            };
            // SAFETY: one push per word of the text, and one per word of every text.
            unsafe {
                ids.push_if(slot.id, found & (slot.id != NONE));
                extended.push_if(
                    Run {
                        text: t as u32,
                        last: key.last + 1,
                        from: state,
                        bucket: 0,
                        meta: 0,
                        key: 0,
                    },
                    found & (slot.meta & PREFIX != 0),
                );
            }
        }
    }
    drop(extended);
    std::mem::swap(runs, next);

    // Rounds two and on: by pairs.
    while !runs.is_empty() {
        // Drop the runs whose last word is in no entry (or that reach the end of their
        // text); hash the others and prefetch their buckets.
        let mut kept = 0;
        for i in 0..runs.len() {
            let r = runs[i];
            let pairs = &index(r.text as usize).pairs;
            let word = word_ids[r.last as usize - 1];
            let key = pair_key(r.from, word);
            let h = pair_hash(key);
            let bucket = pairs.home(h);
            prefetch(&pairs.buckets[bucket]);
            runs[kept] = Run {
                bucket: bucket as u32,
                meta: meta_of(8, h),
                key,
                ..r
            };
            kept += (word != NO_WORD) as usize;
        }
        runs.truncate(kept);
        next.clear();
        let mut extended = Appender::new(next, runs.len());
        reserve_ids(ids, ends);
        for r in runs.iter() {
            let pairs = &index(r.text as usize).pairs;
            let bucket = &pairs.buckets[r.bucket as usize];
            let m = bucket.hits(r.meta, r.key, false);
            let mut slot = &bucket.0[way(m)];
            let mut found = m != 0;
            // Rare: the pair may be in a later bucket.
            if !found & bucket.overflowed(r.meta)
                && let Some(s) = pairs.get(&[], &r.key.to_le_bytes(), r.key, pair_hash(r.key))
            {
                (slot, found) = (s, true);
            }
            let t = r.text as usize;
            // SAFETY: a sweep settles each run once, and a text has fewer runs than words;
            // one push per run of the sweep.
            unsafe {
                push_if(&mut ids[t], slot.id, found & (slot.id != NONE));
                extended.push_if(
                    Run {
                        last: r.last + 1,
                        from: pairs.index_of(slot) | PAIR_STATE,
                        ..*r
                    },
                    found & (slot.meta & PREFIX != 0),
                );
            }
        }
        drop(extended);
        std::mem::swap(runs, next);
    }
}

/// The bytes of word `key` of a text whose spaces are `spaces`.
#[inline]
fn word_bytes<'b>(buf: &'b [u8], spaces: &[usize], key: &WordKey) -> &'b [u8] {
    let start = spaces[key.last as usize - 1] + 1;
    &buf[start..start + key.len as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(entries: &[&str], text: &str) -> Vec<u32> {
        let idx = WordIndex::new(entries.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        find_in(&idx, text)
    }

    fn find_in(idx: &WordIndex, text: &str) -> Vec<u32> {
        let text_bytes = text.as_bytes();
        let mut ids = vec![Vec::new()];
        let range = 0..text.len();
        find_runs(
            text_bytes,
            std::slice::from_ref(&range),
            |_| idx,
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
    }

    /// Keys that share their length and first and last 8 bytes share their hash; the
    /// lookup must still tell them apart (by the arena) and find both.
    #[test]
    fn long_keys_that_differ_only_in_the_middle() {
        let e = [
            "abcdefghxijklmnop",
            "abcdefghyijklmnop",
            "abcdefgh",
            "abcdefghyijklmnop q",
        ];
        assert_eq!(hash(e[0].as_bytes()), hash(e[1].as_bytes()));
        assert_eq!(find(&e, " abcdefghyijklmnop q "), [1, 3]);
        assert_eq!(find(&e, " abcdefghxijklmnop q "), [0]);
        assert_eq!(find(&e, " abcdefghzijklmnop abcdefgh "), [2]);
    }

    /// Long keys compare equal exactly when every byte does, at every length and wherever
    /// they differ.
    #[test]
    fn long_keys_compared_eight_bytes_at_a_time() {
        for n in INLINE + 1..41 {
            let a: Vec<u8> = (0..n as u8).collect();
            assert!(same_long_key(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_long_key(&a, &b), "length {n}, byte {i}");
            }
        }
    }

    /// A word or run longer than 64 KiB (a pathological text) matches nothing, and the words
    /// after it still match.
    #[test]
    fn runs_too_long_for_any_key() {
        let long = "a".repeat(70_000);
        let e = ["a", "b", "a b"];
        assert_eq!(find(&e, &format!(" {long} b a ")), [0, 1]);
        // 40,001 words: runs of "a"s longer than any entry are never looked up past it.
        let many = format!(" {}b ", "a ".repeat(40_001));
        let mut got = find(&e, &many);
        got.dedup();
        assert_eq!(got, [0, 1, 2]);
    }

    /// The four-slots-at-once comparison answers as the one-slot-at-a-time one, on buckets
    /// holding the same key in every slot, with other flags set, or keys differing in one
    /// bit of data or meta.
    #[test]
    fn bucket_hits_match_the_plain_comparison() {
        let meta = meta_of(5, 0xdead_beef);
        let slot = |data: u64, meta: u32| Slot { data, meta, id: 7 };
        let cases = [
            [slot(42, meta); WAYS],
            [
                slot(42, meta | PREFIX | OVERFLOW),
                slot(42, meta),
                EMPTY_SLOT,
                slot(41, meta),
            ],
            [
                EMPTY_SLOT,
                slot(42, meta ^ 1 << 25),
                slot(42 ^ 1 << 40, meta),
                slot(42, meta),
            ],
            [EMPTY_SLOT; WAYS],
        ];
        for slots in cases {
            let b = Bucket(slots);
            for long in [false, true] {
                for (m, w) in [(meta, 42), (meta, 43), (meta ^ 1 << 30, 42), (0, 0)] {
                    assert_eq!(
                        b.hits(m, w, long),
                        b.hits_plain(m, w, long),
                        "{slots:?} {long}"
                    );
                }
            }
        }
        assert_eq!(way(Bucket(cases[2]).hits(meta, 42, false)), 3);
    }

    /// With a thousand keys some buckets fill up and overflow into the next; every key is
    /// still found, and words that are not keys are not.
    #[test]
    fn keys_in_overflowed_buckets() {
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let mut entries: Vec<String> = words.clone();
        entries.extend(
            (0..1000)
                .step_by(7)
                .map(|i| format!("w{i} w{} longer-than-eight", i + 1)),
        );
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        let idx = WordIndex::new(refs.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        assert!(
            idx.words.buckets.iter().any(Bucket::any_overflowed),
            "no bucket overflowed"
        );
        for (i, e) in refs.iter().enumerate() {
            let text = format!(" {e} x{i} ");
            let got = find(&refs, &text);
            assert!(got.contains(&(i as u32)), "{e:?} not found: {got:?}");
        }
        for w in words
            .iter()
            .map(String::as_bytes)
            .chain([&b"longer-than-eight"[..]])
        {
            let (word, h) = hash(w);
            assert!(idx.words.get(&idx.arena, w, word, h).is_some());
            let missing = [w, b"x"].concat();
            let (word, h) = hash(&missing);
            assert!(idx.words.get(&idx.arena, &missing, word, h).is_none());
        }
    }

    /// Each overflow tag has a bit of its own: a bucket with one tag's bit set sends on the
    /// keys of that tag only, and the bits are no part of a key's comparison.
    #[test]
    fn overflow_tags_are_distinct_bits() {
        for g in 0..TAGS {
            let mut bucket = Bucket([EMPTY_SLOT; WAYS]);
            bucket.set_overflowed(meta_of(3, g as u64));
            assert_eq!(
                bucket.0.iter().map(|s| s.meta.count_ones()).sum::<u32>(),
                1,
                "one bit for tag {g}"
            );
            for k in 0..TAGS {
                let meta = meta_of(3, k as u64);
                assert_eq!(tag(meta), k);
                assert_eq!(bucket.overflowed(meta), k == g, "tag {k}, bit of {g}");
                assert_eq!(meta & !KEY, 0, "a key's meta has no flag bits");
            }
        }
        assert_eq!(OVERFLOWS & (PREFIX | CONT), 0);
        assert_eq!(HASH_SHIFT, 21);
        assert_eq!(
            OVERFLOWS >> HASH_SHIFT,
            0,
            "overflow bits below the hash bits"
        );
    }

    /// A word of an entry that is no entry alone is looked up (it has an id, to extend runs
    /// with) but matches nothing; a run through a word of no entry stops there.
    #[test]
    fn words_inside_entries_only() {
        let e = ["new york", "york new", "big apple pie"];
        assert_eq!(find(&e, " york "), Vec::<u32>::new());
        assert_eq!(find(&e, " york new york "), [0, 1]);
        assert_eq!(find(&e, " big apple pie "), [2]);
        assert_eq!(find(&e, " big pie apple pie "), Vec::<u32>::new());
        assert_eq!(find(&e, " big apples pie "), Vec::<u32>::new());
    }

    /// Many entries of one to five words from a small vocabulary (so that they share words,
    /// prefixes and states, and the pair table has full buckets), against plain substring
    /// search of the padded entry in texts of the same words, others, and double spaces.
    #[test]
    fn many_overlapping_entries_agree_with_substring_search() {
        let vocab = [
            "a",
            "bb",
            "ccc",
            "dddddddd",
            "eeeeeeeee",
            "f",
            "gg",
            "hhhhhhhhhhhhhhhhhhhh",
            "i",
            "jj",
            "",
            "k",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut entries = Vec::new();
        while entries.len() < 3000 {
            let n = 1 + next(5);
            let words: Vec<&str> = (0..n).map(|_| vocab[next(vocab.len())]).collect();
            let e = words.join(" ");
            if !e.is_empty() && !e.starts_with(' ') && !e.ends_with(' ') && !entries.contains(&e) {
                entries.push(e);
            }
        }
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        let idx = WordIndex::new(refs.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        assert!(idx.pairs.buckets.iter().any(Bucket::any_overflowed));
        for _ in 0..300 {
            let n = 1 + next(12);
            let words: Vec<&str> = (0..n)
                .map(|_| {
                    if next(8) == 0 {
                        "zz"
                    } else {
                        vocab[next(vocab.len())]
                    }
                })
                .collect();
            let text = format!(" {} ", words.join(" "));
            let want: Vec<u32> = (0..refs.len() as u32)
                .filter(|&i| text.contains(&format!(" {} ", refs[i as usize])))
                .collect();
            let mut got = find_in(&idx, &text);
            got.dedup();
            assert_eq!(got, want, "{text:?}");
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

    /// Many texts matched in one call, in a buffer with and without padding after them (the
    /// unchecked and the checked reads): the same ids as each text alone, however the texts
    /// end (an entry's first words at a text's end, long words, double spaces, no words).
    #[test]
    fn texts_in_one_call_padded_or_not_agree_with_each_alone() {
        let entries = [
            "new",
            "new york",
            "new york city",
            "city",
            "a",
            "a  b",
            "internationalisation",
            "internationalisation day",
            "day of",
            "of",
        ];
        let idx = WordIndex::new(entries.iter().enumerate().map(|(i, e)| (i as u32, *e)));
        let words = [
            "new",
            "york",
            "city",
            "a",
            "b",
            "",
            "internationalisation",
            "day",
            "of",
        ];
        let mut state = 7u64;
        let texts: Vec<String> = (0..200)
            .map(|_| {
                let mut next = || {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (state >> 33) as usize
                };
                let n = next() % 12;
                let text: Vec<&str> = (0..n).map(|_| words[next() % words.len()]).collect();
                format!(" {} ", text.join(" "))
            })
            .collect();
        let mut buf = Vec::new();
        let ranges: Vec<Range<usize>> = texts
            .iter()
            .map(|t| {
                buf.extend_from_slice(t.as_bytes());
                buf.len() - t.len()..buf.len()
            })
            .collect();
        let alone: Vec<Vec<u32>> = texts.iter().map(|t| find_in(&idx, t)).collect();
        let mut scratch = RunScratch::default();
        for padding in [0, PADDING] {
            let mut padded = buf.clone();
            padded.resize(buf.len() + padding, 0);
            let mut ids = vec![Vec::new(); texts.len()];
            find_runs(&padded, &ranges, |_| &idx, &mut scratch, &mut ids);
            ids.iter_mut().for_each(|v| v.sort());
            assert_eq!(ids, alone, "padding {padding}");
        }
        assert!(
            alone.iter().any(|ids| ids.contains(&7)),
            "a two-word run with a long word"
        );
        assert!(
            alone.iter().any(|ids| ids.contains(&5)),
            "a run over an empty word"
        );
    }

    #[test]
    fn spaces_found_sixteen_bytes_at_a_time() {
        let texts: [&[u8]; 5] = [
            b" a b  c ",
            b"no spaces here?",
            b"                   ",
            " é\u{a0}x \x20\x7f\u{2020} ".as_bytes(),
            b"",
        ];
        // And every pattern of spaces in 1–40 bytes (0 to 16 spaces per chunk, tails).
        let mut state = 7u64;
        let random: Vec<Vec<u8>> = (0..2000)
            .map(|k| {
                (0..1 + k % 40)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        if (state >> 33).is_multiple_of(1 + k as u64 % 5) {
                            b' '
                        } else {
                            b'x'
                        }
                    })
                    .collect()
            })
            .collect();
        for text in texts.into_iter().chain(random.iter().map(Vec::as_slice)) {
            let want: Vec<usize> = (0..text.len())
                .filter(|&i| text[i] == b' ')
                .map(|i| i + 3)
                .collect();
            // Inside a longer buffer (bytes after the text are not its own) and at its end.
            let mut buf = b"abc".to_vec();
            buf.extend_from_slice(text);
            let mut got = Vec::new();
            push_spaces(&buf, 3..3 + text.len(), &mut got);
            assert_eq!(got, want, "{text:?}");
            buf.extend_from_slice(b"  x  x  x  x  x  x  x  x  ");
            got.clear();
            push_spaces(&buf, 3..3 + text.len(), &mut got);
            assert_eq!(got, want, "{text:?} followed by spaces");
        }
    }

    /// A key read from a text buffer, padded or not, hashes as on its own, so lookups by
    /// text find what was inserted from the metadata.
    #[test]
    fn keys_read_from_a_buffer_hash_as_on_their_own() {
        let text = b"  ab cdefgh xyz new york city,";
        let mut padded = text.to_vec();
        padded.extend([0; PADDING]);
        for start in 0..text.len() {
            for n in 1..=text.len() - start {
                let key = &text[start..start + n];
                assert_eq!(key_hash(&padded, start, n), hash(key), "{key:?}");
                assert_eq!(key_hash(text, start, n), hash(key), "{key:?} unpadded");
            }
        }
    }
}
