//! The order of a list and keyset paging after a marker (Glance's `_paginate_query`): sort
//! keys with their tie-breakers, `ORDER BY`, and the condition for the rows after the marker,
//! written as the expressions the list indexes (schema versions 5 and 7) hold.

use super::{SqlBuilder, SqlParam};
use crate::domain::{Image, SortDir, SortKey};

/// The sort keys with Glance's `created_at`, `id` tie-breakers appended when missing. The
/// tie-breakers take the direction of the keys when they all agree (one `sort_dir` for every
/// key, as `sort_key=a&sort_key=b&sort_dir=asc` gives), else `desc`, as in Glance.
pub fn sort_with_tie_breakers(sort: &[(SortKey, SortDir)]) -> Vec<(SortKey, SortDir)> {
    let mut keys: Vec<(SortKey, SortDir)> = if sort.is_empty() {
        vec![(SortKey::CreatedAt, SortDir::Desc)]
    } else {
        sort.to_vec()
    };
    let default_dir = match keys.first() {
        Some((_, first)) if keys.iter().all(|(_, dir)| dir == first) => *first,
        _ => SortDir::Desc,
    };
    for tie_breaker in [SortKey::CreatedAt, SortKey::Id] {
        if !keys.iter().any(|(key, _)| *key == tie_breaker) {
            keys.push((tie_breaker, default_dir));
        }
    }
    keys
}

/// Append ` ORDER BY` the sort keys (with their tie-breakers) of the `images` rows, as the
/// expressions the marker compares (`push_sort_expr`), so that pages and markers agree on where
/// NULLs go and the list indexes (schema versions 5 and 7) serve both.
pub fn push_order_by(b: &mut SqlBuilder, sort: &[(SortKey, SortDir)]) {
    push_order_by_on(b, sort, false);
}

/// `push_order_by`, of the walked child rows' keys when `walked` (`walk.rs`).
pub(super) fn push_order_by_on(b: &mut SqlBuilder, sort: &[(SortKey, SortDir)], walked: bool) {
    b.sql(" ORDER BY ");
    for (i, (key, dir)) in sort.iter().enumerate() {
        if i > 0 {
            b.sql(", ");
        }
        push_sort_expr(b, *key, walked);
        b.sql(" ").sql(dir.sql());
    }
}

/// Keyset paging after the marker row, as Glance's `_paginate_query`: NULL strings compare as
/// '' and NULL sizes as 0 (on both sides); timestamps are compared as they are.
///
/// When every key runs the same way (one `sort_dir`, as the default `created_at desc, id
/// desc` and `sort=name:asc` are), the condition is one row-value comparison,
/// `(k1, k2, …) > (m1, m2, …)`, which the database reads as a range of an index on those keys:
/// the page after a marker deep in the list starts there instead of filtering every earlier
/// row. With mixed directions it is Glance's OR of prefixes. Either way the first key's bound
/// (`k1 >= m1`) goes first: it lets an index on the first key limit the walk where the row
/// value cannot (mixed directions; SQLite, which does not range-scan an expression index by a
/// row value).
pub(super) fn push_marker(
    b: &mut SqlBuilder,
    sort: &[(SortKey, SortDir)],
    marker: &Image,
    walked: bool,
) {
    let Some((first_key, first_dir)) = sort.first().copied() else {
        return;
    };
    b.sql(" AND ");
    push_sort_expr(b, first_key, walked);
    b.sql(match first_dir {
        SortDir::Asc => " >= ",
        SortDir::Desc => " <= ",
    })
    .param(marker_value(first_key, marker));
    if sort.iter().all(|(_, dir)| *dir == first_dir) {
        b.sql(" AND (");
        for (i, (key, _)) in sort.iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            push_sort_expr(b, *key, walked);
        }
        b.sql(match first_dir {
            SortDir::Asc => ") > (",
            SortDir::Desc => ") < (",
        });
        for (i, (key, _)) in sort.iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.param(marker_value(*key, marker));
        }
        b.sql(")");
        return;
    }
    b.sql(" AND (");
    for i in 0..sort.len() {
        if i > 0 {
            b.sql(" OR ");
        }
        b.sql("(");
        for (j, (key, dir)) in sort.iter().enumerate().take(i + 1) {
            if j > 0 {
                b.sql(" AND ");
            }
            push_sort_expr(b, *key, walked);
            let op = match (j == i, dir) {
                (false, _) => " = ",
                (true, SortDir::Asc) => " > ",
                (true, SortDir::Desc) => " < ",
            };
            b.sql(op).param(marker_value(*key, marker));
        }
        b.sql(")");
    }
    b.sql(")");
}

/// A sort key as compared and ordered: nullable strings as `COALESCE(…, '')` and the size as
/// `COALESCE(size, 0)` (Glance's marker semantics; the name form is indexed, schema version
/// 5); columns that are never NULL as they are, so their indexes apply.
///
/// On a page walked along a tag's or a property's rows (`walked`, only in the default order),
/// `created_at` and `id` are the walked row's copy of its image's `created_at` and its
/// `image_id` (equal to the image's own, schema version 8), as its index holds them.
fn push_sort_expr(b: &mut SqlBuilder, key: SortKey, walked: bool) {
    match (walked, key) {
        (true, SortKey::CreatedAt) => {
            b.sql("walked.glance_rs_image_created_at");
            return;
        }
        (true, SortKey::Id) => {
            b.sql("walked.image_id");
            return;
        }
        _ => {}
    }
    match key {
        SortKey::Size => b.sql("COALESCE(images.size, 0)"),
        SortKey::CreatedAt | SortKey::UpdatedAt | SortKey::Id | SortKey::Status => {
            b.sql("images.").sql(key.column())
        }
        SortKey::Name | SortKey::ContainerFormat | SortKey::DiskFormat => {
            b.sql("COALESCE(images.").sql(key.column()).sql(", '')")
        }
    };
}

fn marker_value(key: SortKey, marker: &Image) -> SqlParam {
    let text = |value: &Option<String>| SqlParam::Text(value.clone().unwrap_or_default());
    match key {
        SortKey::Name => text(&marker.name),
        SortKey::Status => SqlParam::Text(marker.status.as_str().to_string()),
        SortKey::ContainerFormat => text(&marker.container_format),
        SortKey::DiskFormat => text(&marker.disk_format),
        SortKey::Size => SqlParam::BigInt(marker.size.unwrap_or(0)),
        SortKey::Id => SqlParam::Text(marker.id.clone()),
        SortKey::CreatedAt => SqlParam::Timestamp(marker.created_at),
        // Every backend sets updated_at on create, so this fallback is never taken in practice.
        SortKey::UpdatedAt => SqlParam::Timestamp(marker.updated_at.unwrap_or(marker.created_at)),
    }
}
