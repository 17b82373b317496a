//! (in progress)
use crate::error::ApiError;
use actix_web::HttpResponse;
pub async fn index() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn create() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn show() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn update() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn delete() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
