//! List queries, URLs and headers, and ranges.

use super::{Targets, JSON};
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
