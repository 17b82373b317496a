//! Concurrent writers on one PostgreSQL database: nothing lost, exactly one winner.

use std::collections::BTreeMap;

use glance_rs::data_access::DataAccessError;
use glance_rs::domain::{
    ImageChanges, ImageQuery, ImageStatus, MemberStatus, NewImage, NewMember, RequestContext,
    Visibility,
};

use crate::support::postgres::fresh;

fn owner(project: &str) -> RequestContext {
    RequestContext {
        project_id: Some(project.to_string()),
        request_id: "req-test".into(),
        ..RequestContext::default()
    }
}

fn new_image(id: &str, project: &str) -> NewImage {
    NewImage {
        id: id.to_string(),
        name: Some(id.to_string()),
        status: ImageStatus::Queued,
        visibility: Visibility::Shared,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        owner: Some(project.to_string()),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: BTreeMap::new(),
        tags: vec![],
    }
}

#[tokio::test]
async fn concurrent_patches_adding_different_properties_keep_all() {
    let (db, _guard) = fresh().await;
    let ctx = owner("p1");
    let id = "11111111-2222-3333-4444-555555555555";
    db.image_create(&ctx, new_image(id, "p1"))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for n in 0..16 {
        let (db, ctx) = (db.clone(), ctx.clone());
        tasks.push(tokio::spawn(async move {
            let mut changes = ImageChanges::default();
            changes
                .set_properties
                .insert(format!("prop_{n}"), Some(format!("v{n}")));
            db.image_update(&ctx, id, changes, false, None).await
        }));
    }
    for task in tasks {
        task.await.expect("joined").expect("update");
    }
    let image = db.image_get(&ctx, id, false).await.expect("get");
    assert_eq!(image.properties.len(), 16, "{:?}", image.properties);
}

#[tokio::test]
async fn concurrent_member_creates_have_one_winner_and_revive_after_delete() {
    let (db, _guard) = fresh().await;
    let ctx = owner("p1");
    let id = "21111111-2222-3333-4444-555555555555";
    db.image_create(&ctx, new_image(id, "p1"))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (db, ctx) = (db.clone(), ctx.clone());
        tasks.push(tokio::spawn(async move {
            let member = NewMember {
                image_id: id.to_string(),
                member: "p2".into(),
                can_share: false,
                status: MemberStatus::Pending,
            };
            db.image_member_create(&ctx, member).await
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        match task.await.expect("joined") {
            Ok(member) => created.push(member),
            Err(DataAccessError::Duplicate(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(db.image_member_count(&ctx, id).await.expect("count"), 1);

    let first = &created[0];
    db.image_member_delete(&ctx, first.id)
        .await
        .expect("delete");
    assert_eq!(db.image_member_count(&ctx, id).await.expect("count"), 0);
    let revived = db
        .image_member_create(
            &ctx,
            NewMember {
                image_id: id.to_string(),
                member: "p2".into(),
                can_share: false,
                status: MemberStatus::Pending,
            },
        )
        .await
        .expect("revive");
    assert_eq!(revived.id, first.id, "the soft-deleted row is revived");
    assert!(!revived.deleted);
}

#[tokio::test]
async fn compare_and_set_conflict_names_the_states() {
    let (db, _guard) = fresh().await;
    let ctx = owner("p1");
    let id = "31111111-2222-3333-4444-555555555555";
    db.image_create(&ctx, new_image(id, "p1"))
        .await
        .expect("create");
    let to_saving = ImageChanges {
        status: Some(ImageStatus::Saving),
        ..ImageChanges::default()
    };
    db.image_update(
        &ctx,
        id,
        to_saving.clone(),
        false,
        Some(ImageStatus::Queued),
    )
    .await
    .expect("first wins");
    let lost = db
        .image_update(&ctx, id, to_saving, false, Some(ImageStatus::Queued))
        .await;
    assert_eq!(
        lost,
        Err(DataAccessError::Conflict(
            "cannot transition from saving to saving in update (wanted from_state=queued)".into()
        ))
    );
}

#[tokio::test]
async fn properties_revive_purge_and_list_with_a_marker() {
    let (db, _guard) = fresh().await;
    let ctx = owner("p1");
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = format!("4111111{n}-2222-3333-4444-555555555555");
        let mut image = new_image(&id, "p1");
        image.properties.insert("a".into(), Some("1".into()));
        image.tags = vec!["x".into(), "y".into(), "x".into()];
        db.image_create(&ctx, image).await.expect("create");
        ids.push(id);
    }
    let id = &ids[0];
    let remove = ImageChanges {
        remove_properties: vec!["a".into()],
        ..ImageChanges::default()
    };
    let image = db
        .image_update(&ctx, id, remove, false, None)
        .await
        .expect("remove");
    assert!(image.properties.is_empty());
    let mut readd = ImageChanges::default();
    readd.set_properties.insert("a".into(), Some("2".into()));
    readd.set_properties.insert("b".into(), Some("3".into()));
    let image = db
        .image_update(&ctx, id, readd, false, None)
        .await
        .expect("revive");
    assert_eq!(image.property("a"), Some("2"));
    let mut purge = ImageChanges::default();
    purge.set_properties.insert("b".into(), Some("4".into()));
    let image = db
        .image_update(&ctx, id, purge, true, None)
        .await
        .expect("purge");
    assert_eq!(image.properties.keys().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(image.tags, vec!["x", "y"]);

    let mut query = ImageQuery {
        limit: Some(2),
        ..ImageQuery::default()
    };
    let page = db.image_get_all(&ctx, &query).await.expect("page 1");
    assert_eq!(page.len(), 2);
    query.marker = Some(page[1].id.clone());
    let rest = db.image_get_all(&ctx, &query).await.expect("page 2");
    assert_eq!(rest.len(), 2);
    assert!(rest.iter().all(|i| page.iter().all(|p| p.id != i.id)));
    query.marker = Some("no-such-image".into());
    assert!(matches!(
        db.image_get_all(&ctx, &query).await,
        Err(DataAccessError::NotFound(_))
    ));
    // Another project sees nothing of p1's shared images without membership.
    let other = db
        .image_get_all(&owner("p2"), &ImageQuery::default())
        .await
        .expect("list");
    assert!(other.is_empty());
    assert!(matches!(
        db.image_get(&owner("p2"), id, false).await,
        Err(DataAccessError::Forbidden(_))
    ));
}
