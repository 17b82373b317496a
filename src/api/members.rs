//! `/v2/images/{id}/members[/{member}]` (§6) under Glance's legacy rules: members exist only
//! on `shared` images; the owner (or an admin) adds and removes them; only the member itself
//! (or an admin) changes a membership's status; a member sees only its own row.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::api::auth::Caller;
use crate::api::common::{ensure_writable, find_image, parse_json_body, read_body, reject_body};
use crate::api::json::respond;
use crate::api::middleware::no_content_bare;
use crate::api::State;
use crate::data_access::DataAccessError;
use crate::domain::{
    format_timestamp, policy, Image, Member, MemberChanges, MemberQuery, MemberStatus, NewMember,
    RequestContext, Visibility,
};
use crate::error::ApiError;

/// A membership as Glance shows it (field order as Glance writes it).
#[derive(Serialize)]
struct MemberView {
    member_id: String,
    image_id: String,
    status: MemberStatus,
    created_at: String,
    updated_at: String,
    schema: &'static str,
}

impl From<&Member> for MemberView {
    fn from(member: &Member) -> Self {
        Self {
            member_id: member.member.clone(),
            image_id: member.image_id.clone(),
            status: member.status,
            created_at: format_timestamp(&member.created_at),
            updated_at: format_timestamp(member.updated_at.as_ref().unwrap_or(&member.created_at)),
            schema: "/v2/schemas/member",
        }
    }
}

#[derive(Serialize)]
struct MembersView {
    members: Vec<MemberView>,
    schema: &'static str,
}

fn only_shared(image: &Image) -> Result<(), ApiError> {
    if image.visibility == Visibility::Shared {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only shared images have members."))
    }
}

/// The image's live member rows the caller may see: all for the owner or an admin, only its
/// own row for a member.
async fn visible_members(
    state: &State,
    ctx: &RequestContext,
    image: &Image,
    member: Option<&str>,
) -> Result<Vec<Member>, ApiError> {
    let query = MemberQuery {
        image_id: Some(image.id.clone()),
        member: member.map(str::to_string),
        status: None,
        include_deleted: false,
    };
    let rows = state.db.image_member_find(ctx, &query).await?;
    let sees_all = policy::is_image_mutable(ctx, image);
    Ok(rows
        .into_iter()
        .filter(|row| !row.deleted)
        .filter(|row| sees_all || ctx.project_id.as_deref() == Some(row.member.as_str()))
        .collect())
}

async fn find_member(
    state: &State,
    ctx: &RequestContext,
    image: &Image,
    member_id: &str,
) -> Result<Member, ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "{member_id} not found in the member list of the image {}.",
            image.id
        ))
    };
    // No member id holds NUL or is longer than the column (PostgreSQL could not compare one).
    if member_id.contains('\0') || member_id.chars().count() > MEMBER_MAX_CHARS {
        return Err(not_found());
    }
    visible_members(state, ctx, image, Some(member_id))
        .await?
        .into_iter()
        .find(|row| row.member == member_id)
        .ok_or_else(not_found)
}

/// `image_members.member` is a String(255) in Glance's schema.
const MEMBER_MAX_CHARS: usize = 255;

pub async fn index(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reject_body(&req)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    only_shared(&image)?;
    let members = visible_members(&state, &ctx, &image, None).await?;
    let view = MembersView {
        members: members.iter().map(MemberView::from).collect(),
        schema: "/v2/schemas/members",
    };
    Ok(respond(StatusCode::OK, &view))
}

pub async fn show(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (image_id, member_id) = path.into_inner();
    reject_body(&req)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    // Glance turns "not shared" into 404 here so that nothing leaks.
    only_shared(&image).map_err(|err| ApiError::not_found(err.explanation))?;
    let member = find_member(&state, &ctx, &image, &member_id).await?;
    Ok(respond(StatusCode::OK, &MemberView::from(&member)))
}

