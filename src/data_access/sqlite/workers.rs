//! Dedicated OS threads that own the SQLite connections: one writer (the only connection that
//! writes, so writes never wait on each other's locks) and a few readers that share one job
//! queue. Jobs are closures sent over channels; results come back over a tokio oneshot, so
//! async callers never block and tokio's blocking pool is not used.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::data_access::{DaResult, DataAccessError};

type Job = Box<dyn FnOnce(&mut Connection) + Send + 'static>;

pub(super) struct Workers {
    writer: mpsc::Sender<Job>,
    readers: mpsc::Sender<Job>,
    /// How long a job may wait in a queue for its connection (`database.pool_timeout`).
    queue_timeout: Duration,
}

impl Workers {
    /// Start the writer thread on `writer` and one reader thread per connection in `readers`.
    pub fn start(
        writer: Connection,
        readers: Vec<Connection>,
        queue_timeout: Duration,
    ) -> DaResult<Self> {
        let (writer_tx, writer_rx) = mpsc::channel::<Job>();
        spawn("sqlite-writer".to_string(), writer, move || {
            writer_rx.recv().ok()
        })?;

        let (readers_tx, readers_rx) = mpsc::channel::<Job>();
        let shared_rx = Arc::new(Mutex::new(readers_rx));
        for (i, connection) in readers.into_iter().enumerate() {
            let rx = Arc::clone(&shared_rx);
            // A poisoned lock only means another reader panicked while waiting; the queue
            // itself is still sound.
            let next = move || match rx.lock() {
                Ok(guard) => guard.recv().ok(),
                Err(poisoned) => poisoned.into_inner().recv().ok(),
            };
            spawn(format!("sqlite-reader-{i}"), connection, next)?;
        }
        Ok(Self {
            writer: writer_tx,
            readers: readers_tx,
            queue_timeout,
        })
    }

    /// Run `job` on the writer connection.
    pub async fn write<T, F>(&self, job: F) -> DaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
    {
        submit(&self.writer, self.queue_timeout, job).await
    }

    /// Run `job` on any reader connection.
    pub async fn read<T, F>(&self, job: F) -> DaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
    {
        submit(&self.readers, self.queue_timeout, job).await
    }
}

/// Queue `job` and wait for its answer. A job that waited longer than `queue_timeout` for its
/// connection is not run at all (→ `Unavailable`, nothing written), so an overloaded database
/// answers 503 instead of letting requests pile up without bound.
async fn submit<T, F>(queue: &mpsc::Sender<Job>, queue_timeout: Duration, job: F) -> DaResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
{
    let (reply_tx, reply_rx) = oneshot::channel();
    let queued_at = Instant::now();
    let wrapped: Job = Box::new(move |connection: &mut Connection| {
        let result = if queued_at.elapsed() > queue_timeout {
            Err(DataAccessError::Unavailable(format!(
                "no database connection was free within {queue_timeout:?}"
            )))
        } else {
            job(connection)
        };
        // The caller may have gone away (request cancelled); the work is done regardless.
        let _ = reply_tx.send(result);
    });
    queue
        .send(wrapped)
        .map_err(|_| stopped("the database threads have stopped"))?;
    // No answer means the job panicked (logged by the worker): a bug, not an outage.
    reply_rx.await.map_err(|_| {
        DataAccessError::Backend("a database job failed without an answer".to_string())
    })?
}

fn stopped(what: &str) -> DataAccessError {
    DataAccessError::Unavailable(what.to_string())
}

/// Run jobs from `next` on `connection` until the queue closes. A panicking job is contained
/// so the thread (and its connection) keeps serving.
fn spawn(
    name: String,
    mut connection: Connection,
    next: impl Fn() -> Option<Job> + Send + 'static,
) -> DaResult<()> {
    thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            while let Some(job) = next() {
                if catch_unwind(AssertUnwindSafe(|| job(&mut connection))).is_err() {
                    log::error!("thread={name} a database job panicked");
                    // Leave no transaction open after a panic inside one.
                    if !connection.is_autocommit() {
                        let _ = connection.execute_batch("ROLLBACK");
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|e| DataAccessError::Backend(format!("cannot start a database thread: {e}")))
}

/// Run one blocking job on a fresh thread (opening and migrating, before the workers exist).
pub(super) async fn on_thread<T, F>(job: F) -> DaResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> DaResult<T> + Send + 'static,
{
    let (reply_tx, reply_rx) = oneshot::channel();
    thread::Builder::new()
        .name("sqlite-open".to_string())
        .spawn(move || {
            let _ = reply_tx.send(job());
        })
        .map_err(|e| DataAccessError::Backend(format!("cannot start a database thread: {e}")))?;
    reply_rx
        .await
        .map_err(|_| DataAccessError::Backend("opening the database panicked".to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        Connection::open_in_memory().expect("in-memory connection")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_that_wait_too_long_are_refused_unrun() {
        let workers =
            Workers::start(memory(), vec![memory()], Duration::from_millis(50)).expect("start");
        let slow = workers.read(|_| {
            thread::sleep(Duration::from_millis(300));
            Ok(1)
        });
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let queued = workers.read(move |_| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(2)
        });
        let (slow, queued) = tokio::join!(slow, queued);
        assert_eq!(slow, Ok(1));
        assert!(
            matches!(queued, Err(DataAccessError::Unavailable(_))),
            "{queued:?}"
        );
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        // The writer has its own queue and is free.
        assert_eq!(workers.write(|_| Ok(3)).await, Ok(3));
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_kill_its_thread() {
        let workers =
            Workers::start(memory(), vec![memory()], Duration::from_secs(5)).expect("start");
        let panicked: DaResult<()> = workers.write(|_| panic!("boom")).await;
        assert!(
            matches!(panicked, Err(DataAccessError::Backend(_))),
            "{panicked:?}"
        );
        assert_eq!(workers.write(|_| Ok(7)).await, Ok(7));
    }
}
