//! Log lines go to stderr in batches, from a thread of their own.
//!
//! The control plane writes an audit line for every exchange; one `write` system call per line
//! cost about 4 % of an exchange under load. Lines are appended to a shared buffer instead, and
//! the writer thread, woken by the first line of a batch, waits a moment for more and writes
//! them all at once. An idle process has no wake-ups at all. Lines reach stderr at most
//! `BATCH_WINDOW` late; `flush` writes what is buffered before the process exits.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the writer waits for more lines after the first of a batch.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// A buffer this large is written at once, whatever the window: a slow stderr slows the
/// loggers down instead of growing the buffer without bound.
const MAX_BUFFERED: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    lines_waiting: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The writer handed to the log formatter; clones share one buffer and one thread.
#[derive(Debug, Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
    /// False if the writer thread could not be started: each line is then written by its
    /// logger, as it comes.
    threaded: bool,
}

impl BatchedStderr {
    /// Starts the writer thread.
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let threaded = std::thread::Builder::new()
            .name("podid-log".into())
            .spawn(move || write_batches(&for_thread))
            .is_ok();
        Self { shared, threaded }
    }

    /// Writes whatever is buffered now.
    pub fn flush(&self) {
        write_buffered(&self.shared);
    }
}

fn write_batches(shared: &Shared) {
    loop {
        {
            let buffer = shared.lock();
            let _waited = shared
                .lines_waiting
                .wait_while(buffer, |buffer| buffer.is_empty())
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        std::thread::sleep(BATCH_WINDOW);
        write_buffered(shared);
    }
}

/// Writes out what is buffered. stderr is locked before the buffer is taken, so batches taken
/// by different threads reach it in the order they were taken.
fn write_buffered(shared: &Shared) {
    let mut stderr = io::stderr().lock();
    let batch = std::mem::take(&mut *shared.lock());
    if !batch.is_empty() {
        // Nowhere to report a failure to write the log.
        let _ = stderr.write_all(&batch);
    }
}

impl Write for &BatchedStderr {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if !self.threaded {
            return io::stderr().lock().write(line);
        }
        let mut buffer = self.shared.lock();
        let was_empty = buffer.is_empty();
        buffer.extend_from_slice(line);
        if buffer.len() >= MAX_BUFFERED {
            drop(buffer);
            write_buffered(&self.shared);
        } else if was_empty {
            drop(buffer);
            self.shared.lines_waiting.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedStderr {
    type Writer = &'a BatchedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_in_order_until_written() {
        let writer = BatchedStderr {
            shared: Arc::new(Shared::default()),
            threaded: true,
        };
        (&writer).write_all(b"first\n").unwrap();
        (&writer).write_all(b"second\n").unwrap();
        assert_eq!(&*writer.shared.lock(), b"first\nsecond\n");
        writer.flush();
        assert!(writer.shared.lock().is_empty());
    }
}
