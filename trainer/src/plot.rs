//! PNG plots of a run's training and held-out loss, drawn from its metrics records.

use std::path::Path;

use plotters::prelude::*;

use crate::error::TrainError;
use crate::observer::LogRecord;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Draws training loss and held-out loss against the step into `path` (PNG, 960×540).
pub fn plot_losses(records: &[LogRecord], path: &Path, title: &str) -> Result<(), TrainError> {
    register_font();
    let bad = |e: String| TrainError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    if records.is_empty() {
        return Err(bad("no metrics to plot".into()));
    }
    let train: Vec<(f64, f64)> = records.iter().map(|r| (r.step as f64, r.loss)).collect();
    let eval: Vec<(f64, f64)> = records
        .iter()
        .filter_map(|r| r.eval_loss.map(|l| (r.step as f64, l)))
        .collect();
    let max_step = train.iter().map(|p| p.0).fold(1.0, f64::max);
    let losses = train
        .iter()
        .chain(&eval)
        .map(|p| p.1)
        .filter(|l| l.is_finite());
    let (lo, hi) = losses.fold((f64::MAX, f64::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let pad = ((hi - lo) * 0.05).max(1e-3);

    // Drawn beside the target under a temporary name (kept ".png" so the encoder knows the
    // format), then moved into place atomically.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, (960, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| bad(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_step, (lo - pad)..(hi + pad))
            .map_err(|e| bad(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss (nats/token)")
            .draw()
            .map_err(|e| bad(e.to_string()))?;
        chart
            .draw_series(LineSeries::new(train, &BLUE))
            .map_err(|e| bad(e.to_string()))?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        if !eval.is_empty() {
            chart
                .draw_series(LineSeries::new(eval.clone(), RED.stroke_width(2)))
                .map_err(|e| bad(e.to_string()))?
                .label("held-out")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
            chart
                .draw_series(eval.iter().map(|&p| Circle::new(p, 3, RED.filled())))
                .map_err(|e| bad(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| bad(e.to_string()))?;
        root.present().map_err(|e| bad(e.to_string()))?;
    }
    let bytes = std::fs::read(&tmp).map_err(TrainError::io(&tmp))?;
    let _ = std::fs::remove_file(&tmp);
    crate::fsutil::write_atomic(path, &bytes)
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}
