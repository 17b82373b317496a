//! (in progress)
use crate::error::ApiError;
use actix_web::HttpResponse;
pub async fn deactivate() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn reactivate() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
