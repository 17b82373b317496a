//! glance-registry (deprecated since Queens, removed from Glance in Victoria): serves Glance's
//! v2 registry RPC (`POST /rpc`, §10.2 of the reference) over a DIRECT backend, for API nodes
//! that run in `registry-proxy` mode.
//!
//! Unlike Glance's noauth registry, every command runs in the CALLER's context, forwarded by
//! the API in `X-Glance-Context`; a request without it is refused, never run as admin. The
//! shared secret `registry.token` is required (`Authorization: Bearer …`), compared in
//! constant time and never logged. Every response says the service is deprecated
//! (`Deprecation` per RFC 9745, `Link: …; rel="deprecation"`).

mod rpc;

pub use rpc::COMMANDS;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;

use crate::config::Settings;
use crate::data_access::metered::Metered;
use crate::data_access::registry_wire::{self, CONTEXT_HEADER};
use crate::data_access::{DataAccess, Mode};
use crate::error::{negotiate, ApiError};
use crate::metrics;

/// RFC 9745 structured-field date: Glance deprecated the registry in Queens (2018-03-07).
pub const DEPRECATION: &str = "@1520380800";
/// Where operators read how to leave the registry behind.
pub const UPGRADE_DOC: &str = "docs/upgrade.md";
/// The startup warning, also shown by glance-api in registry-proxy mode.
pub const DEPRECATION_WARNING: &str = "glance-registry is DEPRECATED (Glance deprecated it in \
    Queens and removed it in Victoria). Switch the API nodes to data_access.mode = \
    \"direct-postgres\" (or \"direct-sqlite\" for a single node), give them the database \
    settings, and stop glance-registry; see docs/upgrade.md.";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "glance-registry needs a direct backend: set data_access.mode = \"direct-sqlite\" or \
         \"direct-postgres\" (registry-proxy would make the registry call a registry)"
    )]
    NotDirect,
    #[error(
        "registry.token is empty: set a shared secret (e.g. GLANCE__REGISTRY__TOKEN) on the \
         registry and on every API node; glance-registry refuses to serve without one"
    )]
    NoToken,
    #[error(transparent)]
    Open(#[from] crate::data_access::OpenError),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
}

/// What the handlers share.
struct RegistryState {
    db: Arc<dyn DataAccess>,
    token_digest: [u8; 32],
    max_request_body: usize,
}

/// Check the settings the registry cannot run without (before opening anything).
pub fn check_settings(settings: &Settings) -> Result<(), StartError> {
    if settings.data_access.mode == Mode::RegistryProxy {
        return Err(StartError::NotDirect);
    }
    if settings.registry.token.is_empty() {
        return Err(StartError::NoToken);
    }
    Ok(())
}

/// Open the direct backend and serve `/rpc` and `/healthcheck` on `listener`.
pub async fn start(
    settings: &Settings,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    check_settings(settings)?;
    log::warn!("{DEPRECATION_WARNING}");
    if let Ok(addr) = listener.local_addr() {
        if !addr.ip().is_loopback() {
            log::warn!(
                "glance-registry is listening on {addr}, beyond loopback: anyone who can reach it \
                 and knows registry.token can act as any user. Bind it to 127.0.0.1 or a private \
                 network, behind a firewall."
            );
        }
    }
    // Metered like the API's backend, so the proxy tax can be read off both processes.
    let db = Metered::wrap(crate::data_access::open(settings).await?);
    let handle = metrics::install();
    metrics::record_build_info("glance-registry", settings.data_access.mode.as_str());
    let state = web::Data::new(RegistryState {
        db: db.clone(),
        token_digest: digest(&settings.registry.token),
        max_request_body: settings.server.max_request_body,
    });
    let db_for_metrics = web::Data::new(db);
    let db_for_scrape = db_for_metrics.clone();
    let on_main = settings.metrics.enabled.then(|| handle.clone());
    let mut server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(state.clone())
            .app_data(db_for_metrics.clone())
            // The route label comes from `RoutePattern` (no second router match per call).
            .service(
                web::resource("/rpc")
                    .app_data(metrics::RoutePattern("/rpc"))
                    .route(web::post().to(rpc_call)),
            )
            .service(
                web::resource("/healthcheck")
                    .app_data(metrics::RoutePattern("/healthcheck"))
                    .route(web::get().to(healthcheck)),
            );
        if let Some(handle) = &on_main {
            app = app.service(crate::api::metrics_resource(handle.clone()));
        }
        // record_request also sets `Server-Timing: db;dur=…`: the database time behind the
        // reply, from which the API tells the hop's own cost.
        app.default_service(web::to(not_found))
            .wrap(actix_web::middleware::from_fn(metrics::record_request))
            .wrap(actix_web::middleware::from_fn(deprecation_headers))
            // Rendered per request even when its level is filtered out: mounted only when its
            // info lines would be written (as on glance-api).
            .wrap(actix_web::middleware::Condition::new(
                log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info),
                actix_web::middleware::Logger::new(
                    "%a \"%r\" %s %b %{x-openstack-request-id}i %Dms",
                ),
            ))
    })
    // Longer than the API's idle pool timeout (30 s), so the API always closes first.
    .keep_alive(std::time::Duration::from_secs(75))
    .listen(listener)
    .map_err(StartError::Http)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    if !settings.metrics.bind.is_empty() {
        crate::server::spawn_metrics_listener(&settings.metrics.bind, db_for_scrape, handle)
            .map_err(StartError::Http)?;
    }
    Ok(server.run())
}

