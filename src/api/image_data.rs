//! (in progress)
use actix_web::HttpResponse;
use crate::error::ApiError;
pub async fn download() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
pub async fn upload() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
