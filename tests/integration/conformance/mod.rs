//! The data-access conformance suite: Glance's `tests/functional/db/base.py` DriverTests,
//! each case written once against `&dyn DataAccess` and run against every compiled backend.
//! Test names read `conformance::<backend>::<file>::<case>`.
//!
//! Adding a backend is one line: `conformance_suite!(name, async factory returning FreshBackend);`

pub mod images;
pub mod listing;
pub mod locations;
pub mod members;
pub mod paging;
pub mod tags;

use std::collections::BTreeMap;
use std::time::Duration;

use glance_rs::data_access::DataAccess;
use glance_rs::domain::{Image, ImageStatus, NewImage, RequestContext, Visibility};

/// One `#[tokio::test]` per case of one case file, inside `mod $file`.
macro_rules! conformance_cases {
    ($factory:expr; $file:ident: $($case:ident),+ $(,)?) => {
        mod $file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = $factory.await;
                    crate::conformance::$file::$case(&*backend.da).await;
                }
            )+
        }
    };
}

/// Every case, against the backend `$factory` opens fresh for each test.
macro_rules! conformance_suite {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            conformance_cases!($factory; images:
                create_then_get,
                create_duplicate_id_is_duplicate,
                create_with_empty_owner_stores_none,
                get_missing_is_not_found,
                update_changes_columns_and_updated_at,
                update_can_set_nullable_columns_to_null,
                update_missing_is_not_found,
                from_state_compare_and_set,
                concurrent_from_state_updates_have_one_winner,
                update_and_destroy_need_ownership,
                properties_upsert_and_revive,
                remove_properties_only_named,
                purge_props_removes_unlisted,
                update_sets_tags_and_adds_locations_atomically,
                failed_update_changes_nothing,
                destroy_soft_deletes_children,
                visibility_by_context,
                deactivated_images_hide_locations_from_users,
            );
            conformance_cases!($factory; listing:
                lists_skip_deleted_and_killed,
                user_scope_and_visibility_filter,
                admin_scope,
                member_status_filter,
                filter_name_id_status_formats,
                filter_created_and_updated_at,
                filter_size_protected_and_columns,
                filter_tags_are_anded,
                filter_properties,
                filter_os_hidden,
            );
            conformance_cases!($factory; paging:
                sort_every_key_both_directions,
                sort_tie_breakers,
                marker_pages_through_everything,
                unknown_or_invisible_marker_is_not_found,
                limit_caps_the_page,
            );
            conformance_cases!($factory; tags:
                create_is_idempotent,
                delete_missing_is_not_found,
                set_all_replaces_in_order,
                tags_of_missing_or_foreign_images,
            );
            conformance_cases!($factory; members:
                create_then_find,
                duplicate_live_member_is_duplicate,
                deleted_member_is_revived,
                update_status,
                delete_and_missing_member,
                find_is_scoped_for_users,
                count_live_rows,
                concurrent_creates_have_one_winner,
                member_grants_visibility_of_shared_images,
            );
            conformance_cases!($factory; locations:
                add_then_get,
                update_location,
                delete_location,
                locations_need_ownership,
            );
        }
    };
}

#[cfg(feature = "direct-sqlite")]
conformance_suite!(sqlite, crate::support::sqlite::fresh());
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite"
))]
conformance_suite!(registry, crate::support::registry::fresh());
#[cfg(all(
    feature = "registry-proxy",
    feature = "registry-server",
    feature = "direct-sqlite",
    feature = "direct-postgres"
))]
conformance_suite!(
    registry_postgres,
    crate::support::registry::fresh_on_postgres()
);
#[cfg(feature = "direct-postgres")]
conformance_suite!(postgres, crate::support::postgres_backend());

// ---- shared fixtures -------------------------------------------------------------------

pub fn admin() -> RequestContext {
    RequestContext {
        user_id: Some("admin-user".into()),
        project_id: Some("admin-project".into()),
        roles: vec!["admin".into()],
        is_admin: true,
        read_only: false,
        request_id: "req-admin".into(),
        ..RequestContext::default()
    }
}

/// A member of `project` without admin rights.
pub fn user(project: &str) -> RequestContext {
    RequestContext {
        user_id: Some(format!("user-of-{project}")),
        project_id: Some(project.into()),
        roles: vec!["member".into()],
        is_admin: false,
        read_only: false,
        request_id: format!("req-{project}"),
        ..RequestContext::default()
    }
}

pub fn new_image(owner: Option<&str>, visibility: Visibility) -> NewImage {
    NewImage {
        id: uuid::Uuid::new_v4().to_string(),
        name: Some("image".into()),
        status: ImageStatus::Queued,
        visibility,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        owner: owner.map(str::to_string),
        min_disk: 0,
        min_ram: 0,
        protected: false,
        os_hidden: false,
        properties: BTreeMap::new(),
        tags: Vec::new(),
    }
}

/// Create as admin, then wait a little so the next row gets a later `created_at`.
pub async fn create(da: &dyn DataAccess, values: NewImage) -> Image {
    let image = da
        .image_create(&admin(), values)
        .await
        .expect("image_create");
    pause().await;
    image
}

/// Let the clock move past the microsecond timestamps the backends store.
pub async fn pause() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

pub fn ids(images: &[Image]) -> Vec<String> {
    images.iter().map(|i| i.id.clone()).collect()
}

/// Property values (every one a string; `None` is a NULL value).
pub fn props(pairs: &[(&str, &str)]) -> glance_rs::domain::Properties {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect()
}

/// Property filters (`?name=value`).
pub fn prop_filters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
