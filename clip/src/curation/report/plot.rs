//! Entry-count plots (MetaCLIP 1, arXiv 2309.16671, Fig. 2 style): entries ranked by count,
//! log-log, before and after balancing, with the threshold t.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::curation::error::{Error, Result};

/// DejaVu Sans (licence in `assets/DejaVuSans-LICENSE.txt`), for the plot text.
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font; failure would leave the text undrawn.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws counts sorted descending against their rank, log-log.
pub fn entry_counts(
    path: &Path,
    title: &str,
    before: &[u64],
    after: &[u64],
    threshold: Option<u64>,
) -> Result<()> {
    register_font();
    let err = |e: &dyn std::fmt::Display| Error::Plot {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let ranked = |v: &[u64]| -> Vec<(f64, f64)> {
        let mut v = v.to_vec();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, &c)| ((i + 1) as f64, c as f64))
            .collect()
    };
    let (b, a) = (ranked(before), ranked(after));
    let max_rank = b.len().max(a.len()).max(2) as f64;
    let max_count = b.iter().chain(&a).map(|p| p.1).fold(2.0, f64::max);

    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (1.0..max_rank * 1.2).log_scale(),
            (1.0..max_count * 1.5).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("entry rank (by count)")
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("matches per entry")
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(b, BLUE.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("before balancing")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(a, RED.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("after balancing (expected)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    if let Some(t) = threshold.filter(|&t| t > 0) {
        let t = t as f64;
        chart
            .draw_series(LineSeries::new(
                [(1.0, t), (max_rank * 1.2, t)],
                BLACK.mix(0.5),
            ))
            .map_err(|e| err(&e))?
            .label(format!("t = {t}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
