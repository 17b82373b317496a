//! JSON bodies, field values, patch documents and content types.

use super::{lone_surrogate, shown, why, Targets, JSON, PATCH_V20, PATCH_V21};
use crate::hostile::wire::Case;

/// The endpoints taking a JSON body: (label, method, path, content type).
fn json_endpoints(t: &Targets) -> Vec<(String, &'static str, String, &'static [u8])> {
    vec![
        ("create".into(), "POST", "/v2/images".into(), JSON),
        (
            "patch2.1".into(),
            "PATCH",
            format!("/v2/images/{}", t.victim),
            PATCH_V21,
        ),
        (
            "patch2.0".into(),
            "PATCH",
            format!("/v2/images/{}", t.victim),
            PATCH_V20,
        ),
        (
            "member-add".into(),
            "POST",
            format!("/v2/images/{}/members", t.shared),
            JSON,
        ),
        (
            "member-update".into(),
            "PUT",
            format!("/v2/images/{}/members/hostile", t.shared),
            JSON,
        ),
    ]
}

/// Bodies that are not acceptable JSON documents, or are at the edge of it.
fn malformed_bodies() -> Vec<(String, Vec<u8>)> {
    let texts: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"{\"name\":",
        b"{\"name\":}",
        b"{\"name\" \"x\"}",
        b"{'name': 'x'}",
        b"{\"a\":1,}",
        b"[1,]",
        b"nul",
        b"tru",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e999",
        b"-",
        b"\"",
        b"\"\\x\"",
        b"\"\\u12\"",
        b"\xff\xfe{}",
        b"\xef\xbb\xbf{}",
        b"{\"name\":\"\xff\"}",
        b"{\"name\":\"\xed\xa0\x80\"}",
        b"{\"name\":\"\xc0\xaf\"}",
        b"{\"\xff\":1}",
        b"\x00",
        b"{}\x00",
        b"{} {}",
        b"{}garbage",
        b"   ",
        b"\r\n",
        b"[]",
        b"[{}]",
        b"[[]]",
        b"1",
        b"-1",
        b"0.5",
        b"\"text\"",
        b"null",
        b"true",
        b"false",
        b"{\"name\":\"\\ud800\"}",
        b"{\"name\":\"\\udfff\"}",
        b"{\"\\ud800\":\"x\"}",
        b"{\"name\":\"\\ud83d\\ude00\"}",
        b"{\"name\":1e400}",
        b"{\"name\":\"a\",\"name\":\"b\"}",
        b"{}",
    ];
    let mut out: Vec<(String, Vec<u8>)> = texts
        .iter()
        .map(|t| (format!("{:?}", String::from_utf8_lossy(t)), t.to_vec()))
        .collect();
    // Every truncation of a valid document.
    let whole = br#"{"name": "t\u00e9st", "tags": ["a", "b"], "min_disk": 1, "x": {"y": [1, 2]}}"#;
    for cut in (1..whole.len()).step_by(3) {
        out.push((format!("truncated at {cut}"), whole[..cut].to_vec()));
    }
    out
}

/// Nesting 10 … 100,000 levels deep, as arrays, objects, and under a key.
fn nested_bodies() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for depth in [10, 100, 126, 127, 128, 129, 500, 1_000, 10_000, 100_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let under_key = format!("{{\"name\":{arrays}}}");
        let unclosed = "[".repeat(depth);
        out.push((format!("arrays x{depth}"), arrays.into_bytes()));
        out.push((format!("objects x{depth}"), objects.into_bytes()));
        out.push((format!("under key x{depth}"), under_key.into_bytes()));
        out.push((format!("unclosed x{depth}"), unclosed.into_bytes()));
    }
    out
}

/// Large documents (some over the body limit).
fn huge_bodies() -> Vec<(String, Vec<u8>)> {
    let many_keys: String = (0..50_000)
        .map(|i| format!("\"k{i}\":{i}"))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        (
            "1 MiB string".into(),
            format!("{{\"name\":\"{}\"}}", "a".repeat(1 << 20)).into_bytes(),
        ),
        (
            "900 KiB string".into(),
            format!("{{\"name\":\"{}\"}}", "a".repeat(900 << 10)).into_bytes(),
        ),
        ("50k keys".into(), format!("{{{many_keys}}}").into_bytes()),
        (
            "200k-element array".into(),
            format!("[{}]", vec!["{}"; 200_000].join(",")).into_bytes(),
        ),
        ("4 MiB of spaces".into(), vec![b' '; 4 << 20]),
    ]
}

