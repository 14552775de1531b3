//! The terminal side of a training run: a progress bar, the metrics log, the loss plot.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use kiln_trainer::metrics::MetricsLog;
use kiln_trainer::{LogRecord, TrainObserver};

/// Shows progress and writes `metrics.jsonl` and the loss plot as the run goes.
pub struct RunObserver {
    bar: ProgressBar,
    log: MetricsLog,
    metrics_path: PathBuf,
    plot_path: PathBuf,
    title: String,
    /// The first error met while logging; the run stops on it.
    pub error: Option<kiln_trainer::TrainError>,
}

impl RunObserver {
    pub fn new(
        total: usize,
        done: usize,
        log: MetricsLog,
        metrics_path: PathBuf,
        plot_path: PathBuf,
        title: String,
    ) -> Self {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
            )
            .expect("valid template"),
        );
        bar.set_position(done as u64);
        bar.reset_eta();
        Self {
            bar,
            log,
            metrics_path,
            plot_path,
            title,
            error: None,
        }
    }

    /// Prints a line above the bar (or plainly when there is no terminal).
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| println!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn redraw_plot(&mut self) {
        let drawn = kiln_trainer::metrics::read(&self.metrics_path).and_then(|records| {
            kiln_trainer::plot::plot_losses(&records, &self.plot_path, &self.title)
        });
        if let Err(e) = drawn {
            self.say(&format!(
                "warning: could not draw {}: {e}",
                self.plot_path.display()
            ));
        }
    }
}

impl TrainObserver for RunObserver {
    fn on_step(&mut self, step: usize, loss: f64, tokens_per_sec: f64) {
        self.bar.set_position(step as u64);
        self.bar
            .set_message(format!("loss {loss:.4}  {tokens_per_sec:.0} tok/s"));
    }

    fn on_log(&mut self, record: &LogRecord) {
        if let Err(e) = self.log.append(record) {
            self.error.get_or_insert(e);
        }
        if let (Some(loss), Some(ppl)) = (record.eval_loss, record.eval_perplexity) {
            self.say(&format!(
                "step {:>6}  train loss {:.4}  held-out loss {loss:.4}  perplexity {ppl:.2}  lr {:.2e}  {:.0} tok/s",
                record.step, record.loss, record.lr, record.tokens_per_sec
            ));
            self.redraw_plot();
        }
    }
}

/// Runs `trainer` from `state` with a progress bar, `metrics.jsonl` and the plot of `run`:
/// the one way every training command (`train`, `sft`, `rl`) drives the loop.
pub fn fit_with_progress(
    run: &super::run_dir::RunDir,
    trainer: &kiln_trainer::Trainer,
    state: kiln_trainer::TrainState,
    objective: &mut dyn kiln_trainer::objective::Objective,
    device_description: &str,
) -> anyhow::Result<kiln_trainer::TrainState> {
    let log = MetricsLog::open(&run.metrics_path(), state.step)?;
    let device_name = device_description.split(" (").next().unwrap_or_default();
    let title = format!("{} on {device_name}", run.root.display());
    let mut observer = RunObserver::new(
        trainer.config.steps,
        state.step,
        log,
        run.metrics_path(),
        run.plot_path(),
        title,
    );
    let result = trainer.fit(state, objective, &mut observer);
    observer.finish();
    let state = result?;
    if let Some(e) = observer.error {
        return Err(e.into());
    }
    Ok(state)
}
