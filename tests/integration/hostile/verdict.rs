//! Judging each answer: the status the case expects, and Glance's error shape.

use std::collections::BTreeMap;

use serde_json::Value;

use super::recorded::Answer;
use super::wire::{Case, Outcome};

/// webob's reason phrases (`webob/exc.py`; 413, 414 and 416 keep RFC 2616's names).
pub fn webob_title(code: u16) -> Option<&'static str> {
    Some(match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Request Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        _ => return None,
    })
}

/// What kind of body came back, as `hostile-answers.tsv` records it: `webob-json` (Glance's
/// flat JSON error for `Accept: application/json`: `{"message": "…<br /><br />…", "code":
/// "404 Not Found", "title": "Not Found"}`), `empty`, `html`, `json` (any other JSON) or
/// `text`.
pub fn body_kind(code: u16, body: &str) -> &'static str {
    if body.is_empty() {
        return "empty";
    }
    if body.trim_start().starts_with("<html") {
        return "html";
    }
    match serde_json::from_str::<Value>(body) {
        Ok(error) if is_webob_json(code, &error) => "webob-json",
        Ok(_) => "json",
        Err(_) => "text",
    }
}

fn is_webob_json(code: u16, error: &Value) -> bool {
    let Some(title) = webob_title(code) else {
        return false;
    };
    error["code"] == format!("{code} {title}")
        && error["title"] == title
        && error["message"]
            .as_str()
            .is_some_and(|m| m.contains("<br /><br />"))
        && error.as_object().is_some_and(|o| o.len() == 3)
}

/// The error body a 4xx must have. Glance's own errors are webob's flat JSON (every case asks
/// for `Accept: application/json`), and where Glance answered the same status with another
/// kind of body, that kind. Deliberate exceptions: requests refused before any route, for
/// framing, request line or header size, get a 400/431 with no body (actix-http, as uWSGI
/// refuses some in front of Glance); the auth layer's 401 is keystonemiddleware's.
fn shaped(code: u16, body: &str, glance: Option<&Answer>) -> bool {
    let kind = body_kind(code, body);
    match (code, kind) {
        (400 | 431, "empty") | (401, _) => true,
        _ => match glance {
            Some(g) if g.outcome == code.to_string() => g.kind == kind,
            _ => kind == "webob-json",
        },
    }
}

#[derive(Default)]
pub struct Tally {
    pub tried: usize,
    pub success: usize,
    pub client_error: usize,
    pub server_error: usize,
    pub dropped: usize,
    pub timeouts: usize,
    pub hung_up: usize,
    pub by_status: BTreeMap<u16, usize>,
    pub failures: Vec<String>,
}

impl Tally {
    /// Judge one answer: `expected` from `recorded::expected`, `glance` the recorded answer.
    pub fn record(
        &mut self,
        case: &Case,
        expected: Result<Option<u16>, String>,
        glance: Option<&Answer>,
        outcome: &Outcome,
    ) {
        self.tried += 1;
        match (outcome, expected) {
            (_, Err(why)) => self.failures.push(why),
            (Outcome::HungUp, Ok(None)) => {}
            (_, Ok(None)) => self.fail(case, "no expected status"),
            (Outcome::Answered(code, _), Ok(Some(expected))) if *code != expected => {
                self.failures
                    .push(format!("{}: {code}, expected {expected}", case.label));
            }
            (Outcome::Answered(..), Ok(Some(_))) => {}
            (other, Ok(Some(expected))) => {
                self.failures
                    .push(format!("{}: {other:?}, expected {expected}", case.label));
            }
        }
        match outcome {
            Outcome::Answered(code, body) => {
                *self.by_status.entry(*code).or_default() += 1;
                match code {
                    // 300: Glance's version negotiation for unversioned paths.
                    200..=399 => self.success += 1,
                    400..=499 => {
                        self.client_error += 1;
                        if !shaped(*code, body, glance) {
                            let body: String = body.chars().take(200).collect();
                            self.fail(case, &format!("{code} not in Glance's shape: {body}"));
                        }
                    }
                    _ => {
                        self.server_error += 1;
                        let body: String = body.chars().take(200).collect();
                        self.fail(case, &format!("{code} {body}"));
                    }
                }
            }
            Outcome::Dropped => self.dropped += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::HungUp => self.hung_up += 1,
        }
    }

    fn fail(&mut self, case: &Case, what: &str) {
        self.failures.push(format!("{}: {what}", case.label));
    }
}