/// JSON values for one field: wrong types, absurd numbers, 4-byte and lone surrogates,
/// invalid UTF-8, NUL, long strings.
fn field_values() -> Vec<Vec<u8>> {
    let texts: Vec<Vec<u8>> = vec![
        b"\"\\ud800\"".to_vec(),
        b"\"\\udfff\"".to_vec(),
        b"\"a\\ud800b\"".to_vec(),
        b"\"\\ud800\\u0041\"".to_vec(),
        b"\"\\ud83d\\ude00\"".to_vec(),
        "\"😀\"".as_bytes().to_vec(),
        "\"𝔘nicode\"".as_bytes().to_vec(),
        b"\"\xff\"".to_vec(),
        b"\"\xed\xa0\x80\"".to_vec(),
        b"\"\\u0000\"".to_vec(),
        b"\"a\\u0000b\"".to_vec(),
        b"\"\"".to_vec(),
        b"\" \"".to_vec(),
        format!("\"{}\"", "x".repeat(256)).into_bytes(),
        format!("\"{}\"", "x".repeat(70_000)).into_bytes(),
        format!("\"{}\"", "é".repeat(300)).into_bytes(),
        b"1".to_vec(),
        b"-1".to_vec(),
        b"99999999999999999999".to_vec(),
        b"-99999999999999999999".to_vec(),
        b"9223372036854775808".to_vec(),
        b"1e300".to_vec(),
        b"1.5".to_vec(),
        b"true".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"[\"a\", 1, null]".to_vec(),
        b"{\"a\": {\"b\": 1}}".to_vec(),
        b"\"../../etc/passwd\"".to_vec(),
        b"\"%ff%00\"".to_vec(),
        b"\"<script>alert(1)</script>\"".to_vec(),
    ];
    texts
}

const FIELDS: &[&str] = &[
    "name",
    "id",
    "visibility",
    "container_format",
    "disk_format",
    "min_disk",
    "min_ram",
    "protected",
    "os_hidden",
    "owner",
    "status",
    "checksum",
    "size",
    "locations",
    "tags",
    "custom_prop",
];

pub fn json_cases(t: &Targets) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut bodies = malformed_bodies();
    bodies.extend(nested_bodies());
    bodies.extend(huge_bodies());
    for (endpoint, method, path, content_type) in json_endpoints(t) {
        for (label, body) in &bodies {
            let case = Case::new(
                format!("{endpoint} body {label}"),
                t.call(
                    method,
                    path.as_bytes(),
                    &[("Content-Type", content_type)],
                    body,
                ),
            );
            cases.push(json_expectation(case, &endpoint, label, body));
        }
    }
    cases
}

/// Where our answer to a body differs from Glance 33's; otherwise the recording's (mostly 400
/// "Malformed JSON in request body.", 201 for `{}` on create, 200 for `[]` on PATCH).
fn json_expectation(case: Case, endpoint: &str, label: &str, body: &[u8]) -> Case {
    let create = endpoint == "create";
    let depth = label
        .rsplit_once(" x")
        .and_then(|(_, n)| n.parse::<usize>().ok());
    match label {
        "1 MiB string" | "4 MiB of spaces" => case.ours(413, why::CAP),
        "200k-element array" if endpoint.starts_with("patch") => case.ours(413, why::MAX_OPS),
        _ if depth.is_some_and(|d| d >= 500) => case.ours(400, why::DEEP),
        _ if lone_surrogate(body) => case.ours(400, why::SURROGATE),
        _ if create && body.starts_with(b"[") => case.ours(400, why::LIST_BODY),
        _ => case,
    }
}

