//! The real Keystone that `tests/keystone/lib.sh` starts once per CI run (scripts/test.sh):
//! where it is (`GLANCE_TEST_KEYSTONE_URL`), tokens issued by password as real clients get
//! them, revocation, glance-api's keystone-mode settings, and a TCP proxy in front of
//! Keystone that a test can cut (an outage seen from glance-api, without stopping the one
//! Keystone every other test uses).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Keystone's URL. Without `GLANCE_TEST_KEYSTONE_URL` the test fails (a Keystone test that
/// passes without a Keystone would prove nothing), unless `GLANCE_TEST_KEYSTONE=skip` says
/// on purpose to leave the Keystone tests out: then `None`, and the test says so and returns.
pub fn url() -> Option<String> {
    match std::env::var("GLANCE_TEST_KEYSTONE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("GLANCE_TEST_KEYSTONE").as_deref() == Ok("skip") => {
            eprintln!("skipped on purpose (GLANCE_TEST_KEYSTONE=skip): no Keystone test ran");
            None
        }
        _ => panic!(
            "GLANCE_TEST_KEYSTONE_URL is not set: run scripts/test.sh (it starts a real Keystone \
             with tests/keystone/lib.sh), start one yourself (`source tests/keystone/lib.sh; \
             keystone_up`), or set GLANCE_TEST_KEYSTONE=skip to leave these tests out"
        ),
    }
}

/// A project-scoped token for `user` (whose password is its name, as start.sh makes them).
pub async fn issue(keystone: &str, user: &str, project: &str) -> String {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": user}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }});
    let response = reqwest::Client::new()
        .post(format!("{keystone}/v3/auth/tokens?nocatalog"))
        .json(&body)
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status().as_u16(), 201, "token for {user}");
    response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Subject-Token")
        .to_string()
}

/// Revoke `token` as the admin (`openstack token revoke`).
pub async fn revoke(keystone: &str, token: &str) {
    let admin = issue(keystone, "admin", "admin").await;
    let response = reqwest::Client::new()
        .delete(format!("{keystone}/v3/auth/tokens"))
        .header("X-Auth-Token", admin)
        .header("X-Subject-Token", token)
        .send()
        .await
        .expect("Keystone answers");
    assert_eq!(response.status().as_u16(), 204, "revoked");
}

/// glance-api's environment for keystone mode against `auth_url`, as the service user glance.
pub fn api_env(auth_url: &str, cache_time: u64, timeout: f64) -> Vec<(&'static str, String)> {
    vec![
        ("GLANCE__AUTH__MODE", "keystone".into()),
        (
            "GLANCE__KEYSTONE_AUTHTOKEN__AUTH_URL",
            format!("{auth_url}/v3"),
        ),
        ("GLANCE__KEYSTONE_AUTHTOKEN__USERNAME", "glance".into()),
        ("GLANCE__KEYSTONE_AUTHTOKEN__PASSWORD", "glance".into()),
        ("GLANCE__KEYSTONE_AUTHTOKEN__PROJECT_NAME", "service".into()),
        (
            "GLANCE__KEYSTONE_AUTHTOKEN__TOKEN_CACHE_TIME",
            cache_time.to_string(),
        ),
        ("GLANCE__KEYSTONE_AUTHTOKEN__TIMEOUT", timeout.to_string()),
    ]
}

/// The value of `name{labels…}` lines in a Prometheus text page, summed.
pub fn metric_sum(page: &str, name: &str, label: &str) -> f64 {
    page.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyState {
    Forward,
    /// Connections are accepted and dropped at once (Keystone's port closed).
    Refuse,
    /// Connections are accepted and never answered (Keystone hung).
    Hang,
}

/// A loopback TCP proxy to Keystone whose state a test switches; switching away from
/// `Forward` cuts the connections in flight too.
pub struct Proxy {
    pub url: String,
    state: watch::Sender<ProxyState>,
}

impl Proxy {
    pub async fn start(target: &str) -> Self {
        let target = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (state, watcher) = watch::channel(ProxyState::Forward);
        let target = Arc::new(target);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut watcher = watcher.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let now = *watcher.borrow_and_update();
                    match now {
                        ProxyState::Refuse => drop(client),
                        ProxyState::Hang => {
                            // Held until the proxy forwards again (or the test ends).
                            let _ = watcher.changed().await;
                            drop(client);
                        }
                        ProxyState::Forward => {
                            let Ok(mut server) = TcpStream::connect(target.as_str()).await else {
                                return;
                            };
                            tokio::select! {
                                _ = copy_bidirectional(&mut client, &mut server) => {}
                                _ = watcher.changed() => {}
                            }
                        }
                    }
                });
            }
        });
        Self { url, state }
    }

    pub fn set(&self, state: ProxyState) {
        self.state.send_replace(state);
    }
}

/// Wait a little for background work (a cache entry's lifetime, say) to pass.
pub async fn sleep_secs(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
}
