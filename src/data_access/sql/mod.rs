//! Backend-neutral SQL text for the SQL backends (SQLite and PostgreSQL): the WHERE, ORDER BY
//! and LIMIT of `image_get_all` (Glance's `_make_conditions_from_filters`,
//! `_select_images_query` and `_paginate_query`).
//!
//! Only fixed column names from the domain enums and fixed keywords are written into the SQL
//! text; every value the caller supplied becomes a `SqlParam` behind a placeholder. Each
//! backend converts `SqlParam` into its own driver type (SQLite stores booleans as 0/1 and
//! timestamps as text; PostgreSQL has native types), and picks the placeholder style and the
//! boolean literals through `Dialect`.

use std::collections::BTreeSet;

use crate::domain::{
    CmpOp, Image, ImageColumn, ImageFilters, ImageQuery, RequestContext, Timestamp, ValueMatch,
    Visibility,
};

use super::DataAccessError;

mod keyset;
mod scope;
mod walk;

use keyset::{push_marker, push_order_by_on};
pub use keyset::{push_order_by, sort_with_tie_breakers};
use scope::{push_scope, IMAGE, WALKED_COPIES};
use walk::Walk;
pub use walk::{planned_per_call, push_distinct};

/// A statement parameter, typed after the column it is compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlParam {
    Text(String),
    /// 64-bit integer columns (`size`, `virtual_size`) and `LIMIT`.
    BigInt(i64),
    /// 32-bit integer columns (`min_ram`, `min_disk`).
    Int(i32),
    Bool(bool),
    Timestamp(Timestamp),
    /// A value of the `images.visibility` column (an enum type in PostgreSQL).
    Visibility(Visibility),
}

/// How placeholders and fixed booleans are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `?1`, `?2`, …; booleans are 0/1.
    // Each variant is constructed only by its backend, which may not be compiled.
    #[cfg_attr(not(feature = "direct-sqlite"), allow(dead_code))]
    Sqlite,
    /// `$1`, `$2`, …; booleans are TRUE/FALSE.
    #[cfg_attr(not(feature = "direct-postgres"), allow(dead_code))]
    Postgres,
}

impl Dialect {
    pub fn placeholder(self, number: usize) -> String {
        match self {
            Self::Sqlite => format!("?{number}"),
            Self::Postgres => format!("${number}"),
        }
    }

    pub fn bool_literal(self, value: bool) -> &'static str {
        match (self, value) {
            (Self::Sqlite, true) => "1",
            (Self::Sqlite, false) => "0",
            (Self::Postgres, true) => "TRUE",
            (Self::Postgres, false) => "FALSE",
        }
    }
}

/// SQL text with numbered placeholders and the values that fill them, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// Builds a `Statement`: fixed text is pushed as-is, values only as parameters.
#[derive(Debug)]
pub struct SqlBuilder {
    dialect: Dialect,
    statement: Statement,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            statement: Statement::default(),
        }
    }

    /// Append fixed SQL text (never caller data).
    pub fn sql(&mut self, text: &str) -> &mut Self {
        self.statement.sql.push_str(text);
        self
    }

    /// Append a placeholder for `value`.
    pub fn param(&mut self, value: SqlParam) -> &mut Self {
        self.statement.params.push(value);
        let placeholder = self.dialect.placeholder(self.statement.params.len());
        self.statement.sql.push_str(&placeholder);
        self
    }

    /// Append a row limit, written as a number (a `u32` is no caller text). SQLite reads a
    /// bound `LIMIT` while planning and so re-prepared the statement on every run. PostgreSQL
    /// plans a bound `LIMIT` of a cached statement's generic plan as 10 % of the rows, so on a
    /// large catalogue the generic plan always looked dearer than a custom one and every page
    /// was planned anew (0.1-0.2 ms, more than executing it, at a million images); with the
    /// number in the text the generic plan is as cheap and is kept.
    pub fn limit(&mut self, limit: u32) -> &mut Self {
        self.sql(&limit.to_string())
    }

    /// Append a column of few distinct values (`os_hidden`, `visibility`, a child table's
    /// `deleted`) to compare. SQLite reads it as `+column`, out of reach of the column's index:
    /// a deployment's SQLite database has no statistics (nothing runs ANALYZE), and without them
    /// SQLite takes an equality on any indexed column for a selective one, reads every live or
    /// every public image by that index and sorts them all for a page of 20. Kept out, the page
    /// is read in order from the list indexes (schema versions 5 and 7) and the column is checked on
    /// the rows walked. PostgreSQL has statistics and picks by them.
    pub fn few_valued(&mut self, column: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.sql("+").sql(column),
            Dialect::Postgres => self.sql(column),
        }
    }

    /// Append the dialect's literal for a fixed boolean.
    pub fn bool_literal(&mut self, value: bool) -> &mut Self {
        let literal = self.dialect.bool_literal(value);
        self.sql(literal)
    }

    pub fn finish(self) -> Statement {
        self.statement
    }
}

