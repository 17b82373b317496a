//! `POST /v2/images/{id}/actions/deactivate` and `/reactivate` (§5.5): active ⇄ deactivated,
//! each a compare-and-set on the status; asking for the state the image is already in is a
//! 204 no-op, any other status is 403.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::auth::Caller;
use crate::api::common::{ensure_mutable, ensure_writable, find_image, reject_body};
use crate::api::middleware::no_content;
use crate::api::State;
use crate::domain::{ImageChanges, ImageStatus};
use crate::error::ApiError;

pub async fn deactivate(
    req: HttpRequest,
    state: State,
    caller: Caller,
    image_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let action = Action {
        verb: "deactivate",
        from: ImageStatus::Active,
        to: ImageStatus::Deactivated,
    };
    action.run(&req, &state, caller, &image_id).await
}

pub async fn reactivate(
    req: HttpRequest,
    state: State,
    caller: Caller,
    image_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let action = Action {
        verb: "reactivate",
        from: ImageStatus::Deactivated,
        to: ImageStatus::Active,
    };
    action.run(&req, &state, caller, &image_id).await
}

struct Action {
    verb: &'static str,
    from: ImageStatus,
    to: ImageStatus,
}

impl Action {
    async fn run(
        &self,
        req: &HttpRequest,
        state: &State,
        Caller(ctx): Caller,
        image_id: &str,
    ) -> Result<HttpResponse, ApiError> {
        reject_body(req)?;
        ensure_writable(&ctx)?;
        let image = find_image(state, &ctx, image_id).await?;
        ensure_mutable(&ctx, &image, "You do not own this image")?;
        if image.status == self.to {
            return Ok(no_content());
        }
        if image.status != self.from {
            return Err(ApiError::forbidden(format!(
                "Not allowed to {} image in status '{}'",
                self.verb, image.status
            )));
        }
        let changes = ImageChanges {
            status: Some(self.to),
            ..ImageChanges::default()
        };
        state
            .db
            .image_update(&ctx, image_id, changes, false, Some(self.from))
            .await?;
        Ok(no_content())
    }
}
