//! `kiln curate`: MetaCLIP 2 worldwide curation of image alt-texts (issue 6).
//!
//! The three shardable stages of MetaCLIP 2 (arXiv 2507.22062, §3.1), each a command, so that
//! shards run in parallel on any scheduler and merge exactly:
//!
//! ```text
//! kiln curate metadata --sources $KILN_DATA/curation --out META        # build metadata
//! kiln curate count  --metadata META --in shard-00.jsonl.gz --out c-00.tsv   # per shard
//! kiln curate merge  c-*.tsv --out total.tsv                                 # once
//! kiln curate sample --metadata META --counts total.tsv --in shard-00.jsonl.gz --out kept-00.jsonl.gz
//! kiln curate report --metadata META --counts total.tsv --kept kept-*.jsonl.gz --out report/
//! ```
//!
//! The library (`kiln_clip::curation`) does the work; this file parses arguments, shows
//! progress and prints summaries.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use kiln_clip::curation::{
    self, Counts, LineStats, Matcher, Metadata, Options, Probabilities, Rule, Sampler, Thresholds,
    build, report::Report,
};

/// Arguments of `kiln curate`.
#[derive(Args, Debug)]
pub struct CurateArgs {
    #[command(subcommand)]
    cmd: CurateCommand,
}

#[derive(Subcommand, Debug)]
enum CurateCommand {
    /// Count, per language and entry, the alt-texts of some shards that match it (stage 1).
    Count {
        /// Metadata folder: one `<lang>.txt` per language, one entry per line.
        #[arg(long)]
        metadata: PathBuf,
        /// Input shards: JSONL `{"id","lang","text"}` or TSV `id<TAB>lang<TAB>text`; `.gz` ok; `-` is stdin.
        #[arg(long = "in", required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// COUNTS file to write (TSV `lang<TAB>entry<TAB>count`, sorted).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Sum COUNTS files into one (stage 2); streams, so any number of shards merge.
    Merge {
        /// COUNTS files of the shards.
        #[arg(required = true)]
        counts: Vec<PathBuf>,
        /// Merged COUNTS file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Keep a balanced sample of the alt-texts of some shards (stage 3).
    Sample {
        /// Metadata folder (the one the counts were made with).
        #[arg(long)]
        metadata: PathBuf,
        /// Global COUNTS file (the merge of every shard's counts).
        #[arg(long)]
        counts: PathBuf,
        /// Input shards (JSONL or TSV, `.gz` ok); the alt-texts of one image on consecutive lines.
        #[arg(long = "in", required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// Where to write the kept input lines, verbatim (`.gz` compresses).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        balance: BalanceOpts,
        /// Pair-level rule.
        #[arg(long, value_enum, default_value_t = RuleArg::Metaclip2)]
        rule: RuleArg,
        /// Seed of the draws (same seed, same sample, however the data is sharded).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Epoch: each epoch draws a fresh sample (online curation).
        #[arg(long, default_value_t = 0)]
        epoch: u64,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Per-language counts before and after balancing, head/tail shares, and plots.
    Report {
        /// Metadata folder.
        #[arg(long)]
        metadata: PathBuf,
        /// Global COUNTS file.
        #[arg(long)]
        counts: PathBuf,
        /// KEPT files from `sample`, to count the kept alt-texts per language.
        #[arg(long, num_args = 1..)]
        kept: Vec<PathBuf>,
        #[command(flatten)]
        balance: BalanceOpts,
        /// Plot the languages with the most matches (one PNG each), besides all pooled.
        #[arg(long, default_value_t = 6)]
        top: usize,
        /// Folder for report.json and the PNG plots.
        #[arg(long)]
        out: PathBuf,
    },
    /// Build the metadata folder from the offline sources (`.ci/fetch-curation-data.sh`).
    Metadata {
        /// The fetched sources: `$KILN_DATA/curation`.
        #[arg(long)]
        sources: PathBuf,
        /// Metadata folder to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
struct RunOpts {
    /// Matching threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Also write the line statistics as JSON to this file.
    #[arg(long)]
    stats: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct BalanceOpts {
    /// English threshold t_en; other languages get the threshold with the same tail share
    /// (170000: MetaCLIP 2; 20000: MetaCLIP 1's 400M setting).
    #[arg(long, default_value_t = curation::T_EN_METACLIP2)]
    t_en: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RuleArg {
    /// Keep an alt-text if any matched entry passes (MetaCLIP 1).
    Metaclip1,
    /// One alt-text per image, kept with probability 1 − Π(1 − p) (MetaCLIP 2).
    Metaclip2,
}

/// Runs `kiln curate`.
pub fn run(args: CurateArgs) -> Result<()> {
    match args.cmd {
        CurateCommand::Count {
            metadata,
            inputs,
            out,
            run,
        } => {
            let matcher = load_matcher(&metadata)?;
            let bar = Bar::new();
            let start = Instant::now();
            let (counts, stats) = curation::count(&matcher, &inputs, run.options(), &bar)?;
            bar.finish();
            counts.write(&matcher, &out)?;
            print_stats(&stats, start);
            run.write_stats(&stats)?;
            println!("wrote {}", out.display());
        }
        CurateCommand::Merge { counts, out } => {
            let n = curation::merge_files(&counts, &out)?;
            println!(
                "merged {} files: {n} entries -> {}",
                counts.len(),
                out.display()
            );
        }
        CurateCommand::Sample {
            metadata,
            counts,
            inputs,
            out,
            balance,
            rule,
            seed,
            epoch,
            run,
        } => {
            let matcher = load_matcher(&metadata)?;
            let (counts, thresholds) = load_counts(&matcher, &counts, balance.t_en)?;
            let rule = match rule {
                RuleArg::Metaclip1 => Rule::Metaclip1,
                RuleArg::Metaclip2 => Rule::Metaclip2,
            };
            let probs = Probabilities::new(&matcher, &counts, &thresholds);
            let sampler = Sampler::new(probs, rule, seed);
            let bar = Bar::new();
            let start = Instant::now();
            let stats = curation::sample(
                &matcher,
                &sampler,
                &inputs,
                &out,
                epoch,
                run.options(),
                &bar,
            )?;
            bar.finish();
            print_stats(&stats.lines, start);
            println!(
                "kept {} alt-texts of {} images (of {} matched images) -> {}",
                stats.kept_texts,
                stats.kept_images,
                stats.images,
                out.display()
            );
            if let Some(path) = &run.stats {
                kiln_fsutil::write_atomic(path, serde_json::to_string_pretty(&stats)?.as_bytes())
                    .with_context(|| path.display().to_string())?;
            }
        }
        CurateCommand::Report {
            metadata,
            counts,
            kept,
            balance,
            top,
            out,
        } => {
            let matcher = load_matcher(&metadata)?;
            let (counts, thresholds) = load_counts(&matcher, &counts, balance.t_en)?;
            let mut report = Report::new(&matcher, &counts, &thresholds);
            if !kept.is_empty() {
                report.count_kept(&matcher, &kept)?;
            }
            let files = report.write(&matcher, &counts, &out, top)?;
            print_report(&report);
            for f in files {
                println!("wrote {}", f.display());
            }
        }
        CurateCommand::Metadata { sources, out } => {
            let (metadata, report) = build::Sources { root: sources }.build()?;
            build::write(&metadata, &report, &out)?;
            println!(
                "wrote {} entries in {} languages to {}",
                metadata.len(),
                metadata.languages.len(),
                out.display()
            );
        }
    }
    Ok(())
}

impl RunOpts {
    fn options(&self) -> Options {
        Options {
            threads: self.threads,
        }
    }

    fn write_stats(&self, stats: &LineStats) -> Result<()> {
        if let Some(path) = &self.stats {
            kiln_fsutil::write_atomic(path, serde_json::to_string_pretty(stats)?.as_bytes())
                .with_context(|| path.display().to_string())?;
        }
        Ok(())
    }
}

fn load_matcher(dir: &Path) -> Result<Matcher> {
    let start = Instant::now();
    let metadata = Metadata::read_dir(dir)?;
    let matcher = Matcher::new(&metadata)
        .with_context(|| format!("building automata for {}", dir.display()))?;
    eprintln!(
        "metadata: {} entries in {} languages ({:.1}s)",
        metadata.len(),
        metadata.languages.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(matcher)
}

fn load_counts(matcher: &Matcher, path: &Path, t_en: u64) -> Result<(Counts, Thresholds)> {
    let counts = Counts::read(matcher, path)?;
    let thresholds = Thresholds::compute(matcher, &counts, t_en)?;
    eprintln!(
        "t_en = {t_en}: English tail share p = {:.4}; {} languages with thresholds",
        thresholds.p,
        thresholds.per_lang.len()
    );
    Ok((counts, thresholds))
}

fn print_stats(s: &LineStats, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} lines in {secs:.1}s ({:.0} lines/s): {} matched, {} unmatched, {} without metadata; \
         skipped {} empty, {} invalid UTF-8, {} malformed; {} language-identified",
        s.lines,
        s.lines as f64 / secs.max(1e-9),
        s.matched,
        s.unmatched,
        s.no_metadata,
        s.empty,
        s.invalid_utf8,
        s.malformed,
        s.identified
    );
}

fn print_report(r: &Report) {
    println!("t_en = {}, English tail share p = {:.4}", r.t_en, r.p);
    println!(
        "{:<8} {:>10} {:>12} {:>14} {:>10} {:>8} {:>8} {:>10}",
        "lang", "t", "matches", "after (exp.)", "head ent.", "head %", "after %", "kept"
    );
    for l in &r.languages {
        println!(
            "{:<8} {:>10} {:>12} {:>14.0} {:>10} {:>7.1}% {:>7.1}% {:>10}",
            l.lang,
            l.threshold,
            l.matches_before,
            l.matches_after,
            l.head_entries,
            100.0 * l.head_share_before,
            100.0 * l.head_share_after,
            l.kept_texts.map_or("-".to_owned(), |k| k.to_string())
        );
    }
}

/// A spinner with the line count and rate, on stderr (hidden when it is not a terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {human_pos} lines  {per_sec}  {elapsed}")
                .expect("valid template"),
        );
        Bar(bar)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl curation::Progress for Bar {
    fn advance(&self, lines: u64, _bytes: u64) {
        self.0.inc(lines);
    }
}
