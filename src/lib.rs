//! glance-rs: OpenStack Glance's Image API v2 on actix-web, with its data access chosen by
//! Cargo features (direct-sqlite, direct-postgres, registry-proxy) behind one handler layer.

#[cfg(not(any(
    feature = "direct-sqlite",
    feature = "direct-postgres",
    feature = "registry-proxy"
)))]
compile_error!(
    "glance-rs needs at least one data-access feature: `direct-sqlite`, `direct-postgres` or \
     `registry-proxy` (e.g. `cargo build --no-default-features --features direct-sqlite`)"
);

#[cfg(all(
    feature = "registry-server",
    not(any(feature = "direct-sqlite", feature = "direct-postgres"))
))]
compile_error!(
    "feature `registry-server` (glance-registry) needs a direct backend: add `direct-sqlite` or \
     `direct-postgres`"
);

pub mod api;
pub mod auth_tokens;
pub mod config;
pub mod data_access;
pub mod domain;
pub mod error;
pub mod identity;
pub mod import;
pub mod json;
pub mod metrics;
pub mod recovery;
#[cfg(feature = "registry-server")]
pub mod registry_server;
pub mod server;
pub mod store;

#[cfg(test)]
mod layering;
