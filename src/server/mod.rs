//! Starting glance-api: open the backend and the store, then serve on a bound listener.
//! Shared by `main.rs` and the tests (which bind `127.0.0.1:0`).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_http::{Extensions, HttpService, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App, HttpServer};

pub mod activation;
pub mod allocator;
pub mod connection;
pub mod logging;

use connection::AnsweredConnection;

use crate::api::{build_app, metrics_resource, AppState, State};
use crate::auth_tokens::{StaticTokens, TokenFileError};
use crate::config::{AuthMode, ServerSettings, Settings};
use crate::data_access::{self, DataAccess};
use crate::identity::Keystone;
use crate::metrics::{self, MetricsHandle};
use crate::store::{FileStore, Stores, STAGING_STORE_ID};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] data_access::OpenError),
    #[error("cannot prepare the image store: {0}")]
    Store(std::io::Error),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
    #[error("cannot bind {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    #[error("{0}")]
    Keystone(String),
}

/// Build the state and an `HttpServer` on `listener`; the caller awaits or spawns it.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    let settings = Arc::new(settings);
    let tokens = match settings.auth.mode {
        AuthMode::StaticTokens => {
            let tokens = Arc::new(StaticTokens::load(&settings.auth.tokens_file)?);
            log::info!(
                "static-tokens: {} tokens from {}",
                tokens.current().len(),
                tokens.path().display()
            );
            crate::auth_tokens::reload_on_sighup(tokens.clone());
            Some(tokens)
        }
        AuthMode::Noauth | AuthMode::TrustedAuth | AuthMode::Keystone => None,
    };
    let db = data_access::metered::Metered::wrap(data_access::open(&settings).await?);
    let handle = metrics::install();
    // After `install`: the client's metric handles are the real recorder's.
    let keystone = match settings.auth.mode {
        AuthMode::Keystone => {
            let keystone = Keystone::new(&settings.keystone_authtoken).map_err(|err| {
                StartError::Keystone(format!("cannot build the Keystone client: {err}"))
            })?;
            log::info!("keystone auth: tokens validated by {keystone:?}");
            Some(Arc::new(keystone))
        }
        _ => None,
    };
    metrics::record_build_info("glance-api", settings.data_access.mode.as_str());
    let stores = Arc::new(Stores::open(&settings).map_err(StartError::Store)?);
    let staging = Arc::new(
        FileStore::open(STAGING_STORE_ID, &settings.import.staging_path)
            .map_err(StartError::Store)?,
    );
    crate::recovery::spawn(
        db.clone(),
        stores.clone(),
        staging.clone(),
        settings.store.stale_upload_seconds,
    );
    let importer = Arc::new(crate::import::Importer::new(
        db.clone(),
        stores.clone(),
        staging,
        settings.clone(),
    ));
    let state = web::Data::new(AppState {
        db,
        stores,
        importer,
        settings: settings.clone(),
        tokens,
        keystone,
    });
    let on_main = settings.metrics.enabled.then(|| handle.clone());
    let db_for_metrics = web::Data::new(state.db.clone());
    let server = serve_api(listener, settings.server.workers, state, on_main)?;
    if !settings.metrics.bind.is_empty() {
        spawn_metrics_listener(&settings.metrics.bind, db_for_metrics, handle)
            .map_err(StartError::Http)?;
    }
    Ok(server)
}

/// The listener to serve on and a description of it for the log: the socket handed over at
/// start (`activation::take_inherited`), else a new one on `server.bind` with `server.backlog`.
/// Must run inside the Tokio runtime.
pub fn listener(
    inherited: Option<(TcpListener, SocketAddr)>,
    server: &ServerSettings,
) -> Result<(TcpListener, String), StartError> {
    if let Some((listener, addr)) = inherited {
        let about = format!("http://{addr} (socket handed over on fd 3; server.bind not used)");
        return Ok((listener, about));
    }
    let listener = listen(&server.bind, server.backlog).map_err(|source| StartError::Bind {
        bind: server.bind.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(StartError::Http)?;
    Ok((listener, format!("http://{addr}")))
}

/// The listening socket for `bind` (the first address it resolves to), with `backlog`
/// connections queued for accepting (`server.backlog`). `std::net::TcpListener::bind` queues
/// 128: ten thousand clients connecting at once overflowed it, and each dropped connection
/// waited a second or more for its retry. Must run inside the Tokio runtime.
pub fn listen(bind: &str, backlog: u32) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let addr = bind.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    })?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `std::net::TcpListener::bind` does on Unix: a restarted server rebinds at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)?.into_std()
}

/// `GET /metrics` on a listener of its own (`metrics.bind`), so metrics need not be public.
/// Shared by glance-api and glance-registry.
pub fn spawn_metrics_listener(
    bind: &str,
    db: web::Data<Arc<dyn DataAccess>>,
    handle: MetricsHandle,
) -> std::io::Result<()> {
    let metrics_server = HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .service(metrics_resource(handle.clone()))
    })
    .workers(1)
    .bind(bind)?
    .run();
    tokio::spawn(metrics_server);
    log::info!("metrics on http://{bind}/metrics");
    Ok(())
}

/// How long a new connection may take to send its first request's headers.
const FIRST_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What `HttpServer::listen` builds, with each connection wrapped in `AnsweredConnection`
/// (see there why) and its in-flight marker put in the connection's data.
fn serve_api(
    listener: TcpListener,
    workers: usize,
    state: State,
    metrics: Option<MetricsHandle>,
) -> Result<actix_web::dev::Server, StartError> {
    let addr = listener.local_addr().map_err(StartError::Http)?;
    let mut builder = actix_server::Server::build();
    if workers > 0 {
        builder = builder.workers(workers);
    }
    let server = builder
        .listen("glance-api", listener, move || {
            let app = build_app(state.clone(), metrics.clone())
                .into_factory()
                .map_err(|err| err.error_response());
            let http = HttpService::build()
                .local_addr(addr)
                // A connection's first request headers may take this long (actix's default is
                // 5 s, then 408): a burst of a thousand new clients on a busy host took longer
                // (Glance's own client_socket_timeout is 900 s). Still bounded against clients
                // that never finish their headers.
                .client_request_timeout(FIRST_REQUEST_TIMEOUT)
                .on_connect_ext(|io: &AnsweredConnection, data: &mut Extensions| {
                    data.insert(io.in_flight());
                })
                // The host actix-web's own server gives the app: the listener's address.
                .finish(map_config(app, move |_| {
                    AppConfig::__priv_test_new(false, addr.to_string(), addr)
                }));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok((AnsweredConnection::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })
        .map_err(StartError::Http)?
        .run();
    Ok(server)
}
