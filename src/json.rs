//! JSON bodies as Glance writes them: Python's `json.dumps` separators (`", "`, `": "`),
//! UTF-8 with non-ASCII unescaped.

use std::io;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::ser::Formatter;

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    if let Err(err) = value.serialize(&mut ser) {
        // Only non-string map keys can fail, and our types have none.
        log::error!("cannot serialize response body: {err}");
        return "{}".to_string();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A JSON response with Glance's content type and separators.
pub fn respond<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(to_python_json(value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn separators_match_python() {
        let v = serde_json::json!({"a": [1, 2], "b": "é"});
        assert_eq!(super::to_python_json(&v), r#"{"a": [1, 2], "b": "é"}"#);
    }
}
