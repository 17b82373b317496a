//! Test support: real servers on loopback, real databases in temp folders.
#![allow(dead_code)]

pub mod keystone;
#[cfg(feature = "direct-postgres")]
pub mod postgres;
pub mod process;
pub mod s3;
pub mod server;
#[cfg(feature = "direct-sqlite")]
pub mod sqlite;
pub mod web_source;

use std::any::Any;
use std::sync::Arc;

use glance_rs::data_access::DataAccess;

/// A backend on fresh storage, plus whatever keeps that storage alive (a temp dir, a child
/// process, a schema); dropped together at the end of a test.
pub struct FreshBackend {
    pub da: Arc<dyn DataAccess>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl FreshBackend {
    pub fn new(da: Arc<dyn DataAccess>, keep: impl Any + Send + Sync) -> Self {
        Self {
            da,
            _keep: Box::new(keep),
        }
    }
}

/// The glance-registry process (`server::registry`) and a fresh backend behind it.
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
))]
pub mod registry {
    pub use super::server::registry::*;

    /// A registry-proxy client on a fresh registry process (for the conformance suite).
    pub async fn fresh() -> super::FreshBackend {
        let registry = RegistryProcess::start().await;
        let da: std::sync::Arc<dyn glance_rs::data_access::DataAccess> =
            std::sync::Arc::new(registry.client(10.0));
        super::FreshBackend::new(da, registry)
    }

    /// The same, with the registry on a fresh PostgreSQL database.
    #[cfg(feature = "direct-postgres")]
    pub async fn fresh_on_postgres() -> super::FreshBackend {
        let (url, database) = super::postgres::fresh_database().await;
        let registry = RegistryProcess::start_on_postgres(&url).await;
        let log = registry.log();
        assert!(log.contains("data_access.mode=direct-postgres"), "{log}");
        let da: std::sync::Arc<dyn glance_rs::data_access::DataAccess> =
            std::sync::Arc::new(registry.client(10.0));
        // The registry goes first: the database is dropped after its last connection.
        super::FreshBackend::new(da, (registry, database))
    }
}

/// A fresh direct-postgres backend (its own database) for the conformance suite.
#[cfg(feature = "direct-postgres")]
pub async fn postgres_backend() -> FreshBackend {
    let (da, guard) = postgres::fresh().await;
    FreshBackend::new(da, guard)
}
