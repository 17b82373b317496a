//! Who is calling. The handler layer sees only a `RequestContext`; this is where one comes
//! from in `auth.mode = "keystone"`: Keystone's client and its token cache (`keystone`,
//! `token_cache`), and the secure-RBAC reading of the token's roles (`context_for`).
//! (noauth, trusted headers and static tokens are decided in `api::auth` and `auth_tokens`.)

pub mod keystone;
pub mod token_cache;

pub use keystone::{AuthError, Identity, Keystone};

use crate::domain::policy::{self, Access};
use crate::domain::RequestContext;

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
    })
}
