//! glance-api: Glance's Image API v2. `glance-api [--config PATH] [serve|db-sync]`, and
//! `glance-api [--config PATH] inspect FILE…` (what an upload of each file would be judged).

use std::path::PathBuf;
use std::process::ExitCode;

use glance_rs::config::{Service, Settings};

fn main() -> ExitCode {
    glance_rs::server::allocator::fix_mmap_threshold();
    glance_rs::server::logging::init();
    let code = serve_or_run();
    // Access-log lines still buffered (`server::logging`).
    glance_rs::server::logging::flush();
    code
}

fn serve_or_run() -> ExitCode {
    let mut config_path: Option<PathBuf> = None;
    let mut command = "serve".to_string();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = args.next().map(PathBuf::from),
            "serve" | "db-sync" | "inspect" => command = arg,
            _ if command == "inspect" => files.push(PathBuf::from(arg)),
            "-h" | "--help" => {
                println!("usage: glance-api [--config PATH] [serve|db-sync|inspect FILE…]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("glance-api: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    let settings = match Settings::from_process(Service::Api, config_path) {
        Ok(settings) => settings,
        Err(err) => {
            log::error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    if command == "inspect" {
        return inspect_files(&settings, &files);
    }
    // Before the runtime's threads start: it clears LISTEN_FDS and LISTEN_PID.
    let inherited = match command.as_str() {
        "serve" => match glance_rs::server::activation::take_inherited() {
            Ok(inherited) => inherited,
            Err(err) => {
                log::error!("{err}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
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
    let result = actix_web::rt::System::with_tokio_rt(|| runtime)
        .block_on(run(settings, &command, inherited));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    settings: Settings,
    command: &str,
    inherited: Option<(std::net::TcpListener, std::net::SocketAddr)>,
) -> Result<(), Box<dyn std::error::Error>> {
    if command == "db-sync" {
        glance_rs::data_access::migrate(&settings).await?;
        log::info!(
            "db-sync done (data_access.mode={})",
            settings.data_access.mode
        );
        return Ok(());
    }
    let (listener, about) = glance_rs::server::listener(inherited, &settings.server)?;
    log::info!(
        "glance-api listening on {about} (data_access.mode={}, auth.mode={:?})",
        settings.data_access.mode,
        settings.auth.mode
    );
    let server = glance_rs::server::start(settings, listener).await?;
    server.await?;
    Ok(())
}

/// `inspect FILE…`: one JSON line per file (see `store::inspect::report`).
fn inspect_files(settings: &Settings, files: &[PathBuf]) -> ExitCode {
    let policy = glance_rs::store::inspect::Policy::from(&settings.image_format);
    let mut status = ExitCode::SUCCESS;
    for file in files {
        match glance_rs::store::inspect::report::report_file(file, &policy) {
            Ok(line) => println!("{line}"),
            Err(err) => {
                eprintln!("glance-api: cannot inspect {}: {err}", file.display());
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
