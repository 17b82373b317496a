//! Every registry call runs in the caller's context, never the registry's: another project
//! cannot see or change a private image through the proxy (Glance's noauth registry could).

use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{ImageChanges, ImageQuery, RequestContext, Visibility};
use serde_json::json;

use super::{command, rpc_results};
use crate::conformance::{admin, new_image, user};
use crate::support::registry::RegistryProcess;

fn hidden(err: &DataAccessError) -> bool {
    matches!(
        err,
        DataAccessError::NotFound(_) | DataAccessError::Forbidden(_)
    )
}

#[tokio::test]
async fn another_project_cannot_reach_a_private_image_through_the_proxy() {
    let registry = RegistryProcess::start().await;
    let da = registry.client(10.0);
    let owner = user("project-a");
    let intruder = user("project-b");
    let image = da
        .image_create(&owner, new_image(Some("project-a"), Visibility::Private))
        .await
        .expect("project A creates its image");

    assert_eq!(
        da.image_get(&owner, &image.id, false)
            .await
            .expect("owner reads")
            .id,
        image.id
    );
    let listed = da
        .image_get_all(&owner, &ImageQuery::default())
        .await
        .expect("list");
    assert!(listed.iter().any(|i| i.id == image.id));

    let err = da
        .image_get(&intruder, &image.id, false)
        .await
        .expect_err("B must not read A's image");
    assert!(hidden(&err), "{err:?}");
    let listed = da
        .image_get_all(&intruder, &ImageQuery::default())
        .await
        .expect("list");
    assert!(
        listed.iter().all(|i| i.id != image.id),
        "B's list shows A's private image"
    );
    let changes = ImageChanges {
        name: Some(Some("stolen".into())),
        ..ImageChanges::default()
    };
    let err = da
        .image_update(&intruder, &image.id, changes, false, None)
        .await
        .expect_err("B must not update");
    assert!(hidden(&err), "{err:?}");
    let err = da
        .image_destroy(&intruder, &image.id)
        .await
        .expect_err("B must not delete");
    assert!(hidden(&err), "{err:?}");
    let err = da
        .image_tag_create(&intruder, &image.id, "x")
        .await
        .expect_err("B must not tag");
    assert!(hidden(&err), "{err:?}");

    // An anonymous caller (no project, not admin) is not the registry's admin either.
    let anonymous = RequestContext {
        read_only: true,
        request_id: "req-anon".into(),
        ..RequestContext::default()
    };
    let err = da
        .image_get(&anonymous, &image.id, false)
        .await
        .expect_err("anonymous must not read");
    assert!(hidden(&err), "{err:?}");

    let after = da
        .image_get(&admin(), &image.id, false)
        .await
        .expect("admin reads");
    assert_eq!(after.name, image.name, "nothing B tried changed the image");
    assert!(after.tags.is_empty() && !after.deleted);
}

#[tokio::test]
async fn raw_rpc_runs_in_the_forwarded_context() {
    let registry = RegistryProcess::start().await;
    let values = new_image(Some("project-a"), Visibility::Private);
    let id = values.id.clone();
    let create = command(
        "image_create",
        json!({"values": serde_json::to_value(values).expect("json")}),
    );
    rpc_results(&registry, &user("project-a"), json!([create])).await;
    let get = command("image_get", json!({"image_id": id}));
    let as_b = rpc_results(&registry, &user("project-b"), json!([get.clone()])).await;
    let cls = as_b[0]["_error"]["cls"]
        .as_str()
        .expect("an _error for project B");
    assert!(
        cls == "glance.common.exception.Forbidden"
            || cls == "glance.common.exception.ImageNotFound",
        "{cls}"
    );
    let as_a = rpc_results(&registry, &user("project-a"), json!([get])).await;
    assert_eq!(as_a[0]["id"], id.as_str());
}
