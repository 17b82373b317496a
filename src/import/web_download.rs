//! web-download's fetch (Glance's `_internal_plugins/web_download.py`): an HTTP GET of the
//! URL, with the filters checked again on every redirect hop (a hop outside them ends the
//! fetch), a bounded number of hops, and a timeout while no data arrives. The body is
//! streamed; the size cap and inspection are `store::ingest`'s.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::redirect::{Attempt, Policy};

use super::filter;
use crate::config::ImportFilteringSettings;

/// Redirects followed at most (as requests/urllib do).
const MAX_REDIRECTS: usize = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A fetch that receives nothing for this long fails.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// An opened download: its body and the length the server announced.
pub struct Body {
    pub stream: BodyStream,
    pub length: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("URI for web-download does not pass filtering: {0}")]
    Filtered(String),
    #[error("web-download of {url} failed: {why}")]
    Failed { url: String, why: String },
    #[error("web-download of {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
}

/// Why a redirect was refused, carried out of reqwest's redirect policy.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RefusedRedirect(String);

fn redirect_policy(filters: ImportFilteringSettings) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        if attempt.previous().len() > MAX_REDIRECTS {
            let why = format!("more than {MAX_REDIRECTS} redirects");
            return attempt.error(RefusedRedirect(why));
        }
        match filter::check(attempt.url(), &filters) {
            Ok(()) => attempt.follow(),
            Err(why) => attempt.error(RefusedRedirect(format!("redirect refused: {why}"))),
        }
    })
}

/// Check `uri`, then GET it (following only redirects that pass too).
pub async fn open(uri: &str, filters: &ImportFilteringSettings) -> Result<Body, FetchError> {
    let url = filter::check_text(uri, filters).map_err(FetchError::Filtered)?;
    let shown = filter::shown(&url);
    let client = reqwest::Client::builder()
        .redirect(redirect_policy(filters.clone()))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|err| FetchError::Failed {
            url: shown.clone(),
            why: err.to_string(),
        })?;
    let response = client.get(url).send().await.map_err(|err| {
        // A refused redirect is the filter's verdict, not a network failure.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RefusedRedirect>() {
                return FetchError::Filtered(refused.0.clone());
            }
            source = cause.source();
        }
        FetchError::Failed {
            url: shown.clone(),
            why: without_url(err),
        }
    })?;
    if response.status().is_redirection() {
        // A redirect reqwest would not follow (to a scheme it cannot fetch): refused too.
        let target = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| response.url().join(location).ok());
        let why = match target.as_ref().map(|url| filter::check(url, filters)) {
            Some(Err(why)) => why,
            Some(Ok(())) | None => format!("the redirect from {shown} cannot be followed"),
        };
        return Err(FetchError::Filtered(format!("redirect refused: {why}")));
    }
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: shown,
            status: response.status().as_u16(),
        });
    }
    let length = response.content_length();
    let stream = futures_util::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(err) => Some((Err(err), None)),
        }
    });
    Ok(Body {
        stream: Box::pin(stream),
        length,
    })
}

/// reqwest's message without the URL it may carry (with its query or credentials).
fn without_url(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
