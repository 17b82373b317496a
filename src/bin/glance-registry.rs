//! glance-registry (deprecated): in progress.
fn main() {}
