//! `auth.mode = "keystone"`: callers' `X-Auth-Token`s validated by Keystone as
//! keystonemiddleware's `auth_token` does it. glance-api authenticates as its service user
//! (password, `[keystone_authtoken]`), renews that token before it expires and after a 401,
//! and asks `GET /v3/auth/tokens?nocatalog` with `X-Subject-Token`. Answers go through
//! `TokenCache`, so a warm request costs a hash lookup. Tokens and passwords are never logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use metrics::{Counter, Histogram};
use serde::Deserialize;

use super::token_cache::{Served, TokenCache, Verdict};
use crate::config::KeystoneAuthtokenSettings;

/// Tokens longer than this are refused without asking Keystone (Fernet tokens are about
/// 200 bytes, JWS tokens under 1 KiB).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Distinct tokens kept in memory.
pub const CACHE_CAPACITY: usize = 20_000;
/// Refusals are remembered this long at most (a revoked token never comes back).
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// Who a validated token stands for, as Keystone answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub user_name: String,
    pub user_domain: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub project_domain: Option<String>,
    /// A domain-scoped token's domain.
    pub domain_id: Option<String>,
    /// A system-scoped token (`"system": {"all": true}`).
    pub system_scope: bool,
    /// Lower-cased, implied roles included (Keystone expands them).
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// Why a request has no identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Missing, malformed, unknown, expired or revoked: 401.
    Invalid,
    /// Keystone did not answer in time: 503.
    Unavailable,
}

pub type Validated = Result<Arc<Identity>, AuthError>;

struct ServiceToken {
    value: String,
    renew_at: Instant,
}

struct Meters {
    hits: Counter,
    negative_hits: Counter,
    misses: Counter,
    malformed: Counter,
}

pub struct Keystone {
    http: reqwest::Client,
    /// `http://host:port[/prefix]`, without `/v3`.
    base: String,
    www_authenticate_uri: String,
    settings: KeystoneAuthtokenSettings,
    cache_time: Duration,
    timeout: Duration,
    service: tokio::sync::Mutex<Option<ServiceToken>>,
    cache: TokenCache<Arc<Identity>>,
    meters: Meters,
}

