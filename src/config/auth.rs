//! The identity sections of the settings: `auth.mode` and its static-tokens file, and
//! keystonemiddleware's `[keystone_authtoken]` (whose `Debug` never shows the password).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Glance's default: every request is an admin without project; identity headers ignored.
    Noauth,
    /// Identity from the headers keystonemiddleware sets (`X-Identity-Status: Confirmed`).
    TrustedAuth,
    /// Identity from `X-Auth-Token`, looked up in `auth.tokens_file` (re-read on SIGHUP).
    StaticTokens,
    /// Identity from `X-Auth-Token`, validated by Keystone (`[keystone_authtoken]`).
    Keystone,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// static-tokens mode: TOML file of `[[token]]` entries (token, user, project, roles).
    pub tokens_file: String,
}

/// keystonemiddleware's `[keystone_authtoken]` option names (the subset glance-api uses).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeystoneAuthtokenSettings {
    /// Keystone's identity endpoint (`http://host:5000` or `http://host:5000/v3`).
    pub auth_url: String,
    /// Sent to clients in `WWW-Authenticate: Keystone uri="…"`; empty = `auth_url`.
    pub www_authenticate_uri: String,
    /// The service user glance-api validates tokens with (password authentication).
    pub username: String,
    /// Never logged.
    pub password: String,
    pub project_name: String,
    pub user_domain_name: String,
    pub project_domain_name: String,
    /// Seconds a validated token is trusted without asking Keystone again (capped by the
    /// token's own expiry).
    pub token_cache_time: u64,
    /// Seconds before a Keystone call gives up (→ 503).
    pub timeout: f64,
    /// An `X-Service-Token` must carry one of these roles to vouch for an expired user token.
    pub service_token_roles: Vec<String>,
    /// When false, a service token without those roles is still accepted (with a warning).
    pub service_token_roles_required: bool,
}

impl fmt::Debug for KeystoneAuthtokenSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoneAuthtokenSettings")
            .field("auth_url", &self.auth_url)
            .field("www_authenticate_uri", &self.www_authenticate_uri)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "****" },
            )
            .field("project_name", &self.project_name)
            .field("user_domain_name", &self.user_domain_name)
            .field("project_domain_name", &self.project_domain_name)
            .field("token_cache_time", &self.token_cache_time)
            .field("timeout", &self.timeout)
            .field("service_token_roles", &self.service_token_roles)
            .field(
                "service_token_roles_required",
                &self.service_token_roles_required,
            )
            .finish()
    }
}
