//! The caller's identity, per `auth.mode`: Glance's noauth context, the headers
//! keystonemiddleware sets (`trusted-auth`), `X-Auth-Token` looked up in the static tokens
//! table (`static-tokens`), or validated by Keystone (`keystone`, through `identity`: a
//! cached token is answered without awaiting anything). Tokens are never logged.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use crate::api::middleware::RequestId;
use crate::api::State;
use crate::auth_tokens::TokenTable;
use crate::config::AuthMode;
use crate::domain::{RequestContext, TokenScope};
use crate::error::ApiError;
use crate::identity::{self, AuthError, Identity, Keystone};

/// Extractor: the request's context. In trusted-auth mode a request without
/// `X-Identity-Status: Confirmed` is refused with 401; in static-tokens and keystone modes,
/// one whose `X-Auth-Token` is missing or unknown.
pub struct Caller(pub RequestContext);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future =
        Either<Ready<Result<Self, ApiError>>, LocalBoxFuture<'static, Result<Self, ApiError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let keystone = req
            .app_data::<State>()
            .and_then(|state| state.keystone.clone());
        match keystone {
            Some(keystone) => keystone_caller(req, keystone),
            None => Either::Left(ready(context_for(req).map(Caller))),
        }
    }
}

/// keystone mode: a cached token answers at once; otherwise Keystone is asked.
fn keystone_caller(req: &HttpRequest, keystone: Arc<Keystone>) -> <Caller as FromRequest>::Future {
    let request_id = request_id(req);
    let Some(token) = header(req, "x-auth-token") else {
        return Either::Left(ready(Err(ApiError::keystone_unauthorized(
            keystone.www_authenticate_uri(),
        ))));
    };
    let service_token = header(req, "x-service-token");
    if service_token.is_none() {
        if let Some(validated) = keystone.cached(token) {
            return Either::Left(ready(keystone_context(&keystone, validated, request_id)));
        }
    }
    let token = token.to_string();
    let service_token = service_token.map(str::to_string);
    Either::Right(Box::pin(async move {
        let validated = keystone
            .authenticate(&token, service_token.as_deref())
            .await;
        keystone_context(&keystone, validated, request_id)
    }))
}

fn keystone_context(
    keystone: &Keystone,
    validated: Result<Arc<Identity>, AuthError>,
    request_id: String,
) -> Result<Caller, ApiError> {
    match validated {
        Ok(identity) => identity::context_for(&identity, request_id)
            .map(Caller)
            .ok_or_else(|| ApiError::forbidden("You are not authorized to access images.")),
        Err(AuthError::Invalid) => Err(ApiError::keystone_unauthorized(
            keystone.www_authenticate_uri(),
        )),
        Err(AuthError::Unavailable) => Err(ApiError::service_unavailable(
            "The identity service could not validate the token; try again later.",
        )),
    }
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default()
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// static-tokens mode: the identity of `token` in `table`. A missing or unknown token (or
/// no table at all) is Glance's 401.
fn token_context(
    table: Option<&TokenTable>,
    token: Option<&str>,
    request_id: String,
) -> Result<RequestContext, ApiError> {
    match table
        .zip(token)
        .and_then(|(table, token)| table.lookup(token))
    {
        Some(identity) => Ok(identity.context(request_id)),
        None => {
            log::debug!("request {request_id}: missing or unknown X-Auth-Token");
            Err(ApiError::unauthorized())
        }
    }
}

pub fn context_for(req: &HttpRequest) -> Result<RequestContext, ApiError> {
    let request_id = request_id(req);
    let state = req.app_data::<State>();
    let mode = state.map_or(AuthMode::Noauth, |state| state.settings.auth.mode);
    match mode {
        AuthMode::Noauth => Ok(RequestContext::noauth(request_id)),
        // Served by `keystone_caller`; reached only without a client (never started so).
        AuthMode::Keystone => Err(ApiError::service_unavailable(
            "The identity service is not configured.",
        )),
        AuthMode::StaticTokens => {
            let table = state
                .and_then(|state| state.tokens.as_ref())
                .map(|tokens| tokens.current());
            token_context(table.as_deref(), header(req, "x-auth-token"), request_id)
        }
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
                // keystonemiddleware's headers for the rest of the token.
                token: TokenScope {
                    user_domain_name: header(req, "x-user-domain-name").map(str::to_string),
                    project_domain_name: header(req, "x-project-domain-name").map(str::to_string),
                    domain_id: header(req, "x-domain-id").map(str::to_string),
                    system_scope: header(req, "openstack-system-scope")
                        .is_some_and(|s| s.eq_ignore_ascii_case("all")),
                    expires_at: None,
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::*;

    fn table() -> TokenTable {
        TokenTable::parse(
            "[[token]]\ntoken = \"u1:p1\"\nuser = \"u1\"\nproject = \"p1\"\nroles = [\"member\"]\n\
             [[token]]\ntoken = \"boss\"\nuser = \"root\"\nproject = \"ops\"\nroles = [\"admin\"]\n",
        )
        .expect("valid table")
    }

    #[test]
    fn a_known_token_gives_its_identity() {
        let table = table();
        let context = token_context(Some(&table), Some("u1%3Ap1"), "req-9".into())
            .expect("percent-encoded token is known");
        assert_eq!(context.project_id.as_deref(), Some("p1"));
        assert_eq!(context.user_id.as_deref(), Some("u1"));
        assert_eq!(context.roles, ["member"]);
        assert!(!context.is_admin && !context.read_only);
        assert_eq!(context.request_id, "req-9");
        let admin = token_context(Some(&table), Some("boss"), String::new()).expect("admin");
        assert!(admin.is_admin);
    }

    #[test]
    fn missing_or_unknown_tokens_are_401() {
        let table = table();
        for (table, token) in [
            (Some(&table), None),
            (Some(&table), Some("u1:p2")),
            (Some(&table), Some("U1:P1")),
            (None, Some("u1:p1")),
        ] {
            let err = token_context(table, token, String::new()).expect_err("refused");
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        }
    }
}
