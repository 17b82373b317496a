//! Where a page of images is read from: the images in list order, or (schema version 8) the
//! live rows of one of its tags or property filters, which carry a copy of their image's
//! `created_at` (kept by triggers) and are indexed in list order.
//!
//! A page filtered by a tag on 2 % of a million images, walked along the images, probed the
//! tag once per image until 20 matched: 1,000 probes for an admin, 6,700 rows for a member who
//! sees 15 % of the catalogue. Walked along the tag's own rows it reads 20 ÷ the share of the
//! tag's images the caller may see, whatever the size of the catalogue and however rare the
//! tag. The same holds for a property filter. The walk's plan fits every value, so
//! PostgreSQL may cache the statement.
//!
//! Schema version 9: the rows also carry their image's `visibility` and `owner` (kept by the
//! same triggers), which the walk's index holds, and the caller's scope is checked on them
//! first (`scope.rs`, `WALKED_COPIES`): a member's walk drops the rows of images it may not see
//! from the index alone and reads only its page's images (20 instead of ~146 at a million
//! images for a member who sees 15 % of them).

use super::{Dialect, SqlBuilder, SqlParam};
use crate::domain::{ImageQuery, SortKey};

/// Longest property value (in characters) the property index holds: PostgreSQL refuses B-tree
/// entries over ~2,700 bytes, and Glance allows values up to 65,535. The index is partial
/// (`length(value) <= 256`, schema version 8); a filter on a longer value walks the images.
/// An index on a prefix, `left(value, 256)`, would hold them all, but PostgreSQL keeps no
/// statistics on the expressions of a partial index: it took the prefix for a rare value, read
/// all 10,000 images of a 10 % property and sorted them (41 pages a second at 100k images).
const PROPERTY_VALUE_INDEXED_CHARS: usize = 256;

/// The rows a page walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Walk<'a> {
    Images,
    Tag(&'a str),
    Property(&'a str, &'a str),
}

/// Whether PostgreSQL should plan the list statement for its values on every call rather than
/// cache it: a tag filter read in another order than the default (whether to read the tag's
/// rows or walk the images depends on how common the tag is, and a generic plan, once settled
/// on, would walk a million images for a tag on three of them), and a status filter (the
/// recovery pass's `saving`, `uploading` and `importing`, read from a partial index, schema
/// version 8, that only a plan knowing the status can use).
pub fn planned_per_call(query: &ImageQuery) -> bool {
    let tags_in_another_order = !query.filters.tags.is_empty() && choose(query) == Walk::Images;
    tags_in_another_order || query.filters.status.is_some()
}

/// The first tag (in sorted order) if any, else the first property filter (if its value is
/// indexed): the walk reads that filter's rows, and the other filters are checked per row
/// walked.
pub(super) fn choose(query: &ImageQuery) -> Walk<'_> {
    let default_order = matches!(
        super::sort_with_tie_breakers(&query.sort).as_slice(),
        [(SortKey::CreatedAt, first), (SortKey::Id, second)] if first == second
    );
    if !default_order {
        return Walk::Images;
    }
    if let Some(tag) = query.filters.tags.iter().min() {
        return Walk::Tag(tag);
    }
    match query.filters.properties.iter().next() {
        Some((name, value)) if value.chars().count() <= PROPERTY_VALUE_INDEXED_CHARS => {
            Walk::Property(name, value)
        }
        _ => Walk::Images,
    }
}

/// `DISTINCT ON (…) `, to follow `SELECT ` on PostgreSQL when the page walks a tag's rows: each
/// image once, as Glance's table has no unique key on (image_id, value), so a tag written twice
/// on an image (a race between writers) has two live rows. Both carry the image's `created_at`,
/// so they are neighbours in the walk's order, and PostgreSQL drops the second as it streams
/// (a `Unique` node) where a check per row for an older twin cost 20 index probes a page, 30 %
/// of the page's execution at a million images. SQLite has no `DISTINCT ON`; `push_from`
/// checks for the twin there.
pub fn push_distinct(b: &mut SqlBuilder, query: &ImageQuery) {
    if b.dialect == Dialect::Postgres && matches!(choose(query), Walk::Tag(_)) {
        b.sql("DISTINCT ON (walked.glance_rs_image_created_at, walked.image_id) ");
    }
}

/// ` FROM … WHERE` the walked rows joined to their live images (`CROSS JOIN`: SQLite, which
/// never reorders one, walks the child rows first; PostgreSQL plans it as any inner join).
/// Tags: each image once (on PostgreSQL by `push_distinct`); on SQLite a second live row for
/// the same tag on an image is skipped in favour of the first. Properties are unique per image
/// and name.
pub(super) fn push_from(b: &mut SqlBuilder, walk: Walk<'_>) {
    match walk {
        Walk::Images => {
            // `NOT images.deleted`, the predicate of the partial list indexes (schema version
            // 7), so a page never walks deleted rows; SQLite cannot read Glance's
            // ix_images_deleted for it.
            b.sql(" FROM images WHERE NOT images.deleted");
            return;
        }
        Walk::Tag(tag) => {
            b.sql(" FROM image_tags AS walked CROSS JOIN images WHERE walked.value = ")
                .param(SqlParam::Text(tag.to_string()));
            if b.dialect == Dialect::Sqlite {
                b.sql(
                    " AND NOT EXISTS (SELECT 1 FROM image_tags AS twin \
                     WHERE twin.image_id = walked.image_id AND twin.value = walked.value \
                     AND NOT twin.deleted AND twin.id < walked.id)",
                );
            }
        }
        Walk::Property(name, value) => {
            b.sql(" FROM image_properties AS walked CROSS JOIN images WHERE walked.name = ")
                .param(SqlParam::Text(name.to_string()))
                .sql(" AND walked.value = ")
                .param(SqlParam::Text(value.to_string()));
            if b.dialect == Dialect::Postgres {
                // The index's predicate, so that PostgreSQL may read it.
                b.sql(" AND length(walked.value) <= ")
                    .sql(&PROPERTY_VALUE_INDEXED_CHARS.to_string());
            }
        }
    }
    b.sql(" AND NOT walked.deleted AND images.id = walked.image_id AND NOT images.deleted");
}
