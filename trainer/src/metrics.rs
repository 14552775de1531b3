//! The run's metrics log: one JSON object per logged step in `metrics.jsonl`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::error::TrainError;
use crate::fsutil::write_atomic;
use crate::observer::LogRecord;

/// Appends records to a JSONL file, one flushed line at a time.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `path` for a run that has made `step` updates: records after `step` (written by a
    /// run that was killed before its next checkpoint) are dropped, so the log always matches
    /// the checkpoint it continues from.
    pub fn open(path: &Path, step: usize) -> Result<Self, TrainError> {
        let kept: Vec<LogRecord> = read(path)?.into_iter().filter(|r| r.step <= step).collect();
        let mut text = String::new();
        for r in &kept {
            text.push_str(&serde_json::to_string(r).expect("records serialise"));
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(TrainError::io(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one record.
    pub fn append(&mut self, record: &LogRecord) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).expect("records serialise");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(TrainError::io(&self.path))
    }
}

/// Reads every record of a metrics file (an absent file has none; a torn last line, from a
/// crash mid-write, is ignored).
pub fn read(path: &Path) -> Result<Vec<LogRecord>, TrainError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TrainError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let mut records = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(TrainError::io(path))?;
        if let Ok(r) = serde_json::from_str::<LogRecord>(&line) {
            records.push(r);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: usize) -> LogRecord {
        LogRecord {
            step,
            loss: 1.0,
            lr: 0.1,
            grad_norm: 1.0,
            tokens_per_sec: 10.0,
            elapsed_sec: 1.0,
            eval_loss: None,
            eval_perplexity: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn reopening_drops_records_after_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("kiln-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for s in [10, 20, 30] {
            log.append(&record(s)).unwrap();
        }
        drop(log);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"step\": 4")
            .unwrap();
        MetricsLog::open(&path, 20).unwrap();
        let steps: Vec<usize> = read(&path).unwrap().iter().map(|r| r.step).collect();
        assert_eq!(steps, [10, 20]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
