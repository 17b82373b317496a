//! Who is calling. The handler layer sees only a `RequestContext`; this is where one comes
//! from in `auth.mode = "keystone"`: Keystone's client and its token cache (`keystone`,
//! `token_cache`), and the secure-RBAC reading of the token's roles (`context_for`).
//! (noauth, trusted headers and static tokens are decided in `api::auth` and `auth_tokens`.)

pub mod keystone;
pub mod token_cache;

pub use keystone::{AuthError, Identity, Keystone};

use crate::domain::policy::{self, Access};
use crate::domain::{RequestContext, TokenScope};

/// The request context of a Keystone identity, with Glance's secure-RBAC defaults decided
/// from its roles; `None` when its roles grant no access to images at all (403).
pub fn context_for(identity: &Identity, request_id: String) -> Option<RequestContext> {
    let access = policy::access_from_roles(&identity.roles);
    if access == Access::None {
        return None;
    }
    Some(RequestContext {
        user_id: Some(identity.user_id.clone()),
        project_id: identity.project_id.clone(),
        roles: identity.roles.clone(),
        is_admin: access == Access::Admin,
        read_only: access == Access::Read,
        request_id,
        token: TokenScope {
            user_domain_name: Some(identity.user_domain.clone()).filter(|d| !d.is_empty()),
            project_domain_name: identity.project_domain.clone(),
            domain_id: identity.domain_id.clone(),
            system_scope: identity.system_scope,
            expires_at: Some(identity.expires_at.naive_utc()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_carries_the_whole_token() {
        let body = br#"{"token": {"methods": ["password"],
            "user": {"domain": {"id": "default", "name": "Default"}, "id": "u1", "name": "demo"},
            "expires_at": "2026-12-04T15:09:02.000000Z",
            "project": {"domain": {"id": "d2", "name": "Other"}, "id": "p1", "name": "demo"},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]}}"#;
        let identity = keystone::parse_validation(body).expect("parses");
        let ctx = context_for(&identity, "req-1".into()).expect("member access");
        assert_eq!(ctx.user_id.as_deref(), Some("u1"));
        assert_eq!(ctx.project_id.as_deref(), Some("p1"));
        assert!(!ctx.is_admin && !ctx.read_only);
        assert_eq!(ctx.token.user_domain_name.as_deref(), Some("Default"));
        assert_eq!(ctx.token.project_domain_name.as_deref(), Some("Other"));
        assert_eq!(
            ctx.token.expires_at.map(|t| t.to_string()),
            Some("2026-12-04 15:09:02".to_string())
        );
        assert!(!ctx.token.system_scope && ctx.token.domain_id.is_none());

        let system = br#"{"token": {"user": {"id": "a", "name": "admin",
            "domain": {"id": "default", "name": "Default"}},
            "expires_at": "2026-12-04T15:09:02Z", "system": {"all": true},
            "roles": [{"id": "r", "name": "admin"}]}}"#;
        let identity = keystone::parse_validation(system).expect("parses");
        let ctx = context_for(&identity, "req-2".into()).expect("admin access");
        assert!(ctx.is_admin && ctx.token.system_scope && ctx.project_id.is_none());
    }
}
