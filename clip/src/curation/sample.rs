//! Balanced sampling of matched alt-texts, once (offline) or every epoch (online).
//!
//! * MetaCLIP 1 rule (Xu et al., arXiv 2309.16671, Algorithm 1; reference
//!   `metaclip1/balancing.py:balance_sampling`): each matched alt-text is a pair; draw one
//!   uniform per matched entry and keep the pair if any draw falls below the entry's
//!   probability, i.e. P(keep) = 1 − Π(1 − p_m). A pair is kept at most once (the reference
//!   `main` appends it once per passing entry; that bug is not copied).
//! * MetaCLIP 2 rule (Chuang et al., arXiv 2507.22062, §3.1; reference `curate.py:curate` and
//!   the online loader `data_metaclip_v2.py`): per image, choose one of its matched alt-texts
//!   uniformly, then keep it with probability 1 − Π(1 − p_m) in the alt-text's language.
//!
//! Draws come from [`Key`] (seed, epoch, image id), so the result does not depend on sharding.

use serde::{Deserialize, Serialize};

use super::balance::Probabilities;
use super::rng::Key;

/// Which pair-level rule to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// Keep each alt-text if any matched entry passes its draw.
    Metaclip1,
    /// One alt-text per image, kept with probability 1 − Π(1 − p_m).
    #[default]
    Metaclip2,
}

/// A matched alt-text: its language (matcher index) and matched entry ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub lang: u32,
    pub entries: Vec<u32>,
}

/// Decides which alt-texts of an image survive balancing.
#[derive(Debug, Clone)]
pub struct Sampler {
    probs: Probabilities,
    rule: Rule,
    seed: u64,
}

impl Sampler {
    /// A sampler over the given per-entry probabilities.
    pub fn new(probs: Probabilities, rule: Rule, seed: u64) -> Self {
        Sampler { probs, rule, seed }
    }

    /// The rule in use.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// Probability that an alt-text is kept: 1 − Π(1 − p_m) over its matched entries.
    pub fn keep_probability(&self, text: &Matched) -> f64 {
        let probs = &self.probs.per_lang[text.lang as usize];
        1.0 - text
            .entries
            .iter()
            .map(|&e| 1.0 - probs[e as usize])
            .product::<f64>()
    }

    /// Indices (into `texts`, the matched alt-texts of image `id`, in input order) of those
    /// kept in `epoch`, ascending. Empty `texts` keep nothing.
    pub fn select(&self, id: &str, texts: &[&Matched], epoch: u64) -> Vec<usize> {
        if texts.is_empty() {
            return Vec::new();
        }
        let key = Key::new(self.seed, epoch, id);
        match self.rule {
            Rule::Metaclip2 => {
                let chosen = key.index(0, texts.len());
                let keep = key.uniform(1, 0) < self.keep_probability(texts[chosen]);
                if keep { vec![chosen] } else { Vec::new() }
            }
            Rule::Metaclip1 => (0..texts.len())
                .filter(|&i| {
                    let probs = &self.probs.per_lang[texts[i].lang as usize];
                    texts[i]
                        .entries
                        .iter()
                        .any(|&e| key.uniform(2 + i as u64, e as u64) < probs[e as usize])
                })
                .collect(),
        }
    }
}

/// An image and its matched alt-texts, held in memory for online curation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<T> {
    pub id: String,
    /// Each alt-text with its payload (for example the text, or a row in a data set).
    pub texts: Vec<(Matched, T)>,
}

/// Online curation (MetaCLIP 2, "online curation" in the data loader): every epoch draws a
/// fresh balanced subset of the same matched pool.
#[derive(Debug, Clone)]
pub struct OnlineCuration<T> {
    sampler: Sampler,
    images: Vec<Image<T>>,
}

impl<T> OnlineCuration<T> {
    /// A pool of matched images and the sampler that balances it.
    pub fn new(sampler: Sampler, images: Vec<Image<T>>) -> Self {
        OnlineCuration { sampler, images }
    }

    /// The images kept in `epoch`, with the chosen alt-text(s), in pool order.
    pub fn epoch(&self, epoch: u64) -> impl Iterator<Item = (&str, &T)> + '_ {
        self.images.iter().flat_map(move |img| {
            let texts: Vec<&Matched> = img.texts.iter().map(|(m, _)| m).collect();
            self.sampler
                .select(&img.id, &texts, epoch)
                .into_iter()
                .map(move |i| (img.id.as_str(), &img.texts[i].1))
        })
    }

    /// Epochs `0, 1, 2, …`, each a fresh draw.
    pub fn epochs(&self) -> impl Iterator<Item = Vec<(&str, &T)>> + '_ {
        (0u64..).map(move |e| self.epoch(e).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(rule: Rule, probs: Vec<f64>) -> Sampler {
        Sampler::new(
            Probabilities {
                per_lang: vec![probs],
            },
            rule,
            42,
        )
    }

    fn m(entries: &[u32]) -> Matched {
        Matched {
            lang: 0,
            entries: entries.to_vec(),
        }
    }

    #[test]
    fn tail_entries_always_kept_zero_never() {
        for rule in [Rule::Metaclip1, Rule::Metaclip2] {
            let s = sampler(rule, vec![1.0, 0.0, 0.5]);
            for i in 0..200 {
                let id = i.to_string();
                assert_eq!(s.select(&id, &[&m(&[0, 2])], 0), [0]);
                assert!(s.select(&id, &[&m(&[1])], 0).is_empty());
            }
        }
    }

    #[test]
    fn keep_rate_follows_probability() {
        let n = 20_000;
        for rule in [Rule::Metaclip1, Rule::Metaclip2] {
            let s = sampler(rule, vec![0.2, 0.5]);
            let text = m(&[0, 1]);
            let kept = (0..n)
                .filter(|i| !s.select(&i.to_string(), &[&text], 0).is_empty())
                .count();
            let rate = kept as f64 / n as f64;
            assert!((rate - 0.6).abs() < 0.02, "{rule:?} {rate}");
        }
    }

    #[test]
    fn metaclip2_keeps_one_text_per_image() {
        let s = sampler(Rule::Metaclip2, vec![1.0]);
        let (a, b) = (m(&[0]), m(&[0]));
        let mut firsts = 0;
        for i in 0..1000 {
            let kept = s.select(&i.to_string(), &[&a, &b], 0);
            assert_eq!(kept.len(), 1);
            firsts += usize::from(kept[0] == 0);
        }
        assert!((400..600).contains(&firsts), "{firsts}");
        let s1 = sampler(Rule::Metaclip1, vec![1.0]);
        assert_eq!(s1.select("x", &[&a, &b], 0), [0, 1]);
    }

    #[test]
    fn online_epochs_resample() {
        let s = sampler(Rule::Metaclip2, vec![0.5]);
        let images = (0..1000)
            .map(|i| Image {
                id: format!("img{i}"),
                texts: vec![(m(&[0]), i)],
            })
            .collect();
        let online = OnlineCuration::new(s, images);
        let e: Vec<Vec<_>> = online.epochs().take(2).collect();
        assert_ne!(e[0], e[1]);
        assert_eq!(online.epoch(0).collect::<Vec<_>>(), e[0]);
        assert!((400..600).contains(&e[0].len()));
    }
}
