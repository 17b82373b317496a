//! Glance's legacy visibility and ownership rules (`glance/db/utils.py`, §6 of the reference).
//! Every backend and the handler layer use these, so the rules live in one place.

use super::{Image, RequestContext, Visibility};

/// `is_image_visible`: may the caller read this image?
/// `caller_is_member`: a live member row exists for the caller's project (any status).
pub fn is_image_visible(ctx: &RequestContext, image: &Image, caller_is_member: bool) -> bool {
    if ctx.is_admin || image.owner.is_none() {
        return true;
    }
    if matches!(image.visibility, Visibility::Public | Visibility::Community) {
        return true;
    }
    match &ctx.project_id {
        Some(project) if image.owner.as_deref() == Some(project.as_str()) => true,
        Some(_) => image.visibility == Visibility::Shared && caller_is_member,
        None => false,
    }
}

/// The project whose membership `is_image_visible` can use: a non-admin caller's. For anyone
/// else membership decides nothing, so backends need not read `image_members` for them.
pub fn membership_project(ctx: &RequestContext) -> Option<&str> {
    ctx.project_id.as_deref().filter(|_| !ctx.is_admin)
}

/// `is_image_mutable`: may the caller change this image? Admin, or the owning project.
pub fn is_image_mutable(ctx: &RequestContext, image: &Image) -> bool {
    if ctx.is_admin {
        return true;
    }
    match (&ctx.project_id, &image.owner) {
        (Some(project), Some(owner)) => project == owner,
        _ => false,
    }
}

/// What a token's roles allow under Glance's secure-RBAC defaults (`glance/policies/base.py`):
/// `admin` everything, `member` writes in its own project (ownership is checked per image
/// above), `reader` reads only, anything else nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    None,
    Read,
    Write,
    Admin,
}

/// `roles` lower-cased, implied roles included (Keystone expands them: admin → member → reader).
pub fn access_from_roles(roles: &[String]) -> Access {
    let has = |name: &str| roles.iter().any(|role| role == name);
    if has("admin") {
        Access::Admin
    } else if has("member") {
        Access::Write
    } else if has("reader") {
        Access::Read
    } else {
        Access::None
    }
}

#[cfg(test)]
mod secure_rbac_tests {
    use super::*;

    #[test]
    fn roles_decide_access() {
        let roles = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            access_from_roles(&roles(&["reader", "member"])),
            Access::Write
        );
        assert_eq!(access_from_roles(&roles(&["reader"])), Access::Read);
        assert_eq!(
            access_from_roles(&roles(&["admin", "manager", "member", "reader"])),
            Access::Admin
        );
        assert_eq!(access_from_roles(&roles(&["service"])), Access::None);
        assert_eq!(access_from_roles(&[]), Access::None);
    }
}
