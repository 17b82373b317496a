//! The hostile inputs, generated as tables × variants: JSON bodies, field values, patch
//! documents, list queries, URLs and headers, ranges, and upload framing.

use super::wire::{request, Case, Finish};

/// The images the cases aim at.
pub struct Targets {
    /// Queued, patched freely.
    pub victim: String,
    /// Shared, for member requests.
    pub shared: String,
    /// Active with data, for downloads and ranges (never written by a case).
    pub with_data: String,
    /// Queued with formats set: one per upload case, in order.
    pub uploads: Vec<String>,
    /// Identity headers every request carries.
    pub identity: Vec<(&'static str, Vec<u8>)>,
}

impl Targets {
    fn call(&self, method: &str, target: &[u8], extra: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
        let mut headers: Vec<(&str, &[u8])> = self
            .identity
            .iter()
            .map(|(n, v)| (*n, v.as_slice()))
            .collect();
        headers.extend_from_slice(extra);
        request(method, target, &headers, body)
    }
}

const JSON: &[u8] = b"application/json";
const PATCH_V21: &[u8] = b"application/openstack-images-v2.1-json-patch";
const PATCH_V20: &[u8] = b"application/openstack-images-v2.0-json-patch";

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
            cases.push(Case::new(
                format!("{endpoint} body {label}"),
                t.call(
                    method,
                    path.as_bytes(),
                    &[("Content-Type", content_type)],
                    body,
                ),
            ));
        }
    }
    cases
}

