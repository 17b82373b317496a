//! The processes' logger: env_logger's filter (`RUST_LOG`, `info` by default) and format, with
//! the access log written in batches.
//!
//! Every request writes one access-log line. Written one `write(2)` each under stderr's lock,
//! as env_logger does, the log cost a system call per request and, with two worker threads
//! logging at once, a futex wait and wake on every other one (strace under load: 1.0 `write`
//! and 0.56 `futex` per GET image, against 2.0 `sendto` and 2.0 `recvfrom`). So access-log
//! lines go to a buffer, written out by a thread at most `FLUSH_INTERVAL` after the first line
//! in it, or at once when it holds `FLUSH_BYTES`. Every other record (start-up, warnings,
//! errors) is written at once, after the access lines before it, so the log keeps the order of
//! events; exit and panic write out what is buffered. Lines keep env_logger's default format
//! (`format_line`). On a terminal this is plain env_logger, colours included.

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
        let bytes = {
            let mut pending = lock(&self.pending);
            if pending.is_empty() {
                return;
            }
            std::mem::replace(&mut *pending, Vec::with_capacity(FLUSH_BYTES))
        };
        let _ = sink.write_all(&bytes);
        let _ = sink.flush();
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

/// A record as env_logger's default format writes it, `[2026-12-07T19:28:29Z INFO  target]
/// message`, rendered here: env_logger's own formatter (styles, then stripping them again
/// for a non-terminal) cost about as much as the rest of the access log together (callgrind:
/// 11.5k of its 21.6k instructions per GET image).
fn format_line(out: &mut Vec<u8>, record: &log::Record) {
    out.push(b'[');
    STAMP.with(|stamp| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut stamp = stamp.borrow_mut();
        if stamp.0 != now || stamp.1.is_empty() {
            let at = i64::try_from(now)
                .ok()
                .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                .unwrap_or_default();
            stamp.0 = now;
            stamp.1 = crate::domain::format_timestamp(&at.naive_utc());
        }
        out.extend_from_slice(stamp.1.as_bytes());
    });
    // Errors formatting a message leave it cut short, as env_logger leaves it.
    let _ = writeln!(
        out,
        " {:<5} {}] {}",
        record.level(),
        record.target(),
        record.args()
    );
}

thread_local! {
    /// The second last formatted on this thread and its text.
    static STAMP: std::cell::RefCell<(u64, String)> = const {
        std::cell::RefCell::new((0, String::new()))
    };
    /// The line being formatted.
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// env_logger's filter (`RUST_LOG`) over a `Batch`: access-log lines wait, any other record
/// writes out.
pub struct BatchedLogger {
    /// Used for its filter only.
    filter: env_logger::Logger,
    batch: Arc<Batch>,
}

impl BatchedLogger {
    /// Records `builder`'s filter lets through, written into `batch`.
    pub fn new(mut builder: env_logger::Builder, batch: Arc<Batch>) -> Self {
        Self {
            filter: builder.build(),
            batch,
        }
    }

    /// Format `record` into the batch; the bytes now waiting.
    fn append(&self, record: &log::Record) -> usize {
        // A message whose formatting logs again gets a buffer of its own.
        let appended = LINE.with(|line| {
            let mut line = line.try_borrow_mut().ok()?;
            line.clear();
            format_line(&mut line, record);
            Some(self.batch.append(&line))
        });
        appended.unwrap_or_else(|| {
            let mut line = Vec::new();
            format_line(&mut line, record);
            self.batch.append(&line)
        })
    }
}

impl log::Log for BatchedLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if !self.filter.matches(record) {
            return;
        }
        let waiting = self.append(record);
        if record.target() != ACCESS_TARGET || waiting >= FLUSH_BYTES {
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
    let max_level = logger.filter.filter();
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

        /// Each line without its timestamp: `LEVEL message`.
        fn messages(&self) -> Vec<String> {
            self.text()
                .lines()
                .map(|line| {
                    let (head, message) = line.split_once("] ").expect("a header");
                    let level = head.split_whitespace().nth(1).expect("a level");
                    format!("{level} {message}")
                })
                .collect()
        }
    }

    fn logger(sink: &Shared) -> BatchedLogger {
        let mut builder = env_logger::Builder::new();
        builder.filter_level(log::LevelFilter::Info);
        BatchedLogger::new(builder, Batch::new(Box::new(sink.clone())))
    }

    fn log(logger: &impl Log, target: &str, level: log::Level, text: &str) {
        logger.log(
            &log::Record::builder()
                .target(target)
                .level(level)
                .args(format_args!("{text}"))
                .build(),
        );
    }

    #[test]
    fn lines_are_env_loggers_default_format() {
        let ours = Shared::default();
        let theirs = Shared::default();
        let env_logger = env_logger::Builder::new()
            .filter_level(log::LevelFilter::Info)
            .target(env_logger::Target::Pipe(Box::new(theirs.clone())))
            .write_style(env_logger::WriteStyle::Never)
            .build();
        let batched = logger(&ours);
        for (target, level) in [
            (ACCESS_TARGET, log::Level::Info),
            ("glance_api", log::Level::Warn),
            ("glance_rs::store", log::Level::Error),
        ] {
            log(
                &env_logger,
                target,
                level,
                "127.0.0.1 \"GET /v2/images HTTP/1.1\" 200",
            );
            log(
                &batched,
                target,
                level,
                "127.0.0.1 \"GET /v2/images HTTP/1.1\" 200",
            );
        }
        batched.flush();
        // `[2026-12-07T19:28:29Z ` then the rest; the seconds may differ between the two.
        let without_time = |text: String| -> Vec<String> {
            text.lines()
                .map(|line| {
                    assert_eq!(line.as_bytes()[0], b'[', "{line}");
                    assert_eq!(line.as_bytes()[20], b'Z', "{line}");
                    line[21..].to_string()
                })
                .collect()
        };
        assert_eq!(without_time(ours.text()), without_time(theirs.text()));
        assert_eq!(ours.text().lines().count(), 3);
    }

    #[test]
    fn access_lines_wait_and_other_records_write_them_out_in_order() {
        let sink = Shared::default();
        let logger = logger(&sink);
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 1");
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 2");
        assert_eq!(sink.text(), "", "access lines are buffered");
        log(&logger, "glance_rs::api", log::Level::Warn, "something");
        assert_eq!(
            sink.messages(),
            ["INFO GET 1", "INFO GET 2", "WARN something"]
        );
        log(&logger, ACCESS_TARGET, log::Level::Debug, "filtered out");
        log(&logger, ACCESS_TARGET, log::Level::Info, "GET 3");
        logger.flush();
        assert_eq!(
            sink.messages(),
            ["INFO GET 1", "INFO GET 2", "WARN something", "INFO GET 3"]
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
        assert_eq!(sink.messages(), ["INFO GET 1"]);
    }

    /// A message whose `Display` logs again (the inner line comes first, as it is complete
    /// first).
    #[test]
    fn a_message_that_logs_while_formatted_is_kept() {
        struct Noisy<'a>(&'a BatchedLogger);
        impl std::fmt::Display for Noisy<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                log(self.0, ACCESS_TARGET, log::Level::Info, "inner");
                f.write_str("outer")
            }
        }
        let sink = Shared::default();
        let logger = logger(&sink);
        logger.log(
            &log::Record::builder()
                .target(ACCESS_TARGET)
                .level(log::Level::Info)
                .args(format_args!("{}", Noisy(&logger)))
                .build(),
        );
        logger.flush();
        assert_eq!(sink.messages(), ["INFO inner", "INFO outer"]);
    }
}
