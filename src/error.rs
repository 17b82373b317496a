//! The one place that maps errors to HTTP: `ApiError` carries a status and Glance's message,
//! and renders webob's error bodies, negotiated on `Accept` (§11 of the reference):
//! HTML for `*/*` and `text/html`, flat JSON for `application/json`, plain text otherwise.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::data_access::DataAccessError;
use crate::store::ingest::IngestError;

#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Glance's explanation (the sentence a client shows).
    pub explanation: String,
    /// The webob message, before HTML escaping; normally `<explanation><br /><br />\n\n\n`.
    message: String,
    headers: Vec<(HeaderName, String)>,
    /// webob's own template (405, 501): the plain-text body is `message` with its breaks as
    /// newlines, not the default template's.
    own_template: bool,
}

/// How an error body is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorFormat {
    Html,
    Json,
    Plain,
}

impl ApiError {
    pub fn new(status: StatusCode, explanation: impl Into<String>) -> Self {
        let explanation = explanation.into();
        let message = format!("{explanation}<br /><br />\n\n\n");
        Self {
            status,
            explanation,
            message,
            headers: Vec::new(),
            own_template: false,
        }
    }

    /// An error whose webob class has its own body template: `message` is that template's
    /// output (before HTML escaping), e.g. `The method FOO is not allowed … <br /><br />\n`.
    fn templated(status: StatusCode, explanation: String, message: String) -> Self {
        Self {
            status,
            explanation,
            message,
            headers: Vec::new(),
            own_template: true,
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, explanation)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "This server could not verify that you are authorized to access the document you \
             requested. Either you supplied the wrong credentials (e.g., bad password), or your \
             browser does not understand how to supply the credentials required.",
        )
    }

    /// keystone mode's 401, as keystonemiddleware's `auth_token` answers it: its sentence and
    /// `WWW-Authenticate: Keystone uri="…"` (where clients go for a token).
    pub fn keystone_unauthorized(www_authenticate_uri: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "The request you have made requires authentication.",
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Keystone uri=\"{www_authenticate_uri}\""),
        )
    }

    pub fn forbidden(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, explanation)
    }

    pub fn not_found(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, explanation)
    }

    pub fn image_not_found(image_id: &str) -> Self {
        Self::not_found(format!("No image found with ID {image_id}"))
    }

    pub fn conflict(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, explanation)
    }

    pub fn gone(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, explanation)
    }

    pub fn too_large(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, explanation)
    }

    pub fn range_not_satisfiable(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::RANGE_NOT_SATISFIABLE, explanation)
    }

    pub fn service_unavailable(explanation: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, explanation)
    }

    /// webob's `HTTPMethodNotAllowed` as Glance's router raises it, naming the method.
    pub fn method_not_allowed(method: &str, allow: &str) -> Self {
        let explanation = format!("The method {method} is not allowed for this resource.");
        let message = format!("{explanation} <br /><br />\n");
        Self::templated(StatusCode::METHOD_NOT_ALLOWED, explanation, message)
            .with_header(header::ALLOW, allow)
    }

    /// webob's `HTTPNotImplemented` for a method no route knows, on a path no route matches.
    pub fn method_not_implemented(method: &str) -> Self {
        let explanation =
            format!("The request method {method} is not implemented for this server.");
        let message = format!("\n{explanation} <br /><br />\n");
        Self::templated(StatusCode::NOT_IMPLEMENTED, explanation, message)
    }

    /// A 500 whose cause is logged but never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server has either erred or is incapable of performing the requested operation.",
        )
    }

    /// webob's 415 for a PATCH with the wrong media type, with its `Accept-Patch` header.
    pub fn unsupported_patch_media_type(content_type: &str) -> Self {
        const ACCEPTED: &str = "application/openstack-images-v2.0-json-patch, \
                                application/openstack-images-v2.1-json-patch";
        Self::unsupported_media_type_detail(
            content_type,
            &format!("Image PATCH expects Content-Type one of: {ACCEPTED}"),
        )
        .with_header(HeaderName::from_static("accept-patch"), ACCEPTED)
    }

    /// webob's `HTTPUnsupportedMediaType(detail=…)`: the media-type sentence, then the detail
    /// (Glance's refusal of image content that fails inspection).
    pub fn unsupported_media_type_detail(content_type: &str, detail: &str) -> Self {
        let explanation =
            format!("The request media type {content_type} is not supported by this server.");
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("{explanation}\n<br /><br />\n{detail}"),
            explanation,
            headers: Vec::new(),
            own_template: false,
        }
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("The request media type {content_type} is not supported by this server."),
        )
    }

    /// `"404 Not Found"`: webob's status string.
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status.as_u16(), reason(self.status))
    }

    pub fn render(&self, format: ErrorFormat) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                builder.insert_header((name.clone(), value));
            }
        }
        let (content_type, body) = self.body(format);
        let mut response = builder.content_type(content_type).body(body);
        set_reason(&mut response);
        response
    }

    /// webob's body for `format` and its content type.
    pub fn body(&self, format: ErrorFormat) -> (&'static str, String) {
        let status = self.status_line();
        match format {
            ErrorFormat::Html => (
                "text/html; charset=UTF-8",
                format!(
                    "<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n  \
                     <h1>{status}</h1>\n  {}\n </body>\n</html>",
                    html_escape_keeping_breaks(&self.message)
                ),
            ),
            ErrorFormat::Json => {
                let title = reason(self.status);
                let body = serde_json::json!({
                    "message": self.message,
                    "code": status,
                    "title": title,
                });
                ("application/json", crate::json::to_python_json(&body))
            }
            ErrorFormat::Plain if self.own_template => (
                "text/plain; charset=UTF-8",
                format!("{status}\n\n{}", self.message.replace("<br />", "\n")),
            ),
            ErrorFormat::Plain => (
                "text/plain; charset=UTF-8",
                format!("{status}\n\n{}\n\n   ", self.explanation),
            ),
        }
    }
}

