//! image_member_create / update / delete / find / count (DriverTests: test_image_member_*).

use futures_util::future::join_all;
use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{
    Image, Member, MemberChanges, MemberQuery, MemberStatus, NewMember, Visibility,
};

use super::{admin, create, new_image, pause, user};

fn new_member(image: &Image, member: &str) -> NewMember {
    NewMember {
        image_id: image.id.clone(),
        member: member.into(),
        can_share: false,
        status: MemberStatus::Pending,
    }
}

fn of_image(image: &Image) -> MemberQuery {
    MemberQuery {
        image_id: Some(image.id.clone()),
        ..MemberQuery::default()
    }
}

fn members(rows: &[Member]) -> Vec<&str> {
    rows.iter().map(|m| m.member.as_str()).collect()
}

pub async fn create_then_find(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let created = da
        .image_member_create(&user("owner"), new_member(&image, "p2"))
        .await
        .expect("create");
    assert_eq!(created.image_id, image.id);
    assert_eq!(created.member, "p2");
    assert_eq!(created.status, MemberStatus::Pending);
    assert!(!created.can_share && !created.deleted);
    assert_eq!(created.updated_at, Some(created.created_at));
    let found = da
        .image_member_find(&user("owner"), &of_image(&image))
        .await
        .expect("find");
    assert_eq!(found, vec![created.clone()]);
    let by_member = MemberQuery {
        member: Some("p2".into()),
        ..MemberQuery::default()
    };
    assert_eq!(
        da.image_member_find(&admin(), &by_member).await,
        Ok(vec![created.clone()])
    );
    let by_status = |s| MemberQuery {
        status: Some(s),
        ..of_image(&image)
    };
    assert_eq!(
        da.image_member_find(&admin(), &by_status(MemberStatus::Pending))
            .await,
        Ok(vec![created])
    );
    assert_eq!(
        da.image_member_find(&admin(), &by_status(MemberStatus::Accepted))
            .await,
        Ok(vec![])
    );
}

pub async fn duplicate_live_member_is_duplicate(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    da.image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("create");
    let err = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect_err("dup");
    assert!(matches!(err, DataAccessError::Duplicate(_)), "{err:?}");
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(1));
    // The same member on another image is fine.
    let other = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    da.image_member_create(&admin(), new_member(&other, "p2"))
        .await
        .expect("other image");
}

pub async fn deleted_member_is_revived(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let first = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("create");
    let accept = MemberChanges {
        status: Some(MemberStatus::Accepted),
        can_share: None,
    };
    da.image_member_update(&admin(), first.id, accept)
        .await
        .expect("accept");
    da.image_member_delete(&user("owner"), first.id)
        .await
        .expect("delete");
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(0));
    pause().await;
    let revived = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("revive");
    assert_eq!(revived.id, first.id, "the soft-deleted row is reused");
    assert_eq!(revived.status, MemberStatus::Pending);
    assert!(!revived.deleted);
    assert!(revived.updated_at > first.updated_at);
    let all = MemberQuery {
        include_deleted: true,
        ..of_image(&image)
    };
    assert_eq!(
        da.image_member_find(&admin(), &all).await,
        Ok(vec![revived])
    );
}

pub async fn update_status(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let created = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("create");
    pause().await;
    for status in [
        MemberStatus::Accepted,
        MemberStatus::Rejected,
        MemberStatus::Pending,
    ] {
        let changes = MemberChanges {
            status: Some(status),
            can_share: None,
        };
        let updated = da
            .image_member_update(&user("p2"), created.id, changes)
            .await
            .expect("update");
        assert_eq!(updated.status, status);
        assert_eq!(
            (updated.id, updated.created_at),
            (created.id, created.created_at)
        );
        assert!(updated.updated_at > created.updated_at);
        let found = da
            .image_member_find(&user("p2"), &of_image(&image))
            .await
            .expect("find");
        assert_eq!(found, vec![updated]);
    }
    let err = da
        .image_member_update(&admin(), created.id + 1000, MemberChanges::default())
        .await
        .expect_err("unknown id");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
}

