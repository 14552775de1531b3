//! kiln side of the curation throughput comparison (benches/peers/curation_peer.py): counts
//! matches over a shard with `threads` threads and prints one JSON line with the timings.
//!
//! `cargo run --release --example curation_throughput -- --metadata DIR --in FILE --threads N --out COUNTS`

use std::path::PathBuf;
use std::time::Instant;

use kiln_clip::curation::{Matcher, Metadata, NoProgress, Options, count};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut metadata, mut input, mut out, mut threads) = (None, None, None, 1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or("missing value")?;
        match a.as_str() {
            "--metadata" => metadata = Some(PathBuf::from(v)),
            "--in" => input = Some(PathBuf::from(v)),
            "--out" => out = Some(PathBuf::from(v)),
            "--threads" => threads = v.parse()?,
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let (Some(metadata), Some(input), Some(out)) = (metadata, input, out) else {
        return Err("usage: --metadata DIR --in FILE --threads N --out COUNTS".into());
    };
    let start = Instant::now();
    let meta = Metadata::read_dir(&metadata)?;
    let matcher = Matcher::new(&meta)?;
    let build_s = start.elapsed().as_secs_f64();
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let (counts, stats) = count(&matcher, &[input], Options { threads }, &NoProgress)?;
    let match_s = start.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - cpu_start;
    counts.write(&matcher, &out)?;
    println!(
        "{{\"impl\": \"kiln\", \"threads\": {threads}, \"texts\": {}, \"matched\": {}, \"build_s\": {build_s:.3}, \"match_s\": {match_s:.3}, \"cpu_s\": {cpu_s:.3}, \"texts_per_s\": {:.0}, \"texts_per_cpu_s\": {:.0}}}",
        stats.lines,
        stats.matched,
        stats.lines as f64 / match_s,
        stats.lines as f64 / cpu_s
    );
    Ok(())
}

/// User + system CPU seconds of this process, all threads (`CLOCK_PROCESS_CPUTIME_ID`, to
/// the nanosecond where `/proc/self/stat` counts 1/100 s ticks), so that a busy machine does
/// not count against kiln.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid `timespec` for the call to write.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    assert!(ok, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}
