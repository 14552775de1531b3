//! Balancing: per-language thresholds and per-entry sampling probabilities.
//!
//! MetaCLIP 1 (Xu et al., arXiv 2309.16671, §3.3) caps each entry at `t` matches by giving it
//! the probability `t / max(count, t)`. MetaCLIP 2 (Chuang et al., arXiv 2507.22062, §3.1)
//! sets one threshold per language so that every language keeps the same *proportion of tail
//! matches* as English at `t_en`. These functions mirror the reference
//! `metaclip/curation/curate.py` (`t_to_p`, `p_to_t`, `count_to_prob`, `global_count`) in
//! f64 arithmetic with the same operation order, so they agree with it exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::counts::Counts;
use super::error::{Error, Result};
use super::matcher::Matcher;

/// `t_en` of MetaCLIP 2 and of MetaCLIP 1's 2.5B pool (`configs/metaclip_v2.py`).
pub const T_EN_METACLIP2: u64 = 170_000;
/// `t` of OpenAI CLIP's WIT-400M and MetaCLIP 1's 400M set ("the magic 20k").
pub const T_EN_METACLIP1: u64 = 20_000;

/// Reference `t_to_p`: the share of matches that fall on tail entries (count < `t`).
pub fn t_to_p(counts: &[u64], t: u64) -> f64 {
    let tail: u64 = counts.iter().filter(|&&c| c < t).sum();
    let total: u64 = counts.iter().sum();
    tail as f64 / total as f64
}

/// Reference `p_to_t`: sort the counts (zeros included) ascending, and return the count at
/// the first position whose cumulative share of matches is nearest to `p`.
pub fn p_to_t(counts: &[u64], p: f64) -> u64 {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let total = sorted.iter().sum::<u64>() as f64;
    let mut cum = 0u64;
    let mut best = (f64::INFINITY, 0u64);
    for &c in &sorted {
        cum += c;
        let d = (cum as f64 / total - p).abs();
        // `<` keeps the first minimum, as numpy's argmin does.
        if d < best.0 {
            best = (d, c);
        }
    }
    best.1
}

/// Reference `count_to_prob` for one entry: `t / max(count, t)`.
///
/// When `t` and `count` are both 0 (a language whose threshold fell on an unmatched entry,
/// sampled on a text that the counts never saw) the reference divides 0 by 0, and its
/// `prob < random()` test then keeps the text; kiln returns 1 for the same outcome.
pub fn count_to_prob(count: u64, t: u64) -> f64 {
    let denom = count.max(t);
    if denom == 0 {
        1.0
    } else {
        t as f64 / denom as f64
    }
}

/// The thresholds of every language that has counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// English threshold.
    pub t_en: u64,
    /// Tail proportion of English at `t_en` (reference `t_to_p(counts_en, t_en)`).
    pub p: f64,
    /// Threshold per language code; English has `t_en`.
    pub per_lang: BTreeMap<String, u64>,
}

impl Thresholds {
    /// Reference `global_count`: `t_en` for English, `p_to_t(counts_lang, p)` for every other
    /// language with at least one match. English must have matches.
    pub fn compute(matcher: &Matcher, counts: &Counts, t_en: u64) -> Result<Self> {
        let has = |c: &Vec<u64>| c.iter().any(|&x| x > 0);
        let en = matcher
            .language_index("en")
            .filter(|&i| has(&counts.per_lang[i as usize]))
            .ok_or(Error::NoEnglishCounts)?;
        let p = t_to_p(&counts.per_lang[en as usize], t_en);
        let per_lang = matcher
            .languages()
            .iter()
            .zip(&counts.per_lang)
            .filter(|(_, c)| has(c))
            .map(|(l, c)| {
                let t = if l.lang == "en" { t_en } else { p_to_t(c, p) };
                (l.lang.clone(), t)
            })
            .collect();
        Ok(Thresholds { t_en, p, per_lang })
    }

    /// The threshold of a language; a language without counts has none, and every entry of
    /// it is then a tail entry (probability 1).
    pub fn get(&self, lang: &str) -> Option<u64> {
        self.per_lang.get(lang).copied()
    }
}

/// Per-entry probabilities of every language, indexed like a [`Matcher`].
#[derive(Debug, Clone, PartialEq)]
pub struct Probabilities {
    pub per_lang: Vec<Vec<f64>>,
}

impl Probabilities {
    /// `count_to_prob` of every entry with its language's threshold.
    pub fn new(matcher: &Matcher, counts: &Counts, thresholds: &Thresholds) -> Self {
        let per_lang = matcher
            .languages()
            .iter()
            .zip(&counts.per_lang)
            .map(|(l, c)| match thresholds.get(&l.lang) {
                Some(t) => c.iter().map(|&n| count_to_prob(n, t)).collect(),
                None => vec![1.0; c.len()],
            })
            .collect();
        Probabilities { per_lang }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_to_p_is_tail_share() {
        assert_eq!(t_to_p(&[1, 2, 3, 10, 0], 5), 6.0 / 16.0);
        assert_eq!(t_to_p(&[10, 20], 5), 0.0);
    }

    #[test]
    fn p_to_t_takes_first_nearest() {
        // sorted 0,1,2,3,10: shares 0, 1/16, 3/16, 6/16, 1.
        assert_eq!(p_to_t(&[3, 10, 0, 1, 2], 6.0 / 16.0), 3);
        assert_eq!(p_to_t(&[3, 10, 0, 1, 2], 0.9), 10);
        // p = 0 lands on a zero count when the language has unmatched entries.
        assert_eq!(p_to_t(&[3, 10, 0], 0.0), 0);
        assert_eq!(p_to_t(&[3, 10], 0.0), 3);
        // Ties keep the first position: shares 0.5 and 1.0 are equally near 0.75.
        assert_eq!(p_to_t(&[1, 1], 0.75), 1);
    }

    #[test]
    fn probabilities_cap_heads() {
        assert_eq!(count_to_prob(3, 10), 1.0);
        assert_eq!(count_to_prob(40, 10), 0.25);
        assert_eq!(count_to_prob(5, 0), 0.0);
        assert_eq!(count_to_prob(0, 0), 1.0);
    }
}
