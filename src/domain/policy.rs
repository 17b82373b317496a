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
