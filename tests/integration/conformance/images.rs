//! image_create / image_get / image_update / image_destroy (DriverTests: test_image_create*,
//! test_image_get*, test_image_update*, test_image_destroy*, visibility tests).

use futures_util::future::join_all;
use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{
    ImageChanges, ImageStatus, LocationStatus, MemberStatus, NewLocation, NewMember, Visibility,
};

use super::{admin, create, new_image, pause, props, user};

fn location(url: &str) -> NewLocation {
    let mut metadata = serde_json::Map::new();
    metadata.insert("store".into(), serde_json::json!("file"));
    NewLocation {
        url: url.into(),
        metadata,
        status: LocationStatus::Active,
    }
}

pub async fn create_then_get(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.name = Some("cirros".into());
    values.min_disk = 2;
    values.min_ram = 512;
    values.protected = true;
    values.properties = props(&[("os_distro", "cirros"), ("empty", "")]);
    values.tags = vec!["b".into(), "a".into(), "b".into(), "c".into()];
    let created = create(da, values.clone()).await;
    let got = da
        .image_get(&user("p1"), &values.id, false)
        .await
        .expect("get");
    assert_eq!(got, created);
    assert_eq!(got.id, values.id);
    assert_eq!(got.name.as_deref(), Some("cirros"));
    assert_eq!(got.status, ImageStatus::Queued);
    assert_eq!(got.visibility, Visibility::Private);
    assert_eq!(got.owner.as_deref(), Some("p1"));
    assert_eq!((got.min_disk, got.min_ram), (2, 512));
    assert!(got.protected && !got.os_hidden && !got.deleted);
    assert_eq!(
        (got.size, got.virtual_size, got.checksum.as_deref()),
        (None, None, None)
    );
    assert_eq!(got.disk_format.as_deref(), Some("raw"));
    assert_eq!(got.container_format.as_deref(), Some("bare"));
    assert_eq!(
        got.properties,
        props(&[("empty", ""), ("os_distro", "cirros")])
    );
    assert_eq!(
        got.tags,
        vec!["b", "a", "c"],
        "insertion order, no duplicates"
    );
    assert!(got.locations.is_empty());
    assert_eq!(got.updated_at, Some(got.created_at));
    assert_eq!(got.deleted_at, None);
    let age = glance_rs::domain::now() - got.created_at;
    assert!(
        age.num_seconds().abs() < 60,
        "created_at is naive UTC now: {}",
        got.created_at
    );
}

pub async fn create_duplicate_id_is_duplicate(da: &dyn DataAccess) {
    let values = new_image(Some("p1"), Visibility::Shared);
    create(da, values.clone()).await;
    let err = da
        .image_create(&admin(), values.clone())
        .await
        .expect_err("dup");
    assert!(matches!(err, DataAccessError::Duplicate(_)), "{err:?}");
    // Still a duplicate after the first one is deleted: the id stays taken.
    da.image_destroy(&admin(), &values.id)
        .await
        .expect("destroy");
    let err = da
        .image_create(&admin(), values)
        .await
        .expect_err("dup of deleted");
    assert!(matches!(err, DataAccessError::Duplicate(_)), "{err:?}");
}

pub async fn create_with_empty_owner_stores_none(da: &dyn DataAccess) {
    let image = create(da, new_image(Some(""), Visibility::Private)).await;
    assert_eq!(image.owner, None);
    // owner NULL: readable by anyone by id (Glance's is_image_visible).
    let got = da
        .image_get(&user("anyone"), &image.id, false)
        .await
        .expect("visible");
    assert_eq!(got.owner, None);
}

pub async fn get_missing_is_not_found(da: &dyn DataAccess) {
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "x".repeat(37),
        String::new(),
    ] {
        let err = da
            .image_get(&admin(), &id, false)
            .await
            .expect_err("missing");
        assert!(
            matches!(err, DataAccessError::NotFound(_)),
            "{id:?}: {err:?}"
        );
    }
}

