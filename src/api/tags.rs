//! (in progress)
use crate::error::ApiError;
use actix_web::HttpResponse;
pub async fn add() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn remove() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