impl std::fmt::Debug for Keystone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystone")
            .field("base", &self.base)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Keystone {
    pub fn new(settings: &KeystoneAuthtokenSettings) -> Result<Self, reqwest::Error> {
        let timeout = Duration::from_secs_f64(settings.timeout);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        let trimmed = settings.auth_url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/v3").unwrap_or(trimmed).to_string();
        let www_authenticate_uri = if settings.www_authenticate_uri.trim().is_empty() {
            base.clone()
        } else {
            settings.www_authenticate_uri.trim().to_string()
        };
        let lookups = |result: &'static str| metrics::counter!(crate::metrics::TOKEN_CACHE_LOOKUPS_TOTAL, "result" => result);
        Ok(Self {
            http,
            base,
            www_authenticate_uri,
            settings: settings.clone(),
            cache_time: Duration::from_secs(settings.token_cache_time),
            timeout,
            service: tokio::sync::Mutex::new(None),
            cache: TokenCache::new(CACHE_CAPACITY),
            meters: Meters {
                hits: lookups("hit"),
                negative_hits: lookups("negative_hit"),
                misses: lookups("miss"),
                malformed: lookups("malformed"),
            },
        })
    }

    /// For `WWW-Authenticate: Keystone uri="…"` on a 401.
    pub fn www_authenticate_uri(&self) -> &str {
        &self.www_authenticate_uri
    }

    /// The hot path: the verdict on `token` if it is cached (or refused on sight).
    pub fn cached(&self, token: &str) -> Option<Validated> {
        if !well_formed(token) {
            self.meters.malformed.increment(1);
            return Some(Err(AuthError::Invalid));
        }
        let (verdict, served) = self.cache.cached(token, Instant::now())?;
        Some(self.served(verdict, served))
    }

    /// Validate `token` (and `service_token`, keystonemiddleware's `X-Service-Token`: a valid
    /// one with a service role lets an expired user token through, for long operations).
    pub async fn authenticate(&self, token: &str, service_token: Option<&str>) -> Validated {
        let allow_expired = match service_token {
            None => false,
            Some(service_token) => {
                let service = self.validate(service_token, false).await?;
                let vouches = self
                    .settings
                    .service_token_roles
                    .iter()
                    .any(|role| service.roles.contains(&role.to_lowercase()));
                if !vouches {
                    if self.settings.service_token_roles_required {
                        log::info!("X-Service-Token lacks the service_token_roles: refused");
                        return Err(AuthError::Invalid);
                    }
                    log::warn!(
                        "X-Service-Token lacks the service_token_roles; accepted because \
                         service_token_roles_required = false"
                    );
                }
                true
            }
        };
        self.validate(token, allow_expired).await
    }

    async fn validate(&self, token: &str, allow_expired: bool) -> Validated {
        if let Some(found) = self.cached(token).filter(|_| !allow_expired) {
            return found;
        }
        if !well_formed(token) {
            return Err(AuthError::Invalid);
        }
        let decoded = decoded(token);
        // Expired-but-vouched-for lookups are a different question: another key space.
        let key;
        let key = if allow_expired {
            key = format!("\u{1}{token}");
            key.as_str()
        } else {
            token
        };
        let asked = Instant::now();
        let (verdict, served) = self
            .cache
            .get_or_validate(key, || async {
                let started = Instant::now();
                let answer =
                    tokio::time::timeout(self.timeout, self.ask_keystone(&decoded, allow_expired))
                        .await
                        .unwrap_or(Answer::Unavailable("timed out"));
                let (verdict, until, outcome) = match answer {
                    Answer::Valid(identity) => {
                        let until = started + self.lifetime(&identity, allow_expired);
                        (Verdict::Valid(Arc::new(identity)), Some(until), "valid")
                    }
                    Answer::Invalid => (
                        Verdict::Invalid,
                        Some(started + NEGATIVE_TTL.min(self.cache_time)),
                        "invalid",
                    ),
                    Answer::Unavailable(why) => {
                        log::warn!("Keystone could not validate a token: {why}");
                        (Verdict::Unavailable, None, "unavailable")
                    }
                };
                validation_histogram(outcome).record(started.elapsed());
                metrics::counter!(
                    crate::metrics::KEYSTONE_VALIDATIONS_TOTAL,
                    "outcome" => outcome
                )
                .increment(1);
                (verdict, until)
            })
            .await;
        if served == Served::Miss {
            crate::metrics::timing::add_auth(asked.elapsed());
        }
        self.served(verdict, served)
    }

    fn served(&self, verdict: Verdict<Arc<Identity>>, served: Served) -> Validated {
        match served {
            Served::Hit => self.meters.hits.increment(1),
            Served::NegativeHit => self.meters.negative_hits.increment(1),
            Served::Miss => self.meters.misses.increment(1),
        }
        match verdict {
            Verdict::Valid(identity) => Ok(identity),
            Verdict::Invalid => Err(AuthError::Invalid),
            Verdict::Unavailable => Err(AuthError::Unavailable),
        }
    }

    /// How long a validated token is trusted: `token_cache_time`, capped by its expiry
    /// (an expired token vouched for by a service token gets the cache time).
    fn lifetime(&self, identity: &Identity, allow_expired: bool) -> Duration {
        if allow_expired {
            return self.cache_time;
        }
        let left = (identity.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        self.cache_time.min(left)
    }

    async fn ask_keystone(&self, token: &str, allow_expired: bool) -> Answer {
        let url = if allow_expired {
            format!("{}/v3/auth/tokens?nocatalog&allow_expired=1", self.base)
        } else {
            format!("{}/v3/auth/tokens?nocatalog", self.base)
        };
        let mut renew = None;
        for _attempt in 0..2 {
            let service = match self.service_token(renew.as_deref()).await {
                Ok(service) => service,
                Err(why) => return Answer::Unavailable(why),
            };
            let response = self
                .http
                .get(&url)
                .header("X-Auth-Token", &service)
                .header("X-Subject-Token", token)
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(err) if err.is_timeout() => return Answer::Unavailable("timed out"),
                Err(_) => return Answer::Unavailable("cannot reach Keystone"),
            };
            match response.status().as_u16() {
                200 => {
                    return match response.bytes().await {
                        Ok(body) => parse_validation(&body)
                            .map_or(Answer::Unavailable("unreadable answer"), Answer::Valid),
                        Err(_) => Answer::Unavailable("answer cut short"),
                    }
                }
                404 => return Answer::Invalid,
                // The service token expired or was revoked: renew it once.
                401 => renew = Some(service),
                403 => return Answer::Unavailable(
                    "the service user may not validate tokens (needs the admin or service role)",
                ),
                _ => return Answer::Unavailable("unexpected status from Keystone"),
            }
        }
        Answer::Unavailable("Keystone refused the service user's fresh token")
    }

    /// The service user's token; a new one when it is due, or when `stale` (the token
    /// Keystone just refused) is still the current one.
    async fn service_token(&self, stale: Option<&str>) -> Result<String, &'static str> {
        let mut current = self.service.lock().await;
        if let Some(token) = current.as_ref() {
            let refused = stale.is_some_and(|stale| stale == token.value);
            if !refused && token.renew_at > Instant::now() {
                return Ok(token.value.clone());
            }
        }
        *current = None;
        let fresh = self.issue_service_token().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    async fn issue_service_token(&self) -> Result<ServiceToken, &'static str> {
        let s = &self.settings;
        let mut auth = serde_json::json!({
            "identity": {
                "methods": ["password"],
                "password": {"user": {
                    "name": s.username,
                    "domain": {"name": s.user_domain_name},
                    "password": s.password,
                }},
            },
        });
        if !s.project_name.is_empty() {
            auth["scope"] = serde_json::json!({"project": {
                "name": s.project_name,
                "domain": {"name": s.project_domain_name},
            }});
        }
        let body = serde_json::to_vec(&serde_json::json!({ "auth": auth }))
            .map_err(|_| "cannot encode the service user's request")?;
        let response = self
            .http
            .post(format!("{}/v3/auth/tokens?nocatalog", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|_| "cannot reach Keystone for the service token")?;
        match response.status().as_u16() {
            201 | 200 => {}
            401 => {
                log::error!(
                    "Keystone refused the service user {:?}'s password",
                    s.username
                );
                return Err("the service user's credentials were refused");
            }
            _ => return Err("Keystone did not issue the service token"),
        }
        let value = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or("no X-Subject-Token in Keystone's answer")?;
        let body = response
            .bytes()
            .await
            .map_err(|_| "service token answer cut short")?;
        let expires_at = parse_validation(&body)
            .map(|identity| identity.expires_at)
            .ok_or("unreadable service token answer")?;
        let left = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        // Renew well before expiry: at half its life, or 5 minutes before the end.
        let margin = (left / 2).min(Duration::from_secs(300));
        Ok(ServiceToken {
            value,
            renew_at: Instant::now() + left.saturating_sub(margin),
        })
    }
}

