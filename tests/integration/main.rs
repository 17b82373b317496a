//! One integration test binary (crates.io style): shared support, the data-access
//! conformance suite, and API tests arranged like the URL tree.

mod api;
mod conformance;
mod support;
mod prometheus;
