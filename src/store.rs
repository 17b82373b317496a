//! Glance's filesystem store: one file per image under `store.path`, named by image id.
//! Uploads are written to a temporary file and renamed into place only when complete, so a
//! reader never sees a partial image.

use std::path::{Path, PathBuf};

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Use (and create) `root`.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a complete image's data lives.
    pub fn path_for(&self, image_id: &str) -> PathBuf {
        self.root.join(image_id)
    }

    /// The location URL Glance records for an image in this store.
    pub fn url_for(&self, image_id: &str) -> String {
        format!("file://{}", self.path_for(image_id).display())
    }

    /// Remove an image's data; absent data is not an error.
    pub async fn delete(&self, image_id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path_for(image_id)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}
