//! The trace file: a writer thread fed by a bounded queue, with a size cap and rotation.
//!
//! When a file reaches [`TraceFileOptions::max_bytes`] it is renamed `NAME.1` (older ones shift
//! to `.2` .. `.MAX_ROTATED_FILES`, the oldest is deleted) and a new `NAME` starts with the same
//! header, so every file reads on its own and `t` stays comparable across them.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mcpx_trace::{Event, Header, Writer};
use tokio::sync::mpsc;

use crate::limits::{DEFAULT_MAX_TRACE_BYTES, MAX_ROTATED_FILES, TRACE_FLUSH_EVERY};

/// Where and how big.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TraceFileOptions {
    /// The trace path.
    pub path: PathBuf,
    /// Size of one file before rotation.
    pub max_bytes: u64,
}

impl TraceFileOptions {
    /// `path` with the default cap ([`DEFAULT_MAX_TRACE_BYTES`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_bytes: DEFAULT_MAX_TRACE_BYTES,
        }
    }
}

/// What the writer did.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct WriterStats {
    /// Events written.
    pub events: u64,
    /// Files rotated away.
    pub rotations: u64,
}

/// An open trace file.
#[derive(Debug)]
pub struct TraceFile {
    opts: TraceFileOptions,
    header: Header,
    writer: Writer<BufWriter<File>>,
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl TraceFile {
    /// Creates (truncates) the file and writes the header.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or written.
    pub fn create(opts: TraceFileOptions, header: Header) -> std::io::Result<Self> {
        let writer = Writer::new(BufWriter::new(File::create(&opts.path)?), &header)?;
        Ok(Self {
            opts,
            header,
            writer,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.writer.flush()?;
        let _ = std::fs::remove_file(rotated(&self.opts.path, MAX_ROTATED_FILES));
        for n in (1..MAX_ROTATED_FILES).rev() {
            let from = rotated(&self.opts.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.opts.path, n + 1))?;
            }
        }
        std::fs::rename(&self.opts.path, rotated(&self.opts.path, 1))?;
        self.writer = Writer::new(BufWriter::new(File::create(&self.opts.path)?), &self.header)?;
        Ok(())
    }

    /// Writes events until every sender is gone (blocking: run it on a blocking thread).
    ///
    /// # Errors
    ///
    /// The first write error (the trace is then incomplete; the proxy keeps forwarding).
    pub fn run(mut self, mut rx: mpsc::Receiver<Event>) -> std::io::Result<WriterStats> {
        let mut stats = WriterStats::default();
        let mut last_flush = Instant::now();
        while let Some(ev) = rx.blocking_recv() {
            self.writer.write_event(&ev)?;
            stats.events += 1;
            if self.writer.bytes_written() >= self.opts.max_bytes.max(1) {
                self.rotate()?;
                stats.rotations += 1;
            }
            // Flush when the queue is drained or every TRACE_FLUSH_EVERY under load.
            if rx.is_empty() || last_flush.elapsed() >= TRACE_FLUSH_EVERY {
                self.writer.flush()?;
                last_flush = Instant::now();
            }
        }
        self.writer.flush()?;
        Ok(stats)
    }
}
