//! (in progress)
use actix_web::HttpResponse;
use crate::error::ApiError;
pub async fn deactivate() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
pub async fn reactivate() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
