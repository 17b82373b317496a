//! A real glance-api `HttpServer` on `127.0.0.1:0`, backed by a temp SQLite file (or, with
//! `GLANCE_TEST_MODE=direct-postgres` or in a build without SQLite, a fresh PostgreSQL
//! database) and a temp image store, driven over real HTTP.

use std::net::TcpListener;

use glance_rs::config::{AuthMode, Service, Settings};

#[path = "handoff.rs"]
pub mod handoff;
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
))]
#[path = "registry.rs"]
pub mod registry;

pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
    /// The glance-registry process behind a registry-proxy server (`GLANCE_TEST_MODE`).
    _registry: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl TestServer {
    /// A noauth server on a fresh SQLite database.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A trusted-auth server (identity from X-* headers).
    pub async fn trusted() -> Self {
        Self::start_with(|s| s.auth.mode = AuthMode::TrustedAuth).await
    }

    /// Start with default settings on temp storage, adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::defaults(Service::Api);
        settings.database.url = format!("sqlite:///{}", dir.path().join("glance.db").display());
        if test_mode() == TestMode::DirectPostgres {
            #[cfg(feature = "direct-postgres")]
            {
                settings.data_access.mode = glance_rs::data_access::Mode::DirectPostgres;
                settings.database.url = super::postgres::fresh_url().await;
            }
        }
        settings.store.path = dir.path().join("images").display().to_string();
        settings.import.staging_path = dir.path().join("staging").display().to_string();
        settings.server.workers = 2;
        super::s3::apply_test_store(&mut settings);
        tweak(&mut settings);
        let registry = proxy_if_requested(&mut settings).await;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let server = glance_rs::server::start(settings.clone(), listener)
            .await
            .expect("server starts");
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            settings,
            client: reqwest::Client::new(),
            handle,
            _dir: dir,
            _registry: registry,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn store_dir(&self) -> std::path::PathBuf {
        self.settings.store.path.clone().into()
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// The combination the API tests and the features run in (`GLANCE_TEST_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestMode {
    DirectSqlite,
    DirectPostgres,
    /// Through a real glance-registry on a temp SQLite file.
    RegistryProxy,
    /// Through a real glance-registry on a fresh PostgreSQL database.
    RegistryProxyPostgres,
}

/// `GLANCE_TEST_MODE`: `direct-sqlite` (the default, or `direct-postgres` in a build without
/// SQLite), `direct-postgres`, `registry-proxy` or `registry-proxy-postgres`. Anything else,
/// or a mode this build cannot run, is an error: a typo must not quietly test the default.
pub fn test_mode() -> TestMode {
    let names = "direct-sqlite, direct-postgres, registry-proxy, registry-proxy-postgres";
    let mode = match std::env::var("GLANCE_TEST_MODE") {
        Err(std::env::VarError::NotPresent) if cfg!(feature = "direct-sqlite") => {
            TestMode::DirectSqlite
        }
        Err(std::env::VarError::NotPresent) => TestMode::DirectPostgres,
        Ok(name) => match name.as_str() {
            "direct-sqlite" => TestMode::DirectSqlite,
            "direct-postgres" => TestMode::DirectPostgres,
            "registry-proxy" => TestMode::RegistryProxy,
            "registry-proxy-postgres" => TestMode::RegistryProxyPostgres,
            other => panic!("GLANCE_TEST_MODE={other:?} is not a test mode (one of {names})"),
        },
        Err(err) => panic!("GLANCE_TEST_MODE: {err}"),
    };
    let proxy = cfg!(all(
        feature = "registry-proxy",
        feature = "registry-server",
        feature = "direct-sqlite"
    ));
    let buildable = match mode {
        TestMode::DirectSqlite => cfg!(feature = "direct-sqlite"),
        TestMode::DirectPostgres => cfg!(feature = "direct-postgres"),
        TestMode::RegistryProxy => proxy,
        TestMode::RegistryProxyPostgres => proxy && cfg!(feature = "direct-postgres"),
    };
    assert!(
        buildable,
        "GLANCE_TEST_MODE {mode:?} needs features this build lacks"
    );
    mode
}

/// Identity headers for trusted-auth requests: project, roles.
pub fn identity(project: &str, roles: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("x-identity-status", "Confirmed");
    put("x-project-id", project);
    put("x-user-id", &format!("user-of-{project}"));
    put("x-roles", roles);
    headers
}

/// `GLANCE_TEST_MODE=registry-proxy[-postgres]`: run a direct-sqlite server's tests through a
/// real glance-registry instead (the registry holds the database, the API none).
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
))]
async fn proxy_if_requested(
    settings: &mut Settings,
) -> Option<Box<dyn std::any::Any + Send + Sync>> {
    use glance_rs::data_access::Mode;
    let on_postgres = match test_mode() {
        TestMode::RegistryProxy => false,
        TestMode::RegistryProxyPostgres => true,
        _ => return None,
    };
    if settings.data_access.mode != Mode::DirectSqlite {
        return None;
    }
    let registry = registry::RegistryProcess::start_in(on_postgres).await;
    settings.data_access.mode = Mode::RegistryProxy;
    settings.database.url.clear();
    settings.registry = registry.settings(10.0);
    Some(Box::new(registry))
}

#[cfg(not(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
)))]
async fn proxy_if_requested(_: &mut Settings) -> Option<Box<dyn std::any::Any + Send + Sync>> {
    None
}