pub fn field_cases(t: &Targets) -> Vec<Case> {
    let mut cases = Vec::new();
    let join = |parts: &[&[u8]]| parts.concat();
    for value in field_values() {
        let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
        for field in FIELDS {
            let create = join(&[b"{\"", field.as_bytes(), b"\": ", &value, b"}"]);
            cases.push(Case::new(
                format!("create {field}={shown}"),
                t.call("POST", b"/v2/images", &[("Content-Type", JSON)], &create),
            ));
            let patch = join(&[
                b"[{\"op\": \"replace\", \"path\": \"/",
                field.as_bytes(),
                b"\", \"value\": ",
                &value,
                b"}]",
            ]);
            let path = format!("/v2/images/{}", t.victim);
            cases.push(Case::new(
                format!("patch {field}={shown}"),
                t.call(
                    "PATCH",
                    path.as_bytes(),
                    &[("Content-Type", PATCH_V21)],
                    &patch,
                ),
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
            cases.push(Case::new(
                format!("{label} {shown}"),
                t.call(method, path.as_bytes(), &[("Content-Type", JSON)], &body),
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
        let shown = &label[..label.len().min(60)];
        for (dialect, ct) in [("2.1", PATCH_V21), ("2.0", PATCH_V20)] {
            cases.push(Case::new(
                format!("patch{dialect} {shown}"),
                t.call(
                    "PATCH",
                    path.as_bytes(),
                    &[("Content-Type", ct)],
                    doc.as_bytes(),
                ),
            ));
        }
    }
    cases
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
            cases.push(Case::new(
                format!(
                    "{method} content-type {:?}",
                    content_type.map(String::from_utf8_lossy)
                ),
                t.call(method, path, &headers, body),
            ));
        }
    }
    cases
}

/// Absurd list filters, sort keys, markers and limits.
pub fn list_cases(t: &Targets) -> Vec<Case> {
    let numbers = [
        "",
        "0",
        "1",
        "-1",
        "1.5",
        "abc",
        "0x10",
        "1e3",
        "99999999999999999999",
        "-99999999999999999999",
        "9223372036854775807",
        "9223372036854775808",
        " 5",
        "5 ",
        "%00",
        "%ff",
        "%ed%a0%80",
        "%f0%9f%98%80",
    ];
    let mut queries: Vec<String> = Vec::new();
    for n in numbers {
        for key in [
            "limit", "size_min", "size_max", "min_disk", "min_ram", "marker", "size",
        ] {
            queries.push(format!("{key}={n}"));
        }
    }
    for key in [
        "name",
        "id",
        "tag",
        "status",
        "visibility",
        "owner",
        "member_status",
        "os_hidden",
        "protected",
        "sort_key",
        "sort_dir",
        "sort",
        "container_format",
        "disk_format",
        "created_at",
        "updated_at",
        "custom_prop",
        "checksum",
        "os_hash_value",
        "deleted",
        "changes-since",
    ] {
        for value in [
            "",
            "%ff",
            "%c3%28",
            "%ed%a0%80",
            "%f0%9f%98%80",
            "in:",
            "in:%22",
            "in:%22a,b",
            "in:a,%22b",
            "in:%22a%22b%22",
            "in:,,,",
            "gt:",
            "gte:2026",
            "lt:not-a-date",
            "eq:",
            "neq:x",
            "xx:y",
            "%00",
            "a%0d%0aX-Injected:1",
        ] {
            queries.push(format!("{key}={value}"));
        }
        queries.push(format!("{key}={}", "x".repeat(4096)));
        queries.push(format!("{key}=a&{key}=b&{key}=c"));
    }
    for sort in [
        "name:asc,name:desc", "name:sideways", "bogus:asc", ":", ",", "name:asc:desc",
        "size:desc,id:asc,created_at:asc,updated_at:desc,name:asc,status:asc,container_format:asc,disk_format:asc",
    ] {
        queries.push(format!("sort={sort}"));
        queries.push(format!("sort={sort}&sort_key=name"));
    }
    queries.push("sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc&sort_dir=asc".into());
    queries.push(format!("marker={}", t.victim));
    queries.push(format!("marker={}&sort_key=size&sort_dir=asc", t.victim));
    queries.push("marker=00000000-0000-0000-0000-000000000000".into());
    for count in [10, 64, 65, 100, 500, 1_000, 2_000] {
        let tags = (0..count)
            .map(|i| format!("tag=t{i}"))
            .collect::<Vec<_>>()
            .join("&");
        queries.push(tags);
        let props = (0..count)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        queries.push(props);
        let names = vec!["name=x"; count].join("&");
        queries.push(names);
    }
    queries.push(format!("name=in:{}", vec!["a"; 5_000].join(",")));
    queries.push("&&&&".into());
    queries.push("=".into());
    queries.push("==&=x&x=".into());
    queries.push("%".into());
    queries.push("limit=%".into());
    queries
        .into_iter()
        .map(|query| {
            let target = format!("/v2/images?{query}");
            let shown = &query[..query.len().min(60)];
            Case::new(
                format!("list {shown}"),
                t.call("GET", target.as_bytes(), &[], b""),
            )
        })
        .collect()
}

/// Raw path segments: invalid UTF-8, 4-byte, surrogates, long, traversal.
pub fn url_cases(t: &Targets) -> Vec<Case> {
    let segments: &[&str] = &[
        "%ff",
        "%c3%28",
        "%ed%a0%80",
        "%ed%bf%bf",
        "%f0%9f%98%80",
        "%f4%90%80%80",
        "%c0%af",
        "%e2%82",
        "%",
        "%zz",
        "%00",
        "a%2fb",
        "..",
        "%2e%2e",
        "%20",
        "%0d%0a",
        "~",
        "-",
        "\u{ff}",
        "tag%20with%20spaces",
    ];
    let long = "x".repeat(300);
    let longer = "y".repeat(20_000);
    let mut all: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
    all.push(long);
    all.push(longer);
    let mut cases = Vec::new();
    for segment in &all {
        let shown = &segment[..segment.len().min(30)];
        let targets = [
            ("PUT", format!("/v2/images/{}/tags/{segment}", t.victim)),
            ("DELETE", format!("/v2/images/{}/tags/{segment}", t.victim)),
            ("GET", format!("/v2/images/{}/members/{segment}", t.shared)),
            ("PUT", format!("/v2/images/{}/members/{segment}", t.shared)),
            (
                "DELETE",
                format!("/v2/images/{}/members/{segment}", t.shared),
            ),
            ("GET", format!("/v2/images/{segment}")),
            ("GET", format!("/v2/images/{segment}/file")),
            ("GET", format!("/v2/{segment}")),
            ("GET", format!("/{segment}/images")),
        ];
        for (method, target) in targets {
            let body: &[u8] = if method == "PUT" && target.contains("/members/") {
                b"{\"status\": \"accepted\"}"
            } else {
                b""
            };
            let headers: &[(&str, &[u8])] = if body.is_empty() {
                &[]
            } else {
                &[("Content-Type", JSON)]
            };
            cases.push(Case::new(
                format!(
                    "{method} {} {shown}",
                    target.split('/').nth(3).unwrap_or("")
                ),
                t.call(method, target.as_bytes(), headers, body),
            ));
        }
    }
    // Whole-URL and header sizes and counts.
    for size in [8_000, 16_000, 33_000, 70_000, 300_000] {
        let target = format!("/v2/images?name={}", "n".repeat(size));
        cases.push(Case::new(
            format!("URL of {size}"),
            t.call("GET", target.as_bytes(), &[], b""),
        ));
        let value = "h".repeat(size);
        cases.push(Case::new(
            format!("header of {size}"),
            t.call("GET", b"/v2/images", &[("X-Junk", value.as_bytes())], b""),
        ));
    }
    for count in [50, 90, 100, 200, 1_000] {
        let names: Vec<String> = (0..count).map(|i| format!("X-H{i}")).collect();
        let headers: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
        cases.push(Case::new(
            format!("{count} headers"),
            t.call("GET", b"/v2/images", &headers, b""),
        ));
    }
    for (label, raw) in [
        (
            "bare LF",
            &b"GET /v2/images HTTP/1.1\nHost: x\nConnection: close\n\n"[..],
        ),
        ("HTTP/0.9", b"GET /v2/images\r\n\r\n"),
        (
            "HTTP/2.0 line",
            b"GET /v2/images HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
        (
            "space in target",
            b"GET /v2/images x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
        (
            "absolute form",
            b"GET http://127.0.0.1/v2/images HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
        (
            "asterisk",
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
        (
            "header without colon",
            b"GET /v2/images HTTP/1.1\r\nHost: x\r\nNoColon\r\nConnection: close\r\n\r\n",
        ),
        (
            "NUL in header",
            b"GET /v2/images HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n",
        ),
        (
            "8-bit header name",
            b"GET /v2/images HTTP/1.1\r\nHost: x\r\nX-\xff: 1\r\nConnection: close\r\n\r\n",
        ),
    ] {
        cases.push(Case::new(label, raw.to_vec()));
    }
    cases
}

/// Range and legacy Content-Range on an image with data and on one without.
pub fn range_cases(t: &Targets) -> Vec<Case> {
    let ranges = [
        "bytes=-",
        "bytes=5-2",
        "bytes=0-1,1-2",
        "bytes=0-0,-1",
        "bytes=0-",
        "bytes=-0",
        "bytes=-1",
        "bytes=0-0",
        "bytes=99999999999999999999-",
        "bytes=0-99999999999999999999",
        "bytes=-99999999999999999999",
        "bytes=18446744073709551615-",
        "bytes=1000000-",
        "bytes=",
        "bytes",
        "=0-1",
        "items=0-1",
        "bytes=a-b",
        "bytes=-1-2",
        "bytes= 0 - 1 ",
        "bytes=0x1-2",
        "bytes=+1-2",
        "BYTES=0-1",
        "bytes=0-1\u{7f}",
        "bytes=\u{ff}",
    ];
    let content_ranges = [
        "bytes 0-1/*",
        "bytes 5-2/*",
        "bytes 0-99999999999999999999/*",
        "bytes */*",
        "bytes 0-1/1",
        "bytes -1-2/*",
        "garbage",
    ];
    let mut cases = Vec::new();
    for image in [&t.with_data, &t.victim] {
        let path = format!("/v2/images/{image}/file");
        for range in ranges {
            cases.push(Case::new(
                format!("Range {range:?}"),
                t.call("GET", path.as_bytes(), &[("Range", range.as_bytes())], b""),
            ));
        }
        for range in content_ranges {
            cases.push(Case::new(
                format!("Content-Range {range:?}"),
                t.call(
                    "GET",
                    path.as_bytes(),
                    &[("Content-Range", range.as_bytes())],
                    b"",
                ),
            ));
        }
    }
    cases
}

/// Upload framing: bodies shorter or longer than declared, broken chunking, cut-off streams.
/// Each case takes its own queued image from `t.uploads`.
pub fn upload_cases(t: &Targets) -> Vec<Case> {
    type Build = fn() -> (Vec<(&'static str, Vec<u8>)>, Vec<u8>, Finish);
    let builds: Vec<(&str, Build)> = vec![
        ("declares 1000, sends 10, half-closes", || {
            (
                vec![octet(), ("Content-Length", b"1000".to_vec())],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("declares 1000, sends 10, hangs up", || {
            (
                vec![octet(), ("Content-Length", b"1000".to_vec())],
                vec![b'a'; 10],
                Finish::Abort,
            )
        }),
        ("declares 10, sends 1000", || {
            (
                vec![octet(), ("Content-Length", b"10".to_vec())],
                vec![b'a'; 1000],
                Finish::Wait,
            )
        }),
        ("declares 0, sends 100", || {
            (
                vec![octet(), ("Content-Length", b"0".to_vec())],
                vec![b'a'; 100],
                Finish::Wait,
            )
        }),
        ("image-size 100, sends 10", || {
            (
                vec![octet(), ("x-openstack-image-size", b"100".to_vec())],
                vec![b'a'; 10],
                Finish::Wait,
            )
        }),
        ("image-size 5, sends 10", || {
            (
                vec![octet(), ("x-openstack-image-size", b"5".to_vec())],
                vec![b'a'; 10],
                Finish::Wait,
            )
        }),
        ("image-size -1", || {
            (
                vec![octet(), ("x-openstack-image-size", b"-1".to_vec())],
                vec![b'a'; 10],
                Finish::Wait,
            )
        }),
        ("image-size huge", || {
            (
                vec![
                    octet(),
                    ("x-openstack-image-size", b"99999999999999999999".to_vec()),
                ],
                vec![b'a'; 10],
                Finish::Wait,
            )
        }),
        ("Content-Length huge", || {
            (
                vec![
                    octet(),
                    ("Content-Length", b"99999999999999999999".to_vec()),
                ],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("Content-Length over the cap", || {
            (
                vec![octet(), ("Content-Length", b"1099511627777".to_vec())],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("Content-Length -1", || {
            (
                vec![octet(), ("Content-Length", b"-1".to_vec())],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("Content-Length abc", || {
            (
                vec![octet(), ("Content-Length", b"abc".to_vec())],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("two Content-Lengths", || {
            (
                vec![
                    octet(),
                    ("Content-Length", b"10".to_vec()),
                    ("Content-Length", b"20".to_vec()),
                ],
                vec![b'a'; 10],
                Finish::HalfClose,
            )
        }),
        ("Content-Length and chunked", || {
            (
                vec![
                    octet(),
                    ("Content-Length", b"10".to_vec()),
                    ("Transfer-Encoding", b"chunked".to_vec()),
                ],
                b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::HalfClose,
            )
        }),
        ("good chunked", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunk size not hex", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"zz\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunk shorter than its size", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"10\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::HalfClose,
            )
        }),
        ("chunk longer than its size", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"2\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunk size huge", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"ffffffffffffffffffff\r\nhello\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunk size negative", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"-5\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunked without last chunk, half-closes", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"5\r\nhello\r\n".to_vec(),
                Finish::HalfClose,
            )
        }),
        ("chunked cut off, hangs up", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"5\r\nhello\r\n5\r\nwor".to_vec(),
                Finish::Abort,
            )
        }),
        ("chunk extension and trailer", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("chunked with bare LF", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked".to_vec())],
                b"5\nhello\n0\n\n".to_vec(),
                Finish::Wait,
            )
        }),
        ("transfer-encoding gzip", || {
            (
                vec![octet(), ("Transfer-Encoding", b"gzip".to_vec())],
                b"hello".to_vec(),
                Finish::HalfClose,
            )
        }),
        ("transfer-encoding chunked, chunked", || {
            (
                vec![octet(), ("Transfer-Encoding", b"chunked, chunked".to_vec())],
                b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
                Finish::HalfClose,
            )
        }),
        ("1 MiB declared, 512 KiB then hang up", || {
            (
                vec![octet(), ("Content-Length", b"1048576".to_vec())],
                vec![7u8; 512 * 1024],
                Finish::Abort,
            )
        }),
        ("1 MiB declared, 512 KiB then half-close", || {
            (
                vec![octet(), ("Content-Length", b"1048576".to_vec())],
                vec![7u8; 512 * 1024],
                Finish::HalfClose,
            )
        }),
        ("empty body", || {
            (
                vec![octet(), ("Content-Length", b"0".to_vec())],
                Vec::new(),
                Finish::Wait,
            )
        }),
        ("exact 3 MiB", || {
            (
                vec![octet(), ("Content-Length", b"3145728".to_vec())],
                vec![9u8; 3 << 20],
                Finish::Wait,
            )
        }),
        ("Expect: 100-continue, then nothing", || {
            (
                vec![
                    octet(),
                    ("Content-Length", b"100".to_vec()),
                    ("Expect", b"100-continue".to_vec()),
                ],
                Vec::new(),
                Finish::HalfClose,
            )
        }),
        ("Expect: bogus", || {
            (
                vec![
                    octet(),
                    ("Content-Length", b"5".to_vec()),
                    ("Expect", b"bogus".to_vec()),
                ],
                b"hello".to_vec(),
                Finish::Wait,
            )
        }),
    ];
    builds
        .into_iter()
        .zip(&t.uploads)
        .map(|((label, build), image)| {
            let (headers, body, finish) = build();
            let path = format!("/v2/images/{image}/file");
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
            let case = Case::new(
                format!("upload {label}"),
                t.call("PUT", path.as_bytes(), &headers, &body),
            )
            .finishing(finish);
            if CORRUPT_CHUNKING.contains(&label) {
                case.expecting(400)
            } else {
                case
            }
        })
        .collect()
}

/// Chunked bodies actix-http cannot decode; it would drop the connection, and the API's
/// connection wrapper answers 400 instead (src/server/connection.rs).
const CORRUPT_CHUNKING: &[&str] = &[
    "chunk size not hex",
    "chunk longer than its size",
    "chunk size huge",
    "chunk size negative",
    "chunked with bare LF",
];

fn octet() -> (&'static str, Vec<u8>) {
    ("Content-Type", b"application/octet-stream".to_vec())
}

/// How many upload images `upload_cases` needs.
pub const UPLOAD_CASES: usize = 32;

/// Bodies over the request limit, declared and chunked.
pub fn oversize_cases(t: &Targets) -> Vec<Case> {
    let big = format!("{{\"name\": \"{}\"}}", "b".repeat(2 << 20));
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(100_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let patch = format!("/v2/images/{}", t.victim);
    vec![
        Case::new(
            "create 2 MiB declared",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON)],
                big.as_bytes(),
            ),
        ),
        Case::new(
            "create 2 MiB chunked",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON), ("Transfer-Encoding", b"chunked")],
                &chunked,
            ),
        ),
        Case::new(
            "patch 2 MiB declared",
            t.call(
                "PATCH",
                patch.as_bytes(),
                &[("Content-Type", PATCH_V21)],
                big.as_bytes(),
            ),
        ),
        Case::new(
            "create declares 2 MiB, sends 10",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON), ("Content-Length", b"2097152")],
                b"{\"name\":1}",
            ),
        )
        .finishing(Finish::HalfClose),
        Case::new(
            "body on GET",
            t.call(
                "GET",
                b"/v2/images",
                &[("Content-Type", JSON)],
                b"{\"a\": 1}",
            ),
        ),
        Case::new(
            "body on DELETE of a missing image",
            t.call(
                "DELETE",
                b"/v2/images/00000000-0000-0000-0000-000000000000",
                &[],
                b"xx",
            ),
        ),
    ]
}