pub async fn create(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    image_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.settings.server.max_request_body).await?;
    let body = parse_json_body(&body)?;
    let member_id = match body.get("member") {
        None => return Err(ApiError::bad_request("Member to be added not specified")),
        Some(serde_json::Value::String(m)) if !m.is_empty() => m.clone(),
        Some(serde_json::Value::String(_) | serde_json::Value::Null) => {
            return Err(ApiError::bad_request("Member can't be empty"))
        }
        Some(_) => return Err(ApiError::bad_request("Member must be a string")),
    };
    if member_id.chars().count() > MEMBER_MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "Member ID is too long: at most {MEMBER_MAX_CHARS} characters."
        )));
    }
    if crate::api::common::has_4byte_utf8(&member_id) {
        return Err(ApiError::bad_request(
            "Member can't contain 4 byte unicode characters.",
        ));
    }
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    only_shared(&image)?;
    if !policy::is_image_mutable(&ctx, &image) {
        return Err(ApiError::forbidden(format!(
            "Not allowed to create members for image {image_id}."
        )));
    }
    let quota = state.settings.limits.image_member_quota;
    if quota >= 0 {
        let attempted = state.db.image_member_count(&ctx, &image_id).await? + 1;
        if attempted > quota {
            return Err(ApiError::too_large(format!(
                "Image member limit exceeded for image {image_id}: The limit has been exceeded \
                 on the number of allowed image members for this image. Attempted: {attempted}, \
                 Maximum: {quota}:"
            )));
        }
    }
    let new_member = NewMember {
        image_id: image.id.clone(),
        member: member_id.clone(),
        can_share: false,
        status: MemberStatus::Pending,
    };
    match state.db.image_member_create(&ctx, new_member).await {
        Ok(member) => Ok(respond(StatusCode::OK, &MemberView::from(&member))),
        Err(DataAccessError::Duplicate(_)) => Err(ApiError::conflict(format!(
            "Member {member_id} is duplicated for image {image_id}"
        ))),
        Err(err) => Err(err.into()),
    }
}

pub async fn update(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (image_id, member_id) = path.into_inner();
    let body = read_body(&req, payload, state.settings.server.max_request_body).await?;
    let body = parse_json_body(&body)?;
    let Some(status) = body.get("status") else {
        return Err(ApiError::bad_request("Status not specified"));
    };
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    only_shared(&image)?;
    let member = find_member(&state, &ctx, &image, &member_id).await?;
    // Only the member decides on its membership; the owner may not (legacy rules).
    if !ctx.is_admin && ctx.project_id.as_deref() != Some(member.member.as_str()) {
        return Err(ApiError::forbidden(format!(
            "Not allowed to update members for image {image_id}."
        )));
    }
    let status = status
        .as_str()
        .and_then(MemberStatus::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "Incorrect request: Status must be \"pending\", \"accepted\" or \"rejected\".",
            )
        })?;
    let changes = MemberChanges {
        status: Some(status),
        can_share: None,
    };
    let updated = state
        .db
        .image_member_update(&ctx, member.id, changes)
        .await?;
    Ok(respond(StatusCode::OK, &MemberView::from(&updated)))
}

pub async fn delete(
    req: HttpRequest,
    state: State,
    Caller(ctx): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (image_id, member_id) = path.into_inner();
    reject_body(&req)?;
    ensure_writable(&ctx)?;
    let image = find_image(&state, &ctx, &image_id).await?;
    only_shared(&image)?;
    let member = find_member(&state, &ctx, &image, &member_id).await?;
    if !policy::is_image_mutable(&ctx, &image) {
        return Err(ApiError::forbidden(format!(
            "Not allowed to delete members for image {image_id}."
        )));
    }
    match state.db.image_member_delete(&ctx, member.id).await {
        Ok(()) => Ok(no_content_bare()),
        Err(DataAccessError::NotFound(_)) => Err(ApiError::not_found(format!(
            "{member_id} not found in the member list of the image {image_id}."
        ))),
        Err(err) => Err(err.into()),
    }
}