/// webob's reason phrase: the canonical one, except where webob keeps RFC 2616's wording (in
/// the status line, the title and the JSON `code`): 413 `Request Entity Too Large`, 414
/// `Request-URI Too Long`, 416 `Request Range Not Satisfiable` (`webob/exc.py`).
pub fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        416 => "Request Range Not Satisfiable",
        _ => status.canonical_reason().unwrap_or("Unknown"),
    }
}

/// Put webob's reason phrase on the status line where it differs from the canonical one.
pub fn set_reason(response: &mut HttpResponse) {
    let status = response.status();
    if Some(reason(status)) != status.canonical_reason() {
        response.head_mut().reason = Some(reason(status));
    }
}

/// Escape like Python's `html.escape`, but keep webob's literal `<br /><br />`.
fn html_escape_keeping_breaks(message: &str) -> String {
    message
        .split("<br /><br />")
        .map(|part| {
            let mut out = String::with_capacity(part.len());
            for c in part.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#x27;"),
                    c => out.push(c),
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("<br /><br />")
}

/// webob's `best_match(['text/html', 'application/json'])`: highest quality wins, ties go to
/// HTML; no `Accept` or no match → plain text.
pub fn negotiate(accept: Option<&str>) -> ErrorFormat {
    let Some(accept) = accept else {
        return ErrorFormat::Plain;
    };
    // One pass over the ranges, without allocating: this runs on every request.
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let mut q = 1.0_f32;
        for param in parts {
            if let Some(value) = param.trim().strip_prefix("q=") {
                q = value.trim().parse().unwrap_or(0.0);
            }
        }
        let (t, s) = media.split_once('/').unwrap_or((media, ""));
        let offers = |offer_type: &str, offer_sub: &str| {
            (t == "*" && s == "*")
                || (t.eq_ignore_ascii_case(offer_type)
                    && (s == "*" || s.eq_ignore_ascii_case(offer_sub)))
        };
        if offers("text", "html") {
            html = html.max(q);
        }
        if offers("application", "json") {
            json = json.max(q);
        }
    }
    if html <= 0.0 && json <= 0.0 {
        ErrorFormat::Plain
    } else if json > html {
        ErrorFormat::Json
    } else {
        ErrorFormat::Html
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status_line(), self.explanation)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Rendered as HTML here; `api::middleware` re-renders for the request's `Accept`.
    fn error_response(&self) -> HttpResponse {
        let mut response = self.render(ErrorFormat::Html);
        response.extensions_mut().insert(self.clone());
        response
    }
}

impl From<DataAccessError> for ApiError {
    fn from(err: DataAccessError) -> Self {
        match err {
            DataAccessError::NotFound(msg) => Self::not_found(msg),
            DataAccessError::Forbidden(msg) => Self::forbidden(msg),
            DataAccessError::Conflict(msg) | DataAccessError::Duplicate(msg) => Self::conflict(msg),
            DataAccessError::Invalid(msg) => Self::bad_request(msg),
            DataAccessError::Unavailable(msg) => {
                log::warn!("data access unavailable: {msg}");
                Self::service_unavailable(
                    "The image service is temporarily unable to reach its database. Retry later.",
                )
            }
            DataAccessError::Backend(msg) => Self::internal(msg),
        }
    }
}

impl From<IngestError> for ApiError {
    /// Glance's answers for data that could not be taken in (`image_data.py` upload/stage).
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::TooLarge => {
                Self::too_large("The incoming image is too large: The provided image is too large.")
            }
            IngestError::SizeMismatch { declared, received } => Self::bad_request(format!(
                "Size of the uploaded data ({received} bytes or more) does not match the \
                 declared image size ({declared} bytes)."
            )),
            IngestError::Read(why) => {
                log::info!("image data interrupted: {why}");
                Self::bad_request("Error reading the image data from the request.")
            }
            IngestError::Refused(refusal) => {
                Self::unsupported_media_type_detail("application/octet-stream", &refusal.detail)
            }
            IngestError::Store(err) => store_error(&err),
            IngestError::Stopped(why) => Self::conflict(why),
        }
    }
}