/// Append ` FROM … WHERE … ORDER BY … LIMIT …` for `image_get_all` to a builder that already
/// holds `SELECT` of `images` columns (qualified: a page walked along a tag or a property
/// joins its rows, `walk.rs`). `marker` is the marker image, already fetched and checked visible by the caller
/// (unknown or invisible marker → `NotFound` there).
pub fn push_image_list_body(
    b: &mut SqlBuilder,
    ctx: &RequestContext,
    query: &ImageQuery,
    marker: Option<&Image>,
) -> Result<(), DataAccessError> {
    let sort = sort_with_tie_breakers(&query.sort);
    let walk = walk::choose(query);
    walk::push_from(b, walk);
    b.sql(" AND images.status <> 'killed'");
    let walking = walk != Walk::Images;
    if walking {
        // Decided on the walked rows' copies first (schema version 9), so a member's walk
        // drops the rows it may not see without reading their images; then on the images
        // themselves, so a copy out of step could hide an image but never show one.
        push_scope(b, ctx, query, &WALKED_COPIES);
    }
    push_scope(b, ctx, query, &IMAGE);
    push_filters(b, &query.filters)?;
    let tags: BTreeSet<&String> = (query.filters.tags.iter())
        .filter(|tag| walk != Walk::Tag(tag))
        .collect();
    push_tag_filters(b, &tags, walking);
    let properties: Vec<(&String, &String)> = (query.filters.properties.iter())
        .filter(|(name, value)| walk != Walk::Property(name, value))
        .collect();
    push_property_filters(b, &properties);
    if let Some(marker) = marker {
        push_marker(b, &sort, marker, walking);
    }
    push_order_by_on(b, &sort, walking);
    if let Some(limit) = query.limit {
        b.sql(" LIMIT ").limit(limit);
    }
    Ok(())
}

fn push_filters(b: &mut SqlBuilder, filters: &ImageFilters) -> Result<(), DataAccessError> {
    let text_matches = [
        ("name", &filters.name),
        ("id", &filters.id),
        ("status", &filters.status),
        ("container_format", &filters.container_format),
        ("disk_format", &filters.disk_format),
    ];
    for (column, value) in text_matches {
        if let Some(value) = value {
            push_value_match(b, column, value);
        }
    }
    for (op, at) in &filters.created_at {
        push_comparison(b, "created_at", *op, SqlParam::Timestamp(*at));
    }
    for (op, at) in &filters.updated_at {
        push_comparison(b, "updated_at", *op, SqlParam::Timestamp(*at));
    }
    if let Some(min) = filters.size_min {
        push_comparison(b, "size", CmpOp::Gte, SqlParam::BigInt(min));
    }
    if let Some(max) = filters.size_max {
        push_comparison(b, "size", CmpOp::Lte, SqlParam::BigInt(max));
    }
    if let Some(protected) = filters.protected {
        push_comparison(b, "protected", CmpOp::Eq, SqlParam::Bool(protected));
    }
    if let Some(hidden) = filters.os_hidden {
        b.sql(" AND ")
            .few_valued("images.os_hidden")
            .sql(" = ")
            .param(SqlParam::Bool(hidden));
    }
    for (column, value) in &filters.columns {
        let param = column_param(*column, value)?;
        push_comparison(b, column.column(), CmpOp::Eq, param);
    }
    Ok(())
}

/// Tags up to which each gets its own semi-join (`images.id IN (…)`), which the planner may
/// run from the tag index (a rare tag) or as a probe per image walked in order (a common one).
const TAG_SEMI_JOINS_MAX: usize = 4;

