//! Builds the curation metadata folder from the fetched offline sources.
//!
//! `cargo run --example build_metadata -- --sources $KILN_DATA/curation --out DIR`
//! (`.ci/fetch-curation-data.sh` runs it; `kiln curate metadata` does the same).

use std::path::PathBuf;

use kiln_clip::curation::build::{Sources, write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut sources, mut out) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sources" => sources = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let (Some(root), Some(out)) = (sources, out) else {
        return Err("usage: build_metadata --sources DIR --out DIR".into());
    };
    let (metadata, report) = Sources { root }.build()?;
    write(&metadata, &report, &out)?;
    eprintln!(
        "wrote {} entries in {} languages to {}",
        metadata.len(),
        metadata.languages.len(),
        out.display()
    );
    Ok(())
}
