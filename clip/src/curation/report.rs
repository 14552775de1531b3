//! The curation report: per-language counts before and after balancing, head and tail
//! shares, and the entry-count plots.
//!
//! MetaCLIP 1 (Xu et al., arXiv 2309.16671, §3.3 and Fig. 2) shows the entry-count
//! distribution before and after balancing: head entries (count ≥ t) are cut to t expected
//! matches, tail entries are kept whole. MetaCLIP 2 (arXiv 2507.22062, §3.1) does this per
//! language with the threshold `t_lang` derived from English.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::balance::Thresholds;
use super::counts::Counts;
use super::error::{Error, Result};
use super::input::read_batches;
use super::matcher::Matcher;
use super::record::parse_line;

mod plot;

/// One language in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageReport {
    pub lang: String,
    /// Entries in the metadata.
    pub metadata_entries: usize,
    /// Entries matched at least once.
    pub matched_entries: usize,
    /// The language's threshold t.
    pub threshold: u64,
    /// Head entries: count ≥ t.
    pub head_entries: usize,
    /// Matches (Σ counts) before balancing.
    pub matches_before: u64,
    /// Expected matches after balancing: Σ min(count, t).
    pub matches_after: f64,
    /// Share of matches on head entries, before.
    pub head_share_before: f64,
    /// Share of matches on head entries, after (expected).
    pub head_share_after: f64,
    /// Alt-texts kept, counted from the KEPT files given to the report, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_texts: Option<u64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub t_en: u64,
    /// English tail proportion at t_en.
    pub p: f64,
    /// Languages with at least one match, most matches first.
    pub languages: Vec<LanguageReport>,
}

impl Report {
    /// Builds the report from the global counts.
    pub fn new(matcher: &Matcher, counts: &Counts, thresholds: &Thresholds) -> Self {
        let mut languages: Vec<LanguageReport> = matcher
            .languages()
            .iter()
            .zip(&counts.per_lang)
            .filter_map(|(l, c)| {
                let t = thresholds.get(&l.lang)?;
                let before: u64 = c.iter().sum();
                let head_before: u64 = c.iter().filter(|&&n| n >= t).sum();
                let head_entries = c.iter().filter(|&&n| n >= t && n > 0).count();
                let after: f64 = c.iter().map(|&n| n.min(t) as f64).sum();
                let head_after = head_entries as f64 * t as f64;
                Some(LanguageReport {
                    lang: l.lang.clone(),
                    metadata_entries: c.len(),
                    matched_entries: c.iter().filter(|&&n| n > 0).count(),
                    threshold: t,
                    head_entries,
                    matches_before: before,
                    matches_after: after,
                    head_share_before: ratio(head_before as f64, before as f64),
                    head_share_after: ratio(head_after, after),
                    kept_texts: None,
                })
            })
            .collect();
        languages.sort_by(|a, b| {
            b.matches_before
                .cmp(&a.matches_before)
                .then_with(|| a.lang.cmp(&b.lang))
        });
        Report {
            t_en: thresholds.t_en,
            p: thresholds.p,
            languages,
        }
    }

    /// Adds the number of kept alt-texts per language, read from KEPT files (the output of
    /// `sample`); each line's language is resolved as in matching.
    pub fn count_kept(&mut self, matcher: &Matcher, kept: &[PathBuf]) -> Result<()> {
        let mut per_lang: BTreeMap<String, u64> = BTreeMap::new();
        read_batches(kept, |batch| {
            for i in 0..batch.len() {
                let Ok(line) = std::str::from_utf8(batch.line(i)) else {
                    continue;
                };
                let Ok(rec) = parse_line(line) else { continue };
                if let Some(l) = matcher.resolve(rec.lang.as_deref(), &rec.text).lang {
                    let lang = &matcher.languages()[l as usize].lang;
                    *per_lang.entry(lang.clone()).or_default() += 1;
                }
            }
            Ok(())
        })?;
        for l in &mut self.languages {
            l.kept_texts = Some(per_lang.get(&l.lang).copied().unwrap_or(0));
        }
        Ok(())
    }

    /// Writes `report.json` and the plots into `dir`: `entry_counts.png` (all languages
    /// pooled) and `entry_counts_<lang>.png` for the `top` languages with most matches.
    /// Returns the files written.
    pub fn write(
        &self,
        matcher: &Matcher,
        counts: &Counts,
        dir: &Path,
        top: usize,
    ) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = dir.join("report.json");
        let text = serde_json::to_string_pretty(self).expect("report serialises");
        kiln_fsutil::write_atomic(&json, text.as_bytes()).map_err(|e| Error::io(&json, e))?;
        let mut written = vec![json];

        let series = |lang: &str| -> Option<(Vec<u64>, u64)> {
            let li = matcher.language_index(lang)? as usize;
            let t = self.languages.iter().find(|l| l.lang == lang)?.threshold;
            Some((counts.per_lang[li].clone(), t))
        };
        let mut pooled_before = Vec::new();
        let mut pooled_after = Vec::new();
        for l in &self.languages {
            if let Some((c, t)) = series(&l.lang) {
                pooled_before.extend(c.iter().copied().filter(|&n| n > 0));
                pooled_after.extend(c.iter().filter(|&&n| n > 0).map(|&n| n.min(t)));
            }
        }
        let all = dir.join("entry_counts.png");
        plot::entry_counts(
            &all,
            &format!(
                "All languages: entry counts before / after balancing (t_en = {})",
                self.t_en
            ),
            &pooled_before,
            &pooled_after,
            None,
        )?;
        written.push(all);
        for l in self.languages.iter().take(top) {
            let Some((c, t)) = series(&l.lang) else {
                continue;
            };
            let before: Vec<u64> = c.iter().copied().filter(|&n| n > 0).collect();
            let after: Vec<u64> = before.iter().map(|&n| n.min(t)).collect();
            let path = dir.join(format!("entry_counts_{}.png", l.lang));
            plot::entry_counts(
                &path,
                &format!(
                    "{}: entry counts before / after balancing (t = {t})",
                    l.lang
                ),
                &before,
                &after,
                Some(t),
            )?;
            written.push(path);
        }
        Ok(written)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
