//! (in progress)
use crate::error::ApiError;
use actix_web::HttpResponse;
pub async fn image() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn images() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn member() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
pub async fn members() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_implemented())
}
