//! The real `glance-api` binary as a child process, serving on a loopback socket the test
//! bound and handed over (`server::handoff`), with a temp SQLite database and store unless
//! the caller's environment says otherwise. Killed on drop.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ApiProcess {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    child: Child,
    /// `http://127.0.0.1:PORT` of the glance-registry behind a registry-proxy node.
    pub registry_base: Option<String>,
    /// The glance-registry behind a registry-proxy node, stopped with it.
    _registry: Option<Box<dyn std::any::Any + Send>>,
}

/// A loopback port nobody listens on right now, for third-party programs that bind by number
/// (Prometheus): a parallel test may take it before they bind, so their starters retry.
/// glance-api and glance-registry get a bound socket instead (`server::handoff`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Wait until `GET {base}/healthcheck` answers 200.
pub async fn wait_healthy(client: &reqwest::Client, base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{base} exited early with {status}");
        }
        if let Ok(response) = client.get(format!("{base}/healthcheck")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become healthy");
}

use super::server::handoff;

impl ApiProcess {
    /// Start glance-api with `GLANCE__…` overrides in `env` (database and store default to a
    /// temp folder) on a new loopback socket.
    pub async fn start(env: &[(&str, String)]) -> Self {
        Self::start_on(handoff::bind("127.0.0.1"), env).await
    }

    /// Start in the mode `GLANCE_TEST_MODE` names (direct-sqlite when unset): on a fresh
    /// PostgreSQL database, or as a registry-proxy node in front of a real glance-registry.
    pub async fn start_in_test_mode(env: &[(&str, String)]) -> Self {
        let (mode_env, registry) = test_mode().await;
        let mut env: Vec<(&str, String)> = env.to_vec();
        env.extend(mode_env);
        env.extend(super::s3::test_store_env());
        let mut process = Self::start_on(handoff::bind("127.0.0.1"), &env).await;
        process.registry_base = env
            .iter()
            .find(|(key, _)| *key == "GLANCE__REGISTRY__URL")
            .map(|(_, url)| url.clone());
        process._registry = registry;
        process
    }

    /// The same on a given port, bound again (a node restarted in place keeps its address).
    pub async fn start_on_port(port: u16, env: &[(&str, String)]) -> Self {
        Self::start_on(handoff::rebind(&format!("127.0.0.1:{port}")), env).await
    }

    /// The same on `listener` (a loopback socket), handed over to the child and closed here.
    pub async fn start_on(listener: TcpListener, env: &[(&str, String)]) -> Self {
        let port = handoff::port(&listener);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_glance-api"));
        handoff::hand_over(&mut command, &listener)
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env(
                "GLANCE__DATABASE__URL",
                format!("sqlite:///{}", dir.path().join("glance.db").display()),
            )
            .env("GLANCE__STORE__PATH", dir.path().join("images"))
            .env("GLANCE__IMPORT__STAGING_PATH", dir.path().join("staging"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // A build without SQLite serves from a fresh PostgreSQL database instead.
        #[cfg(all(feature = "direct-postgres", not(feature = "direct-sqlite")))]
        command
            .env("GLANCE__DATA_ACCESS__MODE", "direct-postgres")
            .env("GLANCE__DATABASE__URL", super::postgres::fresh_url().await);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("glance-api starts");
        // The child's copy is the only one now: once it dies, connections are refused.
        drop(listener);
        // Owned before the wait, so a node that never becomes healthy is killed on the panic.
        let mut process = Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            dir,
            child,
            registry_base: None,
            _registry: None,
        };
        wait_healthy(&process.client, &process.base, &mut process.child).await;
        process
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (no cleanup of any kind runs), then reap the process.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings (and the registry process, kept alive with the node) for `GLANCE_TEST_MODE`.
async fn test_mode() -> (
    Vec<(&'static str, String)>,
    Option<Box<dyn std::any::Any + Send>>,
) {
    use super::server::{test_mode, TestMode};
    match test_mode() {
        #[cfg(feature = "direct-postgres")]
        TestMode::DirectPostgres => (
            vec![
                ("GLANCE__DATA_ACCESS__MODE", "direct-postgres".into()),
                ("GLANCE__DATABASE__URL", super::postgres::fresh_url().await),
            ],
            None,
        ),
        #[cfg(all(feature = "registry-proxy", feature = "registry-server"))]
        mode @ (TestMode::RegistryProxy | TestMode::RegistryProxyPostgres) => {
            let on_postgres = mode == TestMode::RegistryProxyPostgres;
            let registry = super::registry::RegistryProcess::start_in(on_postgres).await;
            let env = vec![
                ("GLANCE__DATA_ACCESS__MODE", "registry-proxy".into()),
                ("GLANCE__DATABASE__URL", String::new()),
                ("GLANCE__REGISTRY__URL", registry.base.clone()),
                ("GLANCE__REGISTRY__TOKEN", super::registry::TOKEN.into()),
            ];
            (env, Some(Box::new(registry)))
        }
        TestMode::DirectSqlite => (Vec::new(), None),
        #[allow(unreachable_patterns)]
        other => panic!("GLANCE_TEST_MODE {other:?} is not a mode this build can test"),
    }
}
