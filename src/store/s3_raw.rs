//! The few S3 calls `object_store` does not offer — bucket head/create, listing and aborting
//! multipart uploads — sent as presigned requests: `object_store` signs them (SigV4), so there
//! is still no hand-written signer here.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, SignedUrlOptions, Signer};

/// A multipart upload the S3 server still holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Incomplete {
    pub key: String,
    pub upload_id: String,
}

pub(super) struct Raw {
    client: Arc<AmazonS3>,
    http: reqwest_s3::Client,
}

impl Raw {
    pub fn new(client: Arc<AmazonS3>) -> io::Result<Self> {
        let http = reqwest_s3::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(io::Error::other)?;
        Ok(Self { client, http })
    }

    /// `method` on `key` (the bucket itself if empty) with `query`: status and body.
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
    ) -> io::Result<(u16, String)> {
        let options = SignedUrlOptions::new().with_query(query.iter().copied());
        let url = self
            .client
            .signed_url_opts(
                method.clone(),
                &ObjectPath::from(key),
                Duration::from_secs(300),
                &options,
            )
            .await
            .map_err(io::Error::from)?;
        let response = self
            .http
            .request(method, url)
            .send()
            .await
            .map_err(|err| io::Error::other(err.without_url()))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|err| io::Error::other(err.without_url()))?;
        Ok((status, body))
    }

    pub async fn bucket_exists(&self) -> io::Result<bool> {
        match self.send(Method::HEAD, "", &[]).await? {
            (200..=299, _) => Ok(true),
            (404, _) => Ok(false),
            (status, _) => Err(io::Error::other(format!("HEAD bucket answered {status}"))),
        }
    }

    pub async fn create_bucket(&self) -> io::Result<()> {
        match self.send(Method::PUT, "", &[]).await? {
            (200..=299, _) => Ok(()),
            (status, body) => Err(io::Error::other(format!(
                "creating the bucket answered {status}: {}",
                s3_error_code(&body)
            ))),
        }
    }

    /// ListMultipartUploads (its first page: 1000 uploads).
    pub async fn incomplete_uploads(&self) -> io::Result<Vec<Incomplete>> {
        let (status, body) = self.send(Method::GET, "", &[("uploads", "")]).await?;
        if !(200..300).contains(&status) {
            return Err(io::Error::other(format!(
                "ListMultipartUploads answered {status}: {}",
                s3_error_code(&body)
            )));
        }
        Ok(elements(&body, "Upload")
            .into_iter()
            .filter_map(|upload| {
                Some(Incomplete {
                    key: unescape(elements(upload, "Key").first()?),
                    upload_id: unescape(elements(upload, "UploadId").first()?),
                })
            })
            .collect())
    }

    /// AbortMultipartUpload; an upload already gone is not an error.
    pub async fn abort(&self, upload: &Incomplete) -> io::Result<()> {
        let query = [("uploadId", upload.upload_id.as_str())];
        match self.send(Method::DELETE, &upload.key, &query).await? {
            (200..=299 | 404, _) => Ok(()),
            (status, body) => Err(io::Error::other(format!(
                "AbortMultipartUpload answered {status}: {}",
                s3_error_code(&body)
            ))),
        }
    }
}

/// The texts of every `<tag>…</tag>` in `xml` (S3's answers are flat enough for this).
fn elements<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn s3_error_code(body: &str) -> String {
    elements(body, "Code")
        .first()
        .map_or_else(String::new, |c| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_multipart_uploads_answers_parse() {
        let xml = "<ListMultipartUploadsResult><Bucket>images</Bucket>\
            <Upload><Key>a&amp;b</Key><UploadId>u1</UploadId></Upload>\
            <Upload><Key>c</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>";
        let uploads: Vec<_> = elements(xml, "Upload")
            .into_iter()
            .map(|u| (unescape(elements(u, "Key")[0]), elements(u, "UploadId")[0]))
            .collect();
        assert_eq!(
            uploads,
            vec![("a&b".to_string(), "u1"), ("c".to_string(), "u2")]
        );
        assert_eq!(
            s3_error_code("<Error><Code>NoSuchBucket</Code></Error>"),
            "NoSuchBucket"
        );
    }
}
