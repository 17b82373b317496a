//! The load test's baseline: a bare actix-web endpoint that reads one `images` row through
//! deadpool-postgres with one prepared statement, and nothing else (no auth, no properties, no
//! metrics). The load test compares `GET /v2/images/{id}` in direct-postgres mode against it.
//!
//! `cargo run --release --example baseline --features direct-postgres -- BIND DATABASE_URL`

use actix_web::{web, App, HttpResponse, HttpServer};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

const SELECT_IMAGE: &str = "SELECT id, name, status, size, checksum, owner, min_disk, min_ram, \
     protected, created_at FROM images WHERE id = $1 AND NOT deleted";

async fn get_image(pool: web::Data<Pool>, id: web::Path<String>) -> HttpResponse {
    let Ok(client) = pool.get().await else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let Ok(statement) = client.prepare_cached(SELECT_IMAGE).await else {
        return HttpResponse::InternalServerError().finish();
    };
    match client.query_opt(&statement, &[&id.as_str()]).await {
        Ok(Some(row)) => {
            let created_at: chrono::NaiveDateTime = row.get(9);
            HttpResponse::Ok().json(serde_json::json!({
                "id": row.get::<_, String>(0),
                "name": row.get::<_, Option<String>>(1),
                "status": row.get::<_, String>(2),
                "size": row.get::<_, Option<i64>>(3),
                "checksum": row.get::<_, Option<String>>(4),
                "owner": row.get::<_, Option<String>>(5),
                "min_disk": row.get::<_, i32>(6),
                "min_ram": row.get::<_, i32>(7),
                "protected": row.get::<_, bool>(8),
                "created_at": created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            }))
        }
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:9299".to_string());
    let url = args
        .next()
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1/test".to_string());
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| std::io::Error::other(format!("bad database URL: {e}")))?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(16)
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let pool = web::Data::new(pool);
    HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route("/v2/images/{id}", web::get().to(get_image))
    })
    .bind(bind)?
    .run()
    .await
}
