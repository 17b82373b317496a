//! The request a connection owes an answer to, shared between the request middleware (which
//! marks it) and `server::connection::AnsweredConnection` (which writes the 400 when actix-http
//! drops a request mid-body). Here, in the handler layer, so the server depends on the API and
//! not the other way round.

use std::cell::RefCell;

use tokio::sync::mpsc;

use crate::error::ErrorFormat;

/// The request the connection owes an answer to, shared between the connection and the
/// request middleware (through actix's per-connection data).
#[derive(Debug, Default)]
pub struct RequestInFlight(RefCell<Option<Owed>>);

#[derive(Debug)]
pub(crate) struct Owed {
    pub(crate) request_id: String,
    pub(crate) format: ErrorFormat,
    /// Made on the first `work_token` (uploads only), so plain requests allocate nothing.
    pub(crate) work: Option<Work>,
}

/// The receiver closes once every `WorkToken` of the request is dropped.
#[derive(Debug)]
pub(crate) struct Work {
    token: WorkToken,
    pub(crate) done: mpsc::Receiver<()>,
}

/// Held by work a request started that must finish before the connection answers for it
/// (an upload putting its image back to `queued`), even after actix dropped the handler.
#[derive(Clone, Debug)]
pub struct WorkToken {
    /// Never sent on: the receiver only waits for every sender to be gone.
    _open: mpsc::Sender<()>,
}

impl RequestInFlight {
    /// A request started; its error body would be rendered as `format`.
    pub fn begin(&self, request_id: &str, format: ErrorFormat) {
        *self.0.borrow_mut() = Some(Owed {
            request_id: request_id.to_string(),
            format,
            work: None,
        });
    }

    /// The request got its response (or it was never ours to answer).
    pub fn end(&self) {
        *self.0.borrow_mut() = None;
    }

    /// A token for work of the current request that its answer must wait for.
    pub fn work_token(&self) -> Option<WorkToken> {
        let mut owed = self.0.borrow_mut();
        let work = owed.as_mut()?.work.get_or_insert_with(|| {
            let (open, done) = mpsc::channel(1);
            Work {
                token: WorkToken { _open: open },
                done,
            }
        });
        Some(work.token.clone())
    }

    /// The answer still owed, taken by the connection that writes it.
    pub(crate) fn take(&self) -> Option<Owed> {
        self.0.borrow_mut().take()
    }
}
