//! Upload framing (short, long, broken chunking, cut off) and bodies over the limit.

use super::{why, Targets, JSON, PATCH_V21};
use crate::hostile::wire::{Case, Finish};

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
            let label = format!("upload {label}");
            let request = t.call("PUT", path.as_bytes(), &headers, &body);
            let case = Case::new(label, request).finishing(finish);
            upload_expectation(case)
        })
        .collect()
}

/// Where our answer to an upload is not Glance 33's (uWSGI in front of it reads the framing
/// leniently, or Glance fails on it).
fn upload_expectation(case: Case) -> Case {
    const FRAMING: &str = "refused by the HTTP layer as request smuggling or corrupt framing \
        (400, no body); uWSGI in front of Glance reads some body and Glance stores it (204)";
    let kind = case.label.trim_start_matches("upload ");
    match kind {
        // src/server/connection.rs answers these in Glance's shape (actix-http would drop the
        // connection).
        "chunk size not hex" | "chunk longer than its size" => case.ours(
            400,
            "a chunked body that cannot be decoded is 400; uWSGI reads what it can and \
             Glance stores that (204)",
        ),
        "Content-Length abc"
        | "two Content-Lengths"
        | "transfer-encoding gzip"
        | "transfer-encoding chunked, chunked"
        | "Content-Length huge" => case.ours(400, FRAMING),
        "declares 1000, sends 10, half-closes"
        | "chunk shorter than its size"
        | "chunk size huge"
        | "chunk size negative"
        | "chunked without last chunk, half-closes"
        | "chunked with bare LF"
        | "1 MiB declared, 512 KiB then half-close"
        | "Expect: 100-continue, then nothing" => case.ours(400, why::SHORT_BODY),
        "declares 10, sends 1000" => case.ours(
            204,
            "the declared 10 bytes are the image and the connection closes; Glance answers \
             500 or 204 from run to run",
        ),
        "chunk extension and trailer" => case.ours(
            204,
            "chunk extensions and trailers are valid HTTP/1.1; Glance 500s on them",
        ),
        "Content-Length over the cap" => {
            case.ours(413, "refused from the declared length at once; Glance 500s")
        }
        _ => case,
    }
}

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
    // Glance reads any body whole (no cap) and then refuses the 2 MiB name by its schema (400)
    // or, for a body cut short, fails (500).
    const CAP: &str = why::CAP;
    vec![
        Case::new(
            "create 2 MiB declared",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON)],
                big.as_bytes(),
            ),
        )
        .ours(413, CAP),
        Case::new(
            "create 2 MiB chunked",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON), ("Transfer-Encoding", b"chunked")],
                &chunked,
            ),
        )
        .ours(413, CAP),
        Case::new(
            "patch 2 MiB declared",
            t.call(
                "PATCH",
                patch.as_bytes(),
                &[("Content-Type", PATCH_V21)],
                big.as_bytes(),
            ),
        )
        .ours(413, CAP),
        Case::new(
            "create declares 2 MiB, sends 10",
            t.call(
                "POST",
                b"/v2/images",
                &[("Content-Type", JSON), ("Content-Length", b"2097152")],
                b"{\"name\":1}",
            ),
        )
        .finishing(Finish::HalfClose)
        .ours(413, CAP),
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
