//! List queries, URLs and headers, and ranges.

use super::{shown, why, Targets, JSON};
use crate::hostile::wire::Case;

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
    queries.push("marker=VICTIM".into());
    queries.push("marker=VICTIM&sort_key=size&sort_dir=asc".into());
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
            // The label names the victim, whose id differs from run to run.
            let target = format!("/v2/images?{}", query.replace("VICTIM", &t.victim));
            let shown = shown(query.as_bytes(), 60);
            let case = Case::new(
                format!("list {shown}"),
                t.call("GET", target.as_bytes(), &[], b""),
            );
            list_expectation(case, &query)
        })
        .collect()
}

/// Where our answer to a list query differs from Glance 33's.
fn list_expectation(case: Case, query: &str) -> Case {
    let (key, value) = query.split_once('=').unwrap_or((query, ""));
    let filters = query
        .matches("tag=")
        .count()
        .max(query.matches("=v").count());
    let int_of = |bits: u32| {
        value
            .parse::<i128>()
            .is_ok_and(|n| n.unsigned_abs() < 1 << (bits - 1))
    };
    match key {
        _ if value.starts_with(' ') || value.ends_with(' ') => case.ours(400, why::RAW_BYTES),
        _ if filters >= 64 => case.ours(if filters <= 100 { 200 } else { 400 }, why::MANY_FILTERS),
        "min_disk" | "min_ram" if !int_of(32) => case.ours(400, why::INT_FILTER),
        "size" if !int_of(64) => case.ours(400, why::INT_FILTER),
        "size_min" | "size_max" if value.parse::<i128>().is_ok() && !int_of(64) => {
            case.ours(200, why::BIG_BOUND)
        }
        "changes-since" if value.is_empty() => case.ours(200, why::EMPTY_CHANGES_SINCE),
        _ if value == "%00" => case.ours(400, why::NUL),
        _ => case,
    }
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
        let shown = shown(segment.as_bytes(), 30);
        let tag = format!("/v2/images/{}/tags/{segment}", t.victim);
        let member = format!("/v2/images/{}/members/{segment}", t.shared);
        let mut targets: Vec<(&str, &str, String)> = Vec::new();
        for method in ["PUT", "DELETE"] {
            targets.push((method, "tag", tag.clone()));
        }
        for method in ["GET", "PUT", "DELETE"] {
            targets.push((method, "member", member.clone()));
        }
        targets.extend([
            ("GET", "image", format!("/v2/images/{segment}")),
            ("GET", "file", format!("/v2/images/{segment}/file")),
            ("GET", "v2", format!("/v2/{segment}")),
            ("GET", "version", format!("/{segment}/images")),
        ]);
        for (method, role, target) in targets {
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
            let case = Case::new(
                format!("{method} {role} {shown}"),
                t.call(method, target.as_bytes(), headers, body),
            );
            cases.push(url_expectation(case, method, role, segment));
        }
    }
    // Whole-URL and header sizes and counts.
    for size in [8_000, 16_000, 33_000, 70_000, 300_000] {
        let target = format!("/v2/images?name={}", "n".repeat(size));
        // uWSGI drops a request head over its 64 KiB buffer.
        let over = |status| if size > 64_000 { Some(status) } else { None };
        let case = Case::new(
            format!("URL of {size}"),
            t.call("GET", target.as_bytes(), &[], b""),
        );
        cases.push(match over(if size > 100_000 { 431 } else { 400 }) {
            Some(status) => case.ours(status, why::HEAD_LIMITS),
            None => case,
        });
        let value = "h".repeat(size);
        let case = Case::new(
            format!("header of {size}"),
            t.call("GET", b"/v2/images", &[("X-Junk", value.as_bytes())], b""),
        );
        cases.push(match over(if size > 100_000 { 431 } else { 200 }) {
            Some(status) => case.ours(status, why::HEAD_LIMITS),
            None => case,
        });
    }
    for count in [50, 90, 100, 200, 1_000] {
        let names: Vec<String> = (0..count).map(|i| format!("X-H{i}")).collect();
        let headers: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
        // Over 64 headers is 431 here; uWSGI passes 100 on to Glance and drops 200.
        cases.push(
            Case::new(
                format!("{count} headers"),
                t.call("GET", b"/v2/images", &headers, b""),
            )
            .ours_if(count > 64, 431, why::HEAD_LIMITS),
        );
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
        // None carries identity headers: what passes the HTTP layer meets trusted-auth.
        let case = Case::new(label, raw.to_vec());
        cases.push(match label {
            "bare LF" | "absolute form" => case.ours(401, why::NO_IDENTITY),
            "asterisk" => case.ours(200, "OPTIONS * is answered (200, no body); uWSGI drops it"),
            _ => case.ours(400, why::RAW_BYTES),
        });
    }
    cases
}

/// Where our answer to a path segment differs from Glance 33's.
fn url_expectation(case: Case, method: &str, role: &str, segment: &str) -> Case {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
    match segment {
        _ if !segment.is_ascii() => case.ours(400, why::RAW_BYTES),
        _ if std::str::from_utf8(&decoded).is_err() => case.ours(400, why::UNDECODABLE_PATH),
        "%f0%9f%98%80" if role == "tag" => {
            case.ours(if method == "PUT" { 400 } else { 404 }, why::FOUR_BYTE_TAG)
        }
        "%00" if role == "tag" => case.ours(400, why::NUL),
        "%" | "a%2fb" | ".." if role == "tag" => case.ours(204, why::LITERAL_PATH),
        "%zz" if role == "member" => case.ours(404, why::LITERAL_PATH),
        ".." if role == "v2" => case.ours(404, why::LITERAL_PATH),
        _ => case,
    }
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
    for (which, image) in [("with data", &t.with_data), ("queued", &t.victim)] {
        let path = format!("/v2/images/{image}/file");
        for range in ranges {
            let case = Case::new(
                format!("Range {range:?} {which}"),
                t.call("GET", path.as_bytes(), &[("Range", range.as_bytes())], b""),
            );
            cases.push(range_expectation(case, which, range));
        }
        for range in content_ranges {
            let case = Case::new(
                format!("Content-Range {range:?} {which}"),
                t.call(
                    "GET",
                    path.as_bytes(),
                    &[("Content-Range", range.as_bytes())],
                    b"",
                ),
            );
            cases.push(range_expectation(case, which, range));
        }
    }
    cases
}

/// Where our answer to a Range (or legacy Content-Range) differs from Glance 33's.
fn range_expectation(case: Case, which: &str, range: &str) -> Case {
    match range {
        _ if range.contains('\u{7f}') => case.ours(400, why::RAW_BYTES),
        _ if which == "queued" => case.ours(204, why::QUEUED_RANGE),
        "bytes=-" | "bytes=-0" | "bytes=-1-2" | "bytes */*" => case.ours(416, why::BAD_RANGE),
        "bytes=0-99999999999999999999" | "bytes=-99999999999999999999" => {
            case.ours(416, why::BIG_RANGE)
        }
        _ => case,
    }
}
