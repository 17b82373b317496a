//! PostgreSQL for tests, real and isolated per test.
//!
//! The server: `GLANCE_TEST_DATABASE_URL` when set (a role that may CREATE DATABASE);
//! otherwise ONE throwaway cluster per test process (`initdb` + `pg_ctl` on a free loopback
//! port, everything under one temp folder). Each test gets its own database cloned from a
//! template migrated once per process, so tests run in parallel.
//!
//! Cleanup: Rust never drops statics, so each cluster is started together with a watchdog
//! shell process that polls this test process and, once it is gone, stops the cluster
//! (`pg_ctl stop -m immediate`) and deletes its folder. That also covers panics and kills.
//! A cluster that outlives everything (watchdog killed too) sits in its own temp folder on its
//! own port and does not disturb the next run. Test databases are dropped by their guards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use glance_rs::config::{Service, Settings};
use glance_rs::data_access::{DataAccess, Mode};

/// A throwaway PostgreSQL cluster owned by this test process.
pub struct Cluster {
    root: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    pub port: u16,
    /// Root may not run PostgreSQL: run its tools as the `postgres` user.
    as_postgres: bool,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// The folder holding `initdb` and `pg_ctl`: on PATH, else the newest /usr/lib/postgresql/*/bin.
fn postgres_bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    for dir in on_path {
        let initdb = dir.join("initdb");
        if initdb.is_file() {
            // Follow a symlink so pg_ctl finds the postgres binary next to it.
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            return real.parent().map(Path::to_path_buf).unwrap_or(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL tests need `initdb` and `pg_ctl` (on PATH or under \
             /usr/lib/postgresql/*/bin): install the Debian package `postgresql` (e.g. \
             `apt-get install postgresql-15`), or set GLANCE_TEST_DATABASE_URL to a server"
        ),
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A loopback port nobody listens on right now, for PostgreSQL, which binds by number: a
/// parallel test may take it first, so `Cluster::start_new` retries on another.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

impl Cluster {
    /// `initdb` a new cluster in a fresh temp folder and start it. Only for tests that stop
    /// and restart the server (postgres::unavailable, postgres::api_faults): they cannot use a
    /// shared `GLANCE_TEST_DATABASE_URL` server, and say so when one is set.
    pub fn start_new() -> Cluster {
        if std::env::var_os("GLANCE_TEST_DATABASE_URL").is_some() {
            eprintln!(
                "note: this test stops and restarts PostgreSQL, so it runs initdb for a cluster \
                 of its own although GLANCE_TEST_DATABASE_URL is set"
            );
        }
        let bin = postgres_bin_dir();
        let root = std::env::temp_dir().join(format!("glance-pg-{}", unique_suffix()));
        std::fs::create_dir_all(root.join("sock")).expect("create the cluster folder");
        let as_postgres = running_as_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&root)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of {} failed", root.display());
        }
        let mut cluster = Cluster {
            data: root.join("data"),
            root,
            bin,
            port: free_port(),
            as_postgres,
        };
        cluster.spawn_watchdog();
        let out = cluster
            .tool("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&cluster.data)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // PostgreSQL binds its port by number: if a parallel test took it first, another.
        let mut attempts = 1;
        loop {
            match cluster.try_start() {
                Ok(()) => break,
                Err(log) if log.contains("Address already in use") && attempts < 5 => {
                    attempts += 1;
                    cluster.port = free_port();
                }
                Err(log) => panic!("{log}"),
            }
        }
        cluster
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.stdin(Stdio::null());
        command
    }

    /// Stop the cluster and remove its folder once this process has exited.
    // The watchdog outlives this process on purpose, so it is never waited for.
    #[allow(clippy::zombie_processes)]
    fn spawn_watchdog(&self) {
        let stop = format!(
            "{}'{}' -D '{}' stop -m immediate",
            if self.as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; \
             rm -rf '{root}'",
            pid = std::process::id(),
            root = self.root.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the cluster watchdog");
    }

    /// Start (or restart) the server on this cluster's port and wait until it accepts.
    pub fn start(&self) {
        if let Err(log) = self.try_start() {
            panic!("{log}");
        }
    }

    /// `start`, or what pg_ctl and the server said.
    fn try_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c max_connections=300",
            self.port,
            self.root.join("sock").display()
        );
        let out = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()
            .expect("run pg_ctl start");
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        Err(format!(
            "pg_ctl start failed: {}\n{log}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// Stop the server at once (connections are cut, as in a crash).
    pub fn stop(&self) {
        let out = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "immediate", "stop"])
            .output()
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgresql", url));
    let (authority, query) = match rest.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    let host = authority.split('/').next().unwrap_or(authority);
    match query {
        Some(query) => format!("{scheme}://{host}/{database}?{query}"),
        None => format!("{scheme}://{host}/{database}"),
    }
}

/// Settings for the direct-postgres backend on `url`.
pub fn settings_for(url: &str) -> Settings {
    let mut settings = Settings::defaults(Service::Api);
    settings.data_access.mode = Mode::DirectPostgres;
    settings.database.url = url.to_string();
    settings
}

struct Shared {
    /// The server's maintenance database (where CREATE DATABASE runs).
    admin_url: String,
    template: String,
    _cluster: Option<Cluster>,
}

/// Run `job` to completion on a private runtime in its own thread, so it works from sync
/// code, from inside any test's runtime, and from `Drop`.
fn block_on_own_runtime<T: Send + 'static>(
    job: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(job)
    })
    .join()
    .expect("the helper thread finished")
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (admin_url, cluster) = match std::env::var("GLANCE_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => (url, None),
            _ => {
                let cluster = Cluster::start_new();
                (cluster.url("postgres"), Some(cluster))
            }
        };
        let template = format!(
            "glance_tpl_{:016x}",
            glance_rs::data_access::postgres::schema_fingerprint()
        );
        let (admin, name) = (admin_url.clone(), template.clone());
        block_on_own_runtime(async move { ensure_template(&admin, &name).await });
        Shared {
            admin_url,
            template,
            _cluster: cluster,
        }
    })
}

/// The migrated template, named after the migrations' content so later runs (and other test
/// processes on the same server) reuse it. It is built under a temporary name and renamed
/// when complete, so a half-built template is never used.
async fn ensure_template(admin_url: &str, template: &str) {
    let exists = format!("SELECT 1 FROM pg_database WHERE datname = '{template}'");
    if try_query(admin_url, &exists).await.unwrap_or(0) > 0 {
        return;
    }
    let building = format!("glance_tplnew_{}", unique_suffix());
    execute(admin_url, &format!("CREATE DATABASE \"{building}\"")).await;
    glance_rs::data_access::migrate(&settings_for(&with_database(admin_url, &building)))
        .await
        .expect("migrate the template database");
    let rename = format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\"");
    if try_query(admin_url, &rename).await.is_err() {
        // Another test process published the same template first.
        execute(admin_url, &format!("DROP DATABASE \"{building}\"")).await;
    }
}

/// The number of rows `sql` returns on `url`; panics on failure.
pub async fn count_rows(url: &str, sql: &str) -> usize {
    match try_query(url, sql).await {
        Ok(rows) => rows,
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// Run `sql` on `url` with a short-lived connection; the number of rows it returned.
async fn try_query(url: &str, sql: &str) -> Result<usize, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.simple_query(sql).await.map(|messages| {
        messages
            .iter()
            .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
            .count()
    });
    drop(client);
    let _ = driver.await;
    result
}

/// Run statements on `url` with a short-lived connection; panics on failure.
pub async fn execute(url: &str, sql: &str) {
    if let Err(e) = try_query(url, sql).await {
        panic!("{sql}: {e}");
    }
}

/// Drops its test database when the test ends.
pub struct DatabaseGuard {
    admin_url: String,
    name: String,
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let admin = self.admin_url.clone();
        block_on_own_runtime(async move { execute(&admin, &sql).await });
    }
}

async fn create_database(template: Option<&str>) -> (String, DatabaseGuard) {
    let shared = shared();
    let name = format!("glance_test_{}", unique_suffix());
    let sql = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    execute(&shared.admin_url, &sql).await;
    let url = with_database(&shared.admin_url, &name);
    let guard = DatabaseGuard {
        admin_url: shared.admin_url.clone(),
        name,
    };
    (url, guard)
}

/// A migrated database of its own; the guard drops it.
pub async fn fresh_database() -> (String, DatabaseGuard) {
    let template = shared().template.clone();
    create_database(Some(&template)).await
}

/// An empty database (no Glance schema); the guard drops it.
pub async fn empty_database() -> (String, DatabaseGuard) {
    create_database(None).await
}

/// A direct-postgres backend on a migrated database of its own.
pub async fn fresh() -> (Arc<dyn DataAccess>, DatabaseGuard) {
    let (url, guard) = fresh_database().await;
    let backend = glance_rs::data_access::open(&settings_for(&url))
        .await
        .expect("open the direct-postgres backend");
    (backend, guard)
}

/// The URL of a migrated database of its own, for API tests that start a server on it.
/// The database lives until the test process ends (with the throwaway cluster; on a
/// `GLANCE_TEST_DATABASE_URL` server it stays, named `glance_test_<pid>_…`).
pub async fn fresh_url() -> String {
    let (url, guard) = fresh_database().await;
    std::mem::forget(guard);
    url
}
