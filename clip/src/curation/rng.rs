//! Counter-based random numbers for sampling.
//!
//! The reference draws from Python's global `random` in file order (`curate.py:curate`), so
//! its result depends on how the data is sharded and scheduled. kiln draws each number from a
//! hash of (seed, epoch, image id, purpose): the same seed gives the same curated set however
//! the input is split into shards, ordered, or spread over threads, and a new epoch gives a
//! fresh, independent draw (MetaCLIP 2's online curation, arXiv 2507.22062, §3.1).

/// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream of draws keyed by (seed, epoch, id).
#[derive(Debug, Clone, Copy)]
pub struct Key(u64);

impl Key {
    /// Hashes the seed, the epoch and the id bytes (length included, so ids never collide by
    /// concatenation).
    pub fn new(seed: u64, epoch: u64, id: &str) -> Self {
        let mut h = mix(mix(seed) ^ epoch);
        let bytes = id.as_bytes();
        h = mix(h ^ bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = mix(h ^ u64::from_le_bytes(word));
        }
        Key(h)
    }

    /// A uniform number in [0, 1) for draw number `a`, sub-draw `b`.
    pub fn uniform(self, a: u64, b: u64) -> f64 {
        let h = mix(mix(self.0 ^ a) ^ b);
        (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform index in `0..n` for draw number `a` (`n > 0`).
    pub fn index(self, a: u64, n: usize) -> usize {
        ((self.uniform(a, u64::MAX) * n as f64) as usize).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let k = Key::new(7, 0, "img-1");
        assert_eq!(k.uniform(0, 0), Key::new(7, 0, "img-1").uniform(0, 0));
        assert_ne!(k.uniform(0, 0), Key::new(7, 1, "img-1").uniform(0, 0));
        assert_ne!(k.uniform(0, 0), Key::new(8, 0, "img-1").uniform(0, 0));
        assert_ne!(k.uniform(0, 0), Key::new(7, 0, "img-2").uniform(0, 0));
        assert_ne!(k.uniform(0, 0), k.uniform(0, 1));
    }

    #[test]
    fn roughly_uniform() {
        let n = 100_000;
        let mean: f64 = (0..n)
            .map(|i| Key::new(1, 0, &i.to_string()).uniform(0, 0))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let below: usize = (0..n)
            .filter(|i| Key::new(1, 0, &i.to_string()).uniform(3, 9) < 0.1)
            .count();
        assert!((below as f64 / n as f64 - 0.1).abs() < 0.01);
        let idx = (0..n)
            .filter(|i| Key::new(2, 0, &i.to_string()).index(0, 3) == 2)
            .count();
        assert!((idx as f64 / n as f64 - 1.0 / 3.0).abs() < 0.01);
    }
}
