//! The registry hop at its floor: a bare actix-web endpoint that answers `GET /v2/images/{id}`
//! by forwarding the request to an upstream (the bare baseline, examples/baseline.rs) over
//! keep-alive HTTP/1.1 and returning the upstream's status and body, and nothing else (no auth,
//! no policy, no metrics, no JSON re-encoding). The load test drives this pair beside the
//! registry-proxy node: the pair against the bare baseline is what one HTTP hop costs at least.
//!
//! Its client is built as the registry client's transport (src/data_access/registry_http.rs),
//! so the comparison measures the hop and not a different client: hyper 1's
//! `client::conn::http1` connections with TCP_NODELAY, kept per actix worker thread and driven
//! by that thread's runtime, the most recently used idle one reused first and a new one opened
//! when none is idle. No timeout and no cap on idle connections: they would only add work.
//! An upstream that cannot be reached answers 503, one that fails a request 502.
//!
//! `cargo run --release --example forward_baseline --features registry-proxy -- BIND UPSTREAM_HOST:PORT`

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Sender = SendRequest<Empty<Bytes>>;

thread_local! {
    /// This worker thread's idle connections to the upstream.
    static IDLE: RefCell<Vec<Sender>> = const { RefCell::new(Vec::new()) };
}

struct Upstream {
    addr: SocketAddr,
    host_header: HeaderValue,
}

/// Why the upstream gave no answer.
enum Failure {
    /// Not reachable: 503.
    Connect,
    /// Reached, but the request failed: 502.
    Request,
}

impl Upstream {
    async fn connect(&self) -> Result<Sender, Failure> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|_| Failure::Connect)?;
        stream.set_nodelay(true).map_err(|_| Failure::Connect)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Failure::Connect)?;
        // Driven on this thread's runtime; it ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    fn request(&self, path: &str) -> Result<Request<Empty<Bytes>>, Failure> {
        Request::get(path)
            .header(HOST, self.host_header.clone())
            .body(Empty::new())
            .map_err(|_| Failure::Request)
    }

    /// The upstream's status and body. A kept connection the upstream closed meanwhile fails
    /// before the request is written: the request then goes out on a new connection.
    async fn forward(&self, path: &str) -> Result<(u16, Bytes), Failure> {
        if let Some(mut sender) = IDLE.with(|idle| idle.borrow_mut().pop()) {
            if sender.ready().await.is_ok() {
                match sender.try_send_request(self.request(path)?).await {
                    Ok(response) => return finish(response, sender).await,
                    Err(mut err) => {
                        // Written, at least in part: it must not be sent twice.
                        if err.take_message().is_none() {
                            return Err(Failure::Request);
                        }
                    }
                }
            }
        }
        let mut sender = self.connect().await?;
        sender.ready().await.map_err(|_| Failure::Request)?;
        let response = sender
            .send_request(self.request(path)?)
            .await
            .map_err(|_| Failure::Request)?;
        finish(response, sender).await
    }
}

/// Read the whole answer, then keep the connection for the next request.
async fn finish(
    response: hyper::Response<hyper::body::Incoming>,
    sender: Sender,
) -> Result<(u16, Bytes), Failure> {
    let (head, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|_| Failure::Request)?
        .to_bytes();
    if !sender.is_closed() {
        IDLE.with(|idle| idle.borrow_mut().push(sender));
    }
    Ok((head.status.as_u16(), body))
}

async fn get_image(upstream: web::Data<Upstream>, request: HttpRequest) -> HttpResponse {
    match upstream.forward(request.path()).await {
        Ok((status, body)) => match StatusCode::from_u16(status) {
            Ok(status) => HttpResponse::build(status)
                .content_type("application/json")
                .body(body),
            Err(_) => HttpResponse::BadGateway().finish(),
        },
        Err(Failure::Connect) => HttpResponse::ServiceUnavailable().finish(),
        Err(Failure::Request) => HttpResponse::BadGateway().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:9298".to_string());
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:9299".to_string());
    let addr = upstream
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{upstream}: no address")))?;
    let host_header = HeaderValue::from_str(&upstream)
        .map_err(|e| std::io::Error::other(format!("bad upstream {upstream}: {e}")))?;
    let upstream = web::Data::new(Upstream { addr, host_header });
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    HttpServer::new(move || {
        App::new()
            .app_data(upstream.clone())
            .route("/v2/images/{id}", web::get().to(get_image))
    })
    .workers(workers)
    .bind(bind)?
    .run()
    .await
}