pub async fn delete_and_missing_member(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let created = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("create");
    da.image_member_delete(&admin(), created.id)
        .await
        .expect("delete");
    assert_eq!(
        da.image_member_find(&admin(), &of_image(&image)).await,
        Ok(vec![])
    );
    let all = MemberQuery {
        include_deleted: true,
        ..of_image(&image)
    };
    let rows = da.image_member_find(&admin(), &all).await.expect("find");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].deleted);
    for id in [created.id, created.id + 1000] {
        let err = da
            .image_member_delete(&admin(), id)
            .await
            .expect_err("gone");
        assert!(matches!(err, DataAccessError::NotFound(_)), "{id}: {err:?}");
    }
}

pub async fn find_is_scoped_for_users(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    for member in ["p2", "p3"] {
        da.image_member_create(&admin(), new_member(&image, member))
            .await
            .expect("create");
    }
    let query = of_image(&image);
    let found = |ctx: glance_rs::domain::RequestContext| {
        let query = query.clone();
        async move { da.image_member_find(&ctx, &query).await.expect("find") }
    };
    assert_eq!(members(&found(admin()).await), vec!["p2", "p3"]);
    assert_eq!(members(&found(user("owner")).await), vec!["p2", "p3"]);
    assert_eq!(
        members(&found(user("p2")).await),
        vec!["p2"],
        "a member sees only its own row"
    );
    assert!(found(user("stranger")).await.is_empty());
    assert_eq!(
        da.image_member_find(&Default::default(), &query).await,
        Ok(vec![])
    );
    // Members cannot delete their row; strangers cannot see it at all.
    let p2_row = found(user("p2")).await.remove(0);
    let err = da
        .image_member_delete(&user("p2"), p2_row.id)
        .await
        .expect_err("member deletes");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let err = da
        .image_member_delete(&user("stranger"), p2_row.id)
        .await
        .expect_err("stranger");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    let changes = MemberChanges {
        status: Some(MemberStatus::Accepted),
        can_share: None,
    };
    let err = da
        .image_member_update(&user("stranger"), p2_row.id, changes)
        .await
        .expect_err("stranger");
    assert!(matches!(err, DataAccessError::NotFound(_)), "{err:?}");
    // Only the owner (or an admin) adds members.
    let err = da
        .image_member_create(&user("p2"), new_member(&image, "p4"))
        .await
        .expect_err("member adds");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
}

pub async fn count_live_rows(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(0));
    let mut rows = Vec::new();
    for member in ["a", "b", "c"] {
        rows.push(
            da.image_member_create(&admin(), new_member(&image, member))
                .await
                .expect("create"),
        );
    }
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(3));
    da.image_member_delete(&admin(), rows[1].id)
        .await
        .expect("delete");
    assert_eq!(
        da.image_member_count(&user("owner"), &image.id).await,
        Ok(2)
    );
    let err = da
        .image_member_count(&admin(), "")
        .await
        .expect_err("empty id");
    assert!(matches!(err, DataAccessError::Invalid(_)), "{err:?}");
}

pub async fn concurrent_creates_have_one_winner(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let ctx = user("owner");
    let attempts = (0..8).map(|_| da.image_member_create(&ctx, new_member(&image, "p2")));
    let results = join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for result in &results {
        if let Err(err) = result {
            assert!(matches!(err, DataAccessError::Duplicate(_)), "{err:?}");
        }
    }
    assert_eq!(da.image_member_count(&admin(), &image.id).await, Ok(1));
}

pub async fn member_grants_visibility_of_shared_images(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let err = da
        .image_get(&user("p2"), &image.id, false)
        .await
        .expect_err("not yet");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    let row = da
        .image_member_create(&admin(), new_member(&image, "p2"))
        .await
        .expect("create");
    let got = da
        .image_get(&user("p2"), &image.id, false)
        .await
        .expect("pending member reads");
    assert_eq!(got.id, image.id);
    // The member may read but not change the image.
    let err = da
        .image_update(&user("p2"), &image.id, Default::default(), false, None)
        .await
        .expect_err("member writes");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
    da.image_member_delete(&admin(), row.id)
        .await
        .expect("delete");
    let err = da
        .image_get(&user("p2"), &image.id, false)
        .await
        .expect_err("no longer");
    assert!(matches!(err, DataAccessError::Forbidden(_)), "{err:?}");
}
