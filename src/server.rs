//! Starting glance-api: open the backend and the store, then serve on a bound listener.
//! Shared by `main.rs` and the tests (which bind `127.0.0.1:0`).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};

use crate::api::{build_app, metrics_resource, AppState};
use crate::auth_tokens::{StaticTokens, TokenFileError};
use crate::config::{AuthMode, Settings};
use crate::data_access;
use crate::metrics;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] data_access::OpenError),
    #[error("cannot prepare the image store: {0}")]
    Store(std::io::Error),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
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
        AuthMode::Noauth | AuthMode::TrustedAuth => None,
    };
    let db = data_access::metered::Metered::wrap(data_access::open(&settings).await?);
    let handle = metrics::install();
    metrics::record_build_info("glance-api", settings.data_access.mode.as_str());
    let store = Arc::new(Store::open(&settings.store.path).map_err(StartError::Store)?);
    crate::recovery::spawn(
        db.clone(),
        store.clone(),
        settings.store.stale_upload_seconds,
    );
    let state = web::Data::new(AppState {
        db,
        store,
        settings: settings.clone(),
        tokens,
    });
    let on_main = settings.metrics.enabled.then(|| handle.clone());
    let db_for_metrics = web::Data::new(state.db.clone());
    let mut server = HttpServer::new(move || build_app(state.clone(), on_main.clone()))
        .listen(listener)
        .map_err(StartError::Http)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    if !settings.metrics.bind.is_empty() {
        // A separate listener keeps metrics off the public API port.
        let metrics_server = HttpServer::new(move || {
            App::new()
                .app_data(db_for_metrics.clone())
                .service(metrics_resource(handle.clone()))
        })
        .workers(1)
        .bind(&settings.metrics.bind)
        .map_err(StartError::Http)?
        .run();
        tokio::spawn(metrics_server);
        log::info!("metrics on http://{}/metrics", settings.metrics.bind);
    }
    Ok(server.run())
}