pub async fn update_changes_columns_and_updated_at(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let changes = ImageChanges {
        name: Some(Some("renamed".into())),
        min_ram: Some(256),
        size: Some(Some(1024)),
        virtual_size: Some(Some(4096)),
        checksum: Some(Some("d41d8cd98f00b204e9800998ecf8427e".into())),
        os_hash_algo: Some(Some("sha512".into())),
        os_hash_value: Some(Some("ab".repeat(64))),
        visibility: Some(Visibility::Public),
        protected: Some(true),
        os_hidden: Some(true),
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&user("p1"), &image.id, changes, false, None)
        .await
        .expect("update");
    assert_eq!(updated.name.as_deref(), Some("renamed"));
    assert_eq!(updated.min_ram, 256);
    assert_eq!(
        (updated.size, updated.virtual_size),
        (Some(1024), Some(4096))
    );
    assert_eq!(
        updated.checksum.as_deref(),
        Some("d41d8cd98f00b204e9800998ecf8427e")
    );
    assert_eq!(updated.os_hash_algo.as_deref(), Some("sha512"));
    assert_eq!(updated.os_hash_value, Some("ab".repeat(64)));
    assert_eq!(updated.visibility, Visibility::Public);
    assert!(updated.protected && updated.os_hidden);
    assert_eq!(updated.created_at, image.created_at);
    assert!(
        updated.updated_at > image.updated_at,
        "updated_at moves on update"
    );
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(got, updated);
}

pub async fn update_can_set_nullable_columns_to_null(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let changes = ImageChanges {
        name: Some(None),
        disk_format: Some(None),
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&admin(), &image.id, changes, false, None)
        .await
        .expect("update");
    assert_eq!((updated.name, updated.disk_format), (None, None));
    assert_eq!(
        updated.container_format.as_deref(),
        Some("bare"),
        "untouched"
    );
}

pub async fn update_missing_is_not_found(da: &dyn DataAccess) {
    let id = uuid::Uuid::new_v4().to_string();
    let err = da
        .image_update(&admin(), &id, ImageChanges::default(), false, None)
        .await
        .expect_err("missing");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    let err = da.image_destroy(&admin(), &id).await.expect_err("missing");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

fn to_status(status: ImageStatus) -> ImageChanges {
    ImageChanges {
        status: Some(status),
        ..ImageChanges::default()
    }
}

pub async fn from_state_compare_and_set(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let saving = da
        .image_update(
            &admin(),
            &image.id,
            to_status(ImageStatus::Saving),
            false,
            Some(ImageStatus::Queued),
        )
        .await
        .expect("queued -> saving");
    assert_eq!(saving.status, ImageStatus::Saving);
    let err = da
        .image_update(
            &admin(),
            &image.id,
            to_status(ImageStatus::Active),
            false,
            Some(ImageStatus::Queued),
        )
        .await
        .expect_err("no longer queued");
    assert_eq!(
        err,
        DataAccessError::Conflict(
            "cannot transition from saving to active in update (wanted from_state=queued)".into()
        )
    );
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(
        got.status,
        ImageStatus::Saving,
        "the lost update wrote nothing"
    );
    let active = da
        .image_update(
            &admin(),
            &image.id,
            to_status(ImageStatus::Active),
            false,
            Some(ImageStatus::Saving),
        )
        .await
        .expect("saving -> active");
    assert_eq!(active.status, ImageStatus::Active);
}

pub async fn concurrent_from_state_updates_have_one_winner(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Private)).await;
    let ctx = admin();
    let attempts = (0..8).map(|i| {
        let changes = ImageChanges {
            status: Some(ImageStatus::Saving),
            set_properties: props(&[("winner", &i.to_string())]),
            ..ImageChanges::default()
        };
        da.image_update(&ctx, &image.id, changes, false, Some(ImageStatus::Queued))
    });
    let results = join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(err) = result {
            assert!(matches!(err, DataAccessError::Conflict(_)), "{err:?}");
        }
    }
    let got = da.image_get(&ctx, &image.id, false).await.expect("get");
    assert_eq!(got.status, ImageStatus::Saving);
    assert_eq!(
        got.properties, winners[0].properties,
        "only the winner's properties"
    );
}

pub async fn update_and_destroy_need_ownership(da: &dyn DataAccess) {
    let public = create(da, new_image(Some("owner"), Visibility::Public)).await;
    let private = create(da, new_image(Some("owner"), Visibility::Private)).await;
    let orphan = create(da, new_image(None, Visibility::Public)).await;
    for id in [&public.id, &private.id, &orphan.id] {
        let err = da
            .image_update(
                &user("other"),
                id,
                to_status(ImageStatus::Active),
                false,
                None,
            )
            .await
            .expect_err("not owner");
        assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
        let err = da
            .image_destroy(&user("other"), id)
            .await
            .expect_err("not owner");
        assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    }
    let got = da
        .image_get(&admin(), &public.id, false)
        .await
        .expect("get");
    assert_eq!(got.status, ImageStatus::Queued);
    assert!(!got.deleted);
    da.image_update(
        &user("owner"),
        &public.id,
        to_status(ImageStatus::Active),
        false,
        None,
    )
    .await
    .expect("owner may");
}

