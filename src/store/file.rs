//! Glance's filesystem store: one file per image under its folder, named by image id.
//! Uploads are written to a temporary file (`.{id}.{uuid}.part`) and renamed into place only
//! when complete, so a reader never sees a partial image. Data is streamed both ways in
//! bounded chunks: an image is never held in memory.

use std::io;
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::upload::{Sink, Upload};
use super::{ByteStream, ImageStore, Leftover};

/// Bytes read from disk per chunk when streaming an image out.
const READ_CHUNK: usize = 64 * 1024;

pub struct FileStore {
    id: String,
    root: PathBuf,
}

impl FileStore {
    /// Use (and create) `root`. Kept absolute, so location URLs are `file:///…`.
    pub fn open(id: &str, root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = std::path::absolute(root.into())?;
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            id: id.to_string(),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a complete image's data lives.
    pub fn path_for(&self, image_id: &str) -> PathBuf {
        self.root.join(image_id)
    }

    /// The file behind a location URL, if it is a `file://` URL of a file directly inside
    /// this store (no `.` or `..` that would lead elsewhere).
    pub fn path_from_url(&self, url: &str) -> Option<PathBuf> {
        let path = PathBuf::from(url.strip_prefix("file://")?);
        let plain = path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        (plain && path.parent() == Some(self.root.as_path())).then_some(path)
    }

    /// Remove image `image_id`'s data; absent data is not an error.
    pub async fn delete_image(&self, image_id: &str) -> io::Result<()> {
        self.delete(&self.url_for(image_id)).await
    }

    fn path_of(&self, url: &str) -> io::Result<PathBuf> {
        self.path_from_url(url).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "not a location of this store")
        })
    }
}

#[async_trait]
impl ImageStore for FileStore {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn url_for(&self, image_id: &str) -> String {
        format!("file://{}", self.path_for(image_id).display())
    }

    fn serves(&self, url: &str) -> bool {
        self.path_from_url(url).is_some()
    }

    fn place(&self) -> String {
        self.root.display().to_string()
    }

    async fn begin_upload(&self, image_id: &str, inspect: bool) -> io::Result<Upload> {
        let temp = self
            .root
            .join(format!(".{image_id}.{}.part", uuid::Uuid::new_v4()));
        // Created in place, not on the blocking pool: with no await between creating the
        // file and owning it in the sink, a dropped request cannot leave it behind.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let sink = FileSink {
            temp,
            dest: self.path_for(image_id),
        };
        Ok(Upload::start(
            Box::new(sink),
            Some(file),
            inspect,
            &self.id,
            "file",
        ))
    }

    async fn read_range(&self, url: &str, offset: u64, length: u64) -> io::Result<ByteStream> {
        let path = self.path_of(url)?;
        let started = std::time::Instant::now();
        let opened = read_file_range(&path, offset, length).await;
        let ok = match &opened {
            Ok(_) => true,
            // Missing data is the caller's to judge (Glance answers 204), not a store failure.
            Err(err) => err.kind() == io::ErrorKind::NotFound,
        };
        crate::metrics::store_op(&self.id, "file", "open", started.elapsed(), ok);
        Ok(Box::pin(opened?))
    }

    async fn size(&self, url: &str) -> io::Result<u64> {
        Ok(tokio::fs::metadata(self.path_of(url)?).await?.len())
    }

    async fn delete(&self, url: &str) -> io::Result<()> {
        let started = std::time::Instant::now();
        let result = match tokio::fs::remove_file(self.path_of(url)?).await {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        };
        crate::metrics::store_op(
            &self.id,
            "file",
            "delete",
            started.elapsed(),
            result.is_ok(),
        );
        result
    }

    fn properties(&self) -> serde_json::Value {
        // glance_store's filesystem store: `filesystem_store_chunk_size` (64 KiB).
        serde_json::json!({
            "data_dir": self.root.display().to_string(),
            "chunk_size": READ_CHUNK,
            "thin_provisioning": false,
        })
    }

    async fn leftovers(&self) -> io::Result<Vec<Leftover>> {
        let mut found = Vec::new();
        let mut entries = tokio::fs::read_dir(&self.root).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(image_id) = part_file_image(&name) {
                found.push(Leftover {
                    image_id: image_id.to_string(),
                    name: entry.path().display().to_string(),
                    upload_id: String::new(),
                });
            }
        }
        Ok(found)
    }

    async fn remove_leftover(&self, leftover: &Leftover) -> io::Result<()> {
        let path = Path::new(&leftover.name);
        if path.parent() != Some(self.root.as_path()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not in this store",
            ));
        }
        match tokio::fs::remove_file(path).await {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

/// `.{image_id}.{uuid}.part` → image_id.
pub fn part_file_image(name: &str) -> Option<&str> {
    let inner = name.strip_prefix('.')?.strip_suffix(".part")?;
    inner.rsplit_once('.').map(|(id, _)| id)
}

/// Stream `length` bytes of the file at `path` from `offset`, in bounded chunks.
pub async fn read_file_range(
    path: &Path,
    offset: u64,
    length: u64,
) -> io::Result<impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(io::SeekFrom::Start(offset)).await?;
    Ok(futures_util::stream::unfold(
        (file, length),
        |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let want = usize::try_from(remaining).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
            let mut buf = BytesMut::with_capacity(want);
            match file.read_buf(&mut buf).await {
                Ok(0) => Some((
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "image data is shorter than its recorded size",
                    )),
                    (file, 0),
                )),
                Ok(n) => {
                    buf.truncate(want.min(n));
                    let left = remaining.saturating_sub(buf.len() as u64);
                    Some((Ok(buf.freeze()), (file, left)))
                }
                Err(err) => Some((Err(err), (file, 0))),
            }
        },
    ))
}

