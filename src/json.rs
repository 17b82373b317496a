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

/// A JSON response with Glance's content type, from a body written by `Writer`.
pub fn respond_written(status: StatusCode, body: Writer) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.out)
}

/// JSON written by hand, in the form `to_python_json` writes (Python's separators, non-ASCII
/// unescaped), for the bodies nearly every request answers (an image, a page of images).
/// serde's map serializer escaped each of the program's own keys and looked at every byte of
/// every string one at a time; here a string is checked for bytes that need escaping in one
/// pass the compiler vectorises and copied whole, and only the rare string that has such a
/// byte goes through serde_json's escaping.
///
/// Calls nest as the text does: `begin_object`, then `key` and one value per member;
/// `begin_array`, then `item` and one value per element.
pub struct Writer {
    out: Vec<u8>,
    /// No member or element yet in the innermost object or array (no `", "` before the next).
    first: bool,
    /// Python's separators (`", "`, `": "`), or serde_json's compact ones (`","`, `":"`).
    python: bool,
}

impl Writer {
    /// Python's separators, as Glance's API answers.
    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
            first: true,
            python: true,
        }
    }

    /// serde_json's compact form (`serde_json::to_string`), as the registry wire carries.
    pub fn compact(capacity: usize) -> Self {
        Writer {
            python: false,
            ..Self::with_capacity(capacity)
        }
    }

    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
            if self.python {
                self.out.push(b' ');
            }
        }
        self.first = false;
    }

    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.first = true;
    }

    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.first = true;
    }

    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.first = false;
    }

    /// A member's key (escaped if it needs it: keys of custom properties are anyone's text).
    pub fn key(&mut self, key: &str) {
        self.separate();
        self.string(key);
        self.out.push(b':');
        if self.python {
            self.out.push(b' ');
        }
    }

    /// A member's key that is the program's own text (a literal with nothing to escape), in
    /// one reservation and without the escaping check: most keys of every body are these.
    pub fn known_key(&mut self, key: &'static str) {
        debug_assert!(!needs_escaping(key.as_bytes()), "{key:?}");
        // Separators byte by byte: a copy of a slice whose length is not known here is a call.
        self.out.reserve(key.len() + 6);
        if !self.first {
            self.out.push(b',');
            if self.python {
                self.out.push(b' ');
            }
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(b'"');
        self.out.push(b':');
        if self.python {
            self.out.push(b' ');
        }
    }

    /// Before each element of an array.
    pub fn item(&mut self) {
        self.separate();
    }

    pub fn string(&mut self, text: &str) {
        if needs_escaping(text.as_bytes()) {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.out, text);
            return;
        }
        self.out.reserve(text.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'"');
    }

    /// One JSON string made of these parts, without building the joined text first (unless a
    /// part needs escaping).
    pub fn joined(&mut self, parts: &[&str]) {
        if parts.iter().any(|part| needs_escaping(part.as_bytes())) {
            let text = parts.concat();
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.out, &text);
            return;
        }
        self.out.push(b'"');
        for part in parts {
            self.out.extend_from_slice(part.as_bytes());
        }
        self.out.push(b'"');
    }

    pub fn scalar(&mut self, value: Scalar<'_>) {
        match value {
            Scalar::Text(Some(text)) => self.string(text),
            Scalar::Integer(Some(value)) => self
                .out
                .extend_from_slice(itoa::Buffer::new().format(value).as_bytes()),
            Scalar::Boolean(value) => {
                self.out
                    .extend_from_slice(if value { b"true" } else { b"false" })
            }
            Scalar::Text(None) | Scalar::Integer(None) => self.out.extend_from_slice(b"null"),
        }
    }

    /// Any serializable value, as serde_json writes it with this writer's separators.
    pub fn value<T: Serialize + ?Sized>(&mut self, value: &T) {
        if self.python {
            let mut ser = serde_json::Serializer::with_formatter(&mut self.out, PythonFormatter);
            if let Err(err) = value.serialize(&mut ser) {
                // Only non-string map keys can fail, and our types have none.
                log::error!("cannot serialize a value: {err}");
                self.out.extend_from_slice(b"null");
            }
        } else if let Err(err) = serde_json::to_writer(&mut self.out, value) {
            log::error!("cannot serialize a value: {err}");
            self.out.extend_from_slice(b"null");
        }
    }

    /// The text written (only whole UTF-8 strings and ASCII are ever written).
    pub fn into_string(self) -> String {
        String::from_utf8(self.out).unwrap_or_default()
    }
}

