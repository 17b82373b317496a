//! The registry client's HTTP/1.1 transport: `POST` over keep-alive connections kept per
//! thread (see `PerThread`), each driven by the runtime of the thread that uses it. Written on
//! hyper's connection API rather than a general client: the registry is one known host, and a
//! general client's per-request work (URL parsing twice, redirect and retry layers) was a
//! fifth of glance-api's instructions per call in this mode.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::per_thread::PerThread;

/// Idle connections older than this are dropped, well before glance-registry's keep-alive
/// (75 s) closes them, so a call never goes out on a connection the server is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call got no answer: the registry is away or too slow (the API answers 503).
#[derive(Debug, thiserror::Error)]
pub enum HopError {
    #[error("cannot be connected to: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("failed: {0}")]
    Failed(String),
}

/// Where and how to reach the registry, checked once.
pub struct Endpoint {
    /// Where to connect (an IPv6 host without its brackets).
    host: String,
    port: u16,
    host_header: HeaderValue,
    /// The RPC path (`<base path>/rpc`).
    rpc_path: Uri,
}

impl Endpoint {
    /// An `http://host[:port][/path]` base URL; the RPC goes to `<path>/rpc`.
    pub fn parse(base: &str) -> Result<Self, String> {
        let uri: Uri = base.parse().map_err(|e| format!("{e}"))?;
        // Built without TLS: the registry belongs on loopback or a private network.
        if uri.scheme_str() != Some("http") {
            return Err("expected an http:// URL".into());
        }
        let authority = uri.authority().ok_or("no host")?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        let rpc_path = format!("{}/rpc", uri.path().trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("{e}"))?;
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            host_header: HeaderValue::from_str(authority.as_str()).map_err(|e| format!("{e}"))?,
            rpc_path,
        })
    }
}

/// A connection waiting for its next call.
struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// One thread's idle connections.
type IdleStack = Arc<Mutex<Vec<Idle>>>;

pub struct Transport {
    endpoint: Endpoint,
    idle_by_thread: PerThread<IdleStack>,
    max_idle_per_thread: usize,
}

/// What the registry answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Transport {
    pub fn new(endpoint: Endpoint, max_idle_per_thread: usize) -> Self {
        Self {
            endpoint,
            idle_by_thread: PerThread::new(),
            max_idle_per_thread: max_idle_per_thread.max(1),
        }
    }

    /// `POST` `body` to the RPC path with `headers`, within `timeout` (connecting included).
    pub async fn post(
        &self,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Answer, HopError> {
        match tokio::time::timeout(timeout, self.post_once_or_twice(headers, Bytes::from(body)))
            .await
        {
            Ok(answer) => answer,
            Err(_) => Err(HopError::Timeout),
        }
    }

    async fn post_once_or_twice(
        &self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, HopError> {
        let idle = self
            .idle_by_thread
            .get_or_try_make(|| Ok::<_, HopError>(IdleStack::default()))?;
        // A kept connection the registry closed meanwhile fails before the request is
        // written: the call then goes out once more, on a new connection.
        if let Some(mut sender) = take_idle(&idle) {
            if sender.ready().await.is_ok() {
                match sender
                    .try_send_request(self.request(headers, body.clone())?)
                    .await
                {
                    Ok(response) => return self.finish(response, sender, &idle).await,
                    Err(mut err) => {
                        // Written, at least in part: it must not be sent twice.
                        if err.take_message().is_none() {
                            return Err(HopError::Failed(err.into_error().to_string()));
                        }
                    }
                }
            }
        }
        let mut sender = self.connect().await?;
        sender
            .ready()
            .await
            .map_err(|e| HopError::Failed(e.to_string()))?;
        let response = sender
            .send_request(self.request(headers, body)?)
            .await
            .map_err(|e| HopError::Failed(e.to_string()))?;
        self.finish(response, sender, &idle).await
    }

    fn request(
        &self,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, HopError> {
        let mut request = Request::post(self.endpoint.rpc_path.clone())
            .header(HOST, self.endpoint.host_header.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| HopError::Failed(e.to_string()))?;
        for (name, value) in headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// Read the whole answer, then keep the connection for the next call.
    async fn finish(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        sender: SendRequest<Full<Bytes>>,
        idle: &IdleStack,
    ) -> Result<Answer, HopError> {
        let (head, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| HopError::Failed(e.to_string()))?
            .to_bytes();
        if !sender.is_closed() {
            let mut stack = idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if stack.len() < self.max_idle_per_thread {
                stack.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
        }
        Ok(Answer {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, HopError> {
        let stream = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
            .await
            .map_err(|e| HopError::Connect(e.to_string()))?;
        // Small requests and answers: do not wait for Nagle.
        stream
            .set_nodelay(true)
            .map_err(|e| HopError::Connect(e.to_string()))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| HopError::Connect(e.to_string()))?;
        // Driven on this thread's runtime; it ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                log::debug!("registry connection closed: {err}");
            }
        });
        Ok(sender)
    }
}

/// The most recently used idle connection that is still fresh and open.
fn take_idle(idle: &IdleStack) -> Option<SendRequest<Full<Bytes>>> {
    let mut stack = idle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while let Some(candidate) = stack.pop() {
        if candidate.since.elapsed() < IDLE_TIMEOUT && !candidate.sender.is_closed() {
            return Some(candidate.sender);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers one request per connection and then closes it, as a registry
    /// that restarts (or drops idle connections) does: every call must still get its answer.
    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = vec![0u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                // Dropped: the connection closes after its first answer.
            }
        });
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).expect("valid");
        let transport = Transport::new(endpoint, 4);
        for pause in [0, 50, 0, 0, 50] {
            let answer = transport
                .post(&[], b"[]".to_vec(), Duration::from_secs(5))
                .await
                .expect("answered");
            assert_eq!(
                (answer.status, &answer.body[..]),
                (StatusCode::OK, &b"ok"[..])
            );
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    #[test]
    fn endpoints() {
        let plain = Endpoint::parse("http://127.0.0.1:9191").expect("valid");
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 9191));
        assert_eq!(plain.rpc_path, "/rpc");
        let prefixed = Endpoint::parse("http://registry.internal/glance/").expect("valid");
        assert_eq!(
            (prefixed.host.as_str(), prefixed.port),
            ("registry.internal", 80)
        );
        assert_eq!(prefixed.host_header, "registry.internal");
        assert_eq!(prefixed.rpc_path, "/glance/rpc");
        let v6 = Endpoint::parse("http://[::1]:9191").expect("valid");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9191));
        for bad in ["https://r:9191", "r:9191", "http://", "nonsense"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
