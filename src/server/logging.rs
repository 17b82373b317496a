//! The processes' logger: env_logger's format and filter (`RUST_LOG`, `info` by default), with
//! the access log written in batches.
//!
//! Every request writes one access-log line. Written one `write(2)` each under stderr's lock,
//! as env_logger does, the log cost a system call per request and, with two worker threads
//! logging at once, a futex wait and wake on every other one (strace under load: 1.0 `write`
//! and 0.56 `futex` per GET image, against 2.0 `sendto` and 2.0 `recvfrom`). So access-log
//! lines go to a buffer, written out by a thread at most `FLUSH_INTERVAL` after the first line
//! in it, or at once when it holds `FLUSH_BYTES`. Every other record (start-up, warnings,
//! errors) is written at once, after the access lines before it, so the log keeps the order of
//! events; exit and panic write out what is buffered. On a terminal nothing is buffered.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The target of actix-web's access log (`middleware::Logger`).
pub const ACCESS_TARGET: &str = "actix_web::middleware::logger";
/// How long an access-log line may wait in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// A buffer this full is written out by the thread that filled it.
pub const FLUSH_BYTES: usize = 64 * 1024;

type Sink = Box<dyn Write + Send>;

/// Lines not yet written, and where they go.
pub struct Batch {
    pending: Mutex<Vec<u8>>,
    filled: Condvar,
    /// Held while a batch is taken and written, so batches reach the sink in order.
    sink: Mutex<Sink>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while logging leaves bytes, not broken invariants: keep logging.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Batch {
    pub fn new(sink: Sink) -> Arc<Self> {
        Arc::new(Self {
            pending: Mutex::new(Vec::with_capacity(FLUSH_BYTES)),
            filled: Condvar::new(),
            sink: Mutex::new(sink),
        })
    }

    fn append(&self, bytes: &[u8]) -> usize {
        let mut pending = lock(&self.pending);
        if pending.is_empty() {
            self.filled.notify_one();
        }
        pending.extend_from_slice(bytes);
        pending.len()
    }

    /// Write out everything buffered so far (errors writing the log are dropped, as
    /// env_logger drops them).
    pub fn write_out(&self) {
        let mut sink = lock(&self.sink);
        let bytes = std::mem::replace(&mut *lock(&self.pending), Vec::with_capacity(FLUSH_BYTES));
        if !bytes.is_empty() {
            let _ = sink.write_all(&bytes);
            let _ = sink.flush();
        }
    }

    /// The writer thread's loop: wait for a first line, give others `interval` to join it,
    /// write them out.
    fn run(&self, interval: Duration) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.is_empty() {
                    pending = self
                        .filled
                        .wait(pending)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
            std::thread::sleep(interval);
            self.write_out();
        }
    }

    /// Start the thread that writes the buffer out every `interval` while it holds lines.
    pub fn spawn_writer(self: &Arc<Self>, interval: Duration) -> std::io::Result<()> {
        let batch = Arc::clone(self);
        std::thread::Builder::new()
            .name("log-writer".to_string())
            .spawn(move || batch.run(interval))
            .map(drop)
    }
}

/// What env_logger writes formatted records to: the buffer. Its `flush` (called after every
/// record) does nothing; `BatchedLogger` decides when lines are written.
struct Appender(Arc<Batch>);

impl Write for Appender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// env_logger's logger over a `Batch`: access-log lines wait, any other record writes out.
pub struct BatchedLogger {
    inner: env_logger::Logger,
    batch: Arc<Batch>,
}

impl BatchedLogger {
    /// env_logger as `builder` configures it, writing into `batch`.
    pub fn new(mut builder: env_logger::Builder, batch: Arc<Batch>) -> Self {
        let appender: Box<dyn Write + Send> = Box::new(Appender(Arc::clone(&batch)));
        let inner = builder
            .target(env_logger::Target::Pipe(appender))
            .write_style(env_logger::WriteStyle::Never)
            .build();
        Self { inner, batch }
    }
}

impl log::Log for BatchedLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if !self.inner.matches(record) {
            return;
        }
        self.inner.log(record);
        if record.target() != ACCESS_TARGET || lock(&self.batch.pending).len() >= FLUSH_BYTES {
            self.batch.write_out();
        }
    }

    fn flush(&self) {
        self.batch.write_out();
    }
}

static BATCH: OnceLock<Arc<Batch>> = OnceLock::new();

fn builder() -> env_logger::Builder {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
}

/// Install the logger (once, first thing in `main`). On a terminal it is env_logger as is;
/// otherwise access-log lines are batched, and a panic writes out the batch before its
/// message.
pub fn init() {
    if std::io::stderr().is_terminal() {
        builder().init();
        return;
    }
    let batch = Batch::new(Box::new(std::io::stderr()));
    if batch.spawn_writer(FLUSH_INTERVAL).is_err() {
        // No writer thread: every line is written at once.
        builder().init();
        return;
    }
    let logger = BatchedLogger::new(builder(), Arc::clone(&batch));
    let max_level = logger.inner.filter();
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return;
    }
    log::set_max_level(max_level);
    let _ = BATCH.set(batch);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush();
        previous(info);
    }));
}

/// Write out what the logger holds (before the process exits).
pub fn flush() {
    if let Some(batch) = BATCH.get() {
        batch.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log;

    /// A sink the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&lock(&self.0)).into_owned()
        }
    }

    fn logger(sink: &Shared) -> BatchedLogger {
        let mut builder = env_logger::Builder::new();
        builder
            .filter_level(log::LevelFilter::Info)
            .format(|out, record| writeln!(out, "{} {}", record.level(), record.args()));
        BatchedLogger::new(builder, Batch::new(Box::new(sink.clone())))
    }

    fn log(logger: &BatchedLogger, target: &str, level: log::Level, text: &str) {
        logger.log(
            &log::Record::builder()
                .target(target)
                .level(level)
                .args(format_args!("{text}"))
                .build(),
        );
    }

    #[test]
    fn access_lines_wait_and_other_records_write_them_out_in_order() {
        let sink = Shared::default();
        let logger = logger(&sink);
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 1");
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 2");
        assert_eq!(sink.text(), "", "access lines are buffered");
        log(&logger, "glance_rs::api", log::Level::Warn, "something");
        assert_eq!(sink.text(), "INFO GET 1\nINFO GET 2\nWARN something\n");
        log(&logger, ACCESS_TARGET, log::Level::Debug, "filtered out");
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 3");
        logger.flush();
        assert_eq!(
            sink.text(),
            "INFO GET 1\nINFO GET 2\nWARN something\nINFO GET 3\n"
        );
    }

    #[test]
    fn a_full_buffer_is_written_by_the_thread_that_filled_it() {
        let sink = Shared::default();
        let logger = logger(&sink);
        let line = "x".repeat(1000);
        let mut written = 0;
        while sink.text().is_empty() {
            log(&logger, ACCESS_TARGET, log::Level::Info, &line);
            written += 1;
            assert!(written <= FLUSH_BYTES / 1000 + 1, "never written out");
        }
        assert_eq!(sink.text().lines().count(), written);
    }

    #[test]
    fn the_writer_thread_writes_out_buffered_lines() {
        let sink = Shared::default();
        let logger = logger(&sink);
        logger
            .batch
            .spawn_writer(Duration::from_millis(10))
            .expect("thread");
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 1");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written out");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "INFO GET 1\n");
    }
}