pub async fn properties_upsert_and_revive(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.properties = props(&[("a", "1"), ("b", "2")]);
    let image = create(da, values).await;
    let set = |pairs: &[(&str, &str)]| ImageChanges {
        set_properties: props(pairs),
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(
            &admin(),
            &image.id,
            set(&[("a", "10"), ("c", "3")]),
            false,
            None,
        )
        .await
        .expect("upsert");
    assert_eq!(
        updated.properties,
        props(&[("a", "10"), ("b", "2"), ("c", "3")])
    );
    let remove = ImageChanges {
        remove_properties: vec!["a".into()],
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&admin(), &image.id, remove, false, None)
        .await
        .expect("remove");
    assert_eq!(updated.properties, props(&[("b", "2"), ("c", "3")]));
    // Re-adding a soft-deleted name revives the row (UNIQUE(image_id, name) covers it).
    let updated = da
        .image_update(&admin(), &image.id, set(&[("a", "again")]), false, None)
        .await
        .expect("revive");
    assert_eq!(
        updated.properties,
        props(&[("a", "again"), ("b", "2"), ("c", "3")])
    );
}

pub async fn remove_properties_only_named(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.properties = props(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let image = create(da, values).await;
    let changes = ImageChanges {
        remove_properties: vec!["a".into(), "c".into(), "never-there".into()],
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&user("p1"), &image.id, changes, false, None)
        .await
        .expect("remove");
    assert_eq!(updated.properties, props(&[("b", "2")]));
}

pub async fn purge_props_removes_unlisted(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.properties = props(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let image = create(da, values).await;
    let changes = ImageChanges {
        set_properties: props(&[("b", "20"), ("d", "4")]),
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&admin(), &image.id, changes, true, None)
        .await
        .expect("purge");
    assert_eq!(updated.properties, props(&[("b", "20"), ("d", "4")]));
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(got.properties, updated.properties);
}

pub async fn update_sets_tags_and_adds_locations_atomically(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.tags = vec!["old".into(), "keep".into()];
    let image = create(da, values).await;
    let changes = ImageChanges {
        status: Some(ImageStatus::Active),
        size: Some(Some(3)),
        tags: Some(vec!["keep".into(), "new".into()]),
        add_locations: vec![location("file:///a"), location("file:///b")],
        ..ImageChanges::default()
    };
    let updated = da
        .image_update(&user("p1"), &image.id, changes, false, None)
        .await
        .expect("update");
    assert_eq!(updated.tags, vec!["keep", "new"]);
    let urls: Vec<_> = updated.locations.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(urls, vec!["file:///a", "file:///b"]);
    assert!(updated
        .locations
        .iter()
        .all(|l| l.status == LocationStatus::Active));
    assert_eq!(
        updated.locations[0].metadata.get("store"),
        Some(&serde_json::json!("file"))
    );
    assert_ne!(updated.locations[0].id, updated.locations[1].id);
}

pub async fn failed_update_changes_nothing(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Private);
    values.properties = props(&[("a", "1")]);
    values.tags = vec!["t".into()];
    let image = create(da, values).await;
    let changes = ImageChanges {
        name: Some(Some("changed".into())),
        set_properties: props(&[("a", "2")]),
        tags: Some(vec![]),
        add_locations: vec![location("file:///x")],
        ..to_status(ImageStatus::Active)
    };
    let err = da
        .image_update(
            &admin(),
            &image.id,
            changes,
            true,
            Some(ImageStatus::Saving),
        )
        .await
        .expect_err("wrong from_state");
    assert!(matches!(err, DataAccessError::Conflict(_)), "{err:?}");
    let got = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(got, image, "nothing of the failed update is visible");
}

pub async fn destroy_soft_deletes_children(da: &dyn DataAccess) {
    let mut values = new_image(Some("p1"), Visibility::Shared);
    values.properties = props(&[("a", "1")]);
    values.tags = vec!["t".into()];
    let image = create(da, values).await;
    let with_location = ImageChanges {
        add_locations: vec![location("file:///data")],
        ..to_status(ImageStatus::Active)
    };
    da.image_update(&admin(), &image.id, with_location, false, None)
        .await
        .expect("update");
    let member = NewMember {
        image_id: image.id.clone(),
        member: "p2".into(),
        can_share: false,
        status: MemberStatus::Accepted,
    };
    da.image_member_create(&admin(), member)
        .await
        .expect("member");
    da.image_update(
        &admin(),
        &image.id,
        to_status(ImageStatus::Deleted),
        false,
        None,
    )
    .await
    .expect("status");

    let destroyed = da
        .image_destroy(&user("p1"), &image.id)
        .await
        .expect("destroy");
    assert_eq!(destroyed.locations.len(), 1, "returned with its locations");
    assert_eq!(destroyed.locations[0].url, "file:///data");

    for ctx in [user("p1"), user("p2")] {
        let err = da
            .image_get(&ctx, &image.id, false)
            .await
            .expect_err("deleted");
        assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    }
    let shown = da
        .image_get(&user("p1"), &image.id, true)
        .await
        .expect("force_show_deleted");
    assert!(shown.deleted);
    assert_eq!(shown.status, ImageStatus::Deleted);
    let deleted_at = shown.deleted_at.expect("deleted_at set");
    assert!(deleted_at >= image.created_at);
    assert!(shown.properties.is_empty(), "{:?}", shown.properties);
    assert!(shown.tags.is_empty(), "{:?}", shown.tags);
    assert!(shown.locations.is_empty(), "{:?}", shown.locations);
    let by_admin = da
        .image_get(&admin(), &image.id, false)
        .await
        .expect("admins see deleted rows");
    assert!(by_admin.deleted);
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(0));
    let all_rows = glance_rs::domain::MemberQuery {
        image_id: Some(image.id.clone()),
        include_deleted: true,
        ..Default::default()
    };
    let rows = da
        .image_member_find(&admin(), &all_rows)
        .await
        .expect("find");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].deleted);
    let err = da
        .image_destroy(&admin(), &image.id)
        .await
        .expect_err("already deleted");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