pub fn field_cases(t: &Targets) -> Vec<Case> {
    let mut cases = Vec::new();
    let join = |parts: &[&[u8]]| parts.concat();
    for value in field_values() {
        let shown = shown(&value, 40);
        // Where our answer to this value differs from Glance 33's, wherever it goes.
        let anywhere = if lone_surrogate(&value) {
            Some(why::SURROGATE)
        } else if value.windows(6).any(|w| w == b"\\u0000") {
            Some(why::NUL)
        } else {
            None
        };
        let expect = |case: Case, member_id: bool| match anywhere {
            Some(why) => case.ours(400, why),
            None => {
                let fits = match serde_json::from_slice(&value) {
                    Ok(serde_json::Value::String(id)) => id.chars().count() <= 255,
                    Ok(_) => false,
                    // Not JSON at all: 400 here and in Glance alike.
                    Err(_) => true,
                };
                case.ours_if(member_id && !fits, 400, why::MEMBER)
            }
        };
        for field in FIELDS {
            let create = join(&[b"{\"", field.as_bytes(), b"\": ", &value, b"}"]);
            cases.push(expect(
                Case::new(
                    format!("create {field}={shown}"),
                    t.call("POST", b"/v2/images", &[("Content-Type", JSON)], &create),
                ),
                false,
            ));
            let patch = join(&[
                b"[{\"op\": \"replace\", \"path\": \"/",
                field.as_bytes(),
                b"\", \"value\": ",
                &value,
                b"}]",
            ]);
            let path = format!("/v2/images/{}", t.victim);
            cases.push(expect(
                Case::new(
                    format!("patch {field}={shown}"),
                    t.call(
                        "PATCH",
                        path.as_bytes(),
                        &[("Content-Type", PATCH_V21)],
                        &patch,
                    ),
                ),
                false,
            ));
        }
        // The value as a tag inside the list, as a property key, as a member id or status.
        let tag_list = join(&[b"{\"tags\": [", &value, b"]}"]);
        let as_key = join(&[b"{", &value, b": \"v\"}"]);
        let member = join(&[b"{\"member\": ", &value, b"}"]);
        let status = join(&[b"{\"status\": ", &value, b"}"]);
        let members = format!("/v2/images/{}/members", t.shared);
        let me = format!("/v2/images/{}/members/hostile", t.shared);
        for (label, method, path, body) in [
            ("create tags=[v]", "POST", "/v2/images", tag_list),
            ("create key", "POST", "/v2/images", as_key),
            ("member id", "POST", members.as_str(), member),
            ("member status", "PUT", me.as_str(), status),
        ] {
            cases.push(expect(
                Case::new(
                    format!("{label} {shown}"),
                    t.call(method, path.as_bytes(), &[("Content-Type", JSON)], &body),
                ),
                label == "member id",
            ));
        }
    }
    cases
}

