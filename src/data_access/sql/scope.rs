//! Which images a caller may list (§4.2), as SQL conditions.

use super::{SqlBuilder, SqlParam};
use crate::domain::{ImageQuery, RequestContext, Visibility, VisibilityFilter};

/// The columns a caller's scope is checked on: the image's own, or those its walked tag or
/// property row carries (copies kept by triggers, schema version 9; `walk.rs`).
pub(super) struct ScopeColumns {
    id: &'static str,
    owner: &'static str,
    visibility: &'static str,
}

pub(super) const IMAGE: ScopeColumns = ScopeColumns {
    id: "images.id",
    owner: "images.owner",
    visibility: "images.visibility",
};

pub(super) const WALKED_COPIES: ScopeColumns = ScopeColumns {
    id: "walked.image_id",
    owner: "walked.glance_rs_image_owner",
    visibility: "walked.glance_rs_image_visibility",
};

/// Which images the caller may list (§4.2): admins all; others public and community images,
/// their project's images, and shared images with a live member row for their project in the
/// wanted member status. Then the visibility post-filter.
pub(super) fn push_scope(
    b: &mut SqlBuilder,
    ctx: &RequestContext,
    query: &ImageQuery,
    on: &ScopeColumns,
) {
    let project = ctx.project_id.as_deref();
    let only = match query.filters.visibility {
        Some(VisibilityFilter::Only(visibility)) => Some(visibility),
        _ => None,
    };
    match (ctx.is_admin, project, only) {
        (false, Some(project), Some(Visibility::Private)) => {
            // Only the caller's own private images are visible to it.
            b.sql(" AND ")
                .sql(on.owner)
                .sql(" = ")
                .param(SqlParam::Text(project.to_string()));
        }
        (false, Some(project), Some(Visibility::Shared)) => {
            push_owned_or_member(b, project, query, on);
        }
        (false, _, _) => push_visible(b, project, query, on),
        (true, _, _) => {}
    }
    match (query.filters.visibility, project) {
        (Some(VisibilityFilter::All), _) => {}
        (Some(VisibilityFilter::Only(visibility)), _) => {
            b.sql(" AND ")
                .few_valued(on.visibility)
                .sql(" = ")
                .param(SqlParam::Visibility(visibility));
        }
        // Community images are listed by default only to their owner.
        (None, None) => {
            b.sql(" AND ")
                .few_valued(on.visibility)
                .sql(" <> ")
                .param(SqlParam::Visibility(Visibility::Community));
        }
        (None, Some(project)) => {
            b.sql(" AND (")
                .sql(on.owner)
                .sql(" = ")
                .param(SqlParam::Text(project.to_string()))
                .sql(" OR ")
                .sql(on.visibility)
                .sql(" <> ")
                .param(SqlParam::Visibility(Visibility::Community))
                .sql(")");
        }
    }
}

/// A non-admin's scope: public and community images, its project's images, and shared images
/// with a live member row for its project in the wanted member status.
fn push_visible(b: &mut SqlBuilder, project: Option<&str>, query: &ImageQuery, on: &ScopeColumns) {
    b.sql(" AND (")
        .few_valued(on.visibility)
        .sql(" IN (")
        .param(SqlParam::Visibility(Visibility::Public))
        .sql(", ")
        .param(SqlParam::Visibility(Visibility::Community))
        .sql(")");
    if let Some(project) = project {
        b.sql(" OR ")
            .sql(on.owner)
            .sql(" = ")
            .param(SqlParam::Text(project.to_string()))
            .sql(" OR (")
            .few_valued(on.visibility)
            .sql(" = ")
            .param(SqlParam::Visibility(Visibility::Shared))
            .sql(" AND EXISTS (SELECT 1 FROM image_members WHERE image_members.image_id = ")
            .sql(on.id)
            .sql(" AND ")
            .few_valued("image_members.deleted")
            .sql(" = ")
            .bool_literal(false)
            .sql(" AND image_members.member = ")
            .param(SqlParam::Text(project.to_string()));
        if let Some(status) = query.member_status.status() {
            b.sql(" AND image_members.status = ")
                .param(SqlParam::Text(status.as_str().to_string()));
        }
        b.sql("))");
    }
    b.sql(")");
}

/// A non-admin's shared images: its project's own and those it is a member of. Written as a
/// set of ids from two index lookups (owner; member), so the cost follows the caller's own
/// images and memberships, not the size of the catalogue (a filter over every shared image
/// walked them all).
fn push_owned_or_member(b: &mut SqlBuilder, project: &str, query: &ImageQuery, on: &ScopeColumns) {
    b.sql(" AND ")
        .sql(on.id)
        .sql(" IN (SELECT owned.id FROM images AS owned WHERE owned.owner = ")
        .param(SqlParam::Text(project.to_string()))
        .sql(
            " UNION ALL SELECT image_members.image_id FROM image_members \
             WHERE image_members.member = ",
        )
        .param(SqlParam::Text(project.to_string()))
        .sql(" AND ")
        .few_valued("image_members.deleted")
        .sql(" = ")
        .bool_literal(false);
    if let Some(status) = query.member_status.status() {
        b.sql(" AND image_members.status = ")
            .param(SqlParam::Text(status.as_str().to_string()));
    }
    b.sql(")");
}
