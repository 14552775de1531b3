//! Text normalisation before matching.
//!
//! Mirrors, byte for byte, what the MetaCLIP 2 reference does to an alt-text before it is
//! matched (Chuang et al., arXiv 2507.22062, §3; `metaclip/curation/curate.py:count_per_shard`
//! strips the text, then `substr_matching.py:spacing` pads it):
//! 1. Python `str.strip()`: remove leading and trailing whitespace;
//! 2. `spacing()`: add one space at each end, wrap each of `, . ; : ? ! `` ` `` in spaces and
//!    turn `\t \n \r` into a space.
//!
//! The result lets a space-padded entry such as `" cat "` match whole words only.

/// Python's `str.isspace()`: Rust's Unicode `White_Space` plus the four ASCII information
/// separators U+001C..U+001F, which Python also counts as whitespace.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Whether `text` starts and ends with a visible ASCII character (most texts and language
/// tags do), which neither Python's nor Rust's whitespace includes: then trimming it, either
/// way, leaves it as it is, and the Unicode-aware trim can be skipped.
pub(crate) fn has_solid_ends(text: &str) -> bool {
    let solid = |b: Option<&u8>| b.is_some_and(|&b| (0x21..=0x7f).contains(&b));
    solid(text.as_bytes().first()) && solid(text.as_bytes().last())
}

/// Python `str.strip()` with no argument.
pub fn python_strip(text: &str) -> &str {
    if has_solid_ends(text) {
        return text;
    }
    text.trim_matches(is_python_space)
}

/// What `spacing()` does to one byte: keep it, wrap it in spaces, or replace it by a space.
/// Every byte concerned is ASCII, so working on UTF-8 bytes never splits a character.
const KEEP: u8 = 0;
const WRAP: u8 = 1;
const SPACE: u8 = 2;

const CLASS: [u8; 256] = {
    let mut class = [KEEP; 256];
    let wrap = b",.;:?!`";
    let mut i = 0;
    while i < wrap.len() {
        class[wrap[i] as usize] = WRAP;
        i += 1;
    }
    class[b'\t' as usize] = SPACE;
    class[b'\n' as usize] = SPACE;
    class[b'\r' as usize] = SPACE;
    class
};

/// Reference `spacing(text)`, written into `out` (cleared first) so that a caller can reuse
/// one buffer for every text.
pub fn spacing_into(text: &str, out: &mut String) {
    out.clear();
    spacing_append(text, out);
}

/// Reference `spacing(text)`, appended to `out`, so that many texts can share one buffer.
///
/// Sixteen bytes at a time: one vector compare per byte value acted on finds them all,
/// and the runs of bytes between them (most of a text) are copied whole.
pub fn spacing_append(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    out.reserve(text.len() + 8);
    // SAFETY: only whole UTF-8 runs of `text` and ASCII bytes are appended. Every byte
    // `CLASS` acts on is ASCII, so each position `i` below is a character boundary and the
    // runs copied between them are whole UTF-8.
    let out = unsafe { out.as_mut_vec() };
    out.push(b' ');
    let mut run = 0;
    // Copies the run before byte `i`, then what `spacing()` makes of `i`.
    #[inline(always)]
    fn act(bytes: &[u8], run: &mut usize, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&bytes[*run..i]);
        let b = bytes[i];
        if CLASS[b as usize] == WRAP {
            out.extend_from_slice(&[b' ', b, b' ']);
        } else {
            out.push(b' ');
        }
        *run = i + 1;
    }
    #[cfg(target_arch = "x86_64")]
    super::simd16::each_16(bytes, acted_on_16, |base, mut acted| {
        while acted != 0 {
            act(bytes, &mut run, base + acted.trailing_zeros() as usize, out);
            acted &= acted - 1;
        }
        true
    });
    #[cfg(not(target_arch = "x86_64"))]
    for j in 0..bytes.len() {
        if CLASS[bytes[j] as usize] != KEEP {
            act(bytes, &mut run, j, out);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b' ');
}

