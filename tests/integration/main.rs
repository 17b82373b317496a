//! One integration test binary (crates.io style): shared support, the data-access
//! conformance suite, and API tests arranged like the URL tree.

mod api;
// Every backend the suite runs against (the registry included) needs a direct backend.
#[cfg(any(feature = "direct-sqlite", feature = "direct-postgres"))]
mod conformance;
mod hostile;
mod keystone_restart;
#[cfg(feature = "direct-postgres")]
mod postgres;
mod prometheus;
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
))]
mod registry;
mod s3;
mod socket_activation;
mod support;
#[cfg(any(feature = "direct-sqlite", feature = "direct-postgres"))]
mod walked_pages;
