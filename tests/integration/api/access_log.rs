//! The access log of the real binary: one line per request with its request id, written in
//! batches (`server::logging`) yet never lost at a normal exit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::wait_healthy;
use crate::support::server::handoff;

/// GET `/v2/images` and return the request id it was answered with.
async fn request_id(client: &reqwest::Client, base: &str) -> String {
    let res = client
        .get(format!("{base}/v2/images"))
        .send()
        .await
        .expect("answers");
    assert_eq!(res.status(), 200);
    res.headers()["x-openstack-request-id"]
        .to_str()
        .expect("ascii")
        .to_string()
}

fn access_lines(log: &str, ids: &[String]) -> usize {
    ids.iter()
        .filter(|id| {
            log.lines()
                .any(|line| line.contains("GET /v2/images HTTP/1.1\" 200") && line.contains(*id))
        })
        .count()
}

#[tokio::test]
async fn access_lines_are_written_while_serving_and_all_of_them_at_exit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("api.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let listener = handoff::bind("127.0.0.1");
    let base = format!("http://127.0.0.1:{}", handoff::port(&listener));
    let mut command = Command::new(env!("CARGO_BIN_EXE_glance-api"));
    handoff::hand_over(&mut command, &listener)
        .current_dir(dir.path())
        .env_remove("GLANCE_CONFIG")
        .env("RUST_LOG", "info")
        .env(
            "GLANCE__DATABASE__URL",
            format!("sqlite:///{}", dir.path().join("glance.db").display()),
        )
        .env("GLANCE__STORE__PATH", dir.path().join("images"))
        .stdout(Stdio::null())
        .stderr(log);
    #[cfg(all(feature = "direct-postgres", not(feature = "direct-sqlite")))]
    command
        .env("GLANCE__DATA_ACCESS__MODE", "direct-postgres")
        .env(
            "GLANCE__DATABASE__URL",
            crate::support::postgres::fresh_url().await,
        );
    let mut api = command.spawn().expect("glance-api starts");
    drop(listener);
    let client = reqwest::Client::new();
    wait_healthy(&client, &base, &mut api).await;

    // While serving: every line reaches the log soon after its request.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(request_id(&client, &base).await);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log_path).expect("log");
        if access_lines(&text, &ids) == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "access lines missing:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // At exit: no line is lost.
    let mut last = Vec::new();
    for _ in 0..20 {
        last.push(request_id(&client, &base).await);
    }
    // With no keep-alive connection left the server stops at once. Whatever writes the last
    // batch (actix's info line about the signal, the writer thread, or the exit), none of
    // the lines may be missing once the process has ended.
    drop(client);
    let status = Command::new("kill")
        .args(["-TERM", &api.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exited = api.wait().expect("exits");
    assert!(exited.success(), "{exited}");
    let text = std::fs::read_to_string(&log_path).expect("log");
    assert_eq!(access_lines(&text, &last), last.len(), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
