//! The REAL glance-registry binary on a loopback socket the test bound and handed over
//! (`server::handoff`), backed by a temp SQLite file, and
//! registry-proxy clients pointed at it. The process is killed when the guard drops.
//! Included by `server.rs` (so `tests/bdd.rs` gets it too); `support::registry` re-exports it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glance_rs::config::{RegistrySettings, Service, Settings};
use glance_rs::data_access::registry_client::RegistryClient;

pub const TOKEN: &str = "registry-test-secret";

pub struct RegistryProcess {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub port: u16,
    /// `host:port`, bound again for a restart.
    bind: String,
    /// Bound at launch, handed over to the first child.
    listener: Option<TcpListener>,
    /// `None`: a temp SQLite file.
    postgres_url: Option<String>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RegistryProcess {
    /// Start on a free loopback port with a fresh database, and wait until it answers.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// Start listening on `host` (reached through loopback all the same).
    pub async fn start_on(host: &str) -> Self {
        Self::launch(host, None).await
    }

    /// On a fresh PostgreSQL database (living until the test process ends) or a temp SQLite
    /// file: the registry of `GLANCE_TEST_MODE=registry-proxy[-postgres]`.
    pub async fn start_in(on_postgres: bool) -> Self {
        if !on_postgres {
            return Self::start().await;
        }
        #[cfg(feature = "direct-postgres")]
        {
            let url = super::super::postgres::fresh_url().await;
            let registry = Self::start_on_postgres(&url).await;
            let log = registry.log();
            assert!(log.contains("data_access.mode=direct-postgres"), "{log}");
            registry
        }
        #[cfg(not(feature = "direct-postgres"))]
        panic!("registry-proxy over PostgreSQL needs the direct-postgres feature")
    }

    /// Start on a direct-postgres database instead of a temp SQLite file.
    pub async fn start_on_postgres(database_url: &str) -> Self {
        Self::launch("127.0.0.1", Some(database_url.to_string())).await
    }

    async fn launch(host: &str, postgres_url: Option<String>) -> Self {
        let listener = super::handoff::bind(host);
        let port = super::handoff::port(&listener);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut registry = Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            bind: format!("{host}:{port}"),
            listener: Some(listener),
            postgres_url,
            child: None,
            dir,
        };
        registry.restart().await;
        registry
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// Start (again) on the same port and database. A restart binds the port again: the
    /// killed child's socket died with it, so that a crashed registry refuses connections.
    pub async fn restart(&mut self) {
        self.kill();
        let listener = self
            .listener
            .take()
            .unwrap_or_else(|| super::handoff::rebind(&self.bind));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("registry log file");
        let log_err = log.try_clone().expect("clone log handle");
        let (mode, database_url) = match &self.postgres_url {
            Some(url) => ("direct-postgres", url.clone()),
            None => {
                let db = self.dir.path().join("glance.db");
                ("direct-sqlite", format!("sqlite:///{}", db.display()))
            }
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_glance-registry"));
        let child = super::handoff::hand_over(&mut command, &listener)
            .env_remove("GLANCE_CONFIG")
            .env("GLANCE__SERVER__WORKERS", "2")
            .env("GLANCE__DATA_ACCESS__MODE", mode)
            .env("GLANCE__DATABASE__URL", database_url)
            .env("GLANCE__DATABASE__POOL_SIZE", "4")
            .env("GLANCE__REGISTRY__TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("spawn glance-registry");
        drop(listener);
        self.child = Some(child);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("glance-registry exited with {status}:\n{}", self.log());
                }
            }
            let url = format!("{}/healthcheck", self.base);
            if let Ok(res) = http.get(url).send().await {
                if res.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "glance-registry never became healthy:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn settings(&self, timeout: f64) -> RegistrySettings {
        let mut registry = Settings::defaults(Service::Api).registry;
        registry.url = self.base.clone();
        registry.token = TOKEN.to_string();
        registry.timeout = timeout;
        registry.pool_size = 4;
        registry
    }

    pub fn client(&self, timeout: f64) -> RegistryClient {
        RegistryClient::new(&self.settings(timeout)).expect("registry client")
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
