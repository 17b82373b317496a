//! (in progress) direct-sqlite backend.
use super::{DataAccess, DataAccessError};
use std::sync::Arc;
pub async fn open(
    _settings: &crate::config::Settings,
) -> Result<Arc<dyn DataAccess>, DataAccessError> {
    Err(DataAccessError::Backend("not yet".into()))
}