enum Answer {
    Valid(Identity),
    Invalid,
    Unavailable(&'static str),
}

fn validation_histogram(outcome: &'static str) -> Histogram {
    crate::metrics::static_histogram(
        crate::metrics::KEYSTONE_VALIDATION_DURATION,
        [("outcome", outcome), ("", ""), ("", "")],
    )
}

/// Tokens are URL-safe text (Fernet: base64url; JWS: base64url with dots); python-glanceclient
/// may percent-encode, and what that decodes to must be URL-safe text too. Anything else is
/// refused on sight.
pub fn well_formed(token: &str) -> bool {
    let plain = |text: &str, extra: &[u8]| {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=.+/".contains(&b) || extra.contains(&b))
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !plain(token, b"%") {
        return false;
    }
    !token.contains('%') || plain(&decoded(token), b"")
}

fn decoded(token: &str) -> String {
    if token.contains('%') {
        if let Ok(text) = percent_encoding::percent_decode_str(token).decode_utf8() {
            return text.into_owned();
        }
    }
    token.to_string()
}

#[derive(Deserialize)]
struct Body {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    expires_at: String,
    user: Named,
    project: Option<Named>,
    domain: Option<Named>,
    system: Option<serde_json::Value>,
    #[serde(default)]
    roles: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: String,
    domain: Option<Box<Named>>,
}

/// The identity in Keystone's token body (`GET` or `POST /v3/auth/tokens`).
pub fn parse_validation(body: &[u8]) -> Option<Identity> {
    let body: Body = serde_json::from_slice(body).ok()?;
    let token = body.token;
    let expires_at = DateTime::parse_from_rfc3339(&token.expires_at)
        .ok()?
        .with_timezone(&Utc);
    let domain_name = |named: &Named| named.domain.as_ref().map(|d| d.name.clone());
    Some(Identity {
        user_domain: domain_name(&token.user).unwrap_or_default(),
        user_id: token.user.id,
        user_name: token.user.name,
        project_domain: token.project.as_ref().and_then(domain_name),
        project_name: token.project.as_ref().map(|p| p.name.clone()),
        project_id: token.project.map(|p| p.id),
        domain_id: token.domain.map(|d| d.id),
        system_scope: token
            .system
            .as_ref()
            .and_then(|s| s.get("all"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        roles: token
            .roles
            .into_iter()
            .map(|r| r.name.to_lowercase())
            .collect(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_body_gives_the_identity() {
        let body = br#"{"token": {"methods": ["password"],
            "user": {"domain": {"id": "default", "name": "Default"}, "id": "u1", "name": "demo"},
            "audit_ids": ["x"], "expires_at": "2026-12-04T15:09:02.000000Z",
            "project": {"domain": {"id": "default", "name": "Default"}, "id": "p1", "name": "demo"},
            "is_domain": false,
            "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "Member"}]}}"#;
        let identity = parse_validation(body).expect("parses");
        assert_eq!(identity.user_id, "u1");
        assert_eq!(identity.user_domain, "Default");
        assert_eq!(identity.project_id.as_deref(), Some("p1"));
        assert_eq!(identity.roles, ["reader", "member"]);
        assert!(!identity.system_scope);
        assert_eq!(
            identity.expires_at.to_rfc3339(),
            "2026-12-04T15:09:02+00:00"
        );
        let system = br#"{"token": {"user": {"id": "a", "name": "admin"},
            "expires_at": "2026-12-04T15:09:02Z", "system": {"all": true},
            "roles": [{"id": "r", "name": "admin"}]}}"#;
        let identity = parse_validation(system).expect("parses");
        assert!(identity.system_scope && identity.project_id.is_none());
        assert!(parse_validation(b"{\"token\": {}}").is_none());
        assert!(parse_validation(b"<html>").is_none());
    }

    #[test]
    fn malformed_tokens_are_refused_on_sight() {
        assert!(well_formed("gAAAAABrEsl9wPAK-_x"));
        assert!(well_formed("gAAAA%3D%3D"));
        for bad in [
            "",
            "with space",
            "quote\"",
            "nul\0",
            "é",
            "%ZZ",
            "a%00",
            "a%20b",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
        assert!(!well_formed(&"a".repeat(MAX_TOKEN_LEN + 1)));
    }
}
