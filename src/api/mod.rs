//! The handler layer: Glance's Image API v2 routes. It knows only `dyn DataAccess`, the image
//! store and the settings; never SQL, never an HTTP client.

pub mod auth;
/// Glance's JSON writer, at the top level so `crate::error` can use it without depending on the API.
pub use crate::json;
pub mod in_flight;
pub mod middleware;

mod actions;
mod byte_ranges;
pub mod common;
mod image_data;
mod image_download;
mod image_view;
mod images;
mod import;
mod import_request;
mod list_params;
mod members;
mod patch;
mod schemas;
mod stores;
mod tags;
mod tasks;
mod versions;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, App, HttpRequest, HttpResponse};

use crate::config::Settings;
use crate::data_access::DataAccess;
use crate::error::ApiError;
use crate::store::Stores;

/// What every handler gets: the data access, the image stores, the settings (and the tokens).
pub struct AppState {
    pub db: Arc<dyn DataAccess>,
    pub stores: Arc<Stores>,
    pub settings: Arc<Settings>,
    /// The token table in static-tokens mode; `None` in the other auth modes.
    pub tokens: Option<Arc<crate::auth_tokens::StaticTokens>>,
    /// Keystone's client and token cache in keystone mode; `None` in the other auth modes.
    pub keystone: Option<Arc<crate::identity::Keystone>>,
    /// Runs interoperable imports and owns the staging area.
    pub importer: Arc<crate::import::Importer>,
}

pub type State = web::Data<AppState>;

/// The whole application: middleware, routes, and Glance's answers for unknown paths.
pub fn build_app(
    state: State,
    metrics: Option<crate::metrics::MetricsHandle>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.settings.server.max_request_body;
    let db = web::Data::new(state.db.clone());
    App::new()
        .app_data(state)
        .app_data(db)
        .app_data(
            web::JsonConfig::default()
                .limit(max_body)
                .error_handler(|err, _req| middleware::json_error(err).into()),
        )
        .app_data(web::PayloadConfig::default().limit(max_body))
        .configure(|cfg| routes(cfg, metrics))
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(
            crate::metrics::record_request,
        ))
        .wrap(actix_web::middleware::from_fn(middleware::glance_envelope))
        // The access log is rendered per request even when its level is filtered out, so it
        // is only mounted when info lines of its target would be written.
        .wrap(actix_web::middleware::Condition::new(
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info),
            actix_web::middleware::Logger::new("%a \"%r\" %s %b %{x-openstack-request-id}o %Dms"),
        ))
}

/// Where the versioned API is mounted.
const V2: &str = "/v2";

/// A resource whose other methods answer 405 with `Allow`, as Glance's catch-all reject does.
/// `pattern` is its full route pattern, kept as the `route` label of the HTTP metrics (so
/// the router's match is not run a second time to find it).
fn resource_in(scope: &str, pattern: &'static str, allow: &'static str) -> actix_web::Resource {
    let path = pattern.strip_prefix(scope).unwrap_or(pattern);
    web::resource(path)
        .app_data(crate::metrics::RoutePattern(pattern))
        .default_service(web::to(move |req: HttpRequest| async move {
            reject_method(&req, allow)
        }))
}

/// A resource at the top level.
fn resource(pattern: &'static str, allow: &'static str) -> actix_web::Resource {
    resource_in("", pattern, allow)
}

/// A resource in the `/v2` scope, given by its full pattern.
fn v2_resource(pattern: &'static str, allow: &'static str) -> actix_web::Resource {
    resource_in(V2, pattern, allow)
}

/// Glance's router: a known path with a method it does not route is 405, whatever the method.
fn reject_method(req: &HttpRequest, allow: &str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(req.method().as_str(), allow))
}

/// Methods webob knows; an unknown path gets 404 for these and 501 for any other.
const KNOWN_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if KNOWN_METHODS.contains(req.method()) {
        Err(ApiError::not_found("The resource could not be found."))
    } else {
        Err(ApiError::method_not_implemented(req.method().as_str()))
    }
}

/// `/metrics`, for the main listener or the separate `metrics.bind` one.
pub fn metrics_resource(handle: crate::metrics::MetricsHandle) -> actix_web::Resource {
    resource("/metrics", "GET")
        .app_data(web::Data::new(handle))
        .route(web::get().to(scrape))
}