/// SHA-256 of the token, from `ring` (SHA-NI where the CPU has it: the registry digests the
/// presented token on every call, and `sha2`'s portable code cost 3.6k instructions per call).
fn digest(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref());
    out
}

/// Compare digests so the time taken says nothing about how much of the token matched.
fn token_matches(state: &RegistryState, presented: &str) -> bool {
    let presented = digest(presented);
    presented
        .iter()
        .zip(state.token_digest.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Every registry response says it is deprecated and where to read why.
async fn deprecation_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static(DEPRECATION),
    );
    headers.insert(
        header::LINK,
        HeaderValue::from_static("</docs/upgrade.md>; rel=\"deprecation\""),
    );
    Ok(res)
}

fn error(req: &HttpRequest, err: ApiError) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    err.render(negotiate(accept))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error(
        &req,
        ApiError::not_found("The resource could not be found."),
    )
}

/// oslo.middleware's healthcheck, answered by the backend behind the registry.
async fn healthcheck(state: web::Data<RegistryState>) -> HttpResponse {
    match state.db.health().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=UTF-8")
            .body("OK"),
        Err(err) => {
            log::warn!("healthcheck failed: {err}");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=UTF-8")
                .body(format!("DATABASE DOWN: {}", err.kind()))
        }
    }
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

async fn rpc_call(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<RegistryState>,
) -> HttpResponse {
    if !bearer_token(&req).is_some_and(|token| token_matches(&state, token)) {
        log::warn!("registry call refused: missing or wrong registry token");
        let err = ApiError::unauthorized().with_header(header::WWW_AUTHENTICATE, "Bearer");
        return error(&req, err);
    }
    let ctx = match req
        .headers()
        .get(CONTEXT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(registry_wire::decode_context)
    {
        Some(Ok(ctx)) => ctx,
        Some(Err(_)) | None => {
            return error(
                &req,
                ApiError::bad_request(
                    "Missing or invalid X-Glance-Context: registry calls run only in the \
                     caller's context",
                ),
            )
        }
    };
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return error(
                &req,
                ApiError::bad_request("Could not read the request body."),
            );
        };
        if body.len() + chunk.len() > state.max_request_body {
            return error(
                &req,
                ApiError::too_large("Request body too large for the registry."),
            );
        }
        body.extend_from_slice(&chunk);
    }
    let commands = match rpc::read_commands(&body) {
        Ok(commands) => commands,
        Err(rpc::Rejection::BadRequest(message)) => {
            return error(&req, ApiError::bad_request(message))
        }
        Err(rpc::Rejection::CommandNotFound) => {
            return error(&req, ApiError::not_found("Command not found"))
        }
    };
    let results = rpc::run_all(state.db.as_ref(), &ctx, commands).await;
    HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(results)
}

#[cfg(test)]
mod tests {
    use super::digest;

    #[test]
    fn token_digest_is_sha256() {
        let hex: String = digest("abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
