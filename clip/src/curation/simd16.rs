//! Bytes walked sixteen at a time, each sixteen tested at once (an SSE2 compare), the last
//! few included without a byte loop: shared by the scans of normalisation, JSON strings and
//! the unpadded entries' edge bytes.

/// Calls `each(base, mask)` over `bytes` sixteen at a time, bit `j` of `mask` being `test`'s
/// answer for `bytes[base + j]`, every byte answered in exactly one call; stops at the first
/// call that returns false, and returns whether none did. The last bytes come in one more
/// call, tested as the last sixteen with those already answered masked off, or, when there
/// are fewer than sixteen in all, as a zero-padded copy with the padding masked off (a loop
/// over those bytes, one branch each, mispredicted on most texts).
// Only the x86_64 scans have a sixteen-byte test to give it.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(super) fn each_16(
    bytes: &[u8],
    test: impl Fn(&[u8; 16]) -> u32,
    mut each: impl FnMut(usize, u32) -> bool,
) -> bool {
    let len = bytes.len();
    let mut i = 0;
    // One call of `each` in the loop, not one per case, so that it is inlined once.
    while i < len {
        let (base, mask) = if i + 16 <= len {
            (i, test(bytes[i..i + 16].try_into().expect("16 bytes")))
        } else if len >= 16 {
            let chunk = bytes[len - 16..].try_into().expect("16 bytes");
            (len - 16, test(chunk) & (u32::MAX << (16 - (len - i))))
        } else {
            let mut chunk = [0u8; 16];
            chunk[..len].copy_from_slice(bytes);
            (0, test(&chunk) & ((1 << len) - 1))
        };
        if !each(base, mask) {
            return false;
        }
        i += 16;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte is answered once, at its own position, whatever the length.
    #[test]
    fn every_byte_once() {
        for len in 0..60 {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let mut seen = Vec::new();
            let odd = |c: &[u8; 16]| (0..16).fold(0, |m, j| m | u32::from(c[j] % 2) << j);
            assert!(each_16(&bytes, odd, |base, mut mask| {
                while mask != 0 {
                    seen.push(base + mask.trailing_zeros() as usize);
                    mask &= mask - 1;
                }
                true
            }));
            let want: Vec<usize> = (0..len).filter(|i| i % 2 == 1).collect();
            assert_eq!(seen, want, "{len}");
        }
        // Stops at the first call that says so.
        let mut calls = 0;
        assert!(!each_16(
            &[1; 40],
            |_| 1,
            |_, _| {
                calls += 1;
                false
            }
        ));
        assert_eq!(calls, 1);
    }
}