/// A value with no members: a string, an integer, a boolean, or `null` for `None`.
#[derive(Clone, Copy)]
pub enum Scalar<'a> {
    Text(Option<&'a str>),
    Integer(Option<i64>),
    Boolean(bool),
}

/// Whether JSON needs an escape for any of these bytes (serde_json escapes `"`, `\` and the
/// control characters below 0x20): eight bytes at a time, with the classic word tests for a
/// byte below a bound or equal to a value (exact as to whether any byte matches).
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let any_below =
        |word: u64, bound: u8| word.wrapping_sub(ONES * u64::from(bound)) & !word & HIGHS;
    let any_equal = |word: u64, value: u8| any_below(word ^ (ONES * u64::from(value)), 1);
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            let word = u64::from_ne_bytes(word);
            if any_below(word, 0x20) | any_equal(word, b'"') | any_equal(word, b'\\') != 0 {
                return true;
            }
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Every string, with or without bytes that need escaping, is written as serde_json
        /// writes it.
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            text in "(\\PC|[\\x00-\\x1f\"\\\\/\\x7f\\x{80}-\\x{10ffff}])*",
            prefix in "[a-z/\"]{0,3}",
        ) {
            let mut writer = super::Writer::with_capacity(0);
            writer.joined(&[&prefix, &text]);
            let expected = serde_json::to_string(&format!("{prefix}{text}")).unwrap_or_default();
            prop_assert_eq!(writer.into_string(), expected);
            let mut writer = super::Writer::with_capacity(0);
            writer.string(&text);
            prop_assert_eq!(writer.into_string(), serde_json::to_string(&text).unwrap_or_default());
        }

        /// The word test agrees with a byte-by-byte test at every length and position.
        #[test]
        fn the_word_test_finds_every_byte_that_needs_escaping(
            // Mostly bytes that need no escape (0x23..=0x5b, 0x5d..=0xff), now and then one
            // at or beside the edges of the test.
            bytes in proptest::collection::vec(
                prop_oneof![
                    20 => 0x23u8..0x5c,
                    20 => 0x5du8..=0xff,
                    1 => proptest::sample::select(vec![0u8, 0x1f, 0x20, 0x21, b'"', b'\\', 0x7f]),
                ],
                0..40,
            ),
        ) {
            let slow = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(super::needs_escaping(&bytes), slow);
        }
    }

    #[test]
    fn nesting_and_separators_match_python() {
        let mut writer = super::Writer::with_capacity(0);
        writer.begin_object();
        writer.key("a");
        writer.begin_array();
        for n in [1, -2] {
            writer.item();
            writer.scalar(super::Scalar::Integer(Some(n)));
        }
        writer.end_array();
        writer.key("b\n");
        writer.begin_object();
        writer.end_object();
        writer.key("c");
        writer.scalar(super::Scalar::Text(None));
        writer.key("d");
        writer.scalar(super::Scalar::Boolean(true));
        writer.key("é");
        writer.scalar(super::Scalar::Integer(Some(7)));
        writer.key("f");
        writer.scalar(super::Scalar::Integer(None));
        writer.end_object();
        let v =
            serde_json::json!({"a": [1, -2], "b\n": {}, "c": null, "d": true, "é": 7, "f": null});
        assert_eq!(writer.into_string(), super::to_python_json(&v));
    }

    #[test]
    fn known_keys_and_values_match_serde_in_both_forms() {
        let v = serde_json::json!({"a": [1, {"x": null}], "b": "é", "c": {}});
        for (mut writer, expected) in [
            (super::Writer::with_capacity(0), super::to_python_json(&v)),
            (super::Writer::compact(0), v.to_string()),
        ] {
            writer.begin_object();
            writer.known_key("a");
            writer.value(&v["a"]);
            writer.known_key("b");
            writer.string("é");
            writer.key("c");
            writer.value(&v["c"]);
            writer.end_object();
            assert_eq!(writer.into_string(), expected);
        }
    }

    #[test]
    fn separators_match_python() {
        let v = serde_json::json!({"a": [1, 2], "b": "é"});
        assert_eq!(super::to_python_json(&v), r#"{"a": [1, 2], "b": "é"}"#);
    }
}
