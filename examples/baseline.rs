//! The load test's baseline: a bare actix-web endpoint that reads one `images` row through
//! deadpool-postgres with one prepared statement, and nothing else (no auth, no properties, no
//! metrics). The load test compares `GET /v2/images/{id}` in direct-postgres mode against it.
//!
//! It is built as the service is, so the comparison measures what the service adds and not a
//! different setup: one pool per actix worker thread (16 connections in all, split among the
//! workers, as `database.pool_size`), a typed `Serialize` answer and timestamps written by hand.
//!
//! Two shapes of the same read:
//! - `narrow` (the default): ten columns of the `images` row;
//! - `full`: the service's own GET statement (every column Glance shows, and the image's
//!   properties, tags and locations as one JSON value, `images.children`), answered as a flat
//!   JSON object with the children passed through unparsed. The database and the wire do the
//!   service's work; what the service adds beside it is the Glance logic alone (identity,
//!   policy, the request envelope, metrics, Glance's JSON shape).
//!
//! `cargo run --release --example baseline --features direct-postgres -- BIND DATABASE_URL [narrow|full]`

use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{Datelike, NaiveDateTime, Timelike};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_postgres::types::Json;

const SELECT_IMAGE: &str = "SELECT id, name, status, size, checksum, owner, min_disk, min_ram, \
     protected, created_at FROM images WHERE id = $1 AND NOT deleted";
/// Connections in all, as the service's default `database.pool_size`.
const POOL_SIZE: usize = 16;

#[derive(Serialize)]
struct Image {
    id: String,
    name: Option<String>,
    status: String,
    size: Option<i64>,
    checksum: Option<String>,
    owner: Option<String>,
    min_disk: i32,
    min_ram: i32,
    protected: bool,
    created_at: String,
}

/// Every column of the service's GET statement (`glance_rs::data_access::postgres::
/// image_get_statement`), read by position in its order.
#[derive(Serialize)]
struct FullImage {
    id: String,
    name: Option<String>,
    size: Option<i64>,
    virtual_size: Option<i64>,
    status: String,
    visibility: String,
    disk_format: Option<String>,
    container_format: Option<String>,
    checksum: Option<String>,
    os_hash_algo: Option<String>,
    os_hash_value: Option<String>,
    owner: Option<String>,
    min_disk: i32,
    min_ram: i32,
    protected: bool,
    os_hidden: bool,
    created_at: String,
    updated_at: Option<String>,
    deleted_at: Option<String>,
    deleted: bool,
    children: Option<Box<RawValue>>,
}

/// `YYYY-MM-DDTHH:MM:SSZ`, digits by hand (as the service writes them).
fn timestamp(ts: &NaiveDateTime) -> String {
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, ts.year().unsigned_abs());
    put(5, 2, ts.month());
    put(8, 2, ts.day());
    put(11, 2, ts.hour());
    put(14, 2, ts.minute());
    put(17, 2, ts.second());
    String::from_utf8_lossy(&text).into_owned()
}

async fn get_image(pool: web::Data<Pool>, id: web::Path<String>) -> HttpResponse {
    let Ok(client) = pool.get().await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let Ok(statement) = client.prepare_cached(SELECT_IMAGE).await else {
        return HttpResponse::InternalServerError().finish();
    };
    match client.query_opt(&statement, &[&id.as_str()]).await {
        Ok(Some(row)) => HttpResponse::Ok().json(Image {
            id: row.get(0),
            name: row.get(1),
            status: row.get(2),
            size: row.get(3),
            checksum: row.get(4),
            owner: row.get(5),
            min_disk: row.get(6),
            min_ram: row.get(7),
            protected: row.get(8),
            created_at: timestamp(&row.get(9)),
        }),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn get_full_image(pool: web::Data<Pool>, id: web::Path<String>) -> HttpResponse {
    let Ok(client) = pool.get().await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let Ok(statement) = client
        .prepare_cached(glance_rs::data_access::postgres::image_get_statement())
        .await
    else {
        return HttpResponse::InternalServerError().finish();
    };
    let row = match client.query_opt(&statement, &[&id.as_str()]).await {
        Ok(Some(row)) => row,
        Ok(None) => return HttpResponse::NotFound().finish(),
        Err(_) => return HttpResponse::InternalServerError().finish(),
    };
    let stamp = |at: usize| -> Option<String> {
        let value: Option<NaiveDateTime> = row.get(at);
        value.as_ref().map(timestamp)
    };
    let children: Option<Json<Box<RawValue>>> = row.get(20);
    if row.get::<_, bool>(19) {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok().json(FullImage {
        id: row.get(0),
        name: row.get(1),
        size: row.get(2),
        virtual_size: row.get(3),
        status: row.get(4),
        visibility: row.get(5),
        disk_format: row.get(6),
        container_format: row.get(7),
        checksum: row.get(8),
        os_hash_algo: row.get(9),
        os_hash_value: row.get(10),
        owner: row.get(11),
        min_disk: row.get(12),
        min_ram: row.get(13),
        protected: row.get(14),
        os_hidden: row.get(15),
        created_at: stamp(16).unwrap_or_default(),
        updated_at: stamp(17),
        deleted_at: stamp(18),
        deleted: false,
        children: children.map(|json| json.0),
    })
}

fn make_pool(config: tokio_postgres::Config, size: usize) -> std::io::Result<Pool> {
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:9299".to_string());
    let url = args
        .next()
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1/test".to_string());
    let full = match args.next().as_deref() {
        None | Some("narrow") => false,
        Some("full") => true,
        Some(other) => {
            return Err(std::io::Error::other(format!(
                "unknown shape {other:?}: narrow or full"
            )))
        }
    };
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| std::io::Error::other(format!("bad database URL: {e}")))?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let per_worker = POOL_SIZE.div_ceil(workers);
    // The factory runs once per worker thread: each builds its own pool.
    HttpServer::new(move || {
        let pool = make_pool(config.clone(), per_worker);
        let app = if full {
            App::new().route("/v2/images/{id}", web::get().to(get_full_image))
        } else {
            App::new().route("/v2/images/{id}", web::get().to(get_image))
        };
        match pool {
            Ok(pool) => app.app_data(web::Data::new(pool)),
            Err(e) => {
                eprintln!("baseline: cannot make a pool: {e}");
                app
            }
        }
    })
    .workers(workers)
    .bind(bind)?
    .run()
    .await
}
