//! glance-api and glance-registry serve on a listening socket handed over on fd 3 with
//! `LISTEN_FDS` (systemd socket activation; src/server/activation.rs), and refuse a malformed
//! hand-over with a clear message and exit status 1, not a panic.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::process::ApiProcess;
use crate::support::server::handoff;

/// A `GET /healthcheck` sent on a connection to `listener` before any server runs (the
/// kernel queues it): only a server serving on this very socket can answer it.
fn queued_healthcheck(listener: &TcpListener) -> TcpStream {
    let mut stream = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    stream
        .write_all(b"GET /healthcheck HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream
}

async fn answer(mut stream: TcpStream) -> String {
    tokio::task::spawn_blocking(move || {
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("an answer");
        answer
    })
    .await
    .expect("reader")
}

#[tokio::test]
async fn glance_api_serves_on_the_socket_it_is_handed() {
    let listener = handoff::bind("127.0.0.1");
    let port = handoff::port(&listener);
    let queued = queued_healthcheck(&listener);
    // server.bind names an address in use: binding it would fail the start.
    let taken = handoff::bind("127.0.0.1");
    let bind = taken.local_addr().expect("address").to_string();
    let api = ApiProcess::start_on(listener, &[("GLANCE__SERVER__BIND", bind)]).await;
    assert_eq!(api.base, format!("http://127.0.0.1:{port}"));
    let answer = answer(queued).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let images = api
        .client
        .get(api.url("/v2/images"))
        .send()
        .await
        .expect("list");
    assert_eq!(images.status(), 200);
}

#[cfg(feature = "registry-server")]
#[tokio::test]
async fn glance_registry_serves_on_the_socket_it_is_handed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = handoff::bind("127.0.0.1");
    let queued = queued_healthcheck(&listener);
    let mut command = Command::new(env!("CARGO_BIN_EXE_glance-registry"));
    let mut registry = handoff::hand_over(&mut command, &listener)
        .env_remove("GLANCE_CONFIG")
        .env("GLANCE__SERVER__BIND", "192.0.2.1:1")
        .env(
            "GLANCE__DATABASE__URL",
            format!("sqlite:///{}", dir.path().join("g.db").display()),
        )
        .env("GLANCE__REGISTRY__TOKEN", "secret")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("glance-registry starts");
    drop(listener);
    let answer = answer(queued).await;
    let _ = registry.kill();
    let _ = registry.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// glance-api run with `env`, fd 3 set up by `setup`: its exit status and what it logged.
fn refused(env: &[(&str, &str)], setup: impl FnOnce(&mut Command)) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_glance-api"));
    command
        .current_dir(dir.path())
        .env_remove("GLANCE_CONFIG")
        .env_remove("LISTEN_PID")
        .env("RUST_LOG", "info")
        .env("GLANCE__SERVER__BIND", "127.0.0.1:0")
        .env(
            "GLANCE__DATABASE__URL",
            format!("sqlite:///{}", dir.path().join("glance.db").display()),
        )
        .env("GLANCE__STORE__PATH", dir.path().join("images"))
        .stdin(Stdio::null());
    setup(&mut command);
    command.envs(env.iter().copied());
    let output = command.output().expect("glance-api runs");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!log.contains("panicked"), "{log}");
    (output.status.code(), log)
}

#[test]
fn a_malformed_hand_over_stops_the_start_with_a_clear_message() {
    let (code, log) = refused(&[("LISTEN_FDS", "one")], |_| ());
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(r#"LISTEN_FDS="one" is not a number of sockets"#),
        "{log}"
    );

    let (code, log) = refused(&[("LISTEN_FDS", "1"), ("LISTEN_PID", "x")], |_| ());
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(r#"LISTEN_PID="x" is not a process id"#),
        "{log}"
    );

    // Nothing on fd 3: std opens every descriptor close-on-exec.
    let (code, log) = refused(&[("LISTEN_FDS", "1")], |_| ());
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("LISTEN_FDS=1 but fd 3 is not open"), "{log}");

    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let (code, log) = refused(&[], |command| {
        handoff::hand_over(command, &udp);
    });
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("not a stream socket"), "{log}");

    // A connection, as a systemd .socket unit with Accept=yes hands over.
    let listener = handoff::bind("127.0.0.1");
    let connection = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (code, log) = refused(&[], |command| {
        handoff::hand_over(command, &connection);
    });
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("use Accept=no"), "{log}");
}

/// `LISTEN_FDS` for another process (`LISTEN_PID` not ours) is not taken: the server binds
/// `server.bind` as usual.
#[tokio::test]
async fn sockets_meant_for_another_process_are_left_alone() {
    let taken = handoff::bind("127.0.0.1");
    let bind = taken.local_addr().expect("address").to_string();
    let handed = handoff::bind("127.0.0.1");
    let (code, log) = refused(
        &[
            ("LISTEN_FDS", "1"),
            ("LISTEN_PID", "1"),
            ("GLANCE__SERVER__BIND", &bind),
        ],
        |command| {
            handoff::hand_over(command, &handed);
        },
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains(&format!("cannot bind {bind}")), "{log}");
}
