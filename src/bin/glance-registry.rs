//! glance-registry (deprecated): Glance's v2 registry RPC over a direct backend, for API nodes
//! in `registry-proxy` mode. `glance-registry [--config PATH]`; settings as for glance-api
//! (file, then `GLANCE__SECTION__KEY`), defaults bind 127.0.0.1:9191.

use std::path::PathBuf;
use std::process::ExitCode;

use glance_rs::config::{Service, Settings};

fn main() -> ExitCode {
    glance_rs::server::logging::init();
    let code = serve_or_run();
    // Access-log lines still buffered (`server::logging`).
    glance_rs::server::logging::flush();
    code
}

fn serve_or_run() -> ExitCode {
    let mut config_path: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: glance-registry [--config PATH]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("glance-registry: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let settings = match Settings::from_process(Service::Registry, config_path) {
        Ok(settings) => settings,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = glance_rs::registry_server::check_settings(&settings) {
        log::error!("{err}");
        return ExitCode::FAILURE;
    }
    // Before the runtime's threads start: it clears LISTEN_FDS and LISTEN_PID.
    let inherited = match glance_rs::server::activation::take_inherited() {
        Ok(inherited) => inherited,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            log::error!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match actix_web::rt::System::with_tokio_rt(|| runtime).block_on(run(settings, inherited)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    settings: Settings,
    inherited: Option<(std::net::TcpListener, std::net::SocketAddr)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (listener, about) = glance_rs::server::listener(inherited, &settings.server)?;
    let server = glance_rs::registry_server::start(&settings, listener).await?;
    log::info!(
        "glance-registry listening on {about} (data_access.mode={})",
        settings.data_access.mode
    );
    server.await?;
    Ok(())
}
