//! image_get_all: sorting, tie-breakers, markers and limits (DriverTests: test_image_paginate,
//! test_image_get_all_marker*, test_image_get_all_limit*, sort tests).

use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{
    Image, ImageChanges, ImageQuery, ImageStatus, SortDir, SortKey, Visibility,
};

use super::listing::{list, update};
use super::{admin, create, ids, new_image, pause, user};

/// Images whose sort columns are all set and differ, in creation order.
async fn sortable(da: &dyn DataAccess) -> Vec<Image> {
    let rows = [
        ("b", "saving", "ovf", "qcow2", 30),
        ("a", "queued", "bare", "raw", 10),
        ("c", "active", "ami", "vhd", 20),
    ];
    let mut images = Vec::new();
    for (name, _, container, disk, _) in rows {
        let mut values = new_image(Some("p"), Visibility::Public);
        values.name = Some(name.into());
        values.container_format = Some(container.into());
        values.disk_format = Some(disk.into());
        let image = create(da, values).await;
        images.push(image);
    }
    // Update in reverse creation order, so updated_at order differs from created_at order.
    for (image, (_, status, _, _, size)) in images.iter_mut().zip(rows).rev() {
        let changes = ImageChanges {
            status: ImageStatus::parse(status),
            size: Some(Some(size)),
            ..ImageChanges::default()
        };
        *image = update(da, image, changes).await;
        pause().await;
    }
    images
}

const SORTABLE_TIME: &str = "%Y%m%d%H%M%S%6f";

fn sort_value(image: &Image, key: SortKey) -> String {
    match key {
        SortKey::Name => image.name.clone().unwrap_or_default(),
        SortKey::Status => image.status.to_string(),
        SortKey::ContainerFormat => image.container_format.clone().unwrap_or_default(),
        SortKey::DiskFormat => image.disk_format.clone().unwrap_or_default(),
        SortKey::Size => format!("{:020}", image.size.unwrap_or_default()),
        SortKey::Id => image.id.clone(),
        SortKey::CreatedAt => image.created_at.format(SORTABLE_TIME).to_string(),
        SortKey::UpdatedAt => image
            .updated_at
            .map(|t| t.format(SORTABLE_TIME).to_string())
            .unwrap_or_default(),
    }
}

pub async fn sort_every_key_both_directions(da: &dyn DataAccess) {
    let images = sortable(da).await;
    let keys = [
        SortKey::Name,
        SortKey::Status,
        SortKey::ContainerFormat,
        SortKey::DiskFormat,
        SortKey::Size,
        SortKey::Id,
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
    ];
    for key in keys {
        for dir in [SortDir::Asc, SortDir::Desc] {
            let mut expected = images.clone();
            expected.sort_by_key(|i| sort_value(i, key));
            if dir == SortDir::Desc {
                expected.reverse();
            }
            let query = ImageQuery {
                sort: vec![(key, dir)],
                ..ImageQuery::default()
            };
            let got = list(da, &admin(), &query).await;
            assert_eq!(ids(&got), ids(&expected), "sort by {key:?} {dir:?}");
        }
    }
    // The default order is created_at desc.
    let mut newest_first = ids(&images);
    newest_first.reverse();
    assert_eq!(
        ids(&list(da, &admin(), &ImageQuery::default()).await),
        newest_first
    );
}

pub async fn sort_tie_breakers(da: &dyn DataAccess) {
    // Same name and status: created_at then id break the tie, in the given direction.
    let mut created = Vec::new();
    for _ in 0..4 {
        created.push(create(da, new_image(Some("p"), Visibility::Public)).await);
    }
    let by_name = |dir| ImageQuery {
        sort: vec![(SortKey::Name, dir)],
        ..ImageQuery::default()
    };
    assert_eq!(
        ids(&list(da, &admin(), &by_name(SortDir::Asc)).await),
        ids(&created)
    );
    let mut reversed = ids(&created);
    reversed.reverse();
    assert_eq!(
        ids(&list(da, &admin(), &by_name(SortDir::Desc)).await),
        reversed
    );
    let two_keys = ImageQuery {
        sort: vec![
            (SortKey::Name, SortDir::Asc),
            (SortKey::Status, SortDir::Desc),
        ],
        ..ImageQuery::default()
    };
    assert_eq!(
        ids(&list(da, &admin(), &two_keys).await),
        reversed,
        "mixed directions → desc tie-breakers"
    );
}