/// `GET /metrics`: the Prometheus text format, with the pool and process gauges read at
/// scrape time.
async fn scrape(
    handle: web::Data<crate::metrics::MetricsHandle>,
    db: web::Data<std::sync::Arc<dyn crate::data_access::DataAccess>>,
) -> HttpResponse {
    if let Some(status) = db.pool_status() {
        crate::metrics::record_pool(&status);
    }
    crate::metrics::process::record();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}

fn routes(cfg: &mut web::ServiceConfig, metrics: Option<crate::metrics::MetricsHandle>) {
    // Glance's versions app answers `/versions` whatever the method.
    cfg.service(
        web::resource("/versions")
            .app_data(crate::metrics::RoutePattern("/versions"))
            .default_service(web::to(versions::list)),
    )
    .service(resource("/healthcheck", "GET, HEAD").route(web::get().to(versions::healthcheck)));
    if let Some(handle) = metrics {
        cfg.service(metrics_resource(handle));
    }
    cfg.service(
        web::scope(V2)
            .service(
                v2_resource("/v2/images", "GET, POST")
                    .route(web::get().to(images::index))
                    .route(web::post().to(images::create)),
            )
            .service(
                v2_resource("/v2/images/{image_id}", "GET, PATCH, DELETE")
                    .route(web::get().to(images::show))
                    .route(web::patch().to(images::update))
                    .route(web::delete().to(images::delete)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/file", "GET, PUT")
                    .route(web::get().to(image_download::download))
                    .route(web::put().to(image_data::upload)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/stage", "PUT")
                    .route(web::put().to(import::stage)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/import", "POST")
                    .route(web::post().to(import::import)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/tasks", "GET")
                    .route(web::get().to(tasks::for_image)),
            )
            .service(v2_resource("/v2/tasks", "GET").route(web::get().to(tasks::index)))
            .service(v2_resource("/v2/tasks/{task_id}", "GET").route(web::get().to(tasks::show)))
            .service(
                v2_resource("/v2/images/{image_id}/actions/deactivate", "POST")
                    .route(web::post().to(actions::deactivate)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/actions/reactivate", "POST")
                    .route(web::post().to(actions::reactivate)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/tags/{tag}", "PUT, DELETE")
                    .route(web::put().to(tags::add))
                    .route(web::delete().to(tags::remove)),
            )
            .service(
                v2_resource("/v2/images/{image_id}/members", "GET, POST")
                    .route(web::get().to(members::index))
                    .route(web::post().to(members::create)),
            )
            .service(
                v2_resource(
                    "/v2/images/{image_id}/members/{member_id}",
                    "GET, PUT, DELETE",
                )
                .route(web::get().to(members::show))
                .route(web::put().to(members::update))
                .route(web::delete().to(members::delete)),
            )
            .service(v2_resource("/v2/schemas/image", "GET").route(web::get().to(schemas::image)))
            .service(v2_resource("/v2/schemas/images", "GET").route(web::get().to(schemas::images)))
            .service(v2_resource("/v2/schemas/member", "GET").route(web::get().to(schemas::member)))
            .service(
                v2_resource("/v2/schemas/members", "GET").route(web::get().to(schemas::members)),
            )
            .service(
                v2_resource("/v2/info/import", "GET").route(web::get().to(versions::import_info)),
            )
            .service(v2_resource("/v2/info/stores", "GET").route(web::get().to(stores::info)))
            .service(
                v2_resource("/v2/info/stores/detail", "GET")
                    .route(web::get().to(stores::info_detail)),
            )
            .service(
                v2_resource("/v2/stores/{store_id}/{image_id}", "DELETE")
                    .route(web::delete().to(stores::delete_from_store)),
            ),
    );
}

#[cfg(test)]
mod layering {
    /// The handler layer knows only the `DataAccess` trait: no database driver and no HTTP
    /// client may appear in `src/api/`.
    #[test]
    fn handlers_know_no_sql_driver_or_http_client() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut checked = 0;
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("src/api is readable")
                .flatten()
            {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("readable source");
                // Spelled in pieces so that this test does not find itself.
                let forbidden_names = [
                    concat!("rus", "qlite"),
                    concat!("tokio_", "postgres"),
                    concat!("dead", "pool"),
                    concat!("req", "west"),
                    concat!("registry_", "client"),
                ];
                for forbidden in forbidden_names {
                    assert!(
                        !text.contains(forbidden),
                        "{} mentions {forbidden}",
                        path.display()
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} files checked");
    }
}
