//! A Glance database whose images live in S3, as glance_store's S3 driver left them: the
//! object PUT by another client under the image id, the location
//! `s3://ACCESS:SECRET@HOST:PORT/BUCKET/IMAGE_ID` (`StoreLocation.get_uri`, credentials as
//! they are), metadata `{}` from a single-store Glance or `{"store": NAME}` from a multi-store
//! one whose store name is not ours. glance-api with an S3 store on the same bucket serves
//! them as they are, never shows the URL, and removes the object with the image.

use md5::{Digest, Md5};
use object_store::{ObjectStoreExt, PutPayload};
use reqwest::StatusCode;
use serde_json::json;

use crate::api::image_at_location;
use crate::support::s3::{self, random};
use crate::support::server::TestServer;
use glance_rs::config::StoreBackendSettings;

/// glance_store's `StoreLocation.get_uri` for an `s3_store_host` of `endpoint`.
fn glance_store_uri(access: &str, secret: &str, endpoint: &str, bucket: &str, key: &str) -> String {
    let (scheme, host) = match endpoint.strip_prefix("https://") {
        Some(host) => ("s3+https", host),
        None => ("s3", endpoint.trim_start_matches("http://")),
    };
    let host = host.trim_matches('/');
    format!("{scheme}://{access}:{secret}@{host}/{bucket}/{key}")
}

#[tokio::test]
async fn a_glance_database_with_s3_locations_is_served_as_is() {
    let Some(settings) = s3::settings() else {
        return;
    };
    // The objects, PUT by a client of its own (Glance's boto3 in real life).
    let bare = s3::bare_client(&settings);
    let server = TestServer::start_with(|s| {
        s.stores.clear();
        s.stores
            .insert("s3".into(), StoreBackendSettings::S3(settings.clone()));
        s.store.default_backend = "s3".into();
    })
    .await;
    let mut images = Vec::new();
    for metadata in [json!({}), json!({"store": "glance_s3_backend"})] {
        let id = uuid::Uuid::new_v4().to_string();
        let data = random(3 * 1024 * 1024 + 17);
        let key = object_store::path::Path::from(id.as_str());
        bare.put(&key, PutPayload::from(data.clone()))
            .await
            .expect("PUT the object");
        let url = glance_store_uri(
            &settings.access_key,
            &settings.secret_key,
            &settings.endpoint,
            &settings.bucket,
            &id,
        );
        let metadata = metadata.as_object().expect("object").clone();
        let checksum = Some(hex::encode(Md5::digest(&data)));
        image_at_location(&server, &id, url, metadata, data.len(), checksum).await;
        images.push((id, key, data));
    }

    for (id, key, data) in &images {
        let served = server
            .client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .send()
            .await
            .expect("download");
        assert_eq!(served.status(), StatusCode::OK, "image {id}");
        assert_eq!(
            served.headers()["content-md5"].to_str().expect("ascii"),
            hex::encode(Md5::digest(data))
        );
        assert!(
            served.bytes().await.expect("body") == data[..],
            "same bytes"
        );
        let ranged = server
            .client
            .get(server.url(&format!("/v2/images/{id}/file")))
            .header("range", "bytes=1048570-1048599")
            .send()
            .await
            .expect("ranged download");
        assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            ranged.bytes().await.expect("body").as_ref(),
            &data[1_048_570..1_048_600]
        );
        // Neither the URL nor its credentials are ever shown.
        let shown = server
            .client
            .get(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("show")
            .text()
            .await
            .expect("body");
        assert!(
            !shown.contains(&settings.secret_key) && !shown.contains("s3://"),
            "{shown}"
        );

        let deleted = server
            .client
            .delete(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let gone = bare.head(key).await;
        assert!(
            matches!(gone, Err(object_store::Error::NotFound { .. })),
            "the object goes with the image: {gone:?}"
        );
    }
}