pub async fn visibility_by_context(da: &dyn DataAccess) {
    let private = create(da, new_image(Some("owner"), Visibility::Private)).await;
    let shared = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let public = create(da, new_image(Some("owner"), Visibility::Public)).await;
    let community = create(da, new_image(Some("owner"), Visibility::Community)).await;
    let member = NewMember {
        image_id: shared.id.clone(),
        member: "member".into(),
        can_share: false,
        status: MemberStatus::Pending,
    };
    da.image_member_create(&admin(), member)
        .await
        .expect("member");
    let anonymous = glance_rs::domain::RequestContext {
        read_only: true,
        ..Default::default()
    };
    // (context, [private, shared, public, community] visible?)
    let expected = [
        (admin(), [true, true, true, true]),
        (user("owner"), [true, true, true, true]),
        (user("member"), [false, true, true, true]),
        (user("other"), [false, false, true, true]),
        (anonymous, [false, false, true, true]),
    ];
    for (ctx, visible) in expected {
        for (image, visible) in [&private, &shared, &public, &community]
            .into_iter()
            .zip(visible)
        {
            let result = da.image_get(&ctx, &image.id, false).await;
            match (visible, result) {
                (true, Ok(got)) => assert_eq!(got.id, image.id),
                (false, Err(DataAccessError::Forbidden(_))) => {}
                (visible, other) => panic!(
                    "{:?} {:?} visible={visible}: {other:?}",
                    ctx.project_id, image.visibility
                ),
            }
        }
    }
}

pub async fn deactivated_images_hide_locations_from_users(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("p1"), Visibility::Public)).await;
    let activate = ImageChanges {
        add_locations: vec![location("file:///data")],
        ..to_status(ImageStatus::Active)
    };
    da.image_update(&admin(), &image.id, activate, false, None)
        .await
        .expect("activate");
    da.image_update(
        &admin(),
        &image.id,
        to_status(ImageStatus::Deactivated),
        false,
        Some(ImageStatus::Active),
    )
    .await
    .expect("deactivate");
    pause().await;
    let by_owner = da
        .image_get(&user("p1"), &image.id, false)
        .await
        .expect("get");
    assert!(by_owner.locations.is_empty());
    let by_admin = da.image_get(&admin(), &image.id, false).await.expect("get");
    assert_eq!(by_admin.locations.len(), 1);
}