pub async fn marker_pages_through_everything(da: &dyn DataAccess) {
    let images = sortable(da).await;
    let mut more = Vec::new();
    for _ in 0..3 {
        let mut values = new_image(Some("p"), Visibility::Public);
        values.name = Some("b".into()); // ties with one sortable image on name
        let image = create(da, values).await;
        // Sizes tie with one sortable image too; none is NULL, whose order differs by backend.
        more.push(
            update(
                da,
                &image,
                ImageChanges {
                    size: Some(Some(20)),
                    ..ImageChanges::default()
                },
            )
            .await,
        );
    }
    for (key, dir) in [
        (SortKey::Name, SortDir::Asc),
        (SortKey::CreatedAt, SortDir::Desc),
        (SortKey::Size, SortDir::Desc),
        (SortKey::Status, SortDir::Asc),
    ] {
        let base = ImageQuery {
            sort: vec![(key, dir)],
            ..ImageQuery::default()
        };
        let everything = ids(&list(da, &admin(), &base).await);
        assert_eq!(everything.len(), images.len() + more.len());
        let mut paged = Vec::new();
        let mut marker = None;
        loop {
            let query = ImageQuery {
                marker: marker.clone(),
                limit: Some(2),
                ..base.clone()
            };
            let page = list(da, &admin(), &query).await;
            assert!(page.len() <= 2);
            if page.is_empty() {
                break;
            }
            marker = page.last().map(|i| i.id.clone());
            paged.extend(ids(&page));
        }
        assert_eq!(paged, everything, "paging by {key:?} {dir:?}");
    }
}

pub async fn unknown_or_invisible_marker_is_not_found(da: &dyn DataAccess) {
    let private = create(da, new_image(Some("owner"), Visibility::Private)).await;
    let deleted = create(da, new_image(Some("owner"), Visibility::Public)).await;
    da.image_destroy(&admin(), &deleted.id)
        .await
        .expect("destroy");
    for (ctx, marker) in [
        (user("other"), uuid::Uuid::new_v4().to_string()),
        (user("other"), private.id.clone()),
        (admin(), uuid::Uuid::new_v4().to_string()),
        (user("owner"), deleted.id.clone()),
    ] {
        let query = ImageQuery {
            marker: Some(marker.clone()),
            ..ImageQuery::default()
        };
        let err = da
            .image_get_all(&ctx, &query)
            .await
            .expect_err("bad marker");
        assert!(
            matches!(err, DataAccessError::NotFound(_)),
            "{marker}: {err:?}"
        );
    }
}

pub async fn limit_caps_the_page(da: &dyn DataAccess) {
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(create(da, new_image(Some("p"), Visibility::Public)).await);
    }
    let limited = |n| ImageQuery {
        limit: Some(n),
        ..ImageQuery::default()
    };
    assert!(list(da, &admin(), &limited(0)).await.is_empty());
    let two = list(da, &admin(), &limited(2)).await;
    assert_eq!(
        ids(&two),
        vec![created[2].id.clone(), created[1].id.clone()]
    );
    assert_eq!(list(da, &admin(), &limited(10)).await.len(), 3);
    // Listed images carry their tags and properties like image_get does.
    let got = da
        .image_get(&admin(), &created[0].id, false)
        .await
        .expect("get");
    let listed = list(da, &admin(), &ImageQuery::default()).await;
    assert_eq!(listed.iter().find(|i| i.id == got.id), Some(&got));
}
