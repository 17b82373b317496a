//! Starting glance-api: open the backend and the store, then serve on a bound listener.
//! Shared by `main.rs` and the tests (which bind `127.0.0.1:0`).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, HttpServer};

use crate::api::{build_app, AppState};
use crate::config::Settings;
use crate::data_access;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] data_access::OpenError),
    #[error("cannot prepare the image store: {0}")]
    Store(std::io::Error),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
}

/// Build the state and an `HttpServer` on `listener`; the caller awaits or spawns it.
pub async fn start(
    settings: Settings,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    let settings = Arc::new(settings);
    let db = data_access::open(&settings).await?;
    let store = Arc::new(Store::open(&settings.store.path).map_err(StartError::Store)?);
    let state = web::Data::new(AppState {
        db,
        store,
        settings: settings.clone(),
    });
    let metrics = None;
    let mut server = HttpServer::new(move || build_app(state.clone(), metrics.clone()))
        .listen(listener)
        .map_err(StartError::Http)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}
