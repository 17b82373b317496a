//! A raw HTTP/1.1 exchange over `tokio::net::TcpStream`, for requests no HTTP client would
//! send (invalid UTF-8 in URLs, lying `Content-Length`, broken chunking, cut-off bodies).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every exchange is bounded: a server that has not answered by then has timed out.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the client does once its request bytes are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Wait for the answer with the connection open.
    Wait,
    /// Shut down the sending side (the body ends early), then wait for the answer.
    HalfClose,
    /// Close the whole connection at once: nobody is left to answer.
    Abort,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A status line came back; the body for messages.
    Answered(u16, String),
    /// The connection closed (or reset) with no status line.
    Dropped,
    Timeout,
    /// The client closed the connection itself (`Finish::Abort`).
    HungUp,
}

/// One request, case by case. The answer it must get is real Glance 33's, recorded per label
/// in tests/fixtures/real-glance-33/hostile-answers.tsv, unless `ours` says otherwise.
#[derive(Clone, Debug)]
pub struct Case {
    /// Unique among all cases: the recorded answers are keyed by it.
    pub label: String,
    pub request: Vec<u8>,
    pub finish: Finish,
    /// Where we deliberately answer otherwise than real Glance 33 (a 5xx, a dropped connection
    /// or a hang there, or a stricter check): our status, and why (docs/compatibility.md).
    pub ours: Option<(u16, &'static str)>,
}

impl Case {
    pub fn new(label: impl Into<String>, request: Vec<u8>) -> Self {
        Self {
            label: label.into(),
            request,
            finish: Finish::Wait,
            ours: None,
        }
    }

    /// We answer `status` on purpose where Glance 33 answers otherwise, for `why`.
    pub fn ours(mut self, status: u16, why: &'static str) -> Self {
        self.ours = Some((status, why));
        self
    }

    /// The same where `when` holds (a table row's condition).
    pub fn ours_if(self, when: bool, status: u16, why: &'static str) -> Self {
        if when {
            self.ours(status, why)
        } else {
            self
        }
    }

    pub fn finishing(mut self, finish: Finish) -> Self {
        self.finish = finish;
        self
    }
}

/// Request head and body bytes. `Host`, `Connection: close`, `Accept: application/json` and,
/// unless `headers` sets framing itself, `Content-Length` are added.
pub fn request(method: &str, target: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(target.len() + body.len() + 256);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    out.extend_from_slice(b"Accept: application/json\r\n");
    let framed = headers.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
    });
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !framed && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Send `case` to `addr` and classify what came back.
pub async fn exchange(addr: &str, case: &Case) -> Outcome {
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange_unbounded(addr, case)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Timeout,
    }
}

async fn exchange_unbounded(addr: &str, case: &Case) -> Outcome {
    let Ok(stream) = TcpStream::connect(addr).await else {
        return Outcome::Dropped;
    };
    let (mut reader, mut writer) = stream.into_split();
    let request = case.request.clone();
    let finish = case.finish;
    // Write and read at once, so an early answer (413, 400) is read before a reset.
    let sending = tokio::spawn(async move {
        for chunk in request.chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                break;
            }
        }
        if finish == Finish::HalfClose {
            let _ = writer.shutdown().await;
        }
        writer
    });
    if finish == Finish::Abort {
        // Dropping the write half after sending closes our side; then close reading too.
        let _ = sending.await;
        drop(reader);
        return Outcome::HungUp;
    }
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    sending.abort();
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> Outcome {
    let mut text = String::from_utf8_lossy(answer).into_owned();
    // Skip interim answers (`100 Continue`).
    while text.starts_with("HTTP/1.1 1") {
        match text.split_once("\r\n\r\n") {
            Some((_, rest)) => text = rest.to_string(),
            None => break,
        }
    }
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(code) => {
            let body = text
                .split_once("\r\n\r\n")
                .map(|(_, body)| body.to_string())
                .unwrap_or_default();
            Outcome::Answered(code, body)
        }
        None => Outcome::Dropped,
    }
}
