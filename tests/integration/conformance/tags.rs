//! image_tag_get_all / image_tag_create / image_tag_delete / image_tag_set_all
//! (DriverTests: test_image_tag_*).

use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::Visibility;

use super::{admin, create, new_image, user};

fn strings(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

pub async fn create_is_idempotent(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let ctx = user("p1");
    for tag in ["x", "y", "x", "x"] {
        da.image_tag_create(&ctx, &image.id, tag)
            .await
            .expect("tag");
    }
    assert_eq!(
        da.image_tag_get_all(&ctx, &image.id).await,
        Ok(strings(&["x", "y"]))
    );
    let got = da.image_get(&ctx, &image.id, false).await.expect("get");
    assert_eq!(got.tags, strings(&["x", "y"]));
}

pub async fn delete_missing_is_not_found(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.tags = strings(&["a", "b"]);
    let image = create(da, values).await;
    da.image_tag_delete(&admin(), &image.id, "a")
        .await
        .expect("delete");
    assert_eq!(
        da.image_tag_get_all(&admin(), &image.id).await,
        Ok(strings(&["b"]))
    );
    for tag in ["a", "never"] {
        let err = da
            .image_tag_delete(&admin(), &image.id, tag)
            .await
            .expect_err("absent");
        assert!(
            matches!(err, DataAccessError::NotFound(_)),
            "{tag}: {err:?}"
        );
    }
    // A deleted tag can be added again.
    da.image_tag_create(&admin(), &image.id, "a")
        .await
        .expect("re-add");
    assert_eq!(
        da.image_tag_get_all(&admin(), &image.id).await,
        Ok(strings(&["b", "a"]))
    );
}

pub async fn set_all_replaces_in_order(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.tags = strings(&["keep", "drop"]);
    let image = create(da, values).await;
    let ctx = user("p1");
    da.image_tag_set_all(&ctx, &image.id, &strings(&["new2", "keep", "new1", "new2"]))
        .await
        .expect("set_all");
    // Existing tags keep their place; new ones follow in the given order.
    assert_eq!(
        da.image_tag_get_all(&ctx, &image.id).await,
        Ok(strings(&["keep", "new2", "new1"]))
    );
    da.image_tag_set_all(&ctx, &image.id, &[])
        .await
        .expect("clear");
    assert_eq!(da.image_tag_get_all(&ctx, &image.id).await, Ok(vec![]));
}

pub async fn tags_of_missing_or_foreign_images(da: &dyn DataAccess) {
    let missing = uuid::Uuid::new_v4().to_string();
    let err = da
        .image_tag_get_all(&admin(), &missing)
        .await
        .expect_err("missing");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    let err = da
        .image_tag_create(&admin(), &missing, "t")
        .await
        .expect_err("missing");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");

    let mut values = new_image(Some("owner"), Visibility::Public);
    values.tags = strings(&["t"]);
    let public = create(da, values).await;
    let other = user("other");
    assert_eq!(
        da.image_tag_get_all(&other, &public.id).await,
        Ok(strings(&["t"]))
    );
    let err = da
        .image_tag_create(&other, &public.id, "mine")
        .await
        .expect_err("not owner");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let err = da
        .image_tag_delete(&other, &public.id, "t")
        .await
        .expect_err("not owner");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let err = da
        .image_tag_set_all(&other, &public.id, &[])
        .await
        .expect_err("not owner");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    assert_eq!(
        da.image_tag_get_all(&admin(), &public.id).await,
        Ok(strings(&["t"]))
    );

    let private = create(da, new_image(Some("owner"), Visibility::Private)).await;
    let err = da
        .image_tag_get_all(&other, &private.id)
        .await
        .expect_err("invisible");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
}
