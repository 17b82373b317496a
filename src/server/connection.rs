//! The API's TCP connections, wrapped so that no request goes unanswered.
//!
//! actix-http 3.20 answers 400 to most malformed requests, but a malformed *chunked* body
//! (bad chunk-size line, chunk longer than its size, size overflow, bare LF) reaches its
//! dispatcher as an I/O error: it drops the handler and closes the connection without a
//! word. `AnsweredConnection` notices that case — the connection is dropped while the
//! request middleware still has a request in flight — and writes the 400 itself, in
//! Glance's error shape, before closing.

use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;

use crate::api::in_flight::{Owed, RequestInFlight};
use crate::error::ApiError;

/// A TCP connection that answers its in-flight request with a 400 if actix-http drops it.
pub struct AnsweredConnection {
    io: Option<TcpStream>,
    in_flight: Rc<RequestInFlight>,
}

impl AnsweredConnection {
    pub fn new(io: TcpStream) -> Self {
        Self {
            io: Some(io),
            in_flight: Rc::default(),
        }
    }

    /// What the request middleware marks; stored in the connection's data at connect.
    pub fn in_flight(&self) -> Rc<RequestInFlight> {
        self.in_flight.clone()
    }

    fn io(&mut self) -> io::Result<&mut TcpStream> {
        self.io
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for AnsweredConnection {
    fn drop(&mut self) {
        let (Some(owed), Some(io)) = (self.in_flight.take(), self.io.take()) else {
            return;
        };
        // The dispatcher gave up on a request its handler never answered. If the client is
        // gone the write fails harmlessly; otherwise it gets the 400 it is owed.
        log::info!(
            "{}: the HTTP layer dropped the connection mid-request (malformed body framing, \
             or the client is gone); answering 400 and closing",
            owed.request_id
        );
        let response = malformed_body_response(&owed);
        let work_done = owed.work.map(|work| work.done);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(answer_and_close(io, response, work_done));
            }
            Err(_) => {
                let _ = io.try_write(&response);
            }
        }
    }
}

/// Write the answer, then close gracefully: half-close and discard what the client still
/// sends, so that closing with unread bytes does not reset the connection (which would make
/// the client lose the answer).
async fn answer_and_close(
    mut io: TcpStream,
    response: Vec<u8>,
    work_done: Option<mpsc::Receiver<()>>,
) {
    // Let the dropped upload put its image back to `queued` first, so a client that reads
    // the 400 and looks at the image sees the state it is owed.
    if let Some(mut work_done) = work_done {
        let _ = tokio::time::timeout(Duration::from_secs(5), work_done.recv()).await;
    }
    let linger = async {
        io.write_all(&response).await?;
        io.shutdown().await?;
        let mut sink = [0_u8; 8192];
        while io.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), linger).await;
}

fn malformed_body_response(owed: &Owed) -> Vec<u8> {
    let error = ApiError::bad_request(
        "The request body could not be read: its chunked transfer encoding is malformed.",
    );
    let (content_type, body) = error.body(owed.format);
    let mut response = format!(
        "HTTP/1.1 {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         x-openstack-request-id: {}\r\nconnection: close\r\n\r\n",
        error.status_line(),
        body.len(),
        owed.request_id,
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

impl AsyncRead for AnsweredConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().io()?).poll_read(cx, buf)
    }
}

impl AsyncWrite for AnsweredConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().io()?).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().io()?).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().io()?).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().io()?).poll_shutdown(cx)
    }
}
