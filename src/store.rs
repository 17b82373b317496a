//! (in progress) Glance's filesystem store.
pub struct Store {
    pub root: std::path::PathBuf,
}
