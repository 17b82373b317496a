//! A real HTTP file server on loopback, the source of web-download tests and scenarios:
//! `/data/{n}` serves n pattern bytes (byte i = i % 251), `/redirect?to=URL` answers 302 to
//! URL, `/missing` 404.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::{web, App, HttpResponse, HttpServer};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Start it on `127.0.0.1:0` (on the current runtime); its port.
pub fn start() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/data/{n}",
                web::get().to(|n: web::Path<usize>| async move {
                    HttpResponse::Ok()
                        .content_type("application/octet-stream")
                        .body(pattern(n.into_inner()))
                }),
            )
            .route(
                "/redirect",
                web::get().to(|q: web::Query<HashMap<String, String>>| async move {
                    let to = q.get("to").cloned().unwrap_or_default();
                    HttpResponse::Found()
                        .insert_header(("location", to))
                        .finish()
                }),
            )
            .route(
                "/missing",
                web::get().to(|| async { HttpResponse::NotFound().finish() }),
            )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    port
}