/// Every tag must be on the image: a semi-join per tag for a few tags; past
/// `TAG_SEMI_JOINS_MAX`, one counting subquery for all of them (PostgreSQL took seconds to
/// plan 100 `EXISTS` semi-joins). SQLite, which has no statistics to choose by, gets each
/// semi-join as a correlated `EXISTS`: a probe of `(image_id, value)` per image walked in
/// order, so a page costs 20 ÷ the tag's share of images, flat in the catalogue's size (the
/// `IN` form read every image with the tag and sorted them all). The price: a tag on a
/// handful of images walks much of the list before its page is full.
///
/// On a page walked along one tag (`walks_a_tag`), the other tags are one counting subquery
/// too: a probe per row walked, which PostgreSQL cannot turn into a join that reads every
/// image with the other tag (with the two tags correlated, it estimated few images with both
/// and read all 2,000 images of a 10 % tag to sort 400).
fn push_tag_filters(b: &mut SqlBuilder, tags: &BTreeSet<&String>, walking_a_tag: bool) {
    if tags.is_empty() {
        return;
    }
    if tags.len() <= TAG_SEMI_JOINS_MAX && !walking_a_tag {
        let semi_join = match b.dialect {
            Dialect::Sqlite => {
                " AND EXISTS (SELECT 1 FROM image_tags WHERE image_tags.image_id = images.id \
                 AND image_tags.value = "
            }
            Dialect::Postgres => {
                " AND images.id IN (SELECT image_tags.image_id FROM image_tags \
                 WHERE image_tags.value = "
            }
        };
        for tag in tags {
            b.sql(semi_join)
                .param(SqlParam::Text((*tag).clone()))
                .sql(" AND ")
                .few_valued("image_tags.deleted")
                .sql(" = ")
                .bool_literal(false)
                .sql(")");
        }
        return;
    }
    b.sql(
        " AND (SELECT COUNT(DISTINCT image_tags.value) FROM image_tags \
         WHERE image_tags.image_id = images.id AND image_tags.deleted = ",
    )
    .bool_literal(false)
    .sql(" AND image_tags.value IN (");
    for (i, tag) in tags.iter().enumerate() {
        if i > 0 {
            b.sql(", ");
        }
        b.param(SqlParam::Text((*tag).clone()));
    }
    b.sql(")) = ")
        .param(SqlParam::BigInt(count_param(tags.len())));
}

/// Every `name = value` must hold for a live property. PostgreSQL reads them from the row's
/// own `images.children` (schema version 2, kept by triggers): no probe of
/// `image_properties` per image walked, which made a property page ~10× dearer than a plain
/// one at 100k images. SQLite has no such column: one counting subquery (names are unique per
/// image, so the count reaches the number of filters only if all hold).
fn push_property_filters(b: &mut SqlBuilder, properties: &[(&String, &String)]) {
    if properties.is_empty() {
        return;
    }
    if b.dialect == Dialect::Postgres {
        for (name, value) in properties {
            b.sql(
                " AND (COALESCE(images.children, glance_rs_image_children(images.id)) \
                 -> 'properties' ->> ",
            )
            .param(SqlParam::Text(name.to_string()))
            .sql("::text) = ")
            .param(SqlParam::Text(value.to_string()));
        }
        return;
    }
    b.sql(
        " AND (SELECT COUNT(*) FROM image_properties \
         WHERE image_properties.image_id = images.id AND image_properties.deleted = ",
    )
    .bool_literal(false)
    .sql(" AND (");
    for (i, (name, value)) in properties.iter().enumerate() {
        if i > 0 {
            b.sql(" OR ");
        }
        b.sql("(image_properties.name = ")
            .param(SqlParam::Text(name.to_string()))
            .sql(" AND image_properties.value = ")
            .param(SqlParam::Text(value.to_string()))
            .sql(")");
    }
    b.sql(")) = ")
        .param(SqlParam::BigInt(count_param(properties.len())));
}