/// Bit `j` set where `chunk[j]` (16 bytes) is a byte `spacing()` acts on ([`CLASS`]).
#[cfg(target_arch = "x86_64")]
#[inline]
fn acted_on_16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the 16 bytes of `chunk`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let is = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let marks = _mm_or_si128(
            _mm_or_si128(
                _mm_or_si128(is(b','), is(b'.')),
                _mm_or_si128(is(b';'), is(b':')),
            ),
            _mm_or_si128(_mm_or_si128(is(b'?'), is(b'!')), is(b'`')),
        );
        let breaks = _mm_or_si128(_mm_or_si128(is(b'\t'), is(b'\n')), is(b'\r'));
        _mm_movemask_epi8(_mm_or_si128(marks, breaks)) as u32
    }
}

/// Reference `spacing(text)`.
pub fn spacing(text: &str) -> String {
    let mut out = String::new();
    spacing_into(text, &mut out);
    out
}

/// The whole normalisation applied to an alt-text before matching: strip, then `spacing`.
pub fn normalise_into(text: &str, out: &mut String) {
    spacing_into(python_strip(text), out);
}

/// [`normalise_into`], appending to `out`.
pub fn normalise_append(text: &str, out: &mut String) {
    spacing_append(python_strip(text), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_matches_reference_examples() {
        assert_eq!(spacing("a cat."), " a cat .  ");
        assert_eq!(spacing("x,y;z:w?v!u`t"), " x , y ; z : w ? v ! u ` t ");
        assert_eq!(spacing("tab\there\nnew\rline"), " tab here new line ");
        assert_eq!(spacing(""), "  ");
        assert_eq!(spacing("日本。東京"), " 日本。東京 ");
        assert_eq!(spacing("3.14"), " 3 . 14 ");
    }

    #[test]
    fn strip_follows_python() {
        assert_eq!(python_strip("\u{a0} cat\u{3000}\n"), "cat");
        assert_eq!(python_strip("\u{1c}cat\u{1f}"), "cat");
        assert_eq!(python_strip("cat"), "cat");
        assert_eq!(python_strip("c"), "c");
        assert_eq!(python_strip(" c"), "c");
        assert_eq!(python_strip("c\t"), "c");
        assert_eq!(python_strip("cat\u{85}"), "cat");
        assert_eq!(python_strip(""), "");
        // U+200B (zero width space) is not whitespace for Python.
        assert_eq!(python_strip("\u{200b}cat"), "\u{200b}cat");
    }

    #[test]
    fn normalise_reuses_buffer() {
        let mut buf = String::from("garbage");
        normalise_into("  Hello, world!  ", &mut buf);
        assert_eq!(buf, " Hello ,  world !  ");
    }

    /// The sixteen-bytes-at-a-time `spacing` equals the reference's loop, character by
    /// character, on texts of every length mixing the bytes it acts on with others.
    #[test]
    fn spacing_equals_the_plain_loop() {
        let plain = |text: &str| {
            let mut out = String::from(" ");
            for c in text.chars() {
                match c {
                    ',' | '.' | ';' | ':' | '?' | '!' | '`' => {
                        out.push(' ');
                        out.push(c);
                        out.push(' ');
                    }
                    '\t' | '\n' | '\r' => out.push(' '),
                    _ => out.push(c),
                }
            }
            out.push(' ');
            out
        };
        let alphabet = [
            'a', ' ', ',', '.', '\t', '\n', '東', 'é', '!', '`', ';', 'z', ':', '?', '\r',
        ];
        let mut state = 12345u64;
        let mut buf = String::new();
        for len in 0..70 {
            for _ in 0..50 {
                let text: String = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        alphabet[(state >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                buf.clear();
                spacing_append(&text, &mut buf);
                assert_eq!(buf, plain(&text), "{text:?}");
            }
        }
    }
}
