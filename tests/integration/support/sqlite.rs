//! A fresh direct-sqlite backend on a temp file (not `:memory:`: the backend's reader and
//! writer threads each open their own connection to the file).

use glance_rs::config::{Service, Settings};

use super::FreshBackend;

pub async fn fresh() -> FreshBackend {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::defaults(Service::Api);
    settings.database.url = format!("sqlite:///{}", dir.path().join("glance.db").display());
    settings.database.pool_size = 4;
    let da = glance_rs::data_access::sqlite::open(&settings)
        .await
        .expect("the sqlite backend opens");
    FreshBackend::new(da, dir)
}