fn count_param(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The typed parameter of an equality filter on a plain column.
fn column_param(column: ImageColumn, value: &str) -> Result<SqlParam, DataAccessError> {
    let invalid = || {
        DataAccessError::Invalid(format!(
            "Invalid value {value:?} for filter {}: expected an integer",
            column.column()
        ))
    };
    Ok(match column {
        ImageColumn::MinRam | ImageColumn::MinDisk => {
            SqlParam::Int(value.trim().parse().map_err(|_| invalid())?)
        }
        ImageColumn::Size | ImageColumn::VirtualSize => {
            SqlParam::BigInt(value.trim().parse().map_err(|_| invalid())?)
        }
        _ => SqlParam::Text(value.to_string()),
    })
}

fn push_value_match(b: &mut SqlBuilder, column: &'static str, value: &ValueMatch) {
    match value {
        ValueMatch::Eq(text) => push_comparison(b, column, CmpOp::Eq, SqlParam::Text(text.clone())),
        ValueMatch::In(texts) if texts.is_empty() => {
            b.sql(" AND 1 = 0");
        }
        ValueMatch::In(texts) => {
            b.sql(" AND images.").sql(column).sql(" IN (");
            for (i, text) in texts.iter().enumerate() {
                if i > 0 {
                    b.sql(", ");
                }
                b.param(SqlParam::Text(text.clone()));
            }
            b.sql(")");
        }
    }
}

fn push_comparison(b: &mut SqlBuilder, column: &'static str, op: CmpOp, value: SqlParam) {
    b.sql(" AND images.")
        .sql(column)
        .sql(" ")
        .sql(op.sql())
        .sql(" ")
        .param(value);
}

/// `ImageChanges::expect_properties` against the image's live properties (read under the
/// update's lock), for both SQL backends.
pub fn check_expected_properties(
    values: &crate::domain::ImageChanges,
    live: &crate::domain::Properties,
) -> super::DaResult<()> {
    for (name, expected) in &values.expect_properties {
        let as_expected = match (live.get(name), expected) {
            (None, None) => true,
            (Some(Some(value)), Some(expected)) => value == expected,
            _ => false,
        };
        if !as_expected {
            return Err(super::DataAccessError::Conflict(format!(
                "property {name} of the image is not as expected"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MemberStatusFilter, ValueMatch};

    fn user(project: &str) -> RequestContext {
        RequestContext {
            project_id: Some(project.to_string()),
            ..RequestContext::default()
        }
    }

    #[test]
    fn values_are_parameters_never_text() {
        let mut query = ImageQuery::default();
        query.filters.name = Some(ValueMatch::Eq("x' OR 1=1 --".into()));
        query.filters.properties.insert("k'".into(), "v'".into());
        query.limit = Some(5);
        let mut b = SqlBuilder::new(Dialect::Postgres);
        b.sql("SELECT images.id");
        push_image_list_body(&mut b, &user("p1"), &query, None).expect("valid query");
        let statement = b.finish();
        assert!(
            !statement.sql.contains("x'") && !statement.sql.contains("k'"),
            "{}",
            statement.sql
        );
        assert!(!statement.sql.contains("OR 1=1"), "{}", statement.sql);
        assert!(statement.sql.ends_with(" LIMIT 5"), "{}", statement.sql);
        let placeholders = statement.sql.matches('$').count();
        assert_eq!(placeholders, statement.params.len(), "{}", statement.sql);
        assert!(statement
            .params
            .contains(&SqlParam::Text("x' OR 1=1 --".into())));
    }

    #[test]
    fn admins_have_no_scope_but_keep_the_community_post_filter() {
        let ctx = RequestContext {
            is_admin: true,
            ..RequestContext::default()
        };
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        push_image_list_body(&mut b, &ctx, &ImageQuery::default(), None).expect("valid");
        let statement = b.finish();
        assert!(
            !statement.sql.contains("image_members"),
            "{}",
            statement.sql
        );
        assert_eq!(
            statement.params,
            vec![SqlParam::Visibility(Visibility::Community)]
        );
    }

    #[test]
    fn member_status_all_drops_the_status_condition() {
        let query = ImageQuery {
            member_status: MemberStatusFilter::All,
            ..ImageQuery::default()
        };
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        push_image_list_body(&mut b, &user("p"), &query, None).expect("valid");
        assert!(!b.finish().sql.contains("image_members.status"));
    }

    #[test]
    fn tie_breakers_follow_glance() {
        use crate::domain::SortDir::*;
        use crate::domain::SortKey::*;
        assert_eq!(
            sort_with_tie_breakers(&[(Name, Asc)]),
            vec![(Name, Asc), (CreatedAt, Asc), (Id, Asc)]
        );
        assert_eq!(
            sort_with_tie_breakers(&[(Name, Asc), (Size, Desc)]),
            vec![(Name, Asc), (Size, Desc), (CreatedAt, Desc), (Id, Desc)]
        );
        assert_eq!(
            sort_with_tie_breakers(&[(Id, Asc)]),
            vec![(Id, Asc), (CreatedAt, Asc)]
        );
        assert_eq!(
            sort_with_tie_breakers(&[]),
            vec![(CreatedAt, Desc), (Id, Desc)]
        );
    }

    #[test]
    fn integer_column_filters_reject_non_integers() {
        let mut query = ImageQuery::default();
        query
            .filters
            .columns
            .push((ImageColumn::MinRam, "lots".into()));
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        let err = push_image_list_body(&mut b, &user("p"), &query, None).expect_err("invalid");
        assert!(matches!(err, DataAccessError::Invalid(_)), "{err:?}");
    }
}
