//! (in progress)
use actix_web::HttpResponse;
use crate::error::ApiError;
pub async fn add() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
pub async fn remove() -> Result<HttpResponse, ApiError> { Err(ApiError::not_implemented()) }
