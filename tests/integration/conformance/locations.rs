//! image_location_add / image_location_update / image_location_delete
//! (DriverTests: test_image_location_*).

use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{Location, LocationStatus, NewLocation, Visibility};

use super::{admin, create, new_image, user};

fn new_location(url: &str, store: &str) -> NewLocation {
    let mut metadata = serde_json::Map::new();
    metadata.insert("store".into(), serde_json::json!(store));
    metadata.insert(
        "nested".into(),
        serde_json::json!({"n": [1, 2.5, null, true]}),
    );
    NewLocation {
        url: url.into(),
        metadata,
        status: LocationStatus::Active,
    }
}

pub async fn add_then_get(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let ctx = user("p1");
    let first = da
        .image_location_add(&ctx, &image.id, new_location("file:///one", "a"))
        .await
        .expect("add");
    let second = da
        .image_location_add(&ctx, &image.id, new_location("file:///two", "b"))
        .await
        .expect("add");
    assert_ne!(first.id, second.id);
    assert_eq!(first.url, "file:///one");
    assert_eq!(first.status, LocationStatus::Active);
    let got = da.image_get(&ctx, &image.id, false).await.expect("get");
    assert_eq!(got.locations, vec![first.clone(), second]);
    assert_eq!(
        got.locations[0].metadata.get("nested"),
        Some(&serde_json::json!({"n": [1, 2.5, null, true]}))
    );
    let err = da
        .image_location_add(
            &ctx,
            &uuid::Uuid::new_v4().to_string(),
            new_location("file:///x", "a"),
        )
        .await
        .expect_err("missing image");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

pub async fn update_location(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let added = da
        .image_location_add(&admin(), &image.id, new_location("file:///old", "a"))
        .await
        .expect("add");
    let mut metadata = serde_json::Map::new();
    metadata.insert("store".into(), serde_json::json!("z"));
    let changed = Location {
        id: added.id,
        url: "file:///new".into(),
        metadata,
        status: LocationStatus::Active,
    };
    da.image_location_update(&admin(), &image.id, changed.clone())
        .await
        .expect("update");
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(got.locations, vec![changed.clone()]);
    // pending_delete retires the location (Glance marks it deleted).
    let retired = Location {
        status: LocationStatus::PendingDelete,
        ..changed.clone()
    };
    da.image_location_update(&admin(), &image.id, retired)
        .await
        .expect("retire");
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert!(got.locations.is_empty(), "{:?}", got.locations);
    let unknown = Location {
        id: added.id + 1000,
        ..changed
    };
    let err = da
        .image_location_update(&admin(), &image.id, unknown)
        .await
        .expect_err("unknown id");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

pub async fn delete_location(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let a = da
        .image_location_add(&admin(), &image.id, new_location("file:///a", "s"))
        .await
        .expect("add");
    let b = da
        .image_location_add(&admin(), &image.id, new_location("file:///b", "s"))
        .await
        .expect("add");
    let err = da
        .image_location_delete(&admin(), &image.id, a.id, LocationStatus::Active)
        .await
        .expect_err("active is not a deleted status");
    assert!(matches!(err, DataAccessError::Invalid(_)), "{err:?}");
    da.image_location_delete(&admin(), &image.id, a.id, LocationStatus::Deleted)
        .await
        .expect("delete");
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(got.locations, vec![b.clone()]);
    da.image_location_delete(&admin(), &image.id, b.id, LocationStatus::PendingDelete)
        .await
        .expect("pending_delete");
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert!(got.locations.is_empty());
    let err = da
        .image_location_delete(&admin(), &image.id, b.id + 1000, LocationStatus::Deleted)
        .await
        .expect_err("unknown");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    // A location id of another image is not found through this one.
    let other = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let c = da
        .image_location_add(&admin(), &other.id, new_location("file:///c", "s"))
        .await
        .expect("add");
    let err = da
        .image_location_delete(&admin(), &image.id, c.id, LocationStatus::Deleted)
        .await
        .expect_err("other image's location");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

pub async fn locations_need_ownership(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Public)).await;
    let added = da
        .image_location_add(&admin(), &image.id, new_location("file:///a", "s"))
        .await
        .expect("add");
    let other = user("other");
    let err = da
        .image_location_add(&other, &image.id, new_location("file:///evil", "s"))
        .await
        .expect_err("add");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let err = da
        .image_location_delete(&other, &image.id, added.id, LocationStatus::Deleted)
        .await
        .expect_err("delete");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let err = da
        .image_location_update(&other, &image.id, added.clone())
        .await
        .expect_err("update");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let got = da.image_get(&other, &image.id, false).await.expect("get");
    assert_eq!(got.locations, vec![added]);
}
