//! Dedicated OS threads that own the SQLite connections: one writer (the only connection that
//! writes, so writes never wait on each other's locks) and a few readers that share one job
//! queue. Jobs are closures sent over channels; results come back over a tokio oneshot, so
//! async callers never block and tokio's blocking pool is not used.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::data_access::{DaResult, DataAccessError};

type Job = Box<dyn FnOnce(&mut Connection) + Send + 'static>;

pub(super) struct Workers {
    writer: mpsc::Sender<Job>,
    readers: mpsc::Sender<Job>,
}

impl Workers {
    /// Start the writer thread on `writer` and one reader thread per connection in `readers`.
    pub fn start(writer: Connection, readers: Vec<Connection>) -> DaResult<Self> {
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
        })
    }

    /// Run `job` on the writer connection.
    pub async fn write<T, F>(&self, job: F) -> DaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
    {
        submit(&self.writer, job).await
    }

    /// Run `job` on any reader connection.
    pub async fn read<T, F>(&self, job: F) -> DaResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
    {
        submit(&self.readers, job).await
    }
}

async fn submit<T, F>(queue: &mpsc::Sender<Job>, job: F) -> DaResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> DaResult<T> + Send + 'static,
{
    let (reply_tx, reply_rx) = oneshot::channel();
    let wrapped: Job = Box::new(move |connection: &mut Connection| {
        // The caller may have gone away (request cancelled); the work is done regardless.
        let _ = reply_tx.send(job(connection));
    });
    queue
        .send(wrapped)
        .map_err(|_| stopped("the database threads have stopped"))?;
    reply_rx
        .await
        .map_err(|_| stopped("a database job failed without an answer"))?
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
