//! The caller's identity, per `auth.mode`: Glance's noauth context, or the headers
//! keystonemiddleware sets (`trusted-auth`). Tokens are never logged.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::api::middleware::RequestId;
use crate::api::State;
use crate::config::AuthMode;
use crate::domain::RequestContext;
use crate::error::ApiError;

/// Extractor: the request's context. In trusted-auth mode a request without
/// `X-Identity-Status: Confirmed` is refused with 401.
pub struct Caller(pub RequestContext);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context_for(req).map(Caller))
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

pub fn context_for(req: &HttpRequest) -> Result<RequestContext, ApiError> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let mode = req
        .app_data::<State>()
        .map_or(AuthMode::Noauth, |state| state.settings.auth.mode);
    match mode {
        AuthMode::Noauth => Ok(RequestContext::noauth(request_id)),
        AuthMode::TrustedAuth => {
            if header(req, "x-identity-status") != Some("Confirmed") {
                return Err(ApiError::unauthorized());
            }
            let roles: Vec<String> = header(req, "x-roles")
                .map(|roles| {
                    roles
                        .split(',')
                        .map(|r| r.trim().to_lowercase())
                        .filter(|r| !r.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let project_id = header(req, "x-project-id")
                .or_else(|| header(req, "x-tenant-id"))
                .or_else(|| header(req, "x-tenant"))
                .map(str::to_string);
            let user_id = header(req, "x-user-id")
                .or_else(|| header(req, "x-user"))
                .map(str::to_string);
            Ok(RequestContext {
                is_admin: roles.iter().any(|r| r == "admin"),
                user_id,
                project_id,
                roles,
                read_only: false,
                request_id,
            })
        }
    }
}