/// The temporary file of an upload; renamed to `dest` by `place`, removed if dropped before.
struct FileSink {
    temp: PathBuf,
    dest: PathBuf,
}

#[async_trait]
impl Sink for FileSink {
    async fn write(&mut self, _batch: &Bytes) -> io::Result<()> {
        // The digest thread writes the file.
        Ok(())
    }

    async fn place(&mut self) -> io::Result<()> {
        tokio::fs::rename(&self.temp, &self.dest).await?;
        // Renamed: nothing left for Drop to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for FileSink {
    /// An upload that was not placed (error, client gone, future dropped) leaves no file.
    fn drop(&mut self) {
        if self.temp.as_os_str().is_empty() {
            return;
        }
        // Removing the name is safe even while the digest thread still holds the file open.
        if let Err(err) = std::fs::remove_file(&self.temp) {
            if err.kind() != io::ErrorKind::NotFound {
                log::warn!(
                    "cannot remove partial upload {}: {err}",
                    self.temp.display()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::upload::WRITE_BATCH;
    use futures_util::StreamExt;
    use md5::{Digest, Md5};
    use sha2::Sha512;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read store dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn commit_renames_and_digests() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open("file", dir.path()).expect("store");
        let mut upload = store.begin_upload("img", false).await.expect("begin");
        upload.write(b"hello ").await.expect("write");
        upload.write(b"world").await.expect("write");
        let written = upload.commit().await.expect("commit");
        assert_eq!(written.size, 11);
        assert_eq!(written.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(written
            .sha512
            .starts_with("309ecc489c12d6eb4cc40f50c902f2b4"));
        assert_eq!(files_in(dir.path()), vec!["img".to_string()]);

        let chunks: Vec<_> = store
            .read_range(&store.url_for("img"), 6, 3)
            .await
            .expect("open")
            .collect()
            .await;
        let body: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.expect("chunk").to_vec())
            .collect();
        assert_eq!(body, b"wor");
    }

    #[tokio::test]
    async fn data_spanning_many_batches_is_written_and_digested_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open("file", dir.path()).expect("store");
        let data: Vec<u8> = (0..3 * WRITE_BATCH + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut upload = store.begin_upload("img", false).await.expect("begin");
        for chunk in data.chunks(10_007) {
            upload.write(chunk).await.expect("write");
        }
        assert_eq!(upload.size(), data.len() as u64);
        let written = upload.commit().await.expect("commit");
        assert_eq!(written.size, data.len() as u64);
        assert_eq!(written.md5, hex::encode(Md5::digest(&data)));
        assert_eq!(written.sha512, hex::encode(Sha512::digest(&data)));
        assert_eq!(std::fs::read(store.path_for("img")).expect("read"), data);
        assert_eq!(files_in(dir.path()), vec!["img".to_string()]);
    }

    #[tokio::test]
    async fn an_inspected_upload_reports_what_it_saw_and_can_be_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open("file", dir.path()).expect("store");
        let mut header = vec![0u8; 3 * WRITE_BATCH];
        header[..4].copy_from_slice(b"QFI\xfb");
        header[7] = 3;
        header[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        let mut upload = store.begin_upload("img", true).await.expect("begin");
        for chunk in header.chunks(1000) {
            upload.write(chunk).await.expect("write");
        }
        let written = upload.finish().await.expect("finish");
        let detection = written.detection.expect("inspected");
        assert_eq!(detection.format_name(), Ok("qcow2"));
        assert_eq!(detection.detected_virtual_size(), Some(1 << 30));
        assert_eq!(files_in(dir.path()).len(), 1, "still the temporary file");
        drop(upload);
        assert!(
            files_in(dir.path()).is_empty(),
            "a refused upload leaves nothing"
        );

        let mut upload = store.begin_upload("img", false).await.expect("begin");
        upload.write(&header).await.expect("write");
        assert!(upload.commit().await.expect("commit").detection.is_none());
    }

    #[tokio::test]
    async fn dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open("file", dir.path()).expect("store");
        let mut upload = store.begin_upload("img", false).await.expect("begin");
        upload.write(&[7u8; 100_000]).await.expect("write");
        upload.write(&[8u8; WRITE_BATCH]).await.expect("write");
        assert_eq!(files_in(dir.path()).len(), 1);
        drop(upload);
        assert!(files_in(dir.path()).is_empty());
    }

    #[test]
    fn part_names() {
        assert_eq!(part_file_image(".abc-1.0f3e.part"), Some("abc-1"));
        assert_eq!(part_file_image("abc"), None);
        assert_eq!(part_file_image(".abc.part"), None);
    }

    #[test]
    fn only_store_urls_map_to_paths() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open("file", dir.path()).expect("store");
        let url = store.url_for("abc");
        assert_eq!(store.path_from_url(&url), Some(store.path_for("abc")));
        assert_eq!(store.path_from_url("file:///etc/passwd"), None);
        assert_eq!(store.path_from_url("http://x/abc"), None);
        // Paths that name the store's own parent, or step out of it and back in.
        let root = store.root().display().to_string();
        assert_eq!(store.path_from_url(&format!("file://{root}/..")), None);
        let name = store.root().file_name().expect("name").to_string_lossy();
        let back_in = format!("file://{root}/../{name}/abc");
        assert_eq!(store.path_from_url(&back_in), None);
        assert_eq!(
            store.path_from_url(&format!("file://{root}/x/../abc")),
            None
        );
    }

    #[test]
    fn relative_roots_become_absolute_urls() {
        let store = FileStore::open("file", "target/store-test-relative").expect("store");
        assert!(store.root().is_absolute());
        assert!(store.url_for("abc").starts_with("file:///"));
        let _ = std::fs::remove_dir("target/store-test-relative");
    }
}
