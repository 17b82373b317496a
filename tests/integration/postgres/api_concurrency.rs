//! The API-level races of `api::concurrency`, served from PostgreSQL: the same scenarios, a
//! server whose backend is direct-postgres on a database of its own.

use glance_rs::data_access::Mode;

use crate::api::concurrency::{
    concurrent_member_creates_have_one_winner, concurrent_patches_lose_nothing,
    concurrent_uploads_have_one_winner, delete_racing_an_upload, timings,
};
use crate::support::postgres::fresh_url;
use crate::support::server::TestServer;

async fn postgres_server() -> TestServer {
    let url = fresh_url().await;
    TestServer::start_with(move |settings| {
        settings.data_access.mode = Mode::DirectPostgres;
        settings.database.url = url;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_to_one_image_have_one_winner() {
    concurrent_uploads_have_one_winner(&postgres_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_adding_properties_lose_none() {
    concurrent_patches_lose_nothing(&postgres_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_member_creates_have_one_winner_and_one_row() {
    concurrent_member_creates_have_one_winner(&postgres_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_racing_an_upload_leaves_no_image_and_no_data() {
    let server = postgres_server().await;
    for timing in timings() {
        delete_racing_an_upload(&server, timing).await;
    }
}
