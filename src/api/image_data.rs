//! (in progress)
use crate::error::ApiError;
use actix_web::HttpResponse;
pub async fn download() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn upload() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