/// Patch documents: shapes, pointers, op counts, in both dialects.
pub fn patch_cases(t: &Targets) -> Vec<Case> {
    let ops: Vec<String> = vec![
        r#"[{"path": "/name", "value": "x"}]"#.into(),
        r#"[{"op": "replace", "value": "x"}]"#.into(),
        r#"[{"op": "replace", "path": 1, "value": "x"}]"#.into(),
        r#"[{"op": "replace", "path": null, "value": "x"}]"#.into(),
        r#"[{"op": "replace", "path": ["/name"], "value": "x"}]"#.into(),
        r#"[{"op": "replace", "path": {"a": 1}, "value": "x"}]"#.into(),
        r#"[{"op": 1, "path": "/name", "value": "x"}]"#.into(),
        r#"[{"op": "move", "from": "/name", "path": "/x"}]"#.into(),
        r#"[{"op": "copy", "from": "/name", "path": "/x"}]"#.into(),
        r#"[{"op": "test", "path": "/name", "value": "x"}]"#.into(),
        r#"[{"op": "replace", "path": "/name"}]"#.into(),
        r#"[{"op": "add", "path": "", "value": {}}]"#.into(),
        r#"[{"op": "add", "path": "/", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "name", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "//", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/~", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/~2", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/a~", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/~0~1", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/a/b", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/tags/-", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/tags/99999999999999999999", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/tags/-1", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/locations/-", "value": {"url": "file:///etc/passwd", "metadata": {}}}]"#.into(),
        r#"[{"op": "add", "path": "/locations/0", "value": "x"}]"#.into(),
        r#"[{"op": "remove", "path": "/locations/0"}]"#.into(),
        r#"[{"op": "replace", "path": "/locations", "value": []}]"#.into(),
        r#"[{"op": "remove", "path": "/name"}]"#.into(),
        r#"[{"op": "remove", "path": "/does_not_exist"}]"#.into(),
        r#"[{"op": "add", "path": "/\ud800", "value": "x"}]"#.into(),
        r#"[{"op": "add", "path": "/x", "value": "\ud800"}]"#.into(),
        r#"[{"op": "add", "path": "/x", "value": "\ud83d\ude00"}]"#.into(),
        r#"[{"op": "add", "path": "/x", "value": "x", "extra": 1}]"#.into(),
        r#"[{"op": "add", "add": "/x", "value": "x"}]"#.into(),
        r#"[{"add": "/x", "value": "x"}]"#.into(),
        r#"[{"add": "/x", "remove": "/y"}]"#.into(),
        r#"[{"replace": 5, "value": "x"}]"#.into(),
        r#"[1, 2, 3]"#.into(),
        r#"[null]"#.into(),
        r#"[[]]"#.into(),
        r#"{"op": "add", "path": "/x", "value": "x"}"#.into(),
        format!(r#"[{{"op": "add", "path": "/{}", "value": "x"}}]"#, "k".repeat(300)),
        format!(r#"[{{"op": "add", "path": "/k", "value": "{}"}}]"#, "v".repeat(70_000)),
    ];
    let mut docs: Vec<(String, String)> = ops.iter().map(|d| (d.clone(), d.clone())).collect();
    // Appended after the shapes: (label, document), the label naming the operation count.
    for count in [999, 1_000, 1_001, 3_000, 30_000] {
        let op = r#"{"op": "replace", "path": "/name", "value": "n"}"#;
        docs.push((
            format!("{count} ops"),
            format!("[{}]", vec![op; count].join(",")),
        ));
        let add = (0..count)
            .map(|i| format!(r#"{{"op": "add", "path": "/p{i}", "value": "v"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        docs.push((format!("{count} distinct adds"), format!("[{add}]")));
    }
    let path = format!("/v2/images/{}", t.victim);
    let mut cases = Vec::new();
    for (label, doc) in &docs {
        let shown = shown(label.as_bytes(), 60);
        for (dialect, ct) in [("2.1", PATCH_V21), ("2.0", PATCH_V20)] {
            let case = Case::new(
                format!("patch{dialect} {shown}"),
                t.call(
                    "PATCH",
                    path.as_bytes(),
                    &[("Content-Type", ct)],
                    doc.as_bytes(),
                ),
            );
            cases.push(patch_expectation(case, dialect, label, doc));
        }
    }
    cases
}

/// Where our answer to a patch document differs from Glance 33's.
fn patch_expectation(case: Case, dialect: &str, label: &str, doc: &str) -> Case {
    let count = label
        .split_once(' ')
        .and_then(|(n, _)| n.parse::<usize>().ok());
    let ops: Vec<serde_json::Value> = serde_json::from_str(doc).unwrap_or_default();
    let untyped = ops.iter().any(|op| {
        ["path", "add", "remove", "replace"]
            .iter()
            .any(|key| op.get(key).is_some_and(|v| !v.is_string()))
    });
    let long_key = ops
        .iter()
        .any(|op| op["path"].as_str().is_some_and(|p| p.chars().count() > 256));
    match count {
        Some(n) if n > 1_000 => case.ours(413, why::MAX_OPS),
        Some(_) if dialect == "2.1" && label.ends_with("distinct adds") => {
            case.ours(413, why::SLOW_PATCH)
        }
        Some(_) if dialect == "2.1" => case.ours(200, why::SLOW_PATCH),
        _ if lone_surrogate(doc.as_bytes()) => case.ours(400, why::SURROGATE),
        _ if untyped => case.ours(400, why::PATH_TYPE),
        _ => case.ours_if(long_key, 400, why::KEY_LENGTH),
    }
}

/// Wrong, missing and strange Content-Types on every body-taking route.
pub fn content_type_cases(t: &Targets) -> Vec<Case> {
    let types: &[Option<&[u8]>] = &[
        None,
        Some(b""),
        Some(b"text/plain"),
        Some(b"application/json"),
        Some(b"application/json; charset=latin1"),
        Some(b"application/octet-stream"),
        Some(b"application/json-patch+json"),
        Some(b"multipart/form-data; boundary=x"),
        Some(b"application/openstack-images-v2.1-json-patch; x=\"\xff\""),
        Some(b"\xff\xfe"),
        Some(b";;;"),
        Some(b"application/"),
    ];
    let patch = format!("/v2/images/{}", t.victim);
    let upload = format!("/v2/images/{}/file", t.victim);
    let routes: [(&str, &[u8], &[u8]); 3] = [
        ("POST", b"/v2/images", b"{\"name\": \"ct\"}"),
        (
            "PATCH",
            patch.as_bytes(),
            b"[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"ct\"}]",
        ),
        ("PUT", upload.as_bytes(), b""),
    ];
    let mut cases = Vec::new();
    for (method, path, body) in routes {
        for content_type in types {
            let headers: Vec<(&str, &[u8])> = content_type
                .map(|ct| vec![("Content-Type", ct)])
                .unwrap_or_default();
            let case = Case::new(
                format!(
                    "{method} content-type {:?}",
                    content_type.map(String::from_utf8_lossy)
                ),
                t.call(method, path, &headers, body),
            );
            let non_ascii = content_type.is_some_and(|ct| !ct.is_ascii());
            cases.push(case.ours_if(method == "PATCH" && non_ascii, 415, why::NON_ASCII_TYPE));
        }
    }
    cases
}