/// glance_store's failures as Glance answers them.
fn store_error(err: &std::io::Error) -> ApiError {
    match err.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            log::error!("image store full: {err}");
            ApiError::too_large(format!("Image storage media is full: {err}"))
        }
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            log::error!("image store not writable: {err}");
            ApiError::service_unavailable(format!(
                "Insufficient permissions on image storage media: {err}"
            ))
        }
        _ => ApiError::internal(format!("image store: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_webob() {
        assert_eq!(negotiate(Some("*/*")), ErrorFormat::Html);
        assert_eq!(negotiate(Some("text/html")), ErrorFormat::Html);
        assert_eq!(negotiate(Some("text/*")), ErrorFormat::Html);
        assert_eq!(negotiate(Some("application/json, */*")), ErrorFormat::Html);
        assert_eq!(negotiate(Some("application/json")), ErrorFormat::Json);
        assert_eq!(negotiate(Some("application/*")), ErrorFormat::Json);
        assert_eq!(
            negotiate(Some("text/html;q=0.5, application/json")),
            ErrorFormat::Json
        );
        assert_eq!(negotiate(None), ErrorFormat::Plain);
        assert_eq!(negotiate(Some("text/plain")), ErrorFormat::Plain);
    }

    #[test]
    fn reasons_are_webobs() {
        assert_eq!(
            reason(StatusCode::PAYLOAD_TOO_LARGE),
            "Request Entity Too Large"
        );
        assert_eq!(reason(StatusCode::URI_TOO_LONG), "Request-URI Too Long");
        assert_eq!(
            reason(StatusCode::RANGE_NOT_SATISFIABLE),
            "Request Range Not Satisfiable"
        );
        assert_eq!(reason(StatusCode::NOT_FOUND), "Not Found");
        let body = ApiError::too_large("big").body(ErrorFormat::Json).1;
        assert!(
            body.contains("\"code\": \"413 Request Entity Too Large\""),
            "{body}"
        );
    }
}
