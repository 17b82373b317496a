//! (in progress) direct-sqlite backend.
use std::sync::Arc;
use super::{DataAccess, DataAccessError};
pub async fn open(_settings: &crate::config::Settings) -> Result<Arc<dyn DataAccess>, DataAccessError> {
    Err(DataAccessError::Backend("not yet".into()))
}
